"""Edits the move made to the monolith, from git history.

The move is measured against today's monolith: the tree the split imports. An edit made to ``<app>/monolith/`` for
the move is then part of that tree, and counts as up-front cost, not as the move. This module shows how much that
can be: the commits that changed ``<app>/monolith/`` and ``<app>/split/`` together, from the first commit that
added the split (its parent is the last monolith-only commit), with the lines they changed in the monolith
(``git log --numstat``: every line, code or not). It is an upper bound: a commit that refactored both trees for
another reason counts too. A checkout without the history (a shallow clone) says so instead.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def monolith_edits(root: Path, app: str) -> dict:
    """``{"available", "first_split_commit", "last_monolith_only_commit", "commits": [...], "added", "removed"}``."""
    mono, split = f"{app}/monolith", f"{app}/split"
    shallow = _git(root, "rev-parse", "--is-shallow-repository")
    if shallow is None:
        return {"available": False, "why": "not a git checkout"}
    if shallow.strip() == "true":
        return {"available": False, "why": "shallow clone: the history is not here"}
    firsts = _git(root, "log", "--reverse", "--format=%H", "--", split)
    if not firsts or not firsts.split():
        return {"available": False, "why": f"no commit touches {split}/"}
    first = firsts.split()[0]
    parent = (_git(root, "rev-parse", "--short", f"{first}^") or "").strip() or None
    log = _git(root, "log", "--format=@%h %s", "--numstat", f"{first}^!", "--", mono, split) if parent else None
    if parent:
        log = (log or "") + (_git(root, "log", "--format=@%h %s", "--numstat", f"{first}..HEAD", "--", mono, split) or "")
    else:
        log = _git(root, "log", "--format=@%h %s", "--numstat", "HEAD", "--", mono, split) or ""
    commits = []
    for block in log.split("\n@")[0:]:
        block = block.lstrip("@").strip()
        if not block:
            continue
        head, *stats = block.splitlines()
        sha, _, subject = head.partition(" ")
        mono_added = mono_removed = 0
        touches_split = False
        for line in stats:
            parts = line.split("\t")
            if len(parts) != 3:
                continue
            added, removed, path = parts
            if path.startswith(split + "/"):
                touches_split = True
            elif path.startswith(mono + "/") and added.isdigit() and removed.isdigit():
                mono_added += int(added)
                mono_removed += int(removed)
        if touches_split and (mono_added or mono_removed):
            commits.append({"commit": sha, "subject": subject, "added": mono_added, "removed": mono_removed})
    return {
        "available": True,
        "first_split_commit": first[:7],
        "last_monolith_only_commit": parent,
        "commits": commits,
        "added": sum(c["added"] for c in commits),
        "removed": sum(c["removed"] for c in commits),
    }


def section(edits: dict[str, dict]) -> list[str]:
    out = [
        "The move is measured against today's monolith, the tree the split imports: an edit made to the monolith for "
        "the move is part of that tree and counts here as up-front cost, not as the move. From git history, the "
        "commits that changed an app's `monolith/` and `split/` together since the split's first commit (an upper "
        "bound: some refactored both for other reasons; lines are every line, from `git log --numstat`):",
        "",
    ]
    for app, e in edits.items():
        if not e.get("available"):
            out.append(f"- **{app}**: not measured ({e.get('why')}).")
            continue
        out.append(
            f"- **{app}**: split first committed in `{e['first_split_commit']}` (last monolith-only commit "
            f"`{e['last_monolith_only_commit']}`); {len(e['commits'])} commit(s) since changed both trees, "
            f"+{e['added']:,} / −{e['removed']:,} lines of the monolith."
        )
        for c in e["commits"][:12]:
            out.append(f"  - `{c['commit']}` {c['subject'][:90]}: +{c['added']} / −{c['removed']}")
        if len(e["commits"]) > 12:
            out.append(f"  - … and {len(e['commits']) - 12} more (in `migration.json`)")
    return out + [""]
