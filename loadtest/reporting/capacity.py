"""Capacity: the limit each variant holds under the SLO, per scenario, beside the HTTP ceiling measured the same way."""

from __future__ import annotations

from pathlib import Path

from loadtest.reporting.tables import fmt, table

CEILING = "HTTP ceiling"


def section(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    opts = summary["options"]
    if not opts.get("capacity"):
        return []
    md = ["## Capacity", "", *_method(opts, summary), ""]
    md += [table(*_table(summary)), ""]
    md += _notes(summary)
    if "latency_throughput" in charts:
        md += [
            f"![latency against throughput]({charts['latency_throughput']})",
            "",
            "Latency against achieved throughput, every step of one search per variant (the repetition with the median "
            "capacity), up to and past the first step that failed (×); p50 solid, p99 dashed; the dotted line is the "
            "p95 SLO.",
            "",
        ]
    if "capacity" in charts:
        md += [f"![capacity]({charts['capacity']})", ""]
    return md


def _method(opts: dict, summary: dict) -> list[str]:
    if "capacity_start" not in opts:  # a run from before the search: a fixed ladder of offered rates
        ladder = ", ".join(f"{r:g}" for r in opts.get("capacity_steps", []))
        return [
            f"This run used a fixed ladder of offered rates ({ladder} requests/s, {opts.get('capacity_step_s', 0):g} s per "
            f"step); a step holds when p95 < {opts.get('slo_ms', 0):g} ms, errors < {opts.get('max_error_rate', 0.01):.0%} "
            "and the offered rate is reached, recomputed here from the request logs. No HTTP ceiling was measured."
        ]
    return [
        f"A search per variant and scenario: the offered rate starts at {opts.get('capacity_start', 0):g} requests/s and is "
        f"multiplied by {opts.get('capacity_factor', 0):g} each step until a step fails, then bisected "
        f"{opts.get('capacity_refine', 0)} time(s) between the last step that held and the first that failed; there is no "
        f"top rate. Each step settles for {opts.get('capacity_ramp_s', 0):g} s, then {opts.get('capacity_step_s', 0):g} s "
        f"are measured; {opts.get('capacity_processes', 1)} locust worker process(es) offer the load "
        f"({opts.get('capacity_user_rate', 0):g} requests/s per user).",
        "",
        f"A step **holds** when p95 < {opts.get('slo_ms', 0):g} ms, errors < {opts.get('max_error_rate', 0.01):.0%} and at "
        f"least {opts.get('min_achieved', 0.8):.0%} of the offered rate is achieved; a step during which a load-generator "
        f"process used more than {opts.get('gen_cpu_limit', 0.9):.0%} of one core is **invalid** (not quoted, and the "
        "search stops: it cannot offer more). One function decides this, both while the search runs and when this "
        "report recomputes every step from the request logs and CPU samples.",
        "",
        "Capacity = the achieved rate of the highest step that held; the median (min–max) of a scenario's searches over "
        f"the repetitions ({opts.get('capacity_per_rep', 1)} scenario(s) per repetition, rotating). The **{CEILING}** "
        "is the same search against a trivial Flask app (parses the result body, answers "
        "202, stores nothing) on exactly the variants' gunicorn settings, behind the same balancer: what one such "
        "process serves here when the "
        "application does nothing. Each variant's capacity is also given as a share of the ceiling's in that scenario.",
    ]


def _cell(block: dict | None, ceiling: dict | None) -> str:
    if not block or not block.get("runs"):
        return "not measured"
    if block.get("capacity_rps", {}).get("median") is None:
        return "no valid search"
    if block.get("below_first_step"):
        return "no step held"
    text = fmt(block["capacity_rps"], 0) + " rps"
    if block.get("at_least"):
        text = "≥ " + text
    if block.get("generator_bound"):
        text += " (generator-bound)"
    top = (ceiling or {}).get("capacity_rps", {}).get("median")
    mine = block["capacity_rps"]["median"]
    if top and ceiling is not block:
        text += f" · {mine / top:.0%} of ceiling"
    return text


def _table(summary: dict) -> tuple[list[str], list[list[str]]]:
    capacity, ceiling = summary["capacity"], summary.get("ceiling", {})
    measured = [s for s in summary["scenarios"] if s in ceiling or any(s in per for per in capacity.values())]
    scenarios = measured or summary["scenarios"]
    rows = []
    if ceiling:
        rows.append([f"**{CEILING}**", *(_cell(ceiling.get(s), ceiling.get(s)) for s in scenarios), _why(ceiling)])
    for v in summary["variants"]:
        if v in summary["not_run"]:
            rows.append([f"`{v}`", summary["not_run"][v], *[""] * (len(scenarios) - 1), ""])
            continue
        per = capacity.get(v, {})
        rows.append([f"`{v}`", *(_cell(per.get(s), ceiling.get(s)) for s in scenarios), _why(per)])
    return ["", *scenarios, "limited by (each search)"], rows


def _why(per_scenario: dict) -> str:
    return "; ".join(f"{s}: {w}" for s, block in per_scenario.items() for w in block.get("limited_by", []) if w)


def _notes(summary: dict) -> list[str]:
    blocks = [b for per in summary["capacity"].values() for b in per.values()] + list(summary.get("ceiling", {}).values())
    runs = [r for b in blocks for r in b.get("runs", [])]
    disagree = [r["dir"] for r in runs if r.get("live_agrees") is False]
    steps = [len(r.get("steps", [])) for r in runs]
    md = []
    if steps:
        md.append(f"- {len(runs)} search(es), {min(steps)}–{max(steps)} steps each.")
    if disagree:
        md.append("- The live verdict differs from the recomputed one in: " + ", ".join(f"`{d}`" for d in disagree) + ".")
    elif runs:
        md.append("- In every step the verdict the search acted on is the one recomputed here.")
    invalid = sum(1 for r in runs for s in r.get("steps", []) if s.get("outcome") == "invalid")
    if invalid:
        md.append(f"- {invalid} step(s) invalid: the load generator saturated, or did not run the users asked for "
                  "(not quoted).")
    for item in summary.get("excluded", []):
        md.append(f"- Excluded from the medians (kept in the raw data): `{item['dir']}`: {item['reason']}")
    return [*md, ""] if md else []
