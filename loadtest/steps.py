"""The measurement steps of one variant (sequential round trips, fixed-rate, capacity and fault runs) and the
transport floors. Each writes its raw files under its own folder and returns a one-line brief for the terminal.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from harness.launcher import LaunchError, RunningVariant, free_port
from harness.processes import wait_ready
from loadtest import capacity_run, floors, readback, sequential
from loadtest.availability import launch_reason, redact
from loadtest.capacity import SearchPlan, outcome_of
from loadtest.locust_run import brief_locust, locust_env, run_locust
from loadtest.options import BROKER, DATABASE, FAULT_PAST, STREAM_SCENARIOS, WEBHOOK, Options
from loadtest.plan import Progress, fault_duration, restart_allowance
from loadtest.rawdata import write_json
from loadtest.sampler import Sampler
from loadtest.stats import HeldRule, percentile
from loadtest.webhook_sink import WebhookSink, sends


def do_readback(rv: RunningVariant, outdir: Path, settle_s: float) -> str:
    ledger_path = outdir / "ledger.json"
    if not ledger_path.exists():
        return "no ledger"
    ledger = json.loads(ledger_path.read_text())
    snapshot, meta = readback.settle(rv.base_url, ledger, settle_s, api_key=rv.api_key)
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
        data = sequential.run(rv.base_url, options.seq_calls, options.seq_warmup, options.probe_results,
                              api_key=rv.api_key)
    finally:
        sampler.stop()
    write_json(outdir / "resources.json", sampler.to_json())
    write_json(outdir / "sequential.json", data)
    snapshot, meta = readback.settle(rv.base_url, data["probe_ledger"], options.settle_s, api_key=rv.api_key)
    readback.write_snapshot(outdir / "probe_snapshot.json.gz", snapshot)
    outcome = readback.account(data["probe_ledger"], snapshot)
    write_json(outdir / "probe_readback.json", {**meta, "totals": outcome["totals"], "delay_ms": outcome["delay_ms"]})
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


def step_capacity(
    options: Options, server, outdir: Path, scenario: str, with_broker: bool, start_rps: float | None = None
) -> tuple[str, float | None]:
    """The capacity search (:mod:`loadtest.capacity_run`) on ``server`` (a running variant or the HTTP ceiling),
    from ``start_rps`` (a warm start: the capacity an earlier repetition found) or the profile's start. Returns the
    brief and the capacity found (offered rps), the start of the next repetition's search."""
    plan = SearchPlan(
        start_rps or options.capacity_start,
        options.capacity_factor,
        options.capacity_refine,
        options.capacity_user_rate,
        options.capacity_max_steps,
    )
    record = run_search(options, server, outdir, scenario, with_broker, plan)
    if not record or not record.get("steps"):
        return "no steps recorded", None
    found = outcome_of(record["steps"]).get("capacity_offered_rps") or None
    return capacity_run.brief(record), found


def run_search(
    options: Options, server, outdir: Path, scenario: str, with_broker: bool, plan: SearchPlan, groups: dict | None = None
) -> dict:
    """One live capacity search following ``plan``; ``groups`` are more pid sources to sample (by name). Returns the
    step record (empty when no step ran)."""
    outdir.mkdir(parents=True, exist_ok=True)
    env = {
        "LOADTEST_SCENARIO": scenario,
        "LOADTEST_USER_RATE": f"{options.capacity_user_rate:g}",
        "LOADTEST_CONTROL": str(outdir / "control.json"),
        "LOADTEST_STREAM_DIR": str(outdir),
    }
    workers = max(1, options.capacity_processes)
    timing = {"step_s": options.capacity_step_s, "ramp_s": options.capacity_ramp_s}
    record: dict = {}

    rule = HeldRule(options.slo_ms, options.max_error_rate, options.min_achieved, options.gen_cpu_limit)

    def drive(popen: subprocess.Popen, _started: float, sampler) -> None:
        def alive() -> bool:
            return popen.poll() is None

        record.update(capacity_run.search(outdir, sampler, plan, rule, options.capacity_user_rate, timing, workers, alive))

    per_step = options.capacity_step_s + options.capacity_ramp_s + capacity_run.JUDGE_WAIT_S
    # users stopped by a lower step or at the end are not waited for: a request they had in flight is logged as failed
    # its own master port: two runs on one machine must not share workers (locust's default is 5557 for every run)
    port = str(free_port())
    args = ["--processes", str(workers), "--master-bind-port", port, "--master-port", port, "-u", "1", "-r", "1",
            "--stop-timeout", "0"]
    try:
        run_locust(
            server, outdir, scenario, env, args, plan.max_steps * per_step + 60, with_broker, during=drive, groups=groups
        )
    finally:
        capacity_run.finish(outdir, workers)
    return record


def step_ceiling(
    options: Options, outdir: Path, scenario: str, start_rps: float | None = None
) -> tuple[str, float | None]:
    """The HTTP ceiling: the same capacity search against a trivial Flask app on the variants' gunicorn settings."""
    with floors.ceiling_server(outdir / "server.log") as server:
        return step_capacity(options, server, outdir, scenario, with_broker=False, start_rps=start_rps)


WEBHOOKS_FILE = "webhooks.json"
FAULT_RETRIES = 3
"""Under faults the load generator behaves as a client should: a result post answered 503 or 504, or left without
an answer, is sent again with the same idempotency key up to this many times (0.25 s, 0.5 s, 1 s apart)."""


def inject_fault(rv: RunningVariant, kind: str, service: str, window_s: float, sink: WebhookSink | None = None) -> dict:
    """Make ``service`` fail in the way ``kind`` says for ``window_s`` (counted from when it is gone, or stopped
    answering), then bring it back: restarted (stop, kill) or resumed (hang); the webhook receiver ``sink`` slow or
    failing, then answering again. Returns the timeline entry: stop_requested, stopped, restart_requested, healthy
    (or restart_error)."""
    entry: dict = {"service": service, "kind": kind, "stop_requested": time.time()}
    if kind in ("slow", "fail"):
        if sink is None:
            raise ValueError("a webhook fault needs the webhook sink")
        sink.set_mode(kind)
        entry["stopped"] = time.time()
        time.sleep(max(0.0, entry["stopped"] + window_s - time.time()))
        entry["restart_requested"] = time.time()
        sink.set_mode("ok")
        entry["healthy"] = time.time()
        return entry
    if kind == "restart" and service in (BROKER, DATABASE):
        return _restart_server(rv, service, entry, window_s)
    if kind == "stop":
        rv.stop_process(service)
    elif kind == "kill":
        rv.kill_process(service)
    elif kind == "hang":
        rv.pause_process(service)
    else:
        raise ValueError(f"unknown fault kind {kind!r}")
    entry["stopped"] = time.time()
    time.sleep(max(0.0, entry["stopped"] + window_s - time.time()))
    entry["restart_requested"] = time.time()
    try:
        if kind == "hang":
            rv.resume_process(service, ready_timeout_s=60)
        else:
            rv.restart_process(service, ready_timeout_s=60)
        entry["healthy"] = time.time()
    except LaunchError as error:
        entry["restart_error"] = launch_reason(error)
    return entry


def _server_commands(service: str) -> tuple[list[str], list[str]] | str:
    """How to stop and start the local broker or database cluster, or why it cannot be done here."""
    if service == BROKER:
        return ["rabbitmqctl", "stop_app"], ["rabbitmqctl", "start_app"]
    clusters = sorted(Path("/etc/postgresql").glob("*/main")) if Path("/etc/postgresql").is_dir() else []
    if not clusters:
        return "no local PostgreSQL cluster"
    ctl = ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1].parent.name, "main"]
    return [*ctl, "stop", "-m", "fast"], [*ctl, "start"]


def _restart_server(rv: RunningVariant, service: str, entry: dict, window_s: float) -> dict:
    """The local RabbitMQ's application (``rabbitmqctl stop_app``: every connection drops, the node keeps its disk) or
    PostgreSQL cluster (``pg_ctlcluster ... stop -m fast``) stopped for the window, then started; healthy = the api
    answers ``/readyz`` again (it is ready only once its process and the services behind it are connected)."""
    commands = _server_commands(service)
    if isinstance(commands, str):
        entry.update(stopped=time.time(), restart_requested=time.time(), restart_error=commands)
        return entry
    stop, start = commands

    def run(argv: list[str]) -> str | None:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.SubprocessError) as error:
            return f"{' '.join(argv)}: {error}"
        return None if done.returncode == 0 else f"{' '.join(argv)}: {(done.stderr or done.stdout).strip()[-200:]}"

    problem = run(stop)
    entry["stopped"] = time.time()
    if problem is None:
        time.sleep(max(0.0, entry["stopped"] + window_s - time.time()))
    entry["restart_requested"] = time.time()
    problem = problem or run(start)
    if problem is not None:
        run(start)  # whatever happened, leave the server running
        entry["restart_error"] = problem
        return entry
    try:
        wait_ready(rv.base_url, [], 60.0)
        entry["healthy"] = time.time()
    except LaunchError:
        entry["restart_error"] = f"the api was not ready 60 s after the {service} started"
    return entry


def rv_has(rv: RunningVariant, service: str) -> bool:
    """Whether the running variant has a process (or replicas of one) called ``service``."""
    return any(service in (name, p.spec.name) for name, p in rv.processes.items())


def step_faults(
    options: Options, rv: RunningVariant, outdir: Path, with_broker: bool, plan: tuple[tuple[str, str], ...] | None = None
) -> str:
    """A fault run: the ingest load, the faults of ``plan`` (default the profile's) one after the other, the readback."""
    fault_plan = options.fault_plan if plan is None else plan
    with WebhookSink() as sink:  # every stream target's webhook: counts what is sent, per delivery
        try:
            text = _fault_run(options, rv, outdir, with_broker, fault_plan, sink)
        finally:
            sink.write(outdir / WEBHOOKS_FILE)  # after the readback settled: late sends are counted too
    sent = sends(sink.records())
    return text + f"; webhooks: {sent['delivered']}/{sent['deliveries']} delivered, {sent['duplicated_sends']} sent twice"


def _fault_run(
    options: Options, rv: RunningVariant, outdir: Path, with_broker: bool, fault_plan: tuple, sink: WebhookSink
) -> str:
    users = max(1, options.users)
    env = {
        **locust_env("ingest", outdir, options.fault_rate / users),
        "LOADTEST_RETRIES": str(FAULT_RETRIES),
        "LOADTEST_WEBHOOK_URL": sink.url,
    }
    duration = fault_duration(options, len(fault_plan))
    args = ["-u", str(users), "-r", str(users), "-t", f"{duration:g}s"]
    events: list[dict] = []

    def timeline(popen: subprocess.Popen, started: float, _sampler) -> list[dict]:
        t = started + 0.8 + options.fault_pre_s  # locust needs ~0.8 s to start its users
        for kind, service in fault_plan:
            if service == BROKER and not with_broker:
                continue
            if service not in (WEBHOOK, BROKER, DATABASE) and not rv_has(rv, service):
                continue
            time.sleep(max(0.0, t - time.time()))
            if popen.poll() is not None:
                events.append({"service": service, "kind": kind, "skipped": "the load generator had already stopped"})
                continue
            entry = inject_fault(rv, kind, service, options.fault_window_s, sink)
            events.append(entry)
            Progress.note(
                f"{service} {FAULT_PAST[kind]}: going took {entry['stopped'] - entry['stop_requested']:.1f} s, down "
                f"{entry['restart_requested'] - entry['stopped']:.1f} s, healthy "
                f"{entry.get('healthy', float('nan')) - entry['restart_requested']:.1f} s after the "
                + ("SIGCONT" if kind == "hang" else "restart")
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
