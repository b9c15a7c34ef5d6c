"""Latency sections: sequential round trips beside the transport floors, and the fixed offered rate."""

from __future__ import annotations

from pathlib import Path

from harness.topology import VARIANTS
from loadtest.reporting.tables import fmt, num, pct, table

SCENARIO_TEXT = {
    "crud": "target lifecycle (create, read, list, delete)",
    "ingest": "result stream with a deterministic failure pattern",
    "mixed": "reads + result stream + occasional writes",
}


def sequential(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    """Sequential round trips and the alert delay, the transport floors, the split variants' overhead."""
    md = _sequential_table(summary) + _floors_table(summary) + _overhead_table(summary)
    if "sequential" in charts:
        md += [f"![sequential round trips]({charts['sequential']})", ""]
    return md


def _sequential_table(summary: dict) -> list[str]:
    variants = summary["variants"]
    md: list[str] = []
    seq = summary["sequential"]
    md += [
        "## Sequential round trips and transport floors",
        "",
        "One client, one request at a time, a reused `requests.Session`. `GET /targets/{id}`; `POST /targets/{id}/results` "
        "with ok results that change no alert. Alert delay: a probe target with `failure_threshold=1` gets alternating "
        "failing and ok results; delay = the failing result's `received_at` → its `alert_opened` notification's "
        "`created_at` (server timestamps, read back through the public API).",
        "",
    ]
    rows = []
    for v in variants:
        if v in summary["not_run"]:
            rows.append([f"`{v}`", summary["not_run"][v], "", "", "", "", ""])
            continue
        b = seq.get(v)
        if not b:
            rows.append([f"`{v}`", "not measured", "", "", "", "", ""])
            continue
        rows.append(
            [
                f"`{v}`",
                fmt(b["get_p50_ms"], 2),
                fmt(b["get_p95_ms"], 2),
                fmt(b["post_p50_ms"], 2),
                fmt(b["post_p95_ms"], 2),
                fmt(b["alert_delay_p50_ms"], 1),
                fmt(b["alert_delay_p95_ms"], 1),
            ]
        )
    calls = {r["calls"] for b in seq.values() for r in b["runs"]}
    delays = {r.get("alert_delay_n") for b in seq.values() for r in b["runs"]} - {None}
    md += [
        table(
            ["variant", "GET p50 ms", "GET p95 ms", "POST p50 ms", "POST p95 ms", "alert delay p50 ms", "alert delay p95 ms"],
            rows,
        ),
        "",
        f"Calls per kind and run: {', '.join(str(c) for c in sorted(calls)) or '–'}; "
        f"alert-delay samples (alerts opened) per run: {', '.join(str(n) for n in sorted(delays)) or '–'}.",
        "",
    ]
    return md


def _floors_table(summary: dict) -> list[str]:
    md: list[str] = []
    floor = summary["floors"]
    if floor:
        md += [
            "Transport floors (bare round trips, same payload, server in another process):",
            "",
            table(
                ["transport", "what", "p50 ms", "p95 ms", "calls per run"],
                [
                    [
                        t,
                        (f["runs"][0]["server"] if f.get("runs") else (f.get("note") or "not run")),
                        fmt(f.get("p50_ms"), 3),
                        fmt(f.get("p95_ms"), 3),
                        ", ".join(sorted({str(r["calls"]) for r in f.get("runs", [])})) or "–",
                    ]
                    for t, f in floor.items()
                ],
            ),
            "",
        ]
    return md


def _overhead_table(summary: dict) -> list[str]:
    md: list[str] = []
    if summary["overhead"]:
        md += [
            "Added latency of each split variant over its monolith (sequential p50), as a multiple of its transport's floor p50, "
            "in all and per hop (a hop: one round trip between processes on the request's critical path; GET: api → monitor; "
            "an ok result: api → monitor → alerting in the direct splits, one request/reply with the monitor in event-split):",
            "",
            table(
                ["variant", "vs", "transport floor p50 ms", "GET added ms", "GET ÷ floor per hop", "POST added ms", "POST hops",
                 "POST ÷ floor", "POST ÷ floor per hop"],
                [
                    [
                        f"`{v}`",
                        f"`{o['baseline']}`",
                        num(o["floor_p50_ms"], 3),
                        num(o["added_get_ms"], 2),
                        num(o.get("get_per_hop_ratio", o["get_ratio"]), 1),
                        num(o["added_post_ms"], 2),
                        str(o.get("post_hops", "")),
                        num(o["post_ratio"], 1),
                        num(o.get("post_per_hop_ratio"), 1),
                    ]
                    for v, o in summary["overhead"].items()
                ],
            ),
            "",
        ]
        bought = [f"- `{v}`: {HOP_COSTS[VARIANTS[v].app]}" for v in summary["overhead"] if v in VARIANTS
                  and VARIANTS[v].app in HOP_COSTS]
        if bought:
            md += ["What a hop does beyond its floor's bare round trip, and what that buys:", "", *bought, ""]
    return md


HOP_COSTS = {
    "direct_calls": (
        "each call converts domain values to the wire and back and checks what it decodes against the public schema "
        "(an internal call cannot store what the api refuses), carries the caller's remaining deadline (a stuck peer "
        "is a 504 in time, not a hang), and goes round-robin over the peer's replicas; a result's second hop "
        "(monitor → alerting) runs while the monitor holds the target in its database (one target's results "
        "evaluated in acceptance order, across processes)."
    ),
    "event_driven": (
        "a call is a request on a classic non-durable queue with a publisher confirm (a request the broker did not "
        "take is a fast 503), the reply goes back transient and unconfirmed to the caller's own inbox; a result is "
        "also announced, persistent and confirmed in a quorum queue, before the monitor answers (an accepted 202 is on "
        "the broker's disk), and the codec tags every value with its type and checks it against the public schema."
    ),
}


def fixed_rate(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    md: list[str] = []
    md += [
        "## Fixed offered rate (latency at equal load)",
        "",
        "Locust's own statistics (`locust_final_stats.csv`: its CSV written once the runner stopped; Aggregated row) "
        "for RPS and percentiles; CPU = CPU seconds of all the "
        "variant's processes and their children over the load window, per 1,000 requests; RSS = peak of the sum over its "
        "processes; generator = the locust process's CPU as a share of one core.",
        "",
    ]
    for scenario in summary["scenarios"]:
        md += _fixed_scenario(summary, scenario)
    if "latency" in charts:
        md += [f"![latency]({charts['latency']})", ""]
    if "resources" in charts:
        md += [f"![CPU and memory]({charts['resources']})", ""]
    return md


def _fixed_scenario(summary: dict, scenario: str) -> list[str]:
    """One scenario's table, and the broker's CPU when a variant used RabbitMQ."""
    variants = summary["variants"]
    ran = [v for v in variants if v not in summary["not_run"]]
    fixed = summary["fixed"]
    md: list[str] = []
    rows = []
    for v in variants:
        if v in summary["not_run"]:
            rows.append([f"`{v}`", summary["not_run"][v]] + [""] * 8)
            continue
        b = fixed.get(v, {}).get(scenario)
        if not b or not b.get("valid_runs"):
            rows.append([f"`{v}`", "no valid run"] + [""] * 8)
            continue
        rows.append(
            [
                f"`{v}`",
                fmt(b["rps"], 1),
                fmt(b["p50_ms"], 0),
                fmt(b["p95_ms"], 0),
                fmt(b["p99_ms"], 0),
                pct(b["error_rate"], 2),
                fmt(b["cpu_s_per_1k"], 2),
                fmt(b["peak_rss_mb"], 0),
                pct(b["gen_cpu_frac"], 0),
                f"{b['valid_runs']}/{len(b['runs'])}",
            ]
        )
    md += [
        f"### `{scenario}` — {SCENARIO_TEXT.get(scenario, '')}",
        "",
        table(
            [
                "variant",
                "RPS",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "errors",
                "CPU s / 1k req",
                "peak RSS MB",
                "generator CPU",
                "valid runs",
            ],
            rows,
        ),
        "",
    ]
    broker = [(v, fixed.get(v, {}).get(scenario, {}).get("broker_cpu_s_per_1k")) for v in ran]
    broker = [(v, b) for v, b in broker if b and b.get("median") is not None]
    if broker:
        md += [
            "RabbitMQ broker CPU (not included above; the broker is shared by the machine): "
            + ", ".join(f"`{v}` {fmt(b, 2)} s / 1k req" for v, b in broker),
            "",
        ]
    return md
