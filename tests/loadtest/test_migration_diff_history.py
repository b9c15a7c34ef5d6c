"""Monolith edits made for the move, from git history: the commits that changed monolith/ and split/ together."""

from __future__ import annotations

import subprocess
from pathlib import Path

from loadtest.migration_diff import history


def _commit(root: Path, files: dict[str, str], message: str) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], cwd=root, check=True)


def test_only_commits_that_touch_both_trees_count_and_their_monolith_lines_are_summed(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    _commit(tmp_path, {"app/monolith/a.py": "x = 1\n"}, "monolith only")
    _commit(tmp_path, {"app/monolith/a.py": "x = 2\ny = 3\n", "app/split/b.py": "z = 1\n"}, "the split, editing the monolith")
    _commit(tmp_path, {"app/monolith/a.py": "x = 2\ny = 4\n"}, "a monolith fix alone")
    _commit(tmp_path, {"app/split/b.py": "z = 2\n"}, "a split change alone")
    edits = history.monolith_edits(tmp_path, "app")
    assert edits["available"]
    assert [c["subject"] for c in edits["commits"]] == ["the split, editing the monolith"]
    assert (edits["added"], edits["removed"]) == (2, 1)
    assert edits["last_monolith_only_commit"]
    assert "1 commit(s) since changed both trees, +2 / −1" in "\n".join(history.section({"app": edits}))


def test_a_tree_without_history_says_so(tmp_path):
    assert history.monolith_edits(tmp_path, "app") == {"available": False, "why": "not a git checkout"}
