"""Build ``summary.json`` from a run's raw files only (``OUT/raw/latest``).

Every figure of the report is computed here from what the run wrote: locust's CSV statistics, the
request logs, the resource samples, the ledgers and read-back snapshots, the floors and the fault
timelines. Medians and spread (min–max) are over the valid repetitions; a run whose load generator
used more than the configured share of one core is kept in the raw data but marked invalid and not quoted.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

from harness.topology import VARIANTS
from loadtest import capacity as capacity_search
from loadtest import network, readback, scale_model, trace_breakdown
from loadtest.options import fault_label
from loadtest.sampler import generator_cpu_frac, window_usage
from loadtest.stats import percentile, read_request_log, spread, window_stats
from loadtest.webhook_sink import sends as webhook_sends
from shared.domain import parse_iso

ROOT = Path(__file__).resolve().parent.parent
MIGRATION_DIR = ROOT / "results" / "migration"
MB = 1024 * 1024


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _locust_aggregate(path: Path) -> dict | None:
    if not path.exists():
        return None
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                n = int(row["Request Count"])
                f = int(row["Failure Count"])

                def num(key: str, row: dict = row) -> float | None:
                    value = row.get(key)
                    return float(value) if value not in (None, "", "N/A") else None

                return {
                    "requests": n,
                    "failures": f,
                    "error_rate": f / n if n else None,
                    "rps": num("Requests/s"),
                    "p50_ms": num("50%"),
                    "p95_ms": num("95%"),
                    "p99_ms": num("99%"),
                    "avg_ms": num("Average Response Time"),
                }
    return None


def _resources(run_dir: Path, requests: list) -> dict:
    """CPU per 1,000 requests and generator CPU over the load window; peak RSS over the whole run."""
    res = _load(run_dir / "resources.json")
    out: dict = {
        "cpu_s_per_1k": None,
        "gen_cpu_frac": None,
        "peak_rss_mb": None,
        "broker_cpu_s_per_1k": None,
        "variant_cpu_s": None,
    }
    if not res or not requests:
        return out
    samples = res["samples"]
    t0 = min(r.start for r in requests)
    t1 = max(r.end for r in requests)
    usage = window_usage(samples, "variant", t0, t1)
    if usage:
        n = sum(1 for r in requests if usage["t0"] <= r.start < usage["t1"])
        out["variant_cpu_s"] = usage["cpu_s"]
        out["window_requests"] = n
        out["cpu_s_per_1k"] = usage["cpu_s"] / n * 1000 if n else None
        broker = window_usage(samples, "broker", t0, t1)
        if broker and n:
            out["broker_cpu_s_per_1k"] = broker["cpu_s"] / n * 1000
    out["gen_cpu_frac"] = generator_cpu_frac(samples, t0, t1)
    rss = [s["variant"]["rss_bytes"] for s in samples if "variant" in s]
    out["peak_rss_mb"] = max(rss) / MB if rss else None
    return out


def _account(
    run_dir: Path, ledger_name: str = "ledger.json", snapshot_name: str = "snapshot.json.gz", ledger: dict | None = None
) -> dict | None:
    ledger = ledger if ledger is not None else _load(run_dir / ledger_name)
    snap_path = run_dir / snapshot_name
    if ledger is None or not snap_path.exists():
        return None
    return readback.account(ledger, readback.read_snapshot(snap_path))


def _stat_block(runs: list[dict], keys: list[str]) -> dict:
    valid = [r for r in runs if r.get("valid", True)]
    return {key: spread(r.get(key) for r in valid) for key in keys}


# --------------------------------------------------------------------------- per kind


def _locust_stats(run_dir: Path) -> dict | None:
    """Locust's Aggregated row: the CSV written after the runner stopped, else locust's periodic CSV."""
    return _locust_aggregate(run_dir / "locust_final_stats.csv") or _locust_aggregate(run_dir / "locust_stats.csv")


def fixed_run(run_dir: Path, gen_limit: float) -> dict:
    agg = _locust_stats(run_dir)
    requests = read_request_log(run_dir / "requests.csv")
    row: dict = {"dir": None, **(agg or {}), **_resources(run_dir, requests)}
    if agg is None:
        row["valid"] = False
        row["invalid_reason"] = "no locust statistics"
        return row
    gen = row.get("gen_cpu_frac")
    row["valid"] = gen is None or gen <= gen_limit
    if not row["valid"]:
        row["invalid_reason"] = f"load generator at {gen:.0%} of one core (> {gen_limit:.0%})"
    outcome = _account(run_dir)
    if outcome:
        t = outcome["totals"]
        row.update(
            {
                "notif_expected": t.get("expected", 0),
                "notif_delivered": t.get("delivered", 0),
                "notif_duplicated": t.get("duplicated", 0),
                "notif_unexpected": t.get("unexpected", 0),
                "notif_lost": t.get("lost", 0),
                "results_missing": t.get("accepted_results_missing", 0),
                "delay_p50_ms": outcome["delay_ms"]["p50"],
                "delay_p95_ms": outcome["delay_ms"]["p95"],
                "delay_n": outcome["delay_ms"]["n"],
            }
        )
        rb = _load(run_dir / "readback.json") or {}
        row["settled"] = rb.get("settled")
        row["settle_s"] = rb.get("settle_s")
    return row


def sequential_run(run_dir: Path) -> dict | None:
    data = _load(run_dir / "sequential.json")
    if data is None:
        return None
    outcome = _account(run_dir, snapshot_name="probe_snapshot.json.gz", ledger=data["probe_ledger"])
    row = {
        "calls": data["calls"],
        "warmup": data["warmup"],
        "failures": data["failures"],
        "get_p50_ms": percentile(data["get_ms"], 0.5),
        "get_p95_ms": percentile(data["get_ms"], 0.95),
        "post_p50_ms": percentile(data["post_ms"], 0.5),
        "post_p95_ms": percentile(data["post_ms"], 0.95),
    }
    if outcome:
        opened = [s["delay_s"] * 1000 for s in outcome["slots"] if s["event"] == "alert_opened" and s["delay_s"] is not None]
        row.update(
            {
                "alert_delay_p50_ms": percentile(opened, 0.5),
                "alert_delay_p95_ms": percentile(opened, 0.95),
                "alert_delay_n": len(opened),
                "probe_expected": outcome["totals"].get("expected", 0),
                "probe_delivered": outcome["totals"].get("delivered", 0),
            }
        )
    return row


def floors(raw: Path) -> dict:
    out: dict = {}
    for transport in ("grpc", "flask", "pika"):
        runs = []
        note = None
        for path in sorted((raw / "floors").glob(f"rep*/{transport}.json")):
            data = json.loads(path.read_text())
            if "times_ms" in data:
                runs.append(
                    {
                        "rep": path.parent.name,
                        "p50_ms": percentile(data["times_ms"], 0.5),
                        "p95_ms": percentile(data["times_ms"], 0.95),
                        "calls": len(data["times_ms"]),
                        "server": data.get("server"),
                    }
                )
            else:
                note = data.get("not_run") or data.get("error")
        out[transport] = {"runs": runs, **_stat_block(runs, ["p50_ms", "p95_ms"]), "note": note if not runs else None}
    return out


def _epoch(text: str) -> float:
    return parse_iso(text).timestamp()


def fault_run(run_dir: Path) -> dict | None:
    timeline = _load(run_dir / "timeline.json")
    if timeline is None:
        return None
    requests = read_request_log(run_dir / "requests.csv")
    ledger = _load(run_dir / "ledger.json") or {"streams": []}
    snap_path = run_dir / "snapshot.json.gz"
    snapshot = readback.read_snapshot(snap_path) if snap_path.exists() else {}
    outcome = readback.account(ledger, snapshot)
    notes = [n for entry in snapshot.values() for n in (entry.get("notifications") or [])]
    events = [e for e in timeline["events"] if "stop_requested" in e]
    first_stop = events[0]["stop_requested"] if events else None
    start = min((r.start for r in requests), default=None)
    baseline = window_stats(requests, start, first_stop) if start and first_stop else None
    posts = [p for s in ledger["streams"] for p in s["posts"]]
    rows = {}
    for i, event in enumerate(events):
        back = event.get("healthy") or event.get("restart_requested")
        window = window_stats(requests, event["stop_requested"], back)
        statuses = Counter(r.status for r in requests if event["stop_requested"] <= r.start < back and not r.ok)
        phase_end = events[i + 1]["stop_requested"] if i + 1 < len(events) else float("inf")
        restart = event["restart_requested"]
        after = [r for r in requests if restart <= r.start < phase_end]
        failed_after = [r for r in after if not r.ok]
        trans_ok = [
            p[readback.T_DONE]
            for p in posts
            if p[readback.TRANSITION] and p[readback.STATUS] == 202 and restart <= p[readback.T_SENT] < phase_end
        ]
        trans_failed_window = [
            p
            for p in posts
            if p[readback.TRANSITION] and p[readback.STATUS] != 202 and event["stop_requested"] <= p[readback.T_SENT] < back
        ]
        created_after = sorted(_epoch(n["created_at"]) for n in notes if _epoch(n["created_at"]) >= restart)
        slots = [s for s in outcome["slots"] if event["stop_requested"] <= s["t_sent"] < phase_end]
        failed_names = {r.name for r in requests if event["stop_requested"] <= r.start < back and not r.ok}
        ok_again = [r.end for r in after if r.ok and r.name in failed_names]
        started_in = [p for p in posts if event["stop_requested"] <= p[readback.T_SENT] < phase_end]
        retried = [p for p in started_in if len(p) > readback.ATTEMPTS and p[readback.ATTEMPTS] > 1]
        rows[fault_label(event)] = {
            "posts": len(started_in),
            "posts_retried": len(retried),
            "errors_after_retries": sum(1 for p in started_in if p[readback.STATUS] != 202),
            "retried_then_accepted": sum(1 for p in retried if p[readback.STATUS] == 202),
            "retried_post_s_p50": percentile([p[readback.T_DONE] - p[readback.T_SENT] for p in retried], 0.5)
            if retried else None,
            "retried_post_s_max": max((p[readback.T_DONE] - p[readback.T_SENT] for p in retried), default=None),
            "window_s": back - event["stop_requested"],
            "stopping_s": event["stopped"] - event["stop_requested"],
            "down_s": restart - event["stopped"],
            "first_ok_request_after_restart_s": (min(ok_again) - restart) if ok_again else None,
            "restart_to_healthy_s": (event["healthy"] - restart) if event.get("healthy") else None,
            "restart_error": event.get("restart_error"),
            "window_requests": window["requests"],
            "window_failures": window["failures"],
            "window_error_rate": window["error_rate"],
            "window_failure_statuses": {str(k): v for k, v in statuses.items()},
            "transition_posts_failed_in_window": len(trans_failed_window),
            "errors_stop_after_s": (max(r.end for r in failed_after) - restart) if failed_after else 0.0,
            "first_ok_transition_after_restart_s": (min(trans_ok) - restart) if trans_ok else None,
            "first_notification_after_restart_s": (created_after[0] - restart) if created_after else None,
            "expected": len(slots),
            "delivered": sum(1 for s in slots if s["delivered"]),
            "lost": sum(1 for s in slots if not s["delivered"]),
            "duplicated": sum(s["copies"] - 1 for s in slots if s["copies"] > 1),
        }
    rb = _load(run_dir / "readback.json") or {}
    t = outcome["totals"]
    hooks = (_load(run_dir / "webhooks.json") or {}).get("records")
    if hooks is not None:
        for i, event in enumerate(events):
            phase_end = events[i + 1]["stop_requested"] if i + 1 < len(events) else float("inf")
            rows[fault_label(event)]["webhooks"] = webhook_sends(hooks, event["stop_requested"], phase_end)
    return {
        "webhooks": webhook_sends(hooks) if hooks is not None else None,
        "services": rows,
        "baseline_error_rate": baseline["error_rate"] if baseline else None,
        "total": {
            "expected": t.get("expected", 0),
            "delivered": t.get("delivered", 0),
            "lost": t.get("lost", 0),
            "duplicated": t.get("duplicated", 0),
            "unexpected": t.get("unexpected", 0),
            "accepted_results_missing": t.get("accepted_results_missing", 0),
            "settled": rb.get("settled"),
            "settle_s": rb.get("settle_s"),
        },
        "locust": _locust_stats(run_dir),
        "window_s_planned": timeline.get("window_s"),
    }


# --------------------------------------------------------------------------- whole run


FIXED_KEYS = [
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "error_rate",
    "cpu_s_per_1k",
    "peak_rss_mb",
    "gen_cpu_frac",
    "broker_cpu_s_per_1k",
    "delay_p50_ms",
    "delay_p95_ms",
]
SEQ_KEYS = ["get_p50_ms", "get_p95_ms", "post_p50_ms", "post_p95_ms", "alert_delay_p50_ms", "alert_delay_p95_ms"]


SEQUENTIAL_HOPS = {
    "direct_calls": {"get": 1, "post": 2},
    "event_driven": {"get": 1, "post": 1},
    "direct_plain": {"get": 1, "post": 2},  # as direct_calls: api → monitor, then monitor → alerting
}
"""Round trips between processes on the critical path of the sequential requests, by app: a GET is one call to
the monitor; an ok result that changes no alert is api → monitor → alerting in the direct splits (two calls in
a chain) and one request/reply with the monitor in event-split (the monitor's announcement to alerting is
confirmed by the broker before the reply, but no service waits for another)."""


EXCLUSIONS_FILE = "exclusions.json"


def exclusions(raw: Path) -> dict[str, str]:
    """Measurement folders an operator found disturbed from outside the run (``exclusions.json`` in the run's raw
    folder: ``[{"dir": ..., "reason": ...}]``): kept in the raw data, not quoted, and listed with the reason."""
    data = _load(raw / EXCLUSIONS_FILE) or []
    return {entry["dir"]: entry["reason"] for entry in data}


def build(raw: Path) -> dict:
    run = _load(raw / "run.json") or {}
    env = _load(raw / "env.json") or {}
    options = run.get("options", {})
    gen_limit = float(options.get("gen_cpu_limit", 0.9))
    variants = run.get("variants", [])
    scenarios = run.get("scenarios", [])
    steps = run.get("steps", [])

    fixed: dict = {}
    capacity: dict = {}
    ceiling: dict = {}
    seq: dict = {}
    faults: dict = {}
    excluded = exclusions(raw)
    for step in steps:
        if step["status"] != "ok" or not step.get("dir") or step.get("rtt_ms") is not None:  # network: its own block
            continue
        run_dir = raw / step["dir"]
        variant, scenario, rep = step["variant"], step["scenario"], step["rep"]
        if step["kind"] == "fixed":
            row = fixed_run(run_dir, gen_limit)
            row.update(dir=step["dir"], rep=rep)
            fixed.setdefault(variant, {}).setdefault(scenario, {"runs": []})["runs"].append(row)
        elif step["kind"] in ("capacity", "ceiling"):
            row = capacity_search.summarize_run(run_dir, options)
            row.update(dir=step["dir"], rep=rep)
            if step["dir"] in excluded:
                row.update(valid=False, invalid_reason=f"excluded: {excluded[step['dir']]}")
            where = ceiling if step["kind"] == "ceiling" else capacity.setdefault(variant, {})
            where.setdefault(scenario, {"runs": []})["runs"].append(row)
        elif step["kind"] == "sequential":
            row = sequential_run(run_dir)
            if row:
                row.update(dir=step["dir"], rep=rep)
                seq.setdefault(variant, {"runs": []})["runs"].append(row)
        elif step["kind"] == "faults":
            row = fault_run(run_dir)
            if row:
                row.update(dir=step["dir"], rep=rep)
                replicas = step.get("replicas")
                faults[variant if not replicas else f"{variant} ×{replicas} on postgres"] = row

    for per_scenario in fixed.values():
        for block in per_scenario.values():
            runs = block["runs"]
            block.update(_stat_block(runs, FIXED_KEYS))
            block["valid_runs"] = sum(1 for r in runs if r.get("valid"))
            block["invalid_runs"] = [{"rep": r["rep"], "reason": r.get("invalid_reason")} for r in runs if not r.get("valid")]
            valid = [r for r in runs if r.get("valid")]
            if any("notif_expected" in r for r in valid):
                block["notifications"] = {
                    k: sum(r.get(f"notif_{k}", 0) for r in valid)
                    for k in ("expected", "delivered", "duplicated", "unexpected", "lost")
                }
                block["notifications"]["results_missing"] = sum(r.get("results_missing", 0) for r in valid)
    for block in [b for per_scenario in capacity.values() for b in per_scenario.values()] + list(ceiling.values()):
        capacity_search.aggregate(block)
    for block in seq.values():
        block.update(_stat_block(block["runs"], SEQ_KEYS))

    floor = floors(raw) if (raw / "floors").exists() else {}
    overhead = {}
    for split in (v for v in VARIANTS.values() if v.is_split and not v.is_plain):
        hops = SEQUENTIAL_HOPS[split.app]
        variant, transport, base = split.name, split.floor, split.monolith
        if variant not in seq:
            continue
        f = floor.get(transport, {}).get("p50_ms", {}).get("median") if floor else None
        entry = {"transport": transport, "baseline": base, "floor_p50_ms": f}
        for kind in ("get", "post"):
            mine = seq[variant][f"{kind}_p50_ms"]["median"]
            theirs = seq.get(base, {}).get(f"{kind}_p50_ms", {}).get("median")
            added = mine - theirs if mine is not None and theirs is not None else None
            entry[f"{kind}_p50_ms"] = mine
            entry[f"{kind}_baseline_p50_ms"] = theirs
            entry[f"added_{kind}_ms"] = added
            entry[f"{kind}_ratio"] = added / f if added is not None and f else None
            entry[f"{kind}_hops"] = hops[kind]
            entry[f"{kind}_per_hop_ratio"] = added / hops[kind] / f if added is not None and f else None
        overhead[variant] = entry

    out = raw.parent.parent
    mig_dir = out / "migration" if (out / "migration" / "SECTION.md").exists() else MIGRATION_DIR

    def rel(path: Path) -> str:  # summary.json holds paths relative to its own folder
        return os.path.relpath(path, out)

    migration = {
        "dir": rel(mig_dir),
        "section_md": rel(mig_dir / "SECTION.md") if (mig_dir / "SECTION.md").exists() else None,
        "json": rel(mig_dir / "migration.json") if (mig_dir / "migration.json").exists() else None,
        "charts": sorted(rel(p) for p in mig_dir.glob("*.png")),
        "run": run.get("migration_diff"),
    }
    return {
        "run_id": run.get("run_id"),
        "raw_dir": rel(raw),
        "quick": options.get("quick"),
        "env": env,
        "options": options,
        "planned_total_s": run.get("planned_total_s"),
        "elapsed_s": run.get("elapsed_s"),
        "started": run.get("started"),
        "ended": run.get("ended"),
        "variants": variants,
        "scenarios": scenarios,
        "not_run": run.get("not_run", {}),
        "broker_error": run.get("broker_error"),
        "rabbitmq_url": run.get("rabbitmq_url"),
        "steps": [
            {
                k: s.get(k)
                for k in ("rep", "kind", "variant", "scenario", "replicas", "rtt_ms", "status", "reason", "est_s", "actual_s",
                          "dir")
            }
            for s in steps
        ],
        "floors": floor,
        "sequential": seq,
        "overhead": overhead,
        "fixed": fixed,
        "capacity": capacity,
        "ceiling": ceiling,
        "excluded": [{"dir": d, "reason": r} for d, r in excluded.items()],
        "faults": faults,
        "scale": scale_model.summarize(raw, steps, options, env),
        "network": network.summarize(raw, steps, options),
        "traces": trace_breakdown.summarize(raw, steps),
        "migration": migration,
        "pattern": run.get("pattern") or {},
    }
