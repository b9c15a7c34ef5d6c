"""Capacity: the search for the highest offered rate a server holds, and what a finished search says.

The search (:class:`Search`) steps the offered rate up geometrically from a start until a step fails (or down
from the start until one holds, when the first step already fails), then bisects between the last step that held
and the first that failed. There is no fixed top: it stops when it has refined enough, when a step is invalid (the
load generator saturated: it cannot offer more), or after a guard number of steps. Whether a step held is decided
by :func:`loadtest.stats.step_verdict` alone, through :func:`judge`, both while the search runs
(:mod:`loadtest.capacity_run`) and when the summary is built (:func:`summarize_run`), on the same request window
and resource samples.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loadtest.sampler import generator_cpu_frac
from loadtest.stats import HeldRule, Request, Verdict, read_request_log, spread, step_verdict, window_stats

STEPS_FILE = "steps.json"
REQUESTS_FILE = "requests.csv.gz"


@dataclass(frozen=True)
class SearchPlan:
    start_rps: float
    factor: float = 2.0
    refine: int = 3  # bisections between the last good and the first bad step
    quantum_rps: float = 1.0  # offered rates are whole numbers of users: multiples of one user's rate
    max_steps: int = 30  # a guard against a runaway search, not a top rate


@dataclass
class Search:
    """Which offered rate to try next, given the verdicts so far (pure: no clock, no I/O)."""

    plan: SearchPlan
    good: float | None = None  # highest rate that held
    bad: float | None = None  # lowest rate that failed
    refined: int = 0
    stopped: str | None = None
    history: list[tuple[float, Verdict]] = field(default_factory=list)

    def _quantize(self, rate: float) -> float:
        q = self.plan.quantum_rps
        return max(q, math.ceil(rate / q - 1e-9) * q)

    def next_rate(self) -> float | None:
        """The next offered rate, or None when the search is over (``stopped`` says why)."""
        if self.stopped:
            return None
        if len(self.history) >= self.plan.max_steps:
            self.stopped = f"step limit ({self.plan.max_steps} steps)"
            return None
        if not self.history:
            return self._quantize(self.plan.start_rps)
        if self.bad is None:  # still climbing
            return self._quantize(self.good * self.plan.factor)
        if self.good is None:  # the first step failed: come down until one holds
            rate = self._quantize(self.bad / self.plan.factor)
            if rate >= self.bad:
                self.stopped = f"fails even at {self.bad:g} rps (one user)"
                return None
            return rate
        if self.refined >= self.plan.refine:
            self.stopped = f"refined {self.refined} time(s) between {self.good:g} and {self.bad:g} rps"
            return None
        rate = self._quantize(math.sqrt(self.good * self.bad))
        if rate >= self.bad or rate <= self.good:
            self.stopped = f"resolution reached between {self.good:g} and {self.bad:g} rps"
            return None
        return rate

    def record(self, rate: float, verdict: Verdict) -> None:
        refining = self.good is not None and self.bad is not None
        self.history.append((rate, verdict))
        if verdict.outcome == "invalid":
            self.stopped = f"{rate:g} rps step invalid: {verdict.why}"
            return
        if verdict.held:
            self.good = rate if self.good is None else max(self.good, rate)
        else:
            self.bad = rate if self.bad is None else min(self.bad, rate)
        if refining:
            self.refined += 1


def judge(
    requests: Sequence[Request], t0: float, t1: float, offered_rps: float, samples: list[dict], rule: HeldRule,
    users: tuple[int, int] | None = None,
) -> tuple[Verdict, dict, float | None]:
    """The verdict of the step ``[t0, t1)``: its request figures, the generator's busiest process and (when known)
    the users it ran of those asked for, through THE rule."""
    stats = window_stats(requests, t0, t1)
    gen = generator_cpu_frac(samples, t0, t1)
    return step_verdict(stats, offered_rps, gen, rule, users), stats, gen


# --------------------------------------------------------------------------- a finished search, from its raw files


def summarize_run(run_dir: Path, options: dict) -> dict:
    """Every step of one capacity search recomputed from the raw files, and the capacity it found.

    ``live_agrees`` checks that the verdict recomputed here is the one the search acted on.
    """
    record = json.loads((run_dir / STEPS_FILE).read_text()) if (run_dir / STEPS_FILE).exists() else None
    if not record or not record.get("steps"):
        return {"valid": False, "invalid_reason": "no capacity steps recorded", "steps": []}
    # runs before the live search kept one plain request log and a boolean verdict per step
    requests = read_request_log(run_dir / REQUESTS_FILE) or read_request_log(run_dir / "requests.csv")
    resources = json.loads((run_dir / "resources.json").read_text()) if (run_dir / "resources.json").exists() else {}
    samples = resources.get("samples", [])
    rule = HeldRule.from_options(options)
    steps = []
    for step in record["steps"]:
        users = (step["gen_users"], step["users"]) if step.get("gen_users") is not None else None
        verdict, stats, gen = judge(requests, step["t0"], step["t1"], step["offered_rps"], samples, rule, users)
        steps.append(
            {
                **stats,
                "t0": step["t0"],
                "t1": step["t1"],
                "offered_rps": step["offered_rps"],
                "users": step["users"],
                "outcome": verdict.outcome,
                "held": verdict.held,
                "why": verdict.why,
                "gen_cpu_frac": gen,
                "live_outcome": step.get("outcome") or ("held" if step.get("held") else "failed"),
            }
        )
    return {
        **outcome_of(steps),
        "stopped": record.get("stopped"),
        "live_agrees": all(s["outcome"] == s["live_outcome"] for s in steps),
    }


def outcome_of(steps: list[dict]) -> dict:
    """The capacity a list of judged steps shows: the achieved rate of the highest offered rate that held."""
    held = [s for s in steps if s["outcome"] == "held"]
    failed = [s for s in steps if s["outcome"] == "failed"]
    invalid = [s for s in steps if s["outcome"] == "invalid"]
    first_bad = min(failed, key=lambda s: s["offered_rps"]) if failed else None
    if first_bad is not None:  # the search only tries rates below a failed one; older runs did not always
        held = [s for s in held if s["offered_rps"] < first_bad["offered_rps"]]
    best = max(held, key=lambda s: s["offered_rps"]) if held else None
    row: dict = {"steps": steps, "valid": True, "generator_bound": bool(invalid) and first_bad is None}
    if first_bad is not None:
        row["limited_by"] = f"{first_bad['offered_rps']:g} rps step: {first_bad['why']}"
    elif invalid:
        row["limited_by"] = f"{invalid[0]['offered_rps']:g} rps step: {invalid[0]['why']}"
    else:
        row["limited_by"] = "no step failed"
    if best is None:
        row.update({"capacity_rps": 0.0, "capacity_offered_rps": 0.0, "below_first_step": True})
        return row
    row.update(
        {
            "capacity_rps": best["rps"],
            "capacity_offered_rps": best["offered_rps"],
            "p95_at_capacity_ms": best["p95_ms"],
            "at_least": first_bad is None,  # no failing step above it: the capacity is at least this
        }
    )
    return row


def aggregate(block: dict) -> None:
    """Medians over the repetitions of one variant × scenario (``block["runs"]``), in place."""
    runs = [r for r in block["runs"] if r.get("valid")]
    for key in ("capacity_rps", "capacity_offered_rps", "p95_at_capacity_ms"):
        block[key] = spread(r.get(key) for r in runs)
    block["limited_by"] = [r.get("limited_by") for r in runs]
    block["generator_bound"] = any(r.get("generator_bound") for r in runs)
    block["at_least"] = bool(runs) and any(r.get("at_least") for r in runs)
    block["below_first_step"] = bool(runs) and all(r.get("below_first_step") for r in runs)
    block["steps_per_run"] = spread(len(r["steps"]) for r in runs)
    block["live_agrees"] = all(r.get("live_agrees", True) for r in runs)
