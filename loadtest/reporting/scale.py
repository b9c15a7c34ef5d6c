"""Scale: capacity at 1, 2, 3 replicas on PostgreSQL, the CPU each kind of process spends per 1,000 requests, and
the model that turns those demands into cores for the seed's "1 million users"."""

from __future__ import annotations

from pathlib import Path

from loadtest.reporting.tables import num, table
from loadtest.scale_model import KINDS, SERVER_KINDS

WHY_SCENARIO = {
    "mixed": "`mixed`, the traffic of a user base (reads of targets, results and alerts, the result stream that drives "
    "alerting and notification, occasional writes): it exercises every process kind in the proportions the "
    "\"1 million users\" question is about; `ingest` would weigh only the write chain",
    "ingest": "`ingest`, the result stream alone: the write chain monitor → alerting → notification, where the two "
    "architectures differ most",
    "crud": "`crud`, the target lifecycle only (it never reaches alerting or notification)",
}


def section(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    scale = summary.get("scale") or {}
    opts = summary["options"]
    if not opts.get("scale"):
        return []
    md = ["## Scale", "", *_method(summary, scale), ""]
    variants = scale.get("variants") or {}
    if not variants:
        return [*md, "No scale run completed (see *Not run, failed or invalid*).", ""]
    md += [table(*_capacity_table(summary, scale)), ""]
    if "scale_capacity" in charts:
        md += [
            f"![capacity against replicas]({charts['scale_capacity']})",
            "",
            "Left: capacity against replicas. Right: CPU seconds per 1,000 requests by process kind, at the replica "
            "count the model uses (the most measured).",
            "",
        ]
    md += ["### CPU per 1,000 requests, by process kind", "", *_demand_text(), "", table(*_demand_table(scale)), ""]
    md += _notes(scale)
    md += _model(summary, scale, charts)
    return md


def _method(summary: dict, scale: dict) -> list[str]:
    opts = summary["options"]
    cores = scale.get("machine_cores") or summary.get("env", {}).get("logical_cores")
    replicas = ", ".join(str(n) for n in scale.get("replicas") or opts.get("scale_replicas", []))
    scenario = scale.get("scenario") or opts.get("scale_scenario")
    md = [
        f"Each variant started on PostgreSQL (a fresh database per store, dropped afterwards) at REPLICAS {replicas}: n "
        "copies of every process (a monolith: n copies of the whole app), HAProxy in front of the api copies "
        "(`harness.launcher.start(name, replicas=n, database=\"postgres\")`). On each, the capacity search of the "
        f"*Capacity* section (same held rule, same steps) in one scenario, {WHY_SCENARIO.get(scenario, f'`{scenario}`')}; "
        f"{opts.get('scale_refine', 0)} bisection(s); the search at n > 1 starts at the capacity found at n − 1.",
        "",
        f"**This machine has {cores or '?'} cores**, shared by every copy, the balancer, PostgreSQL, RabbitMQ and the load "
        "generator: adding replicas cannot add cores, so capacity flattens (or falls, as copies contend) once those "
        f"{cores or '?'} cores are busy. Capacity against replicas here measures contention, not scaling. What does scale is "
        "the CPU each kind of process spends per request, so that is what this section reports, with capacity per core "
        "(capacity ÷ cores) and requests per CPU-second of the server side.",
    ]
    if "event-monolith" in (scale.get("variants") or {}):
        md += [
            "",
            "**`event-monolith` at n > 1 is not correct, only fast:** each copy's in-memory bus hands a result to that "
            "copy's own alerting after the target's lock is released, so two results of one target accepted by two copies "
            "a few milliseconds apart may be applied in the wrong order (a missed or a false alert). Nothing orders events "
            "across processes but a broker: that is what `event-split` adds. Its figures at n > 1 are those of a variant "
            "that scales in throughput and not in correctness; the parity suite does not run it scaled out.",
        ]
    if summary.get("quick"):
        ran = ", ".join(f"`{v}`" for v in scale.get("variants") or {}) or "none"
        md += [
            "",
            f"**QUICK run:** scale covers only {ran}, not every variant (the fastest to start and stop, so the smoke run "
            f"stays under 3 minutes), at REPLICAS {replicas}, with {opts.get('capacity_step_s', 0):g} s steps and no "
            "bisection: a smoke check of the machinery, not figures to quote.",
        ]
    return md


def _capacity_cell(run: dict) -> str:
    if run.get("below_first_step") or not run.get("capacity_rps"):
        return "no step held"
    return ("≥ " if run.get("at_least") else "") + num(run["capacity_rps"], 0) + " rps"


def _runs(scale: dict):
    for variant, runs in (scale.get("variants") or {}).items():
        for n in sorted(runs, key=int):
            yield variant, int(n), runs[n]


def _capacity_table(summary: dict, scale: dict) -> tuple[list[str], list[list[str]]]:
    rows = []
    for variant, n, run in _runs(scale):
        demand = run.get("demand") or {}
        rows.append([
            f"`{variant}`",
            str(n),
            _capacity_cell(run),
            num(run.get("capacity_per_core"), 0),
            num(demand.get("cores_busy"), 2),
            num(demand.get("server_cpu_s_per_1k"), 2),
            num(run.get("requests_per_cpu_s"), 0),
            f"{run.get('window_steps', 0)} of {len(run.get('steps') or [])}",
            str(run.get("limited_by") or ""),
        ])
    header = ["variant", "replicas", "capacity", "rps per core", "cores busy", "server CPU-s / 1k req",
              "req per server CPU-s", "steps counted", "limited by"]
    return header, rows


def _demand_text() -> list[str]:
    return [
        "CPU seconds per 1,000 requests = CPU seconds of that kind's processes (every replica, children included) summed "
        "over the measured windows of the search's steps **at or below capacity** (steps that held at an offered rate no "
        "higher than the capacity: ramps, failed and invalid steps and any step above a failed one are left out), ÷ the "
        "requests started in those windows × 1,000. The sampler takes a sample exactly at each window's start and end.",
        "",
        "Kinds: `api`, `monitor`, `alerting`, `notification`, `balancer` (HAProxy) are the variant's processes by name (a "
        "monolith is all `api`); `broker` is the RabbitMQ node's `beam.smp` (event-split only); `database` is PostgreSQL: "
        "the backends connected to the run's databases in `pg_stat_activity`, refreshed every second, plus the server's "
        "background processes (WAL writer, checkpointer, background writer, launchers) and the postmaster's own CPU; "
        "`generator` is locust (not part of the server total). Processes on one host talk over loopback, so the network "
        "costs here are the kernel's loopback path, not a real network's.",
    ]


def _demand_table(scale: dict) -> tuple[list[str], list[list[str]]]:
    rows = []
    for variant, n, run in _runs(scale):
        kinds = (run.get("demand") or {}).get("kinds") or {}
        cells = [num((kinds.get(k) or {}).get("cpu_s_per_1k"), 2) for k in KINDS if k != "generator"]
        rows.append([f"`{variant}`", str(n), *cells, num((run.get("demand") or {}).get("server_cpu_s_per_1k"), 2),
                     num((kinds.get("generator") or {}).get("cpu_s_per_1k"), 2)])
    return ["variant", "replicas", *[k for k in KINDS if k != "generator"], "server total", "load generator"], rows


def _notes(scale: dict) -> list[str]:
    md = []
    for variant, n, run in _runs(scale):
        if run.get("database_error"):
            md.append(f"- `{variant}` ×{n}: database processes not found ({run['database_error']}); `database` not counted.")
        if run.get("live_agrees") is False:
            md.append(f"- `{variant}` ×{n}: the live verdict differs from the recomputed one (`{run.get('dir')}`).")
        if not run.get("window_steps"):
            md.append(f"- `{variant}` ×{n}: no step held, so no CPU per request is measured.")
    return [*md, ""] if md else []


def _model(summary: dict, scale: dict, charts: dict[str, str]) -> list[str]:
    model = scale.get("model") or {}
    basis = model.get("assumptions") or {}
    rows = model.get("variants") or {}
    if not basis:
        return []
    md = [
        "### 1 million users: cores per process kind (a model)",
        "",
        "Assumptions (options of `python -m loadtest.compare`, `--model-*`):",
        "",
        f"- users: {num(basis['users'], 0)}; requests per user per day: {num(basis['requests_per_user_day'], 0)} → mean "
        f"{num(basis['mean_rps'], 0)} requests/s;",
        f"- peak factor: {basis['peak_factor']:g} → peak {num(basis['peak_rps'], 0)} requests/s;",
        f"- target utilisation at the peak: {basis['utilisation']:.0%};",
        f"- the demand of each kind: its CPU seconds per 1,000 requests measured above, in the `{scale.get('scenario')}` "
        "scenario, at the replica count given per row (the most measured, balancer included).",
        "",
        "```",
        "peak rps        = users × requests per user per day ÷ 86,400 × peak factor",
        "cores of kind k = peak rps × CPU-seconds per request of k ÷ utilisation",
        "pods of kind k  = ⌈cores of kind k⌉   (one core per pod: a Python process runs Python code on one core at a time)",
        "```",
        "",
    ]
    if not rows:
        return [*md, "No variant has a measured demand, so the model has no rows.", ""]
    header = ["variant", "from ×", *[k for k in SERVER_KINDS], "total cores", "total pods"]
    body = []
    for variant, row in rows.items():
        kinds = row["kinds"]
        cells = [f"{num(kinds[k]['cores'], 1)} ({kinds[k]['pods']})" if k in kinds else "–" for k in SERVER_KINDS]
        body.append([f"`{variant}`", str(row["from_replicas"]), *cells, num(row["total_cores"], 1), str(row["total_pods"])])
    md += ["Cores (pods) per kind at the peak:", "", table(header, body), ""]
    if "scale_model" in charts:
        md += [f"![cores per variant by process kind]({charts['scale_model']})", ""]
    env = summary.get("env") or {}
    md += [
        f"What the model is and is not: the demand is CPU time measured on this machine's cores "
        f"({env.get('cpu_model', 'CPU model not recorded')}); a pod on other hardware needs that demand rescaled by the "
        "speed of its cores. It counts CPU only and leaves out: the network between hosts (serialisation is measured, "
        "but every hop here is loopback, with no NIC, cross-host latency, TLS or service-mesh sidecars), the latency "
        "that cross-host hops add to each request (and so to the threads each api copy needs), the broker and the "
        "database clustered for availability (a 3-node RabbitMQ with quorum queues replicates every message, a "
        "PostgreSQL standby replays every write; here each is one node), PostgreSQL's connection limit with many pods, "
        "memory, and headroom for failures or deploys. Each kind is sized independently, as a HorizontalPodAutoscaler "
        "would; in a monolith every kind is `api`, so its pods each carry every service.",
        "",
    ]
    return md
