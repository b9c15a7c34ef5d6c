"""Alerts: the notifications each stream run should have produced, what was delivered, and the delay."""

from __future__ import annotations

from pathlib import Path

from loadtest.reporting.tables import fmt, table


def section(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    ran = [v for v in summary["variants"] if v not in summary["not_run"]]
    scenarios = summary["scenarios"]
    fixed = summary["fixed"]
    md: list[str] = []
    stream = [s for s in scenarios if s in ("ingest", "mixed")]
    if stream:
        md += [
            "## Alerts: expected vs delivered notifications and delay",
            "",
            f"Each stream target follows the pattern of `loadtest/pattern.py` (a new target every "
            f"{summary['pattern'].get('results_per_target', '?')} results); the expected notifications are computed by replaying "
            "the accepted results through `shared.rules.evaluate`. Delivered = expected (alert, event, channel) slots "
            "holding a notification after the system settled; duplicated = further stored copies in a slot (stored rows "
            "only: a unique key on (alert, event, channel) forbids them, so 0 here says nothing about webhooks sent twice, "
            "which these rows do not record); unexpected = "
            "notifications of slots no accepted result explains. Delay = result `received_at` → first notification "
            "`created_at`. Totals over the valid repetitions.",
            "",
        ]
        rows = []
        for scenario in stream:
            for v in ran:
                b = fixed.get(v, {}).get(scenario)
                if not b or "notifications" not in b:
                    continue
                n = b["notifications"]
                rows.append(
                    [
                        scenario,
                        f"`{v}`",
                        n["expected"],
                        n["delivered"],
                        n["duplicated"],
                        n["unexpected"],
                        n["lost"],
                        fmt(b["delay_p50_ms"], 1),
                        fmt(b["delay_p95_ms"], 1),
                    ]
                )
        md += [
            table(
                [
                    "scenario",
                    "variant",
                    "expected",
                    "delivered",
                    "duplicated",
                    "unexpected",
                    "lost",
                    "delay p50 ms",
                    "delay p95 ms",
                ],
                rows,
            )
            if rows
            else "No stream run completed.",
            "",
        ]
        if "alert_delay" in charts:
            md += [f"![alert delay]({charts['alert_delay']})", ""]
    return md
