"""The plan of a compare run: which steps, in which order, and how long each should take.

Repetitions are interleaved (repetition 1 of every variant, then repetition 2, ...) and the variant order
rotates between them; capacity runs rotate through the scenarios; fault scenarios run on split variants in
the last repetition. Then the network runs (:mod:`loadtest.network`): each split variant behind the delay relay at
each round-trip time (``start``, ``sequential``, ``capacity`` at the lowest and highest RTT, ``stop`` steps carrying
``rtt_ms``). The scale runs come last: each scale variant started on PostgreSQL at each
replica count (``start``, ``scale``, ``stop`` steps carrying ``replicas``). ``Progress`` prints where the run is,
rescaling the remaining estimate as steps finish.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from harness.topology import VARIANTS
from loadtest import network
from loadtest.options import DATABASE, DATABASE_FAULTS, STREAM_SCENARIOS, Options


@dataclass
class Step:
    rep: int
    kind: str  # floors | ceiling | start | sequential | fixed | capacity | faults | scale | stop | traces | report
    variant: str | None = None
    scenario: str | None = None
    replicas: int | None = None  # scale runs only: copies of every process, on PostgreSQL
    rtt_ms: float | None = None  # network runs only: the round-trip time the delay relay adds per hop
    est_s: float = 0.0
    status: str = "planned"
    reason: str | None = None
    actual_s: float | None = None
    dir: str | None = None
    brief: str | None = None

    @property
    def label(self) -> str:
        parts = [f"rep {self.rep}"] if self.rep else []
        if self.variant:
            parts.append(self.variant + (f" ×{self.replicas} on postgres" if self.replicas else ""))
        if self.rtt_ms is not None:
            parts.append(f"network RTT {self.rtt_ms:g} ms")
        what = self.kind if not self.scenario else f"{self.kind} {self.scenario}"
        return " · ".join([*parts, what])

    @property
    def block(self) -> tuple:
        """The steps between one start and its stop share this."""
        return (self.rep, self.variant, self.replicas, self.rtt_ms)


def capacity_scenarios(options: Options, rep: int) -> list[str]:
    if not options.capacity or not options.scenarios:
        return []
    n = len(options.scenarios)
    k = min(options.capacity_per_rep, n)
    # repetition 1 starts with the last scenario (mixed: the most representative when there is only one repetition)
    return [options.scenarios[(n - 1 + (rep - 1) * k + j) % n] for j in range(k)]


def scale_variants(options: Options, runnable: list[str]) -> list[str]:
    """The variants of the scale runs: those asked for that can run."""
    if not options.scale or not options.scale_replicas:
        return []
    return [v for v in options.scale_variants if v in runnable and not VARIANTS[v].is_plain]


def estimate(
    options: Options,
    kind: str,
    variant: str | None = None,
    scenario: str | None = None,
    replicas: int | None = None,
    warm: bool = False,
    rtt_ms: float | None = None,
) -> float:
    """Planned seconds of one step (calibrated on a 2-core machine; the progress line rescales them as steps finish).
    ``warm``: a capacity search that starts at the capacity an earlier repetition found. ``rtt_ms``: a network run's."""
    split = variant is not None and len(VARIANTS[variant].processes) > 1
    broker = variant is not None and VARIANTS[variant].needs_broker
    if replicas is not None:  # a scale run: PostgreSQL databases created and dropped, n copies of every process
        if kind == "start":
            return (2.0 if split else 0.8) + (1.0 if broker else 0.0) + 0.3 + (replicas - 1) * (0.8 if split else 0.2)
        if kind == "stop":
            return (1.2 if split else 0.5) + 0.3 + (replicas - 1) * (0.4 if split else 0.1)
        if kind == "scale":
            return scale_search_estimate(options, first=replicas == min(options.scale_replicas))
        if kind == "faults":
            return fault_duration(options, len(DATABASE_FAULTS)) + 2.5
    if rtt_ms is not None:
        if kind == "start":
            return estimate(options, kind, variant) + 0.3  # the relay first
        if kind == "sequential":
            return network.sequential_estimate(options, variant, rtt_ms)
    if kind == "floors":
        return 3.5 + (options.floor_calls + options.floor_warmup) * 0.004
    if kind == "start":
        return (2.2 if split else 1.0) + (1.0 if broker else 0.0)
    if kind == "stop":
        return 1.2 if split else 0.5
    if kind == "sequential":
        per_pair_s = 0.025 if split else 0.013
        return 0.5 + (options.seq_calls + options.seq_warmup + options.probe_results) * per_pair_s
    if kind == "fixed":
        return options.fixed_s + 0.8 + (0.4 if scenario in STREAM_SCENARIOS else 0.0)
    if kind in ("capacity", "ceiling"):
        if warm:
            return warm_search_estimate(options, options.capacity_refine) + (1.5 if kind == "ceiling" else 0.0)
        return search_estimate(options, CEILING_GUESS_RPS if kind == "ceiling" else VARIANT_GUESS_RPS) + (
            1.5 if kind == "ceiling" else 0.0
        )
    if kind == "faults":
        return fault_duration(options) + 2.5
    if kind == "traces":  # a start and a stop, then two sequential requests each, webhooks included
        return estimate(options, "start", variant) + estimate(options, "stop", variant) + 0.05 * options.trace_requests
    if kind == "report":
        return 5.0 + (10.0 if options.migration_diff else 0.0)  # the diff normally takes ~8 s (bounded at 30/90 s)
    return 1.0


VARIANT_GUESS_RPS = 600.0  # what the plan assumes a search finds (only the estimate uses these)
CEILING_GUESS_RPS = 2000.0


def scale_search_estimate(options: Options, first: bool) -> float:
    """A scale search: the first replica count climbs from the start like a capacity search; the next ones start at
    the capacity found before them."""
    if first:
        return search_estimate(options, VARIANT_GUESS_RPS, options.scale_refine)
    return warm_search_estimate(options, options.scale_refine)


def warm_search_estimate(options: Options, refine: int) -> float:
    """A search that starts at a capacity found before (an earlier repetition's, or fewer replicas'): one step up or
    down brackets it (usually), then the bisections."""
    steps = min(options.capacity_max_steps, 2 + refine)
    return 3.5 + steps * (options.capacity_ramp_s + options.capacity_step_s + 0.4)


def search_estimate(options: Options, capacity_rps: float, refine: int | None = None) -> float:
    """Seconds of one capacity search that finds ``capacity_rps``: the climb to the first failing step, the bisections,
    each step ramp + measured window + judging, and locust's start and stop (~3.5 s with worker processes)."""
    climb = (
        max(
            0,
            math.ceil(
                math.log(max(capacity_rps, options.capacity_start) / options.capacity_start) / math.log(options.capacity_factor)
            ),
        )
        + 1
    )
    steps = min(options.capacity_max_steps, climb + (options.capacity_refine if refine is None else refine))
    return 3.5 + steps * (options.capacity_ramp_s + options.capacity_step_s + 0.4)


def fault_duration(options: Options, faults: int | None = None) -> float:
    """Locust's run time in a fault scenario: warm-up, then per fault (``faults``, default the fault plan's): the
    window, the restart allowance, recovery."""
    return options.fault_pre_s + (len(options.fault_plan) if faults is None else faults) * (
        options.fault_window_s + restart_allowance(options) + options.fault_post_s
    )


def restart_allowance(options: Options) -> float:
    """Seconds planned for stopping (graceful shutdown) and restarting a service, on top of the window."""
    return 3.5 if options.quick else 5.0


def make_plan(options: Options, runnable: list[str]) -> list[Step]:
    plan: list[Step] = []
    for rep in range(1, options.reps + 1):
        if options.floors:
            plan.append(Step(rep, "floors", est_s=estimate(options, "floors")))
        if options.ceiling:
            for scenario in capacity_scenarios(options, rep):
                est = estimate(options, "ceiling", scenario=scenario, warm=rep > 1)
                plan.append(Step(rep, "ceiling", scenario=scenario, est_s=est))
        shift = (rep - 1) % max(1, len(runnable))
        order = runnable[shift:] + runnable[:shift]
        for variant in order:
            full = not VARIANTS[variant].is_plain  # a plain app's variant runs the fixed-rate scenarios only
            for kind, scenario in (
                [("start", None)]
                + ([("sequential", None)] if full and options.sequential and rep <= options.seq_reps else [])
                + [("fixed", s) for s in options.scenarios]
                + ([("capacity", s) for s in capacity_scenarios(options, rep)] if full else [])
                + (
                    [("faults", "ingest")]
                    if full and options.faults and rep == options.reps and len(VARIANTS[variant].processes) > 1
                    else []
                )
                + [("stop", None)]
            ):
                est = estimate(options, kind, variant, scenario, warm=kind == "capacity" and rep > 1)
                plan.append(Step(rep, kind, variant, scenario, est_s=est))
    if options.traces:  # apart from the timed runs: a variant of its own, traced (loadtest.traced_pass); every variant,
        plan += [Step(0, "traces", v, est_s=estimate(options, "traces", v)) for v in runnable]  # the plain ones too
    plan += network_steps(options, runnable)
    for variant in scale_variants(options, runnable):
        for n in options.scale_replicas:
            # a split's database restarted under load, once, at 2 replicas (the database server of the scale runs)
            faults = [("faults", DATABASE)] if options.faults and n == 2 and len(VARIANTS[variant].processes) > 1 else []
            for kind, scenario in (("start", None), ("scale", options.scale_scenario), *faults, ("stop", None)):
                plan.append(Step(0, kind, variant, scenario, n, est_s=estimate(options, kind, variant, scenario, n)))
    plan.append(Step(0, "report", est_s=estimate(options, "report")))
    return plan


def network_steps(options: Options, runnable: list[str]) -> list[Step]:
    """Each network variant at each RTT: start, sequential, the capacity search at the lowest and highest RTT, stop.
    The first search of a variant starts at the capacity its repetitions found in the scenario (when they searched
    it), the second at the first's."""
    steps: list[Step] = []
    searched = options.capacity and network.SCENARIO in options.scenarios and any(
        network.SCENARIO in capacity_scenarios(options, rep) for rep in range(1, options.reps + 1)
    )
    for variant in network.variants(options, runnable):
        warm = searched
        for rtt in options.network_rtts:
            capacity = [("capacity", network.SCENARIO)] if rtt in network.capacity_rtts(options) else []
            for kind, scenario in (("start", None), ("sequential", None), *capacity, ("stop", None)):
                est = estimate(options, kind, variant, scenario, warm=warm and kind == "capacity", rtt_ms=rtt)
                steps.append(Step(0, kind, variant, scenario, rtt_ms=rtt, est_s=est))
            warm = warm or bool(capacity)
    return steps


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60:d}:{seconds % 60:02d}"


# --------------------------------------------------------------------------- progress


class Progress:
    def __init__(self, plan: list[Step]):
        self.plan = plan
        self.started = time.monotonic()

    def remaining(self, index: int) -> float:
        done = [s for s in self.plan[:index] if s.actual_s is not None]
        planned_done = sum(s.est_s for s in done)
        actual_done = sum(s.actual_s for s in done)
        factor = min(2.0, max(0.6, actual_done / planned_done)) if planned_done > 20 else 1.0
        return factor * sum(s.est_s for s in self.plan[index:] if s.status == "planned")

    def show(self, index: int, extra: str = "") -> None:
        step = self.plan[index]
        elapsed = time.monotonic() - self.started
        print(f"[{fmt_duration(elapsed)} elapsed, ~{fmt_duration(self.remaining(index))} left] {step.label}{extra}", flush=True)

    @staticmethod
    def note(text: str) -> None:
        print(f"      {text}", flush=True)
