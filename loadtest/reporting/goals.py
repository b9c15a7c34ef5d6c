"""The single-process goals, checked against this run: capacity as shares of the HTTP ceiling and of the monolith,
latency at half of capacity, the added cost per hop against its transport floor, and how far the repetitions of one
search agree. Every figure is recomputed from the summary; a goal the run did not measure reads "not measured".
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median

from harness.topology import VARIANTS
from loadtest.reporting.tables import num, table

GOALS = {
    "monolith_ingest_share": 0.40,  # POST-only traffic: a share of the ceiling's capacity in the same scenario
    "monolith_read_share": 0.60,  # read-heavy traffic (mixed: 60% reads) against the same goal as GET
    "split_share": 0.70,  # a split's capacity as a share of its monolith's, per scenario
    "p99_half_ms": 50.0,  # p99 at the step nearest half of capacity
    "per_hop": 1.5,  # added sequential p50 per hop ÷ its transport floor's p50
    "agreement": 0.20,  # (max − min) ÷ max of one search's capacity over the repetitions
}

MONOLITH_SCENARIOS = {"ingest": "monolith_ingest_share", "mixed": "monolith_read_share"}


def section(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    if not summary["options"].get("capacity") and not summary.get("overhead"):
        return []
    rows = _share_rows(summary) + _half_capacity_rows(summary) + _hop_rows(summary) + _agreement_rows(summary)
    if not rows:
        return []
    met = sum(1 for r in rows if r[-1] == "yes")
    judged = sum(1 for r in rows if r[-1] in ("yes", "no"))
    return [
        "## Against the single-process goals",
        "",
        "What this run shows against the goals set for one process at full speed. Shares compare capacities of the "
        "same scenario in this run; *ingest* is POST-only traffic (goal ≥ 40% of the ceiling), *mixed* is 60% reads "
        "(held to the read goal, ≥ 60%). p99 at half of capacity is the offered-rate step nearest half of the capacity "
        "found, median over the repetitions. Agreement is (max − min) ÷ max of one search's capacity over the "
        "repetitions of this run (the warm-started searches of repetitions 2 and 3 included).",
        "",
        table(["goal", "variant", "scenario", "measured", "goal value", "met"], rows),
        "",
        f"{met} of {judged} checks met.",
        "",
        *_profiles(out),
    ]


def _profiles(out: Path) -> list[str]:
    """Where one process's time goes, from the profiles ``python -m loadtest.profile`` wrote under ``out/profiles``
    (a separate command, run on the same machine: it says at which revision)."""
    records = []
    for path in sorted((out / "profiles").glob("*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    if not records:
        return []
    md = [
        "Why: where a process's busy time goes under closed-loop load, from py-spy profiles "
        "(`python -m loadtest.profile`, files under [`profiles/`](profiles/); not part of this run's timings):",
        "",
        "| variant · process · request | busy samples | largest layers (share of busy samples) |",
        "|---|---|---|",
    ]
    for r in records:
        layers = "; ".join(f"{name} {share:.0%}" for name, share in r.get("layers", [])[:4])
        md.append(f"| `{r['variant']}` · {r['process']} · {r['kind'].upper()} (revision `{r.get('revision', '?')}`) | "
                  f"{r.get('samples', 0):,} | {layers} |")
    md.append("")
    for r in records:
        own = [(frame, share) for frame, share in r.get("functions", []) if APP_FRAME in frame][:4]
        if own:
            md.append(f"- `{r['variant']}` {r['kind'].upper()}: the app's functions most on the stack: "
                      + "; ".join(f"`{frame}` {share:.0%}" for frame, share in own) + ".")
    return [*md, ""]


APP_FRAME = "(shared/"
"""Frames of the shared domain and storage code (where the app's own time goes, whichever variant)."""


def _capacity(block: dict | None) -> float | None:
    if not block or block.get("below_first_step") or block.get("generator_bound"):
        return None
    return (block.get("capacity_rps") or {}).get("median")


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("yes" if ok else "no")


def _share_rows(summary: dict) -> list[list[str]]:
    capacity, ceiling = summary.get("capacity", {}), summary.get("ceiling", {})
    rows = []
    for v in summary["variants"]:
        spec = VARIANTS.get(v)
        if spec is None or v not in capacity:
            continue
        if not spec.is_split:
            for s, goal in MONOLITH_SCENARIOS.items():
                mine, top = _capacity(capacity[v].get(s)), _capacity(ceiling.get(s))
                share = mine / top if mine is not None and top else None
                rows.append(
                    ["capacity ÷ HTTP ceiling", f"`{v}`", s, _pct(share), f"≥ {GOALS[goal]:.0%}", _check(share, GOALS[goal])]
                )
        else:
            for s in summary["scenarios"]:
                mine, base = _capacity(capacity[v].get(s)), _capacity(capacity.get(spec.monolith or "", {}).get(s))
                share = mine / base if mine is not None and base else None
                rows.append(
                    [f"capacity ÷ `{spec.monolith}`", f"`{v}`", s, _pct(share), f"≥ {GOALS['split_share']:.0%}",
                     _check(share, GOALS["split_share"])]
                )
    return rows


def _half_capacity_rows(summary: dict) -> list[list[str]]:
    rows = []
    for v, per in summary.get("capacity", {}).items():
        for s, block in per.items():
            p99s = [p for p in (_p99_near_half(run) for run in _valid(block)) if p is not None]
            value = median(p99s) if p99s else None
            ok = None if value is None else value <= GOALS["p99_half_ms"]
            rows.append(["p99 at half of capacity", f"`{v}`", s, f"{num(value, 0)} ms", f"≤ {GOALS['p99_half_ms']:g} ms",
                         _verdict(ok)])
    return rows


def _p99_near_half(run: dict) -> float | None:
    found = run.get("capacity_offered_rps")
    held = [s for s in run.get("steps", []) if s.get("outcome") == "held" and s.get("p99_ms") is not None]
    if not found or not held:
        return None
    return min(held, key=lambda s: abs(s["offered_rps"] - found / 2))["p99_ms"]


def _hop_rows(summary: dict) -> list[list[str]]:
    rows = []
    for v, o in summary.get("overhead", {}).items():
        for kind in ("get", "post"):
            ratio = o.get(f"{kind}_per_hop_ratio", o.get(f"{kind}_ratio"))
            rows.append(["added p50 per hop ÷ transport floor", f"`{v}`", kind.upper(), f"{num(ratio, 1)}×",
                         f"≤ {GOALS['per_hop']:g}×", _verdict(None if ratio is None else ratio <= GOALS["per_hop"])])
    return rows


def _agreement_rows(summary: dict) -> list[list[str]]:
    rows = []
    blocks = [("HTTP ceiling", s, b) for s, b in summary.get("ceiling", {}).items()]
    blocks += [(f"`{v}`", s, b) for v, per in summary.get("capacity", {}).items() for s, b in per.items()]
    for name, s, block in blocks:
        caps = [r["capacity_rps"] for r in _valid(block) if r.get("capacity_rps")]
        if len(caps) < 2:
            continue
        gap = (max(caps) - min(caps)) / max(caps)
        rows.append(["repetitions agree", name, s, f"{gap:.0%} apart (n={len(caps)})", f"≤ {GOALS['agreement']:.0%}",
                     _verdict(gap <= GOALS["agreement"])])
    return rows


def _valid(block: dict) -> list[dict]:
    """The searches a block's medians are taken over (not the invalid or excluded ones)."""
    return [r for r in block.get("runs", []) if r.get("valid", True)]


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def _check(share: float | None, goal: float) -> str:
    return _verdict(None if share is None else share >= goal)
