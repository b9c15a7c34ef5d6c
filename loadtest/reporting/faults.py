"""Faults: a service of each split variant stopped and restarted under load; errors, losses and recovery."""

from __future__ import annotations

from pathlib import Path

from harness.topology import VARIANTS
from loadtest.reporting.tables import num, pct, table

FAULT_TEXT = {
    "stopped": "SIGTERM to its process group (a graceful shutdown), restarted after the window",
    "killed": "SIGKILL to its process group (a crash), restarted after the window",
    "hung": "SIGSTOP to its process group (alive, its sockets accept, nothing answers), SIGCONT after the window",
    "slow": "the webhook receiver answers after 3 s (the sender's per-attempt timeout is 2 s)",
    "failing": "the webhook receiver answers 500",
    "restarted": "the broker's application stopped (`rabbitmqctl stop_app`: every connection drops) and started again",
}
HEADER = [
    "variant",
    "fault",
    "stopping s",
    "down s",
    "restart → healthy s",
    "edge errors in window",
    "statuses",
    "result posts: retried / failed after retries",
    "retried post s (p50 / max)",
    "lost / expected",
    "duplicated (stored / sent)",
    "first ok request s",
    "first ok transition s",
    "first notification s",
    "errors stop s",
]


def section(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    opts = summary["options"]
    md: list[str] = []
    if opts.get("faults"):
        faults = summary["faults"]
        md += [
            "## Faults (split variants)",
            "",
            "Under the ingest load, one thing at a time fails for the window, then comes back: "
            + "; ".join(f"*{name}* = {text}" for name, text in FAULT_TEXT.items())
            + ". *stopping s* = until it is gone, *down s* = the window, *restart → healthy s* = until it answers its "
            "health check again (for a hung service, from the SIGCONT). Edge errors count the "
            "requests that started between the fault and healthy again. Lost = expected notifications for accepted "
            "results − delivered, after waiting for the system to settle; duplicated: *stored* = extra stored copies, which "
            "a unique key forbids, *sent* = deliveries the webhook receiver (every stream target's webhook, run by the "
            "harness) answered 2xx more than once, as their Idempotency-Key names them (both for results sent from this "
            "fault until the next one). Recovery, relative to the restart: *first ok request* = the first success "
            "of a request kind that failed in the window; *first ok transition* = the first accepted result that opens or "
            "resolves an alert; *first notification* = the first notification created; *errors stop* = the end of the last "
            "failed request. The load generator retries a result post answered 503 or 504, or left without an answer, "
            "with the same idempotency key (up to 3 times, 0.25 s doubling), as a client should: *retried / failed "
            "after retries* counts the result posts made from this stop until the next one, *retried post s* the time "
            "from a retried post's first attempt to its last answer.",
            "",
        ]
        rows = _rows(summary)
        md += [table(HEADER, rows), ""]
        for v, f in faults.items():
            t = f["total"]
            md.append(
                f"- `{v}` whole fault run: {t['delivered']}/{t['expected']} notifications delivered, {t['lost']} lost, "
                f"{t['duplicated']} duplicated, {t['unexpected']} unexpected"
                + (f"; webhooks: {f['webhooks']['delivered']}/{f['webhooks']['deliveries']} delivered (2xx), "
                   f"{f['webhooks']['duplicated_sends']} sent twice or more, {f['webhooks']['posts']} POSTs in all"
                   if f.get("webhooks") else "")
                + "; accepted results missing: "
                f"{t['accepted_results_missing']}; settled: {t['settled']} after {num(t['settle_s'], 1)} s; error rate "
                f"before the first fault: {pct({'median': f['baseline_error_rate'], 'min': 0, 'max': 0, 'n': 1}, 2)}."
            )
        md.append("")
        if "faults" in charts:
            md += [f"![faults]({charts['faults']})", ""]
    return md


def _rows(summary: dict) -> list[list]:
    """One row per split variant and stopped service (or one saying why there is none)."""
    variants = summary["variants"]
    faults = summary["faults"]
    rows = []
    split = [v for v in variants if v in VARIANTS and VARIANTS[v].is_split]
    for v in split:
        if v in summary["not_run"]:
            rows.append([f"`{v}`", "–", summary["not_run"][v]] + [""] * (len(HEADER) - 3))
            continue
        runs = [(name, faults[name]) for name in faults if name == v or name.startswith(f"{v} ×")]
        if not runs:
            rows.append([f"`{v}`", "–", "not measured"] + [""] * (len(HEADER) - 3))
            continue
        rows += _fault_rows(runs)
    return rows


def _fault_rows(runs: list[tuple[str, dict]]) -> list[list]:
    rows = []
    for name, f in runs:
        v = name
        for service, r in f["services"].items():
            statuses = ", ".join(f"{k}×{n}" for k, n in sorted(r["window_failure_statuses"].items()))
            rows.append(
                [
                    f"`{v}`",
                    service,
                    num(r.get("stopping_s"), 1),
                    num(r.get("down_s"), 1),
                    num(r["restart_to_healthy_s"], 1) if not r.get("restart_error") else f"failed: {r['restart_error']}",
                    f"{r['window_failures']}/{r['window_requests']}"
                    + (f" ({r['window_error_rate'] * 100:.1f}%)" if r["window_error_rate"] is not None else ""),
                    statuses or "–",
                    f"{r['posts_retried']} / {r['errors_after_retries']} of {r['posts']}" if "posts" in r else "–",
                    f"{num(r.get('retried_post_s_p50'), 2)} / {num(r.get('retried_post_s_max'), 2)}" if "posts" in r else "–",
                    f"{r['lost']} / {r['expected']}",
                    f"{r['duplicated']} / {r['webhooks']['duplicated_sends']}" if r.get("webhooks") else f"{r['duplicated']} / –",
                    num(r.get("first_ok_request_after_restart_s"), 2),
                    num(r["first_ok_transition_after_restart_s"], 2),
                    num(r["first_notification_after_restart_s"], 2),
                    num(r["errors_stop_after_s"], 1),
                ]
            )
    return rows
