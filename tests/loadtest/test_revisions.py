"""The comparison of several commits (loadtest.revisions): the interleaved order, and the summary of the runs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest import revisions


def test_a_revision_is_labelled_by_its_label_or_by_itself() -> None:
    assert revisions.parse_revision("before=abc123") == revisions.Revision("before", "abc123")
    assert revisions.parse_revision("main") == revisions.Revision("main", "main")


def test_each_repetition_rotates_the_order_so_every_revision_runs_first_once() -> None:
    order = revisions.rotations(["A", "B", "C"], 3)
    assert order == [["A", "B", "C"], ["B", "C", "A"], ["C", "A", "B"]]
    assert sorted(o[0] for o in order) == ["A", "B", "C"]


def _run(out: Path, label: str, rep: int, fixed_p50: float, get_p50: float, *, valid: bool = True) -> None:
    path = out / label / f"r{rep}" / "summary.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "fixed": {"direct-monolith": {"crud": {"runs": [{"p50_ms": fixed_p50, "valid": valid}]}}},
        "sequential": {"direct-monolith": {"runs": [{"get_p50_ms": get_p50, "post_p50_ms": 2 * get_p50}]}},
    }))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    manifest = {"revisions": [{"label": "before", "rev": "a", "commit": "a" * 40},
                              {"label": "after", "rev": "b", "commit": "b" * 40}],
                "reps": 3, "variants": ["direct-monolith"], "fixed_seconds": 20, "order": revisions.rotations(
                    ["before", "after"], 3), "sections_off": list(revisions.SECTIONS_OFF)}
    (tmp_path / revisions.MANIFEST).write_text(json.dumps(manifest))
    for rep, (b, a) in enumerate([(10, 11), (12, 12), (11, 30)], start=1):
        _run(tmp_path, "before", rep, b, 1.0 + rep / 10)
        _run(tmp_path, "after", rep, a, 2.0 + rep / 10, valid=rep != 3)  # the 30 ms run is invalid: left out
    return tmp_path


def test_the_summary_gives_median_and_range_per_revision_with_the_ratio_to_the_first(out: Path) -> None:
    result = revisions.summarize(out)
    rows = {(r["variant"], r["measure"]): r for r in result["rows"]}
    fixed = rows[("direct-monolith", "fixed crud")]
    assert fixed["cells"]["before"] == {"median": 11, "min": 10, "max": 12, "n": 3}
    assert fixed["cells"]["after"] == {"median": 11.5, "min": 11, "max": 12, "n": 2}
    assert fixed["ratio_to_first"]["after"] == pytest.approx(11.5 / 11)
    assert fixed["ranges_overlap"]
    assert result["invalid_runs"] == {"before": 0, "after": 1}


def test_a_measure_whose_ranges_do_not_meet_is_marked_in_the_table(out: Path) -> None:
    result = revisions.summarize(out)
    get = next(r for r in result["rows"] if r["measure"] == "sequential GET")
    assert not get["ranges_overlap"]
    table = (out / "SUMMARY.md").read_text()
    assert "| direct-monolith | sequential GET | 1.20 (1.10–1.30) | 2.20 (2.10–2.30) ×1.83 | **no** |" in table
    assert "after 1" in table  # the invalid run is counted


def test_summarize_only_refuses_a_folder_without_runs(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        revisions.main(["a", "--summarize-only", "--out", str(tmp_path)])


def test_one_run_per_revision_is_no_range_and_says_so(out: Path) -> None:
    for label in ("before", "after"):
        for rep in (2, 3):
            (out / label / f"r{rep}" / "summary.json").unlink()
    result = revisions.summarize(out)
    assert all(row["ranges_overlap"] is None for row in result["rows"])
    assert "– (one run)" in (out / "SUMMARY.md").read_text()
