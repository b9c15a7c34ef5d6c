"""Compare every variant under the same load: ``make compare`` / ``python -m loadtest.compare``.

For each repetition (interleaved: repetition 1 of every variant, then repetition 2, ...) the harness

1. measures the transport floors (bare gRPC unary, Flask+requests, pika direct reply-to);
2. for each variant (the order rotates between repetitions): starts it through ``harness.launcher``,
   measures sequential round trips and the alert delay, runs each locust scenario at a fixed offered
   rate, one scenario in capacity mode (the scenario rotates, so each gets one capacity run over three
   repetitions), and on split variants in the last repetition the fault scenarios; CPU and RSS of the
   variant's processes (children included) and of the load generator are sampled meanwhile; then
   stops it.

Everything measured is written under ``OUT/raw/<run-id>/`` (renamed ``OUT/raw/latest`` when the run
completes); ``OUT/summary.json``, the charts ``OUT/*.png`` and ``OUT/REPORT.md`` are then built from
those raw files only (``--report-only`` rebuilds them from ``OUT/raw/latest``). ``--quick`` runs every
step with tiny loads and one repetition into ``results/quick/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.launcher import LaunchError, RunningVariant, start  # noqa: E402
from harness.processes import die_with_parent  # noqa: E402
from harness.topology import VARIANTS  # noqa: E402
from loadtest import envinfo, floors, pattern, readback, sequential  # noqa: E402
from loadtest.sampler import Sampler, broker_pids  # noqa: E402
from shared.config import DEFAULT_RABBITMQ_URL  # noqa: E402

SCENARIOS = ("crud", "ingest", "mixed")
STREAM_SCENARIOS = ("ingest", "mixed")
FAULT_SERVICES = ("notification", "alerting")
DEFAULT_OUT = ROOT / "results"
QUICK_OUT = ROOT / "results" / "quick"

PROFILES: dict[str, dict] = {
    "full": {
        "reps": 3,
        "rate": 30.0,
        "users": 10,
        "fixed_s": 7.0,
        "capacity_steps": [20, 40, 70, 110, 160, 240],
        "capacity_step_s": 2.0,
        "capacity_user_rate": 4.0,
        "capacity_per_rep": 1,
        "slo_ms": 200.0,
        "seq_calls": 500,
        "seq_warmup": 50,
        "seq_reps": 1,
        "probe_results": 400,
        "floor_calls": 500,
        "floor_warmup": 50,
        "fault_window_s": 10.0,
        "fault_pre_s": 3.0,
        "fault_post_s": 4.0,
        "fault_rate": 30.0,
        "settle_s": 10.0,
        "budget_s": 900.0,
    },
    "quick": {
        "reps": 1,
        "rate": 8.0,
        "users": 2,
        "fixed_s": 2.0,
        "capacity_steps": [5, 10],
        "capacity_step_s": 1.0,
        "capacity_user_rate": 5.0,
        "capacity_per_rep": 1,
        "slo_ms": 200.0,
        "seq_calls": 50,
        "seq_warmup": 5,
        "seq_reps": 1,
        "probe_results": 4,
        "floor_calls": 50,
        "floor_warmup": 5,
        "fault_window_s": 1.5,
        "fault_pre_s": 1.0,
        "fault_post_s": 1.0,
        "fault_rate": 8.0,
        "settle_s": 5.0,
        "budget_s": 180.0,
    },
}


# --------------------------------------------------------------------------- options


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
    capacity_steps: list[float]
    capacity_step_s: float
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
    settle_s: float
    budget_s: float
    gen_cpu_limit: float
    rabbitmq_url: str
    capacity: bool = True
    faults: bool = True
    floors: bool = True
    sequential: bool = True
    migration_diff: bool = True
    budget_guard: bool = True
    keep_data: bool = False
    max_error_rate: float = 0.01
    min_achieved: float = 0.8


def parse_args(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.compare",
        description="Load, fault and floor measurements of every variant; writes raw data, summary.json, charts and REPORT.md.",
        epilog="Defaults are the full profile (3 repetitions, < 15 min on 2 cores); --quick switches every default to the "
        "smoke profile. Explicit options override either profile.",
    )
    full = PROFILES["full"]
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke mode: every step with tiny loads, 1 repetition, output in results/quick/")
    add("--out", type=Path, default=None, help="output folder (default results/, or results/quick/ with --quick)")
    add("--variants", default=",".join(VARIANTS), help="comma-separated variants to run")
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
        "--capacity-steps",
        default=None,
        help="offered rates of the capacity steps, comma-separated (full "
        + ",".join(f"{s:g}" for s in full["capacity_steps"])
        + ")",
    )
    add(
        "--capacity-step-seconds",
        dest="capacity_step_s",
        type=float,
        default=None,
        help=f"duration of one capacity step (full {full['capacity_step_s']:g})",
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
        help="scenarios run in capacity mode per repetition, rotating (full 1: each scenario once over 3 repetitions)",
    )
    add("--slo-ms", type=float, default=None, help=f"capacity SLO on p95, ms (full {full['slo_ms']:g})")
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
        help=f"seconds a service stays stopped (full {full['fault_window_s']:g})",
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
    add("--no-capacity", action="store_true", help="skip capacity runs")
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
    args = parser.parse_args(argv)

    profile = PROFILES["quick" if args.quick else "full"]

    def pick(name: str):
        value = getattr(args, name, None)
        return profile[name] if value is None else value

    steps = [float(s) for s in args.capacity_steps.split(",")] if args.capacity_steps else profile["capacity_steps"]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if any(s not in SCENARIOS for s in scenarios):
        parser.error(f"scenarios must be among {', '.join(SCENARIOS)}")
    options = Options(
        quick=args.quick,
        out=(args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)).resolve(),
        variants=variants,
        scenarios=scenarios,
        reps=pick("reps"),
        rate=pick("rate"),
        users=pick("users"),
        fixed_s=pick("fixed_s"),
        capacity_steps=steps,
        capacity_step_s=pick("capacity_step_s"),
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
        settle_s=pick("settle_s"),
        budget_s=pick("budget_s"),
        gen_cpu_limit=args.gen_cpu_limit,
        rabbitmq_url=args.rabbitmq_url,
        capacity=not args.no_capacity,
        faults=not args.no_faults,
        floors=not args.no_floors,
        sequential=not args.no_sequential,
        keep_data=args.keep_data,
        budget_guard=not args.no_budget_guard,
        migration_diff=True if args.migration_diff is None else args.migration_diff,
    )
    return options, args


# --------------------------------------------------------------------------- availability


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url


def broker_reachable(url: str) -> str | None:
    """None when an AMQP connection opens, else why not."""
    try:
        import pika

        params = pika.URLParameters(url)
        params.socket_timeout = 3
        params.connection_attempts = 1
        params.blocked_connection_timeout = 3
        connection = pika.BlockingConnection(params)
        connection.close()
        return None
    except Exception as error:  # noqa: BLE001 - any failure means no broker
        return f"{type(error).__name__}: {error}"[:200]


def missing_code(names: list[str]) -> dict[str, str]:
    """Variants whose modules cannot be found, with the first missing module (checked in a subprocess)."""
    modules: dict[str, list[str]] = {}
    for name in names:
        mods = []
        for proc in VARIANTS[name].processes:
            argv = list(proc.argv)
            for i, arg in enumerate(argv):
                if arg == "-m" and i + 1 < len(argv) and argv[i + 1] != "gunicorn":
                    mods.append(argv[i + 1])
                elif ":" in arg and "(" in arg and not arg.startswith("{"):
                    mods.append(arg.split(":", 1)[0])
        modules[name] = mods
    script = (
        "import importlib.util, json, sys\n"
        "out = {}\n"
        "for m in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        out[m] = importlib.util.find_spec(m) is not None\n"
        "    except Exception:\n"
        "        out[m] = False\n"
        "print(json.dumps(out))\n"
    )
    wanted = sorted({m for mods in modules.values() for m in mods})
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps(wanted)], capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        return {}
    missing = {}
    for name, mods in modules.items():
        absent = [m for m in mods if not found.get(m)]
        if absent:
            missing[name] = f"code does not exist yet (module {absent[0]} not found)"
    return missing


def launch_reason(error: BaseException) -> str:
    """A one-line reason from a LaunchError: its first line and the last exception line of the process log."""
    text = str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    head = lines[0] if lines else type(error).__name__
    errors = [line for line in lines[1:] if "Error" in line or "Exception" in line]
    reason = head + (f" — {errors[-1]}" if errors else "")
    return reason[:300]


# --------------------------------------------------------------------------- plan


@dataclass
class Step:
    rep: int
    kind: str  # floors | start | sequential | fixed | capacity | faults | stop | report
    variant: str | None = None
    scenario: str | None = None
    est_s: float = 0.0
    status: str = "planned"
    reason: str | None = None
    actual_s: float | None = None
    dir: str | None = None
    brief: str | None = None

    @property
    def label(self) -> str:
        parts = [f"rep {self.rep}"] if self.rep else []
        if self.variant:
            parts.append(self.variant)
        what = self.kind if not self.scenario else f"{self.kind} {self.scenario}"
        return " · ".join([*parts, what])


def capacity_scenarios(options: Options, rep: int) -> list[str]:
    if not options.capacity or not options.scenarios:
        return []
    n = len(options.scenarios)
    k = min(options.capacity_per_rep, n)
    # repetition 1 starts with the last scenario (mixed: the most representative when there is only one repetition)
    return [options.scenarios[(n - 1 + (rep - 1) * k + j) % n] for j in range(k)]


def estimate(options: Options, kind: str, variant: str | None = None, scenario: str | None = None) -> float:
    """Planned seconds of one step (calibrated on a 2-core machine; the progress line rescales them as steps finish)."""
    split = variant is not None and len(VARIANTS[variant].processes) > 1
    broker = variant is not None and VARIANTS[variant].needs_broker
    if kind == "floors":
        return 3.5 + (options.floor_calls + options.floor_warmup) * 0.004
    if kind == "start":
        return (2.2 if split else 1.0) + (1.0 if broker else 0.0)
    if kind == "stop":
        return 1.2 if split else 0.5
    if kind == "sequential":
        per_pair_s = 0.025 if split else 0.013
        return 0.5 + (options.seq_calls + options.seq_warmup + options.probe_results) * per_pair_s
    if kind == "fixed":
        return options.fixed_s + 0.8 + (0.4 if scenario in STREAM_SCENARIOS else 0.0)
    if kind == "capacity":
        return len(options.capacity_steps) * options.capacity_step_s * 0.85 + 1.2
    if kind == "faults":
        return fault_duration(options) + 2.5
    if kind == "report":
        return 5.0 + (10.0 if options.migration_diff else 0.0)  # the diff normally takes ~8 s (bounded at 30/90 s)
    return 1.0


def fault_duration(options: Options) -> float:
    """Locust's run time in a fault scenario: warm-up, then per service: stopped window, restart allowance, recovery."""
    return options.fault_pre_s + len(FAULT_SERVICES) * (
        options.fault_window_s + restart_allowance(options) + options.fault_post_s
    )


def restart_allowance(options: Options) -> float:
    """Seconds planned for stopping (graceful shutdown) and restarting a service, on top of the window."""
    return 3.5 if options.quick else 5.0


def make_plan(options: Options, runnable: list[str]) -> list[Step]:
    plan: list[Step] = []
    for rep in range(1, options.reps + 1):
        if options.floors:
            plan.append(Step(rep, "floors", est_s=estimate(options, "floors")))
        shift = (rep - 1) % max(1, len(runnable))
        order = runnable[shift:] + runnable[:shift]
        for variant in order:
            for kind, scenario in (
                [("start", None)]
                + ([("sequential", None)] if options.sequential and rep <= options.seq_reps else [])
                + [("fixed", s) for s in options.scenarios]
                + [("capacity", s) for s in capacity_scenarios(options, rep)]
                + (
                    [("faults", "ingest")]
                    if options.faults and rep == options.reps and len(VARIANTS[variant].processes) > 1
                    else []
                )
                + [("stop", None)]
            ):
                plan.append(Step(rep, kind, variant, scenario, est_s=estimate(options, kind, variant, scenario)))
    plan.append(Step(0, "report", est_s=estimate(options, "report")))
    return plan


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60:d}:{seconds % 60:02d}"


# --------------------------------------------------------------------------- progress


class Progress:
    def __init__(self, plan: list[Step]):
        self.plan = plan
        self.started = time.monotonic()

    def remaining(self, index: int) -> float:
        done = [s for s in self.plan[:index] if s.actual_s is not None]
        planned_done = sum(s.est_s for s in done)
        actual_done = sum(s.actual_s for s in done)
        factor = min(2.0, max(0.6, actual_done / planned_done)) if planned_done > 20 else 1.0
        return factor * sum(s.est_s for s in self.plan[index:] if s.status == "planned")

    def show(self, index: int, extra: str = "") -> None:
        step = self.plan[index]
        elapsed = time.monotonic() - self.started
        print(f"[{fmt_duration(elapsed)} elapsed, ~{fmt_duration(self.remaining(index))} left] {step.label}{extra}", flush=True)

    @staticmethod
    def note(text: str) -> None:
        print(f"      {text}", flush=True)


# --------------------------------------------------------------------------- runs


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str))


def locust_env(scenario: str, outdir: Path, user_rate: float) -> dict[str, str]:
    return {
        "LOADTEST_SCENARIO": scenario,
        "LOADTEST_USER_RATE": f"{user_rate:g}",
        "LOADTEST_RUN_TAG": uuid.uuid4().hex[:8],
        "LOADTEST_LEDGER": str(outdir / "ledger.json"),
        "LOADTEST_REQUEST_LOG": str(outdir / "requests.csv"),
    }


def run_locust(
    rv: RunningVariant,
    outdir: Path,
    scenario: str,
    env: dict[str, str],
    extra_args: list[str],
    hard_timeout_s: float,
    with_broker: bool,
    during=None,
) -> dict:
    """Run locust headless as a subprocess while sampling CPU/RSS; ``during(popen, started)`` runs alongside."""
    outdir.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "loadtest" / "locustfile.py"),
        "--headless",
        "--csv",
        str(outdir / "locust"),
        "--only-summary",
        "--stop-timeout",
        "2",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
        "--host",
        rv.base_url,
        *extra_args,
    ]
    groups = {"variant": lambda: rv.pids}
    if with_broker:
        pids = broker_pids()
        groups["broker"] = lambda: pids
    sampler = Sampler(groups).start()
    started = time.time()
    with open(outdir / "locust.log", "wb") as log:
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
    sampler.add_group("generator", lambda: [popen.pid] if popen.poll() is None else [])
    timeline = None
    try:
        if during is not None:
            timeline = during(popen, started)
        try:
            popen.wait(timeout=max(5.0, hard_timeout_s - (time.time() - started)))
        except subprocess.TimeoutExpired:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()
        ended = time.time()
        sampler.stop()
    meta = {
        "scenario": scenario,
        "argv": argv[1:],
        "env": env,
        "started": started,
        "ended": ended,
        "returncode": popen.returncode,
        "base_url": rv.base_url,
    }
    if timeline is not None:
        meta["timeline"] = timeline
    write_json(outdir / "meta.json", meta)
    write_json(outdir / "resources.json", sampler.to_json())
    return meta


def brief_locust(outdir: Path) -> str:
    import csv

    path = outdir / "locust_final_stats.csv"
    if not path.exists():
        path = outdir / "locust_stats.csv"
    if not path.exists():
        return "no locust stats"
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                n, f = int(row["Request Count"]), int(row["Failure Count"])
                return f"{n} req, {float(row['Requests/s']):.1f} rps, p50 {row['50%']} ms, p95 {row['95%']} ms, {f} failed"
    return "no aggregated row"


def do_readback(rv: RunningVariant, outdir: Path, settle_s: float) -> str:
    ledger_path = outdir / "ledger.json"
    if not ledger_path.exists():
        return "no ledger"
    ledger = json.loads(ledger_path.read_text())
    snapshot, meta = readback.settle(rv.base_url, ledger, settle_s)
    readback.write_snapshot(outdir / "snapshot.json.gz", snapshot)
    outcome = readback.account(ledger, snapshot)
    write_json(outdir / "readback.json", {**meta, "totals": outcome["totals"], "delay_ms": outcome["delay_ms"]})
    t = outcome["totals"]
    d = outcome["delay_ms"]
    delay = f", delay p50 {d['p50']:.0f} ms" if d["p50"] is not None else ""
    return f"notifications {t.get('delivered', 0)}/{t.get('expected', 0)} delivered, {t.get('duplicated', 0)} duplicated{delay}"


def step_sequential(options: Options, rv: RunningVariant, outdir: Path) -> str:
    outdir.mkdir(parents=True, exist_ok=True)
    sampler = Sampler({"variant": lambda: rv.pids}).start()
    try:
        data = sequential.run(rv.base_url, options.seq_calls, options.seq_warmup, options.probe_results)
    finally:
        sampler.stop()
    write_json(outdir / "resources.json", sampler.to_json())
    write_json(outdir / "sequential.json", data)
    snapshot, meta = readback.settle(rv.base_url, data["probe_ledger"], options.settle_s)
    readback.write_snapshot(outdir / "probe_snapshot.json.gz", snapshot)
    outcome = readback.account(data["probe_ledger"], snapshot)
    write_json(outdir / "probe_readback.json", {**meta, "totals": outcome["totals"], "delay_ms": outcome["delay_ms"]})
    from loadtest.stats import percentile

    d = outcome["delay_ms"]["p50"]
    delay = f"alert delay p50 {d:.1f} ms" if d is not None else "alert delay: no notification read back"
    return f"GET p50 {percentile(data['get_ms'], 0.5):.2f} ms, POST p50 {percentile(data['post_ms'], 0.5):.2f} ms, {delay}"


def step_fixed(options: Options, rv: RunningVariant, outdir: Path, scenario: str, with_broker: bool) -> str:
    users = max(1, options.users)
    env = locust_env(scenario, outdir, options.rate / users)
    args = ["-u", str(users), "-r", str(users), "-t", f"{options.fixed_s:g}s"]
    run_locust(rv, outdir, scenario, env, args, options.fixed_s + 40, with_broker)
    text = brief_locust(outdir)
    if scenario in STREAM_SCENARIOS:
        text += "; " + do_readback(rv, outdir, options.settle_s)
    return text


def step_capacity(options: Options, rv: RunningVariant, outdir: Path, scenario: str, with_broker: bool) -> str:
    env = locust_env(scenario, outdir, options.capacity_user_rate)
    env.update(
        {
            "LOADTEST_CAPACITY": "1",
            "LOADTEST_STEPS": ",".join(f"{s:g}" for s in options.capacity_steps),
            "LOADTEST_STEP_S": f"{options.capacity_step_s:g}",
            "LOADTEST_SLO_MS": f"{options.slo_ms:g}",
            "LOADTEST_MAX_ERROR_RATE": f"{options.max_error_rate:g}",
            "LOADTEST_MIN_ACHIEVED": f"{options.min_achieved:g}",
            "LOADTEST_STEPS_OUT": str(outdir / "steps.json"),
        }
    )
    limit = len(options.capacity_steps) * options.capacity_step_s + 40
    run_locust(rv, outdir, scenario, env, [], limit, with_broker)
    steps_path = outdir / "steps.json"
    if not steps_path.exists():
        return "no steps recorded"
    record = json.loads(steps_path.read_text())
    held = [s for s in record["steps"] if s["held"]]
    best = f"{held[-1]['offered_rps']:g} rps held" if held else "no step held"
    return f"{best}; stopped: {record.get('stopped')}"


def step_faults(options: Options, rv: RunningVariant, outdir: Path, with_broker: bool) -> str:
    users = max(1, options.users)
    env = locust_env("ingest", outdir, options.fault_rate / users)
    duration = fault_duration(options)
    args = ["-u", str(users), "-r", str(users), "-t", f"{duration:g}s"]
    events: list[dict] = []

    def timeline(popen: subprocess.Popen, started: float) -> list[dict]:
        t = started + 0.8 + options.fault_pre_s  # locust needs ~0.8 s to start its users
        for service in FAULT_SERVICES:
            if service not in rv.processes:
                continue
            time.sleep(max(0.0, t - time.time()))
            if popen.poll() is not None:
                events.append({"service": service, "skipped": "the load generator had already stopped"})
                continue
            entry = {"service": service, "stop_requested": time.time()}
            rv.stop_process(service)
            entry["stopped"] = time.time()
            # the window counts from the moment the process is gone (a graceful shutdown may take a while)
            time.sleep(max(0.0, entry["stopped"] + options.fault_window_s - time.time()))
            entry["restart_requested"] = time.time()
            try:
                rv.restart_process(service, ready_timeout_s=60)
                entry["healthy"] = time.time()
            except LaunchError as error:
                entry["restart_error"] = launch_reason(error)
            events.append(entry)
            Progress.note(
                f"{service}: stopping took {entry['stopped'] - entry['stop_requested']:.1f} s, down "
                f"{entry['restart_requested'] - entry['stopped']:.1f} s, healthy "
                f"{entry.get('healthy', float('nan')) - entry['restart_requested']:.1f} s after the restart"
            )
            planned = entry["stop_requested"] + options.fault_window_s + restart_allowance(options) + options.fault_post_s
            t = max(planned, entry.get("healthy", entry["restart_requested"]) + options.fault_post_s)
        return events

    run_locust(rv, outdir, "ingest", env, args, duration + 90, with_broker, during=timeline)
    write_json(
        outdir / "timeline.json",
        {"events": events, "window_s": options.fault_window_s, "pre_s": options.fault_pre_s, "post_s": options.fault_post_s},
    )
    return brief_locust(outdir) + "; " + do_readback(rv, outdir, max(options.settle_s, 15.0 if not options.quick else 8.0))


def step_floors(options: Options, outdir: Path, broker_error: str | None) -> str:
    outdir.mkdir(parents=True, exist_ok=True)
    from loadtest.stats import percentile

    texts = []
    runs = [
        ("grpc", lambda: floors.grpc_floor(options.floor_calls, options.floor_warmup)),
        ("flask", lambda: floors.flask_floor(options.floor_calls, options.floor_warmup)),
    ]
    if broker_error is None:
        runs.append(("pika", lambda: floors.pika_floor(options.rabbitmq_url, options.floor_calls, options.floor_warmup)))
    else:
        write_json(outdir / "pika.json", {"transport": "pika", "not_run": f"no RabbitMQ at {redact(options.rabbitmq_url)}"})
    for name, run in runs:
        try:
            data = run()
            write_json(outdir / f"{name}.json", data)
            texts.append(f"{name} p50 {percentile(data['times_ms'], 0.5):.2f} ms")
        except Exception as error:  # noqa: BLE001 - one floor failing does not stop the others
            write_json(outdir / f"{name}.json", {"transport": name, "error": f"{type(error).__name__}: {error}"[:500]})
            texts.append(f"{name} failed")
    return ", ".join(texts)


# --------------------------------------------------------------------------- main run


def copy_log_tails(rv: RunningVariant, outdir: Path, lines: int = 60) -> None:
    for name, proc in rv.processes.items():
        tail = proc.log_tail(lines)
        (outdir / "logs").mkdir(parents=True, exist_ok=True)
        (outdir / "logs" / f"{name}.log.tail").write_text(tail)


def run_migration_diff(raw: Path, out: Path, timeout_s: float) -> dict:
    """``python -m loadtest.migration_diff --out OUT/migration`` (results/migration for the reference run)."""
    package = ROOT / "loadtest" / "migration_diff"
    if not package.exists():
        return {"status": "not run", "reason": "loadtest/migration_diff does not exist"}
    started = time.time()
    argv = [sys.executable, "-m", "loadtest.migration_diff", "--out", str(out / "migration")]
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, preexec_fn=die_with_parent)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"timed out after {timeout_s:.0f} s"}
    (raw / "migration_diff.log").write_text(done.stdout + done.stderr)
    status = "ok" if done.returncode == 0 else "failed"
    return {
        "status": status,
        "returncode": done.returncode,
        "seconds": time.time() - started,
        "out": str(out / "migration"),
        "reason": None if status == "ok" else (done.stderr.strip().splitlines() or ["?"])[-1][:300],
    }


def execute(options: Options) -> int:
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    raw_root = options.out / "raw"
    raw = raw_root / run_id
    raw.mkdir(parents=True, exist_ok=True)

    broker_error = broker_reachable(options.rabbitmq_url)
    not_run: dict[str, str] = {}
    if broker_error:
        for name in options.variants:
            if VARIANTS[name].needs_broker:
                not_run[name] = f"not run: no RabbitMQ at {redact(options.rabbitmq_url)}"
    for name, why in missing_code([v for v in options.variants if v not in not_run]).items():
        not_run[name] = f"not run: {why}"
    runnable = [v for v in options.variants if v not in not_run]
    plan = make_plan(options, runnable)
    total = sum(s.est_s for s in plan)

    print(f"compare run {run_id} → {raw}", flush=True)
    print(f"  variants: {', '.join(runnable) or '(none)'}" + "".join(f"\n  {v}: {why}" for v, why in not_run.items()), flush=True)
    counts: dict[str, int] = {}
    for s in plan:
        counts[s.kind] = counts.get(s.kind, 0) + 1
    print(
        "  plan: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + f"; {options.reps} repetition(s), fixed rate "
        f"{options.rate:g} rps × {options.fixed_s:g} s, capacity steps {','.join(f'{s:g}' for s in options.capacity_steps)} "
        f"× {options.capacity_step_s:g} s",
        flush=True,
    )
    print(
        f"  planned total ≈ {fmt_duration(total)} (budget {fmt_duration(options.budget_s)})"
        + ("  ** over budget **" if total > options.budget_s else ""),
        flush=True,
    )

    env = envinfo.collect(options.rabbitmq_url if broker_error is None else None)
    write_json(raw / "env.json", env)
    run_meta = {
        "run_id": run_id,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "started": time.time(),
        "planned_total_s": total,
        "broker_error": broker_error,
        "rabbitmq_url": redact(options.rabbitmq_url),
        "not_run": not_run,
        "variants": options.variants,
        "runnable": runnable,
        "scenarios": options.scenarios,
        "pattern": {"results_per_target": pattern.RESULTS_PER_TARGET, "latency_threshold_ms": pattern.LATENCY_THRESHOLD_MS},
    }
    write_json(raw / "run.json", {**run_meta, "steps": [asdict(s) for s in plan]})

    progress = Progress(plan)
    rv: RunningVariant | None = None
    data_dir: Path | None = None
    skip: tuple[int, str] | None = None
    failed_start: dict[str, str] = {}
    interrupted = False
    try:
        for index, step in enumerate(plan):
            if step.kind == "report":
                break
            block = (step.rep, step.variant)
            outdir = raw / (step.variant or "floors") / f"rep{step.rep}"
            if step.variant in failed_start and step.kind != "stop":
                step.status, step.reason = "skipped", failed_start[step.variant]
                continue
            if skip == block and step.kind != "stop":
                step.status = "skipped"
                step.reason = step.reason or "variant not running"
                continue
            if step.kind == "stop" and (rv is None or skip == block):
                step.status = "skipped"
                continue
            if step.kind == "capacity" and options.budget_guard:
                projected = time.monotonic() - progress.started + progress.remaining(index)
                if projected > options.budget_s:
                    step.status = "skipped"
                    step.reason = (
                        f"skipped to stay within the time budget (projected {fmt_duration(projected)} > "
                        f"{fmt_duration(options.budget_s)})"
                    )
                    Progress.note(f"{step.label}: {step.reason}")
                    continue
            progress.show(index, f" ({step.est_s:.0f} s planned)")
            began = time.monotonic()
            try:
                if step.kind == "floors":
                    step.dir = str((raw / "floors" / f"rep{step.rep}").relative_to(raw))
                    step.brief = step_floors(options, raw / "floors" / f"rep{step.rep}", broker_error)
                elif step.kind == "start":
                    data_dir = Path(tempfile.mkdtemp(prefix=f"compare-{step.variant}-"))
                    try:
                        rv = start(step.variant, data_dir=data_dir, rabbitmq_url=options.rabbitmq_url, ready_timeout_s=45)
                    except (LaunchError, ValueError, OSError) as error:
                        reason = f"not run: failed to start: {launch_reason(error)}"
                        failed_start[step.variant] = reason
                        skip = block
                        write_json(outdir / "start.json", {"error": str(error)[-4000:]})
                        raise RuntimeError(reason) from None
                    step.brief = f"{rv.base_url}, pids " + ", ".join(f"{n}={p.popen.pid}" for n, p in rv.processes.items())
                    write_json(
                        outdir / "start.json",
                        {
                            "base_url": rv.base_url,
                            "startup_s": time.monotonic() - began,
                            "processes": {n: {"pid": p.popen.pid, "port": p.port} for n, p in rv.processes.items()},
                        },
                    )
                elif step.kind == "stop":
                    assert rv is not None
                    if any(s.status == "failed" or s.kind == "faults" for s in plan if (s.rep, s.variant) == block):
                        copy_log_tails(rv, outdir)
                    rv.stop()
                    rv = None
                    if data_dir and not options.keep_data:
                        shutil.rmtree(data_dir, ignore_errors=True)
                    elif data_dir:
                        Progress.note(f"data kept in {data_dir}")
                    data_dir = None
                else:
                    assert rv is not None
                    dead = [n for n, p in rv.processes.items() if p.popen.poll() is not None]
                    if dead:
                        skip = block
                        raise RuntimeError(f"{', '.join(dead)} exited; the rest of this repetition is skipped")
                    with_broker = VARIANTS[step.variant].needs_broker
                    sub = outdir / (step.kind if not step.scenario or step.kind == "faults" else f"{step.kind}-{step.scenario}")
                    step.dir = str(sub.relative_to(raw))
                    if step.kind == "sequential":
                        step.brief = step_sequential(options, rv, sub)
                    elif step.kind == "fixed":
                        step.brief = step_fixed(options, rv, sub, step.scenario, with_broker)
                    elif step.kind == "capacity":
                        step.brief = step_capacity(options, rv, sub, step.scenario, with_broker)
                    elif step.kind == "faults":
                        step.brief = step_faults(options, rv, sub, with_broker)
                step.status = "ok"
            except Exception as error:  # noqa: BLE001 - one step failing never stops the run
                step.status = "failed"
                step.reason = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
                if not isinstance(error, RuntimeError):
                    (raw / "errors.log").open("a").write(f"--- {step.label}\n{traceback.format_exc()}\n")
            step.actual_s = time.monotonic() - began
            if step.status == "ok" and step.brief:
                Progress.note(step.brief)
            elif step.status == "failed":
                Progress.note(f"FAILED: {step.reason}")
            write_json(raw / "run.json", {**run_meta, "steps": [asdict(s) for s in plan]})
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: stopping the running variant; raw data so far stays in " + str(raw), flush=True)
    finally:
        if rv is not None:
            rv.stop()
        if data_dir and not options.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)

    run_meta["not_run"].update({v: why for v, why in failed_start.items()})
    if interrupted:
        run_meta["interrupted"] = True
        write_json(raw / "run.json", {**run_meta, "ended": time.time(), "steps": [asdict(s) for s in plan]})
        return 130

    report_step = plan[-1]
    progress.show(len(plan) - 1)
    began = time.monotonic()
    migration = (
        run_migration_diff(raw, options.out, 30.0 if options.quick else 90.0)
        if options.migration_diff
        else {"status": "not run", "reason": "disabled for this run"}
    )
    run_meta["migration_diff"] = migration
    report_step.status = "ok"
    report_step.actual_s = time.monotonic() - began
    report_step.brief = f"migration diff: {migration['status']}"
    write_json(
        raw / "run.json",
        {**run_meta, "ended": time.time(), "elapsed_s": time.monotonic() - progress.started, "steps": [asdict(s) for s in plan]},
    )

    latest = raw_root / "latest"
    if latest.is_symlink() or latest.is_file():
        latest.unlink()
    elif latest.exists():
        shutil.rmtree(latest)
    raw.rename(latest)
    build_outputs(options.out)
    print(f"[{fmt_duration(time.monotonic() - progress.started)} elapsed] done: {options.out / 'REPORT.md'}", flush=True)
    return 0


def build_outputs(out: Path) -> None:
    from loadtest import report, summarize

    raw = out / "raw" / "latest"
    summary = summarize.build(raw)
    write_json(out / "summary.json", summary)
    report.write(out, summary)


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
        broker_error = broker_reachable(options.rabbitmq_url)
        runnable = [v for v in options.variants if not (broker_error and VARIANTS[v].needs_broker)]
        missing = missing_code(runnable)
        runnable = [v for v in runnable if v not in missing]
        plan = make_plan(options, runnable)
        for step in plan:
            print(f"{step.est_s:6.1f} s  {step.label}")
        print(f"planned total ≈ {fmt_duration(sum(s.est_s for s in plan))} (budget {fmt_duration(options.budget_s)})")
        return 0
    return execute(options)


if __name__ == "__main__":
    sys.exit(main())
