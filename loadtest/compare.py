"""Compare every variant under the same load: ``make compare`` / ``python -m loadtest.compare``.

For each repetition (interleaved: repetition 1 of every variant, then repetition 2, ...) the harness

1. measures the transport floors (bare gRPC unary, Flask+requests, pika direct reply-to) and the HTTP ceiling
   (the capacity search against a trivial Flask app on the variants' gunicorn settings);
2. for each variant (the order rotates between repetitions): starts it through ``harness.launcher``,
   measures sequential round trips and the alert delay, runs each locust scenario at a fixed offered
   rate, then a capacity search per scenario (``capacity``, ``capacity_run``: the offered rate climbs until
   the SLO breaks, then is bisected), and on split variants in the last repetition the fault scenarios; CPU
   and RSS of the variant's processes (children included) and of every load-generator process are sampled
   meanwhile; then stops it.

Then, once, the network runs (``network``): each split variant behind a delay relay at each round-trip time
(sequential round trips; the ``ingest`` capacity search at the lowest and highest), and the scale runs.

Everything measured is written under ``OUT/raw/<run-id>/`` (renamed ``OUT/raw/latest`` when the run
completes); ``OUT/summary.json``, the charts ``OUT/*.png`` and ``OUT/REPORT.md`` are then built from
those raw files only (``--report-only`` rebuilds them from ``OUT/raw/latest``). ``--quick`` runs every
step with tiny loads and one repetition into ``results/quick/`` (git-ignored).

This module only wires the parts together: ``options`` (profiles and the command line), ``availability``
(broker and code checks), ``plan`` (the steps and their estimates), ``runner`` with ``steps`` and
``locust_run`` (the run itself), ``outputs`` (migration diff, summary, charts, report).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.topology import VARIANTS  # noqa: E402
from loadtest.availability import broker_reachable, launch_reason, missing_code, redact  # noqa: E402
from loadtest.options import (  # noqa: E402
    DEFAULT_OUT,
    FAULT_SERVICES,
    PROFILES,
    QUICK_OUT,
    SCENARIOS,
    STREAM_SCENARIOS,
    Options,
    parse_args,
)
from loadtest.outputs import build_outputs, run_migration_diff  # noqa: E402
from loadtest.plan import (  # noqa: E402
    Progress,
    Step,
    capacity_scenarios,
    estimate,
    fault_duration,
    fmt_duration,
    make_plan,
    restart_allowance,
)
from loadtest.runner import execute  # noqa: E402

__all__ = [
    "DEFAULT_OUT",
    "FAULT_SERVICES",
    "PROFILES",
    "QUICK_OUT",
    "ROOT",
    "SCENARIOS",
    "STREAM_SCENARIOS",
    "Options",
    "Progress",
    "Step",
    "broker_reachable",
    "build_outputs",
    "capacity_scenarios",
    "estimate",
    "execute",
    "fault_duration",
    "fmt_duration",
    "launch_reason",
    "main",
    "make_plan",
    "missing_code",
    "parse_args",
    "redact",
    "restart_allowance",
    "run_migration_diff",
]


def main(argv: list[str] | None = None) -> int:
    options, args = parse_args(argv)
    if args.report_only:
        if not (options.out / "raw" / "latest" / "run.json").exists():
            print(f"error: no raw run in {options.out / 'raw' / 'latest'}", file=sys.stderr)
            return 1
        build_outputs(options.out)
        print(f"rebuilt {options.out / 'summary.json'} and {options.out / 'REPORT.md'}")
        return 0
    if args.plan:
        print_plan(options)
        return 0
    return execute(options)


def print_plan(options: Options) -> None:
    """``--plan``: the steps that would run and their estimated duration; nothing is started."""
    broker_error = broker_reachable(options.rabbitmq_url)
    runnable = [v for v in options.variants if not (broker_error and VARIANTS[v].needs_broker)]
    missing = missing_code(runnable)
    runnable = [v for v in runnable if v not in missing]
    plan = make_plan(options, runnable)
    for step in plan:
        print(f"{step.est_s:6.1f} s  {step.label}")
    print(f"planned total ≈ {fmt_duration(sum(s.est_s for s in plan))} (budget {fmt_duration(options.budget_s)})")


if __name__ == "__main__":
    sys.exit(main())
