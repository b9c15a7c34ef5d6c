"""Charts (matplotlib, Agg backend, PNG): migration lines by category, total cost, the extrapolation."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first

from .categories import CATEGORIES, LABELS  # noqa: E402
from .measure import family  # noqa: E402
from .results import Measurement  # noqa: E402

COLORS = {"direct_calls": "#1f77b4", "event_driven": "#d62728", "direct_plain": "#6baed6", "event_plain": "#fc9272"}
DASHES = {"as built": "-", "grpc only": "--", "http only": ":"}


def lines_by_category(m: Measurement, path: Path) -> Path:
    apps = [a for a in m.apps.values() if a.measured]
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / max(1, len(apps))
    for k, app in enumerate(apps):
        cats = app.by_category()
        xs = [i + (k - (len(apps) - 1) / 2) * width for i in range(len(CATEGORIES))]
        added = [cats[c]["added"]["code"] for c in CATEGORIES]
        removed = [-cats[c]["removed"]["code"] for c in CATEGORIES]
        color = COLORS.get(app.app, None)
        ax.bar(xs, added, width, color=color, label=f"{app.app}: code lines added")
        ax.bar(xs, removed, width, color=color, alpha=0.45, hatch="//", label=f"{app.app}: code lines removed")
        for x, a, r in zip(xs, added, removed, strict=True):
            if a:
                ax.annotate(str(a), (x, a), ha="center", va="bottom", fontsize=8)
            if r:
                ax.annotate(str(-r), (x, r), ha="center", va="top", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(CATEGORIES)), [LABELS[c] for c in CATEGORIES], rotation=15)
    ax.set_ylabel("code lines (blank and comment lines excluded)")
    ax.set_title("Migration monolith → split: code lines added (up) and removed (down), by category")
    if apps:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "not measured: no split tree yet", transform=ax.transAxes, ha="center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def total_cost(m: Measurement, path: Path) -> Path:
    labels, upfront, migration = [], [], []
    for app in m.apps.values():
        fits = app.fits if app.measured else []
        base = app.upfront_fit.churn if app.upfront_fit else 0
        if not fits:
            labels.append(f"{app.app}\n(split not measured)")
            upfront.append(base)
            migration.append(0)
        for fit in fits:
            labels.append(f"{app.app}\n{fit.label}")
            upfront.append(base)
            migration.append(fit.churn)
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(labels)), 5))
    xs = range(len(labels))
    ax.bar(xs, upfront, color="#7f7f7f", label="up-front: the monolith's code lines (program code, deployment config, tests)")
    ax.bar(xs, migration, bottom=upfront, color="#ff7f0e", label="migration: code lines added + removed (same categories)")
    for x, u, g in zip(xs, upfront, migration, strict=True):
        ax.annotate(f"{u} + {g} = {u + g}", (x, u + g), ha="center", va="bottom", fontsize=9)
    base = m.base.total().code
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("code lines")
    ax.set_title(f"Total cost = up-front (monolith) + migration\n(both apps also share shared/: {base} code lines, not shown)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_ylim(0, max([u + g for u, g in zip(upfront, migration, strict=True)] + [1]) * 1.25)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def extrapolation(m: Measurement, path: Path) -> Path:
    s = m.scenario
    fits = [(app, fit) for app in m.apps.values() if app.measured for fit in app.fits]
    top_n = max([s.operations * 1.25, *(f.operations * 1.25 for _, f in fits), 10])
    fig, ax = plt.subplots(figsize=(13, 6))
    ns = [top_n * i / 100 for i in range(101)]
    for app, fit in fits:
        color = COLORS.get(app.app)
        ax.plot(
            ns,
            [max(1, fit.at(n)) for n in ns],
            DASHES.get(fit.label, "-"),
            color=color,
            label=f"{app.app} {fit.label}: {fit.fixed} + {fit.per_op:.1f}·n",
        )
        ax.plot([fit.operations], [max(1, fit.churn)], "o", color=color)
        if fit.label != "as built":
            continue  # one label per app; the legend names the other lines
        ax.annotate(
            f"measured: {fit.operations} ops, {fit.churn} lines",
            (fit.operations, max(1, fit.churn)),
            textcoords="offset points",
            xytext=(6, -12),
            fontsize=8,
            color=color,
        )
    for app, fit in fits:
        ax.plot([s.operations], [max(1, fit.at(s.operations))], "s", color=COLORS.get(app.app), markerfacecolor="white")
    if s.direct_lines:
        ax.plot(
            [s.operations],
            [s.direct_lines],
            "*",
            markersize=14,
            color=COLORS["direct_calls"],
            label=f"seed, direct calls: {s.direct_lines:,} lines at {s.operations}+ calls",
        )
    if s.event_lines:
        ax.plot(
            [s.operations],
            [s.event_lines],
            "*",
            markersize=14,
            color=COLORS["event_driven"],
            label=f"seed, event-driven: {s.event_lines:,} lines at {s.operations}+ calls",
        )
    ax.axvline(s.operations, color="#999", linestyle=":", linewidth=1)
    notes = []
    for app, fit in fits:
        target = s.direct_lines if family(app.app) == "direct" else s.event_lines
        if target:
            n = fit.operations_for(target)
            where = f"at n ≈ {n:,.0f}" if n is not None else "never (nothing in it scales with n)"
            if fit.fixed >= target:
                where = f"already at n = 0 (fixed cost {fit.fixed:,})"
            notes.append(f"{app.app} {fit.label} reaches the seed's {target:,} lines {where}")
    if notes:
        ax.text(
            0.01,
            0.99,
            "\n".join(notes),
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8},
        )
    ax.set_yscale("log")
    ax.set_xlabel("operations between services (n)")
    ax.set_ylabel("migration cost: code lines added + removed (log scale)")
    ax.set_title("Migration cost model: fixed + per-operation, extrapolated to the seed's scenario")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if not fits:
        ax.text(0.5, 0.5, "not measured: no split tree yet", transform=ax.transAxes, ha="center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(m: Measurement, out: Path) -> list[Path]:
    return [
        lines_by_category(m, out / "lines_by_category.png"),
        total_cost(m, out / "total_cost.png"),
        extrapolation(m, out / "extrapolation.png"),
    ]
