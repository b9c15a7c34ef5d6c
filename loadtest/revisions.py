"""The same measurement at several commits, interleaved on this machine: did a change move the latency?

    python -m loadtest.revisions REV [REV ...] [--reps 3] [--variants a,b] [--fixed-seconds 20]
                                 [--out results/revisions/NAME] [--summarize-only]

Each revision (a commit, branch or tag; ``LABEL=REV`` names it) is checked out in a git worktree of its own under
``--work`` and set up there (``make setup``: its own venv with its own pinned requirements). Then each repetition runs
``python -m loadtest.compare`` once per revision, with that revision's own code, its fixed-rate scenarios and its
sequential round trips only (no capacity, ceiling, faults, scale, network, floors, traces or migration diff), one
repetition each. The order of the revisions rotates from one repetition to the next (A B C, B C A, C A B), so a
drift of the machine over the run does not fall on one revision.

Each run's own ``summary.json`` is kept under ``OUT/LABEL/rREP/``; ``SUMMARY.md`` and ``revisions.json`` give, per
variant and scenario, the median (min–max) over the repetitions of each run's fixed-rate p50, and of the sequential
GET and POST p50, for each revision, with the ratio of each median to the first revision's. Runs the harness marked
invalid (the load generator saturated its CPU) are left out and counted. ``--summarize-only`` rebuilds the summary
from an ``OUT`` that holds the runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS_OFF = ("--no-capacity", "--no-ceiling", "--no-faults", "--no-scale", "--no-network", "--no-floors",
                "--no-migration-diff")
"""What each run leaves out: the fixed-rate scenarios and the sequential round trips are what remain."""
OPTIONAL_OFF = ("--no-traces",)
"""Left out too where the revision's harness has them (it predates them otherwise)."""
DEFAULT_VARIANTS = "direct-monolith,direct-split-grpc,event-split"
MANIFEST = "revisions.json"


@dataclass(frozen=True)
class Revision:
    label: str
    rev: str
    commit: str = ""


def parse_revision(text: str) -> Revision:
    """``LABEL=REV`` or ``REV`` (labelled by itself)."""
    label, _, rev = text.partition("=")
    return Revision(label, rev) if rev else Revision(text, text)


def rotations(labels: list[str], reps: int) -> list[list[str]]:
    """The order of the revisions in each repetition: rotated by one each time."""
    n = len(labels)
    return [[labels[(rep + k) % n] for k in range(n)] for rep in range(reps)]


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def prepare(revision: Revision, work: Path) -> Path:
    """A worktree of ``revision`` under ``work``, set up (venv, generated code); reused if it is there."""
    tree = work / revision.label
    if not (tree / ".git").exists():
        work.mkdir(parents=True, exist_ok=True)
        _git("worktree", "add", "--detach", "--force", str(tree), revision.commit)
    else:  # a worktree of an earlier comparison (this tool's own scratch): moved to this commit, whatever it holds
        subprocess.run(["git", "-C", str(tree), "checkout", "-q", "--force", "--detach", revision.commit], check=True)
    print(f"  {revision.label}: make setup in {tree}", flush=True)
    done = subprocess.run(["make", "-s", "setup"], cwd=tree, capture_output=True, text=True)
    if done.returncode != 0:  # pip's output only when it failed
        raise SystemExit(f"{revision.label}: make setup failed in {tree}:\n{done.stdout}{done.stderr}")
    return tree


def sections_off(tree: Path) -> list[str]:
    """What a run in ``tree`` leaves out: :data:`SECTIONS_OFF`, and those of :data:`OPTIONAL_OFF` its harness has."""
    help_text = subprocess.run([str(tree / ".venv/bin/python"), "-m", "loadtest.compare", "--help"], cwd=tree,
                               capture_output=True, text=True, check=True).stdout
    return [*SECTIONS_OFF, *(flag for flag in OPTIONAL_OFF if flag in help_text)]


def compare_args(tree: Path, off: list[str], variants: str, fixed_s: float, out: Path) -> list[str]:
    """The ``loadtest.compare`` command of one run in ``tree``."""
    return [str(tree / ".venv/bin/python"), "-m", "loadtest.compare", *off, "--reps", "1",
            "--variants", variants, "--fixed-seconds", f"{fixed_s:g}", "--out", str(out)]


def run(revisions: list[Revision], reps: int, variants: str, fixed_s: float, out: Path, work: Path) -> None:
    trees = {r.label: prepare(r, work) for r in revisions}
    off = {label: sections_off(tree) for label, tree in trees.items()}
    order = rotations([r.label for r in revisions], reps)
    command = ("python -m loadtest.revisions " + " ".join(f"{r.label}={r.rev}" for r in revisions)
               + f" --reps {reps} --variants {variants} --fixed-seconds {fixed_s:g}")
    manifest = {"command": command, "revisions": [asdict(r) for r in revisions], "reps": reps,
                "variants": variants.split(","),
                "fixed_seconds": fixed_s, "order": order, "sections_off": list(SECTIONS_OFF)}
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    started = time.monotonic()
    for rep, labels in enumerate(order, start=1):
        for label in labels:
            target = out / label / f"r{rep}"
            print(f"[{(time.monotonic() - started) / 60:5.1f} min] repetition {rep}/{reps}: {label}", flush=True)
            log = target.with_suffix(".log")
            target.parent.mkdir(parents=True, exist_ok=True)
            with log.open("w") as sink:
                done = subprocess.run(compare_args(trees[label], off[label], variants, fixed_s, target), cwd=trees[label],
                                      stdout=sink, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                print(f"  {label} r{rep} failed (exit {done.returncode}); see {log}", flush=True)


# ------------------------------------------------------------------ the summary


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def collect(out: Path, labels: list[str]) -> dict:
    """Per label, variant and measure (``fixed <scenario>``, ``sequential GET``, ``sequential POST``): the p50 of
    each valid run, and how many runs were invalid."""
    found: dict = {}
    for label in labels:
        measures: dict[str, dict[str, list[float]]] = {}
        invalid = 0
        for summary_path in sorted((out / label).glob("r*/summary.json")):
            summary = json.loads(summary_path.read_text())
            for variant, scenarios in summary.get("fixed", {}).items():
                for scenario, cell in scenarios.items():
                    for one in cell.get("runs", []):
                        if not one.get("valid", True) or one.get("p50_ms") is None:
                            invalid += 1
                            continue
                        measures.setdefault(variant, {}).setdefault(f"fixed {scenario}", []).append(one["p50_ms"])
            for variant, cell in summary.get("sequential", {}).items():
                for one in cell.get("runs", []):
                    for method in ("get", "post"):
                        if one.get(f"{method}_p50_ms") is not None:
                            measures.setdefault(variant, {}).setdefault(f"sequential {method.upper()}", []).append(
                                one[f"{method}_p50_ms"])
        found[label] = {"measures": measures, "invalid_runs": invalid}
    return found


def summarize(out: Path) -> dict:
    manifest = json.loads((out / MANIFEST).read_text())
    labels = [r["label"] for r in manifest["revisions"]]
    found = collect(out, labels)
    base = labels[0]
    rows = []
    variants = list(dict.fromkeys(v for label in labels for v in found[label]["measures"]))
    for variant in variants:
        measures = list(dict.fromkeys(m for label in labels for m in found[label]["measures"].get(variant, {})))
        for measure in measures:
            cells = {label: _spread(found[label]["measures"].get(variant, {}).get(measure, [])) for label in labels}
            base_cell = cells[base]
            ratios = {label: (cell["median"] / base_cell["median"] if cell and base_cell and base_cell["median"] else None)
                      for label, cell in cells.items()}
            rows.append({"variant": variant, "measure": measure, "cells": cells, "ratio_to_first": ratios,
                         "ranges_overlap": _overlap([c for c in cells.values() if c])})
    result = {**manifest, "rows": rows, "invalid_runs": {label: found[label]["invalid_runs"] for label in labels},
              "machine": _machine(out, labels)}
    (out / MANIFEST).write_text(json.dumps(result, indent=2) + "\n")
    (out / "SUMMARY.md").write_text(render(result))
    return result


def _machine(out: Path, labels: list[str]) -> dict:
    """Where and when the runs ran, from their own summaries: the machine of the first, the first start, last end."""
    summaries = [json.loads(p.read_text()) for label in labels for p in sorted((out / label).glob("r*/summary.json"))]
    if not summaries:
        return {}
    env = summaries[0].get("env") or {}
    rabbitmq = env.get("rabbitmq")
    starts = [s["started"] for s in summaries if s.get("started")]
    ends = [s["ended"] for s in summaries if s.get("ended")]
    return {"cpu_model": env.get("cpu_model"), "logical_cores": env.get("logical_cores"), "python": env.get("python"),
            "rabbitmq": rabbitmq.get("version") if isinstance(rabbitmq, dict) else rabbitmq,
            "started": _utc(min(starts)) if starts else None, "ended": _utc(max(ends)) if ends else None}


def _utc(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _overlap(cells: list[dict]) -> bool | None:
    """Whether one value lies in every revision's range (min–max): then no revision is apart from the others.
    None when a revision has fewer than two runs (one value is no range)."""
    if not cells or any(c["n"] < 2 for c in cells):
        return None
    return max(c["min"] for c in cells) <= min(c["max"] for c in cells)


def _overlap_text(overlap: bool | None) -> str:
    return "– (one run)" if overlap is None else "yes" if overlap else "**no**"


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def render(result: dict) -> str:
    revisions = result["revisions"]
    labels = [r["label"] for r in revisions]
    lines = [
        "# The same measurement at several commits",
        "",
        *([f"Command: `{result['command']}`.", ""] if result.get("command") else []),
        *([result["note"], ""] if result.get("note") else []),
        "Each revision's own code and harness, on this machine, interleaved: "
        + "; ".join(f"repetition {k + 1}: {' → '.join(order)}" for k, order in enumerate(result["order"])) + ".",
        f"Fixed rate: each variant's fixed-rate scenarios for {result['fixed_seconds']:g} s each; sequential: the "
        "round trips one after the other without load. p50 in ms, median (min–max) over the repetitions, and "
        f"the ratio of the median to {labels[0]}'s.",
        "",
        *([f"Machine: {m.get('cpu_model')}, {m.get('logical_cores')} logical cores, Python {m.get('python')}, "
           f"RabbitMQ {m.get('rabbitmq')}; from {m.get('started')} to {m.get('ended')}.", ""]
          if (m := result.get("machine")) else []),
        "| revision | commit |",
        "|---|---|",
        *(f"| {r['label']} | `{r['commit'][:10]}` |" for r in revisions),
        "",
        "| variant | measure | " + " | ".join(labels) + " | ranges overlap |",
        "|---|---|" + "---|" * len(labels) + "---|",
    ]
    for row in result["rows"]:
        cells = []
        for label in labels:
            cell, ratio = row["cells"][label], row["ratio_to_first"][label]
            if cell is None:
                cells.append("–")
                continue
            text = f"{_ms(cell['median'])} ({_ms(cell['min'])}–{_ms(cell['max'])})"
            cells.append(text if label == labels[0] or ratio is None else f"{text} ×{ratio:.2f}")
        lines.append(f"| {row['variant']} | {row['measure']} | " + " | ".join(cells)
                     + f" | {_overlap_text(row['ranges_overlap'])} |")
    invalid = {label: n for label, n in result["invalid_runs"].items() if n}
    lines += ["", "Runs left out as invalid (load generator saturated): "
              + (", ".join(f"{label} {n}" for label, n in invalid.items()) if invalid else "none") + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.revisions", description=__doc__.split("\n\n")[0])
    parser.add_argument("revisions", nargs="+", help="commits to compare, LABEL=REV or REV; the first is the base")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"comma-separated (default {DEFAULT_VARIANTS})")
    parser.add_argument("--fixed-seconds", type=float, default=20.0, help="each fixed-rate run (default 20)")
    parser.add_argument("--out", type=Path, help="default results/revisions/<labels joined by _>")
    parser.add_argument("--work", type=Path, default=Path("/tmp/monitoring-revisions"),
                        help="where the worktrees go (default /tmp/monitoring-revisions)")
    parser.add_argument("--summarize-only", action="store_true", help="rebuild SUMMARY.md from OUT's runs")
    args = parser.parse_args(argv)
    revisions = [parse_revision(text) for text in args.revisions]
    if len({r.label for r in revisions}) != len(revisions):
        parser.error("two revisions have the same label; name them LABEL=REV")
    out = (args.out or ROOT / "results" / "revisions" / "_".join(r.label for r in revisions)).resolve()  # the runs
    # run in each revision's worktree: a relative OUT would land there
    if not args.summarize_only:
        try:
            revisions = [Revision(r.label, r.rev, _git("rev-parse", "--verify", f"{r.rev}^{{commit}}")) for r in revisions]
        except subprocess.CalledProcessError as error:
            parser.error(f"not a commit: {error.stderr.strip()}")
        run(revisions, args.reps, args.variants, args.fixed_seconds, out, args.work)
    elif not (out / MANIFEST).is_file():
        parser.error(f"{out / MANIFEST} is missing: nothing to summarize")
    result = summarize(out)
    print(render(result))
    print(f"written: {out / 'SUMMARY.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
