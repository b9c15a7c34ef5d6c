"""Command line: measure both apps' moves and write ``results/migration/`` (``make diff``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import artifacts, charts, report, scopes, typical
from .categories import DEFAULT_RULES, Classifier, load_rules
from .measure import APPS, measure
from .seed import DEFAULT_SEED


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest.migration_diff",
        description=(
            "Measure what moving each app (direct_calls, event_driven, and their plain forms direct_plain, event_plain) "
            "from monolith to split services costs, from the trees "
            "themselves: files and lines added/changed/removed by category, the monolith's own size (the up-front cost), call "
            "sites touched, dependencies added, a fixed + per-operation cost model extrapolated to the seed's scenario, and the "
            "seed's claims beside our numbers. Writes SECTION.md, migration.json, charts, unified diffs, side-by-side HTML diffs "
            "with an index page and a walkthrough."
        ),
    )
    p.add_argument("--root", type=Path, default=Path("."), help="repository root (default: the current directory)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: ROOT/results/migration)")
    p.add_argument("--seed", type=Path, default=None, help=f"the seed copy to quote (default: ROOT/{DEFAULT_SEED})")
    p.add_argument(
        "--categories",
        type=Path,
        default=None,
        help="a JSON or YAML list of [pattern, category, why] replacing the classification table",
    )
    p.add_argument(
        "--app", action="append", choices=APPS, help="measure only this app (repeatable; default: every app the topology has)"
    )
    p.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    p.add_argument("--print-categories", action="store_true", help="print the classification table as JSON and exit")
    return p


def document(m) -> dict:
    """``migration.json``: the measurement, the scope table and the up-front ratios."""
    return {**m.as_dict(), "scopes": scopes.rows(m), "upfront_ratios": scopes.upfront(m), "typical": typical.rows(m)}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    rules = load_rules(args.categories) if args.categories else DEFAULT_RULES
    if args.print_categories:
        print(json.dumps([[r.pattern, r.category, r.why] for r in rules], indent=1))
        return 0
    started = time.monotonic()
    root = args.root.resolve()
    out = (args.out or root / "results" / "migration").resolve()
    seed = (args.seed or root / DEFAULT_SEED).resolve()
    out.mkdir(parents=True, exist_ok=True)
    m = measure(root, Classifier(rules), seed, tuple(args.app or APPS))
    written = artifacts.write(m, out)
    if not args.no_charts:
        written += charts.write(m, out)
    section = out / "SECTION.md"
    section.write_text(report.section(m), encoding="utf-8")
    data = out / "migration.json"
    data.write_text(json.dumps(document(m), indent=1, sort_keys=False) + "\n", encoding="utf-8")
    written += [section, data]
    for app in m.apps.values():
        if app.measured:
            fit = app.fits[0]
            print(
                f"{app.app}: {app.file_count()} files touched, {app.churn()} code lines churned, "
                f"{app.touched_sites()} call sites touched in app code ({app.callsites.touched_count} with wiring), "
                f"{len(app.operations)} operations, "
                f"model {fit.fixed} + {fit.per_op:.1f}/op -> {fit.at(m.scenario.operations):.0f} at {m.scenario.operations} ops"
            )
        else:
            print(f"{app.app}: {app.reason}")
    if not m.seed_tables:
        print(f"warning: no seed tables found in {seed}", file=sys.stderr)
    print(
        f"wrote {len(written)} files under {out.relative_to(root) if out.is_relative_to(root) else out} "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0
