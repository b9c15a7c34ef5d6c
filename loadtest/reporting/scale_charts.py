"""The scale section's charts: capacity against replicas with the CPU per request by kind, and the model's cores."""

from __future__ import annotations

from loadtest.scale_model import KINDS, SERVER_KINDS


def make(canvas, made: dict[str, str]) -> None:
    """Add the scale charts to ``made`` when the summary has scale runs (``canvas``: :class:`charts.Canvas`)."""
    scale = canvas.summary.get("scale") or {}
    if not scale.get("variants"):
        return
    made["scale_capacity"] = _capacity(canvas, scale)
    if (scale.get("model") or {}).get("variants"):
        made["scale_model"] = _model(canvas, scale)


def _kind_colors(c) -> dict[str, str]:
    return {k: c.colors[i % len(c.colors)] for i, k in enumerate(KINDS)}


def _stacked(ax, names: list[str], per_kind: dict[str, list[float]], colors: dict[str, str], fmt: str) -> None:
    bottoms = [0.0] * len(names)
    for kind, values in per_kind.items():
        if not any(values):
            continue
        ax.bar(range(len(names)), values, 0.6, bottom=bottoms, label=kind, color=colors[kind])
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    for x, total in enumerate(bottoms):
        ax.annotate(fmt.format(total), (x, total), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    ax.set_xlim(-0.6, max(len(names), 3) - 0.4)  # a lone bar keeps a bar's width
    ax.grid(axis="y", alpha=0.3)
    ax.set_ylim(0, max(bottoms, default=1.0) * 1.15 or 1.0)


def _capacity(c, scale: dict) -> str:
    variants = scale["variants"]
    fig, axes = c.plt.subplots(1, 2, figsize=(12, 4.4), squeeze=False)
    ax = axes[0][0]
    top = 1.0
    for i, (variant, runs) in enumerate(variants.items()):
        ns = sorted(runs, key=int)
        ys = [runs[n].get("capacity_rps") or 0 for n in ns]
        top = max(top, *ys)
        ax.plot([int(n) for n in ns], ys, "-o", color=c.colors[i % len(c.colors)], label=variant)
    replicas = scale.get("replicas") or [1]
    ax.set_xticks(replicas)
    ax.set_xlabel("replicas (copies of every process)")
    ax.set_ylabel("capacity, requests/s")
    ax.set_ylim(0, top * 1.2)
    cores = scale.get("machine_cores")
    ax.set_title(f"{scale.get('scenario')}: capacity against replicas ({cores} cores: it cannot keep growing)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)

    names, per_kind = [], {k: [] for k in KINDS}
    for variant, runs in variants.items():
        measured = [n for n in runs if (runs[n].get("demand") or {}).get("requests")]
        if not measured:
            continue
        n = max(measured, key=int)
        names.append(f"{variant} ×{n}")
        kinds = runs[n]["demand"]["kinds"]
        for k in KINDS:
            per_kind[k].append((kinds.get(k) or {}).get("cpu_s_per_1k") or 0.0)
    _stacked(axes[0][1], names, per_kind, _kind_colors(c), "{:.2f}")
    axes[0][1].set_ylabel("CPU seconds per 1,000 requests")
    axes[0][1].set_title("CPU per request by process kind (load generator on top, not in the model)", fontsize=10)
    axes[0][1].legend(fontsize=7, ncol=2)
    return c.save(fig, "scale_capacity.png")


def _model(c, scale: dict) -> str:
    model = scale["model"]
    rows = model["variants"]
    names = [f"{v} (×{r['from_replicas']})" for v, r in rows.items()]
    per_kind = {k: [(r["kinds"].get(k) or {}).get("cores") or 0.0 for r in rows.values()] for k in SERVER_KINDS}
    fig, ax = c.plt.subplots(figsize=(9, 4.6))
    _stacked(ax, names, per_kind, _kind_colors(c), "{:.1f}")
    basis = model["assumptions"]
    ax.set_ylabel("cores (1 core per pod)")
    ax.set_title(
        f"Cores at the peak: {basis['users']:,.0f} users × {basis['requests_per_user_day']:g} req/day, peak ×"
        f"{basis['peak_factor']:g} = {basis['peak_rps']:,.0f} rps, at {basis['utilisation']:.0%} utilisation",
        fontsize=9,
    )
    ax.legend(fontsize=7, ncol=2)
    return c.save(fig, "scale_model.png")
