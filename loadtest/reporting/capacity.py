"""Capacity: the highest offered rate each variant held under the SLO, per scenario."""

from __future__ import annotations

from pathlib import Path

from loadtest.reporting.tables import fmt, table


def section(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    opts = summary["options"]
    variants = summary["variants"]
    scenarios = summary["scenarios"]
    md: list[str] = []
    capacity = summary["capacity"]
    if opts.get("capacity"):
        md += [
            "## Capacity",
            "",
            f"Highest achieved rate of a step that held (p95 < {opts.get('slo_ms', 0):g} ms, errors < "
            f"{opts.get('max_error_rate', 0.01):.0%}, offered rate reached). One capacity run per scenario over the "
            "repetitions unless `--capacity-per-rep` says otherwise; per-step figures are recomputed from the request log.",
            "",
        ]
        rows = []
        for v in variants:
            if v in summary["not_run"]:
                rows.append([f"`{v}`"] + [summary["not_run"][v]] + [""] * (len(scenarios) - 1) + [""])
                continue
            cells = []
            why = []
            for scenario in scenarios:
                b = capacity.get(v, {}).get(scenario)
                if not b or b.get("capacity_rps", {}).get("median") is None:
                    cells.append("not measured")
                    continue
                text = fmt(b["capacity_rps"], 0) + " rps"
                if b.get("below_first_step"):
                    text = f"< {b['first_step_rps']:g} rps"
                elif b.get("all_held"):
                    text = "≥ " + text
                if b.get("generator_bound"):
                    text += " (generator-bound)"
                cells.append(text)
                why += [f"{scenario}: {w}" for w in b.get("limited_by", []) if w]
            rows.append([f"`{v}`", *cells, "; ".join(why)])
        md += [table(["variant", *scenarios, "limited by"], rows), ""]
        if "capacity" in charts:
            md += [f"![capacity]({charts['capacity']})", ""]
    return md
