"""The report's PNG charts, drawn from the summary with matplotlib (Agg backend) into the output folder.

Bars are the median over repetitions, error bars the min–max spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.reporting import network, scale_charts, traces


@dataclass
class Canvas:
    """What every chart needs: pyplot, the output folder, the summary, the variants that ran, the colours."""

    plt: Any
    out: Path
    summary: dict
    variants: list[str]
    scenarios: list[str]
    colors: list[str]

    def bars(
        self, ax, groups: list[str], series: list[tuple[str, list[dict | None]]], scale: float = 1.0, ylabel: str = ""
    ) -> None:
        colors = self.colors
        width = 0.8 / max(1, len(series))
        for i, (name, blocks) in enumerate(series):
            xs, ys, lo, hi = [], [], [], []
            for j, block in enumerate(blocks):
                if block and block.get("median") is not None:
                    xs.append(j + i * width - 0.4 + width / 2)
                    ys.append(block["median"] * scale)
                    lo.append((block["median"] - block["min"]) * scale)
                    hi.append((block["max"] - block["median"]) * scale)
            if xs:
                ax.bar(xs, ys, width, label=name, color=colors[i % len(colors)], yerr=[lo, hi], capsize=2)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)

    def save(self, fig, name: str) -> str:
        fig.tight_layout()
        fig.savefig(self.out / name, dpi=110)
        self.plt.close(fig)
        return name


def make_charts(out: Path, summary: dict) -> dict[str, str]:
    """Draw every chart the summary has data for; returns {chart: file name relative to ``out``}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: dict[str, str] = {}
    variants = [v for v in summary["variants"] if v not in summary["not_run"]]
    scenarios = summary["scenarios"]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    canvas = Canvas(plt, out, summary, variants, scenarios, colors)

    if summary["fixed"]:
        made["latency"] = _latency(canvas)
        made["resources"] = _resources(canvas)
        stream = [s for s in scenarios if s in ("ingest", "mixed")]
        if stream or summary["sequential"]:
            made["alert_delay"] = _alert_delay(canvas, stream)
    if summary["capacity"] or summary.get("ceiling"):
        made["capacity"] = _capacity(canvas)
        made["latency_throughput"] = _latency_throughput(canvas)
    if summary["sequential"]:
        made["sequential"] = _sequential(canvas)
    if summary["faults"]:
        made["faults"] = _faults(canvas)
    scale_charts.make(canvas, made)
    if (summary.get("network") or {}).get("variants"):
        made["network"] = network.chart(canvas)
    traces.charts(canvas, made)
    return made


def _latency(c: Canvas) -> str:
    fixed, variants, scenarios = c.summary["fixed"], c.variants, c.scenarios
    fig, axes = c.plt.subplots(1, len(scenarios), figsize=(4.5 * len(scenarios), 4), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        series = [(p, [fixed.get(v, {}).get(scenario, {}).get(f"{p}_ms") for v in variants]) for p in ("p50", "p95", "p99")]
        c.bars(ax, variants, series, ylabel="ms")
        ax.set_title(f"{scenario} @ {c.summary['options'].get('rate', 0):g} rps", fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle("Latency at a fixed offered rate (median of repetitions, bars = min–max)", fontsize=10)
    return c.save(fig, "latency.png")


def _resources(c: Canvas) -> str:
    fixed, variants, scenarios = c.summary["fixed"], c.variants, c.scenarios
    fig, axes = c.plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    series = [(s, [fixed.get(v, {}).get(s, {}).get("cpu_s_per_1k") for v in variants]) for s in scenarios]
    c.bars(axes[0][0], variants, series, ylabel="CPU seconds per 1,000 requests")
    axes[0][0].set_title("CPU per request (all the variant's processes)", fontsize=10)
    axes[0][0].legend(fontsize=7)
    series = [(s, [fixed.get(v, {}).get(s, {}).get("peak_rss_mb") for v in variants]) for s in scenarios]
    c.bars(axes[0][1], variants, series, ylabel="MB")
    axes[0][1].set_title("Peak RSS summed over the variant's processes", fontsize=10)
    axes[0][1].legend(fontsize=7)
    return c.save(fig, "resources.png")


def _alert_delay(c: Canvas, stream: list[str]) -> str:
    fixed, seq, variants = c.summary["fixed"], c.summary["sequential"], c.variants
    fig, ax = c.plt.subplots(figsize=(8, 4))
    series = [(f"{s} p50", [fixed.get(v, {}).get(s, {}).get("delay_p50_ms") for v in variants]) for s in stream]
    series += [(f"{s} p95", [fixed.get(v, {}).get(s, {}).get("delay_p95_ms") for v in variants]) for s in stream]
    if seq:
        series.append(("sequential probe p50", [seq.get(v, {}).get("alert_delay_p50_ms") for v in variants]))
    c.bars(ax, variants, series, ylabel="ms")
    ax.set_title("Result received → notification created (server timestamps)", fontsize=10)
    ax.legend(fontsize=7)
    return c.save(fig, "alert_delay.png")


def _capacity(c: Canvas) -> str:
    capacity, ceiling, variants = c.summary["capacity"], c.summary.get("ceiling", {}), c.variants
    groups = (["HTTP ceiling"] if ceiling else []) + variants
    measured = [s for s in c.scenarios if s in ceiling or any(s in capacity.get(v, {}) for v in variants)]
    series = [
        (
            s,
            ([ceiling.get(s, {}).get("capacity_rps")] if ceiling else [])
            + [capacity.get(v, {}).get(s, {}).get("capacity_rps") for v in variants],
        )
        for s in measured
    ]
    fig, ax = c.plt.subplots(figsize=(8, 4))
    c.bars(ax, groups, series, ylabel="requests/s")
    ax.set_title(f"Capacity: highest step with p95 < {c.summary['options'].get('slo_ms', 0):g} ms and errors < 1%", fontsize=10)
    ax.legend(fontsize=7)
    return c.save(fig, "capacity.png")


def _median_run(block: dict | None) -> dict | None:
    """The search whose capacity is the median of the repetitions (the one drawn)."""
    runs = [r for r in (block or {}).get("runs", []) if r.get("valid") and r.get("steps")]
    if not runs:
        return None
    mid = (block.get("capacity_rps") or {}).get("median") or 0.0
    return min(runs, key=lambda r: abs((r.get("capacity_rps") or 0.0) - mid))


def _minor_label(value: float, _pos) -> str:
    """Label the 2 and 5 minor ticks of a log axis (200, 500, ...), not the others."""
    lead = value / 10 ** int(f"{value:e}".split("e")[1])
    return f"{value:g}" if round(lead) in (2, 5) else ""


def _latency_throughput(c: Canvas) -> str:
    """p50 and p99 against achieved rate, every valid step of one search per variant and the ceiling, per scenario."""
    from matplotlib.ticker import FuncFormatter

    capacity, ceiling = c.summary["capacity"], c.summary.get("ceiling", {})
    scenarios = [s for s in c.scenarios if ceiling.get(s) or any(capacity.get(v, {}).get(s) for v in c.variants)]
    fig, axes = c.plt.subplots(1, max(1, len(scenarios)), figsize=(6.5 * max(1, len(scenarios)), 4.8), squeeze=False)
    lines = [("HTTP ceiling", "black", ceiling)] + [
        (v, c.colors[i % len(c.colors)], capacity.get(v, {})) for i, v in enumerate(c.variants)
    ]
    slo = c.summary["options"].get("slo_ms", 0)
    for ax, scenario in zip(axes[0], scenarios, strict=False):
        for name, color, per in lines:
            run = _median_run(per.get(scenario))
            if run is None:
                continue
            steps = sorted((s for s in run["steps"] if s["outcome"] != "invalid" and s["p50_ms"]), key=lambda s: s["offered_rps"])
            xs = [s["rps"] for s in steps]
            ax.plot(xs, [s["p50_ms"] for s in steps], "-", color=color, label=name, linewidth=1.6, marker="o", markersize=3)
            ax.plot(xs, [s["p99_ms"] for s in steps], "--", color=color, linewidth=1.0, alpha=0.8)
            bad = [s for s in steps if s["outcome"] == "failed"]
            ax.plot([s["rps"] for s in bad], [s["p99_ms"] for s in bad], "x", color=color, markersize=8, mew=2)
        ax.axhline(slo, linestyle=":", color="grey", linewidth=1)
        ax.annotate(f"p95 SLO {slo:g} ms", (0.5, slo), xycoords=("axes fraction", "data"), ha="center", va="bottom", fontsize=7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
            axis.set_minor_formatter(FuncFormatter(_minor_label))
        ax.set_xlabel("achieved requests/s")
        ax.set_ylabel("latency, ms (p50 solid, p99 dashed)")
        ax.set_title(f"{scenario}: latency against throughput (× = step failed)", fontsize=10)
        ax.grid(which="both", alpha=0.25)
        ax.legend(fontsize=7, loc="upper left")
    return c.save(fig, "latency_throughput.png")


def _sequential(c: Canvas) -> str:
    seq, colors = c.summary["sequential"], c.colors
    fig, ax = c.plt.subplots(figsize=(8, 4))
    names = [v for v in c.variants if v in seq]
    series = [(f"{k} p50", [seq[v].get(f"{k}_p50_ms") for v in names]) for k in ("get", "post")]
    series += [(f"{k} p95", [seq[v].get(f"{k}_p95_ms") for v in names]) for k in ("get", "post")]
    c.bars(ax, names, series, ylabel="ms")
    for i, (transport, floor) in enumerate(c.summary["floors"].items()):
        med = floor.get("p50_ms", {}).get("median")
        if med is not None:
            ax.axhline(med, linestyle="--", linewidth=1, color=colors[(i + 4) % len(colors)], label=f"{transport} floor p50")
    ax.set_title("Sequential round trips (one client) and transport floors", fontsize=10)
    ax.legend(fontsize=7)
    return c.save(fig, "sequential.png")


def _faults(c: Canvas) -> str:
    faults, colors = c.summary["faults"], c.colors
    names = list(faults)
    services = list(dict.fromkeys(label for v in names for label in faults[v]["services"]))  # the faults, in order
    fig, axes = c.plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    width = 0.7 / max(1, len(services))
    for i, service in enumerate(services):
        rates = [(faults[v]["services"].get(service, {}).get("window_error_rate") or 0) * 100 for v in names]
        offset = (i - (len(services) - 1) / 2) * width
        axes[0][0].bar([j + offset for j in range(len(names))], rates, width, label=service, color=colors[i % len(colors)])
        lost = [faults[v]["services"].get(service, {}).get("lost") or 0 for v in names]
        dup = [faults[v]["services"].get(service, {}).get("duplicated") or 0 for v in names]
        xs = [j + offset for j in range(len(names))]
        axes[0][1].bar(xs, lost, width / 2, label=f"{service}: lost", color=colors[i % len(colors)])
        axes[0][1].bar([x + width / 2 for x in xs], dup, width / 2, label=f"{service}: duplicated",
                       color=colors[i % len(colors)], alpha=0.45)
    for ax in axes[0]:
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    heights = [bar.get_height() for bar in axes[0][1].patches]
    axes[0][1].set_ylim(0, max(1.0, max(heights, default=0) * 1.25))
    for bar in axes[0][1].patches:
        axes[0][1].annotate(
            f"{bar.get_height():.0f}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    axes[0][0].set_ylim(0, 105)
    axes[0][0].set_ylabel("% of edge requests failed")
    axes[0][0].set_title("Edge errors while the service is down or hung", fontsize=10)
    axes[0][1].set_ylabel("notifications")
    axes[0][1].set_title("Lost and duplicated notifications after recovery", fontsize=10)
    return c.save(fig, "faults.png")
