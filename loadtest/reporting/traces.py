"""Where the time goes: the per-hop breakdown of the traced pass, and one example request per variant as a waterfall."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.topology import VARIANTS
from harness.traces import short_name
from loadtest.reporting.tables import num, table

OPERATIONS = ("POST result", "GET target")


def section(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    if not summary["options"].get("traces"):  # skipped (--no-traces), or a run from before the traced pass
        return []
    variants = (summary.get("traces") or {}).get("variants") or {}
    md = ["## Where the time goes (traces)", "",
          f"Each variant once more, apart from the timed runs, with tracing on (`TRACING=1`, OpenTelemetry, one span per "
          f"line in files): {summary['options'].get('trace_requests')} `POST /targets/{{id}}/results` one after the other, "
          "each opening or resolving an alert (so each reaches the webhook), and as many `GET /targets/{id}`. Tracing "
          "costs time of its own (a span written per hop, synchronously), so these durations are a breakdown, not the "
          "latency the sections above measured. Hops: `edge` is the api's own time (its request less the calls it "
          "made), `call A→B` an internal call as its caller waits for it, `queue EVENT` the time an event waited "
          "between its publication and its handler, `handle EVENT [group]` a handler's time, `database S` the SQL "
          "statements of process S, `webhook` the notification's POST, `to webhook` from the request's start to the "
          "end of that POST. Medians over the requests. The last row is each split's transport floor: one round trip "
          "of its bare transport without tracing (*Sequential round trips and transport floors*), the least an internal "
          "hop can cost.", ""]
    if not variants:
        return [*md, "No traced pass completed (see *Not run, failed or invalid*).", ""]
    floors = _floors(summary, variants)
    for operation in OPERATIONS:
        rows = _rows(variants, operation)
        if rows[1] and any(floors):
            rows[1].append(["transport floor (bare, untraced)", *(num(f, 2) for f in floors)])
        if rows[1]:
            md += [f"**{operation}** (ms)", "", table(*rows), ""]
    if "trace_breakdown" in charts:
        md += [f"![median time per hop]({charts['trace_breakdown']})", ""]
    for variant in variants:
        if f"trace_{variant}" in charts:
            md += [f"![{variant}: one POST result]({charts[f'trace_{variant}']})", ""]
    return md


def _floors(summary: dict, variants: dict[str, dict]) -> list[float | None]:
    """Each variant's transport floor p50 (ms) measured in this run, None for a monolith or an unmeasured floor."""
    measured = summary.get("floors") or {}
    out: list[float | None] = []
    for variant in variants:
        floor = VARIANTS[variant].floor if variant in VARIANTS else None
        out.append(((measured.get(floor) or {}).get("p50_ms") or {}).get("median") if floor else None)
    return out


def _rows(variants: dict[str, dict], operation: str) -> tuple[list[str], list[list[str]]]:
    hops: list[str] = []
    for block in variants.values():
        for hop in (block["breakdown"].get(operation) or {}):
            if hop != "requests" and hop not in hops:
                hops.append(hop)
    header = ["hop", *variants]
    rows = [[hop, *(num((block["breakdown"].get(operation) or {}).get(hop), 2) for block in variants.values())]
            for hop in hops]
    return header, rows


def charts(canvas: Any, made: dict[str, str]) -> None:
    """``trace_breakdown``: per operation, each variant's median per hop; ``trace_VARIANT``: its example waterfall."""
    variants = (canvas.summary.get("traces") or {}).get("variants") or {}
    if not variants:
        return
    plt = canvas.plt
    fig, axes = plt.subplots(len(OPERATIONS), 1, figsize=(10, 4 + 0.25 * sum(
        len(b["breakdown"].get(op) or {}) for b in variants.values() for op in OPERATIONS)), squeeze=False)
    for ax, operation in zip(axes[:, 0], OPERATIONS, strict=True):
        labels, values, colors = [], [], []
        for i, (variant, block) in enumerate(variants.items()):
            for hop, value in (block["breakdown"].get(operation) or {}).items():
                if hop != "requests":
                    labels.append(f"{variant}: {hop}")
                    values.append(value)
                    colors.append(canvas.colors[i % len(canvas.colors)])
        ax.barh(range(len(values)), values, color=colors)
        ax.set_yticks(range(len(values)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("median ms")
        ax.set_title(operation)
        ax.grid(axis="x", alpha=0.3)
    made["trace_breakdown"] = canvas.save(fig, "trace_breakdown.png")
    for variant, block in variants.items():
        rows = block.get("example") or []
        if rows:
            made[f"trace_{variant}"] = _waterfall(canvas, variant, rows)


def _waterfall(canvas: Any, variant: str, rows: list[list]) -> str:
    services = list(dict.fromkeys(row[1] for row in rows))
    fig, ax = canvas.plt.subplots(figsize=(11, 1 + 0.28 * len(rows)))
    for y, (_depth, service, _name, start_ms, duration_ms) in enumerate(rows):
        color = canvas.colors[services.index(service) % len(canvas.colors)]
        ax.barh(y, max(duration_ms, 0.05), left=start_ms, color=color)
        ax.text(start_ms + max(duration_ms, 0.05), y, f" {duration_ms:.2f}", va="center", fontsize=6)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{'  ' * depth}{short_name(name)}" for depth, _, name, _, _ in rows], fontsize=7, family="monospace",
                       ha="left")
    ax.tick_params(axis="y", pad=max(len(short_name(row[2])) + 2 * row[0] for row in rows) * 4.3)
    handles = [canvas.plt.Rectangle((0, 0), 1, 1, color=canvas.colors[i % len(canvas.colors)]) for i in range(len(services))]
    ax.legend(handles, services, fontsize=7, loc="lower right")
    ax.invert_yaxis()
    ax.set_xlabel("ms from the request's start")
    ax.set_title(f"{variant}: one POST /targets/{{id}}/results, to the webhook")
    ax.grid(axis="x", alpha=0.3)
    return canvas.save(fig, f"trace_{variant}.png")
