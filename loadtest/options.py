"""The compare harness's options: the command line over the two profiles (:mod:`loadtest.profiles`), resolved
into ``Options``.

Every default comes from a profile (``--quick`` picks the smoke one); an explicit option overrides either.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from harness.topology import VARIANTS
from loadtest.profiles import PROFILES
from shared.config import DEFAULT_RABBITMQ_URL

ROOT = Path(__file__).resolve().parent.parent

SCENARIOS = ("crud", "ingest", "mixed")
STREAM_SCENARIOS = ("ingest", "mixed")
FAULT_SERVICES = ("notification", "alerting")
FAULT_KINDS = ("stop", "kill", "hang", "slow", "fail", "restart")
"""How a service is made to fail: ``stop`` (SIGTERM: a graceful shutdown), ``kill`` (SIGKILL of its process group:
a crash), ``hang`` (SIGSTOP, then SIGCONT after the window: alive, its sockets accept, nothing answers); and of the
``webhook`` receiver (:mod:`loadtest.webhook_sink`): ``slow`` (answers after 3 s) and ``fail`` (answers 500); and of
the ``broker`` (variants that use one): ``restart`` (``rabbitmqctl stop_app``, then ``start_app`` after the window); and
of the ``database`` (PostgreSQL runs only): ``restart`` (the local cluster stopped, started after the window)."""
FAULT_PAST = {"stop": "stopped", "kill": "killed", "hang": "hung", "slow": "slow", "fail": "failing", "restart": "restarted"}
BROKER = "broker"
DATABASE = "database"
DATABASE_FAULTS = (("restart", DATABASE),)
"""The fault run of each split variant at 2 replicas on PostgreSQL, after its scale search (the SQLite runs have no
database server to restart)."""
WEBHOOK = "webhook"
"""The "service" of the webhook faults: the receiver the harness runs, not a process of the variant."""

def fault_label(event: dict) -> str:
    """``notification killed``: a fault's row in the report (runs from before the kinds were all stops)."""
    return f"{event['service']} {FAULT_PAST[event.get('kind', 'stop')]}"
DEFAULT_OUT = ROOT / "results"
QUICK_OUT = ROOT / "results" / "quick"


@dataclass
class Options:
    quick: bool
    out: Path
    variants: list[str]
    scenarios: list[str]
    reps: int
    rate: float
    users: int
    fixed_s: float
    capacity_start: float
    capacity_factor: float
    capacity_refine: int
    capacity_step_s: float
    capacity_ramp_s: float
    capacity_processes: int
    capacity_max_steps: int
    capacity_user_rate: float
    capacity_per_rep: int
    slo_ms: float
    seq_calls: int
    seq_warmup: int
    seq_reps: int
    probe_results: int
    floor_calls: int
    floor_warmup: int
    fault_window_s: float
    fault_pre_s: float
    fault_post_s: float
    fault_rate: float
    fault_plan: tuple[tuple[str, str], ...]
    """(kind, service) of each fault of a fault run, in order (kinds: :data:`FAULT_KINDS`)."""
    settle_s: float
    budget_s: float
    gen_cpu_limit: float
    rabbitmq_url: str
    scale_replicas: list[int]
    scale_scenario: str
    scale_variants: list[str]
    scale_refine: int
    model_users: float
    model_requests_per_user_day: float
    model_peak_factor: float
    model_utilisation: float
    network_rtts: list[float]
    """Round-trip times (ms) of the network section's runs, ascending; the capacity search at the first and last."""
    network_variants: list[str]
    network_seq_calls: int
    network_probe_results: int
    scale: bool = True
    capacity: bool = True
    ceiling: bool = True
    faults: bool = True
    floors: bool = True
    sequential: bool = True
    network: bool = True
    traces: bool = True
    """The traced pass: each variant once more with tracing on, apart from the timed runs (``loadtest.traced_pass``)."""
    trace_requests: int = 30
    migration_diff: bool = True
    budget_guard: bool = True
    keep_data: bool = False
    max_error_rate: float = 0.01
    min_achieved: float = 0.8


def parse_args(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    parser = build_parser()
    args = parser.parse_args(argv)
    return options_from_args(parser, args), args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.compare",
        description="Load, fault, floor and scale measurements of every variant; writes raw data, summary.json, charts and "
        "REPORT.md.",
        epilog="Defaults are the full profile (3 repetitions, ~2 h 10 min on 2 cores); --quick switches every default to the "
        "smoke profile. Explicit options override either profile.",
    )
    full = PROFILES["full"]
    _add_load_options(parser.add_argument, full)
    _add_measurement_options(parser.add_argument, full)
    _add_scale_options(parser.add_argument, full)
    _add_network_options(parser.add_argument, full)
    _add_switches(parser.add_argument)
    return parser


def _add_load_options(add, full: dict) -> None:
    """What runs and at which load: output, variants, scenarios, fixed-rate and capacity runs."""
    add("--quick", action="store_true", help="smoke mode: every step with tiny loads, 1 repetition, output in results/quick/")
    add("--out", type=Path, default=None, help="output folder (default results/, or results/quick/ with --quick)")
    add("--variants", default=None, help="comma-separated variants to run (full: every variant; QUICK: all but the plain "
        "apps' variants, which run only the fixed-rate scenarios and the traced pass)")
    add("--scenarios", default=",".join(SCENARIOS), help="comma-separated locust scenarios")
    add("--reps", type=int, default=None, help=f"repetitions (full {full['reps']})")
    add(
        "--rate", type=float, default=None, help=f"fixed offered rate, requests/s, same for every variant (full {full['rate']:g})"
    )
    add("--users", type=int, default=None, help=f"locust users in fixed-rate runs (full {full['users']})")
    add(
        "--fixed-seconds",
        dest="fixed_s",
        type=float,
        default=None,
        help=f"duration of each fixed-rate run (full {full['fixed_s']:g})",
    )
    add(
        "--capacity-start",
        type=float,
        default=None,
        help=f"first offered rate of a capacity search, rps (full {full['capacity_start']:g})",
    )
    add(
        "--capacity-factor",
        type=float,
        default=None,
        help=f"rate multiplier between steps until one fails (full {full['capacity_factor']:g})",
    )
    add(
        "--capacity-refine",
        type=int,
        default=None,
        help=f"bisections between the last good and first bad step (full {full['capacity_refine']})",
    )
    add(
        "--capacity-step-seconds",
        dest="capacity_step_s",
        type=float,
        default=None,
        help=f"measured duration of one capacity step, after its ramp (full {full['capacity_step_s']:g})",
    )
    add(
        "--capacity-processes",
        type=int,
        default=None,
        help=f"locust worker processes offering the capacity load (full {full['capacity_processes']})",
    )
    add(
        "--capacity-user-rate",
        type=float,
        default=None,
        help=f"requests/s per locust user in capacity mode (full {full['capacity_user_rate']:g})",
    )
    add(
        "--capacity-per-rep",
        type=int,
        default=None,
        help="scenarios run in capacity mode per repetition, rotating (full 3: every scenario in every repetition)",
    )
    add("--slo-ms", type=float, default=None, help=f"capacity SLO on p95, ms (full {full['slo_ms']:g})")


def _add_measurement_options(add, full: dict) -> None:
    """Sequential, floor and fault measurements, the time budget, validity and the broker."""
    add("--seq-calls", type=int, default=None, help=f"sequential round trips per request kind (full {full['seq_calls']})")
    add(
        "--seq-reps",
        type=int,
        default=None,
        help=f"repetitions that include the sequential measurement (full {full['seq_reps']})",
    )
    add("--floor-calls", type=int, default=None, help=f"round trips per transport floor (full {full['floor_calls']})")
    add(
        "--fault-window",
        dest="fault_window_s",
        type=float,
        default=None,
        help=f"seconds a service stays stopped, killed or hung (full {full['fault_window_s']:g})",
    )
    add(
        "--settle",
        dest="settle_s",
        type=float,
        default=None,
        help=f"max seconds to wait for notifications to settle (full {full['settle_s']:g})",
    )
    add(
        "--budget",
        dest="budget_s",
        type=float,
        default=None,
        help=f"time budget in seconds; the plan warns when over it (full {full['budget_s']:g})",
    )
    add(
        "--no-budget-guard",
        action="store_true",
        help="run every capacity step even when the run is projected to exceed --budget (default: skip them)",
    )
    add(
        "--gen-cpu-limit",
        type=float,
        default=0.9,
        help="a run whose load generator uses more than this share of one core is invalid (default 0.9)",
    )
    add(
        "--rabbitmq-url",
        default=os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL),
        help="broker for event-split and the pika floor (default $RABBITMQ_URL or the local guest broker)",
    )


def _add_scale_options(add, full: dict) -> None:
    """The scale section: the capacity search at several replica counts on PostgreSQL, and the model's assumptions."""
    add("--no-scale", action="store_true", help="skip the scale runs (capacity at several replica counts on PostgreSQL)")
    add(
        "--scale-replicas",
        default=None,
        help=f"comma-separated replica counts of the scale runs (full {','.join(map(str, full['scale_replicas']))}; QUICK 1,2)",
    )
    add("--scale-scenario", default=None, help=f"the scale runs' scenario (full {full['scale_scenario']})")
    add(
        "--scale-variants",
        default=None,
        help="comma-separated variants of the scale runs (full: every variant; QUICK: direct-monolith)",
    )
    add("--model-users", type=float, default=None, help=f"the model's users (full {full['model_users']:,.0f})")
    add(
        "--model-requests-per-user-day",
        type=float,
        default=None,
        help=f"the model's requests per user per day (full {full['model_requests_per_user_day']:g})",
    )
    add(
        "--model-peak-factor",
        type=float,
        default=None,
        help=f"the model's peak rate over the day's mean rate (full {full['model_peak_factor']:g})",
    )
    add(
        "--model-utilisation",
        type=float,
        default=None,
        help=f"the model's target CPU utilisation at the peak, 0..1 (full {full['model_utilisation']:g})",
    )


def _scale_lists(parser: argparse.ArgumentParser, args: argparse.Namespace, profile: dict) -> dict:
    """The scale runs' replica counts, variants and scenario, from the command line or the profile."""
    try:
        given = args.scale_replicas
        replicas = [int(x) for x in given.split(",") if x.strip()] if given else list(profile["scale_replicas"])
    except ValueError:
        parser.error("--scale-replicas takes comma-separated whole numbers")
    if not replicas or min(replicas) < 1:
        parser.error("--scale-replicas must be at least 1")
    if args.scale_variants:
        variants = [v.strip() for v in args.scale_variants.split(",") if v.strip()]
    else:
        variants = list(profile["scale_variants"] or (v for v in VARIANTS if not VARIANTS[v].is_plain))
    if any(v not in VARIANTS for v in variants):
        parser.error(f"--scale-variants must be among {', '.join(VARIANTS)}")
    utilisation = args.model_utilisation if args.model_utilisation is not None else profile["model_utilisation"]
    if not 0 < utilisation <= 1:
        parser.error("--model-utilisation must be in (0, 1]")
    scenario = args.scale_scenario or profile["scale_scenario"]
    if scenario not in SCENARIOS:
        parser.error(f"--scale-scenario must be one of {', '.join(SCENARIOS)}")
    return {
        "scale_replicas": sorted(set(replicas)),
        "scale_variants": variants,
        "scale_scenario": scenario,
    }


def _add_network_options(add, full: dict) -> None:
    """The network section: the split variants behind a delay relay at several round-trip times."""
    add("--no-network", action="store_true", help="skip the network runs (split variants behind a delay relay)")
    add("--no-traces", action="store_true", help="skip the traced pass (each variant once more with tracing on)")
    add(
        "--network-rtts",
        default=None,
        help=f"comma-separated round-trip times in ms added per hop (full {','.join(f'{r:g}' for r in full['network_rtts'])}; "
        "QUICK 0,5); the capacity search runs at the lowest and the highest",
    )
    add("--network-variants", default=None, help="comma-separated split variants of the network runs, among --variants "
        "(full: every split variant; QUICK: direct-split-http,event-split)")
    add("--network-seq-calls", type=int, default=None,
        help=f"sequential round trips per request kind in each network run (full {full['network_seq_calls']})")


def _network_lists(parser: argparse.ArgumentParser, args: argparse.Namespace, profile: dict, variants: list[str]) -> dict:
    """The network runs' round-trip times and variants, from the command line or the profile."""
    try:
        given = args.network_rtts
        rtts = [float(x) for x in given.split(",") if x.strip()] if given else list(profile["network_rtts"])
    except ValueError:
        parser.error("--network-rtts takes comma-separated numbers (milliseconds)")
    if not rtts or min(rtts) < 0:
        parser.error("--network-rtts must be at least 0")
    split = [v for v in VARIANTS if VARIANTS[v].is_split and not VARIANTS[v].is_plain]
    if args.network_variants:
        chosen = [v.strip() for v in args.network_variants.split(",") if v.strip()]
    else:
        chosen = list(profile["network_variants"] or split)
    if any(v not in split for v in chosen):
        parser.error(f"--network-variants must be among {', '.join(split)}")
    return {
        "network_rtts": sorted(set(rtts)),
        "network_variants": [v for v in chosen if v in variants],
        "network_seq_calls": args.network_seq_calls if args.network_seq_calls is not None else profile["network_seq_calls"],
        "network_probe_results": profile["network_probe_results"],
    }


def _add_switches(add) -> None:
    """Steps that can be turned off, and the modes that run no load (--report-only, --plan)."""
    add("--no-capacity", action="store_true",
        help="skip the repetitions' capacity runs (the network section's: --no-network)")
    add("--no-ceiling", action="store_true", help="skip the HTTP ceiling (the capacity search on a trivial Flask app)")
    add("--no-faults", action="store_true", help="skip fault scenarios")
    add("--no-floors", action="store_true", help="skip transport floors")
    add("--no-sequential", action="store_true", help="skip sequential round trips")
    add("--keep-data", action="store_true", help="keep each variant's data folder (SQLite files, full process logs)")
    add(
        "--migration-diff",
        dest="migration_diff",
        action="store_true",
        default=None,
        help="run python -m loadtest.migration_diff --out OUT/migration before the report (default)",
    )
    add("--no-migration-diff", dest="migration_diff", action="store_false", help="do not run the migration diff")
    add("--report-only", action="store_true", help="rebuild summary.json, charts and REPORT.md from OUT/raw/latest")
    add("--plan", action="store_true", help="print the plan and its estimated duration, run nothing")


def options_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Options:
    """The profile's defaults overridden by what was given; unknown variants or scenarios are a usage error."""
    profile = PROFILES["quick" if args.quick else "full"]

    def pick(name: str):
        value = getattr(args, name, None)
        return profile[name] if value is None else value

    if args.variants is None:
        variants = [v for v in VARIANTS if not (args.quick and VARIANTS[v].is_plain)]
    else:
        variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if any(s not in SCENARIOS for s in scenarios):
        parser.error(f"scenarios must be among {', '.join(SCENARIOS)}")
    return Options(
        quick=args.quick,
        out=(args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)).resolve(),
        variants=variants,
        scenarios=scenarios,
        reps=pick("reps"),
        rate=pick("rate"),
        users=pick("users"),
        fixed_s=pick("fixed_s"),
        capacity_start=pick("capacity_start"),
        capacity_factor=pick("capacity_factor"),
        capacity_refine=pick("capacity_refine"),
        capacity_step_s=pick("capacity_step_s"),
        capacity_ramp_s=profile["capacity_ramp_s"],
        capacity_processes=pick("capacity_processes"),
        capacity_max_steps=profile["capacity_max_steps"],
        capacity_user_rate=pick("capacity_user_rate"),
        capacity_per_rep=pick("capacity_per_rep"),
        slo_ms=pick("slo_ms"),
        seq_calls=pick("seq_calls"),
        seq_warmup=profile["seq_warmup"],
        seq_reps=pick("seq_reps"),
        probe_results=profile["probe_results"],
        floor_calls=pick("floor_calls"),
        floor_warmup=profile["floor_warmup"],
        fault_window_s=pick("fault_window_s"),
        fault_pre_s=profile["fault_pre_s"],
        fault_post_s=profile["fault_post_s"],
        fault_rate=profile["fault_rate"] if args.rate is None else args.rate,
        fault_plan=tuple(profile["fault_plan"]),
        settle_s=pick("settle_s"),
        budget_s=pick("budget_s"),
        gen_cpu_limit=args.gen_cpu_limit,
        rabbitmq_url=args.rabbitmq_url,
        **_scale_lists(parser, args, profile),
        scale_refine=profile["scale_refine"],
        model_users=pick("model_users"),
        model_requests_per_user_day=pick("model_requests_per_user_day"),
        model_peak_factor=pick("model_peak_factor"),
        model_utilisation=pick("model_utilisation"),
        **_network_lists(parser, args, profile, variants),
        scale=not args.no_scale,
        capacity=not args.no_capacity,
        ceiling=not args.no_ceiling,
        faults=not args.no_faults,
        floors=not args.no_floors,
        sequential=not args.no_sequential,
        network=not args.no_network,
        traces=not args.no_traces,
        trace_requests=profile.get("trace_requests", 30),
        keep_data=args.keep_data,
        budget_guard=not args.no_budget_guard,
        migration_diff=True if args.migration_diff is None else args.migration_diff,
    )
