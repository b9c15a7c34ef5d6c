"""The report's PNG charts, drawn from the summary with matplotlib (Agg backend) into the output folder.

Bars are the median over repetitions, error bars the min–max spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
    if summary["capacity"]:
        made["capacity"] = _capacity(canvas)
    if summary["sequential"]:
        made["sequential"] = _sequential(canvas)
    if summary["faults"]:
        made["faults"] = _faults(canvas)
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
    capacity, variants = c.summary["capacity"], c.variants
    fig, ax = c.plt.subplots(figsize=(8, 4))
    series = [(s, [capacity.get(v, {}).get(s, {}).get("capacity_rps") for v in variants]) for s in c.scenarios]
    c.bars(ax, variants, series, ylabel="requests/s")
    ax.set_title(f"Capacity: highest step with p95 < {c.summary['options'].get('slo_ms', 0):g} ms and errors < 1%", fontsize=10)
    ax.legend(fontsize=7)
    return c.save(fig, "capacity.png")


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
    services = ["notification", "alerting"]
    fig, axes = c.plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    width = 0.35
    for i, service in enumerate(services):
        rates = [(faults[v]["services"].get(service, {}).get("window_error_rate") or 0) * 100 for v in names]
        axes[0][0].bar([j + (i - 0.5) * width for j in range(len(names))], rates, width, label=service, color=colors[i])
        lost = [faults[v]["services"].get(service, {}).get("lost") or 0 for v in names]
        dup = [faults[v]["services"].get(service, {}).get("duplicated") or 0 for v in names]
        xs = [j + (i - 0.5) * width for j in range(len(names))]
        axes[0][1].bar(xs, lost, width / 2, label=f"{service}: lost", color=colors[i])
        axes[0][1].bar([x + width / 2 for x in xs], dup, width / 2, label=f"{service}: duplicated", color=colors[i], alpha=0.45)
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
    axes[0][0].set_title("Edge errors while the service is down", fontsize=10)
    axes[0][1].set_ylabel("notifications")
    axes[0][1].set_title("Lost and duplicated notifications after recovery", fontsize=10)
    return c.save(fig, "faults.png")
