"""The network section: the split variants with a slow network between their processes.

Once per run (not per repetition), after the repetitions and before the scale runs: each split variant is started
with ``harness.launcher.start(network_delay_ms=RTT)`` (every peer address and the broker's behind the delay relay,
:mod:`harness.network_delay`) at each round-trip time of ``--network-rtts``, ascending. On each: the sequential round
trips of the *Sequential* section with fewer calls (``network_seq_calls``, ``network_probe_results``), and at the
lowest and the highest RTT only the capacity search in ``ingest`` (the result stream: the chain monitor → alerting →
notification, where the two designs differ), which starts at the capacity an earlier search of the variant found.

Raw files: ``<variant>/network/rtt<R>ms/`` with ``start.json``, ``sequential/`` and ``capacity-ingest/``, the same
files as the sections they come from. ``summarize`` gives the summary's ``network`` block.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.topology import VARIANTS
from loadtest import capacity as capacity_search
from loadtest.options import Options

SCENARIO = "ingest"
PATH_RTTS = {
    "direct_calls": {"get": 1, "post": 2},
    "event_driven": {"get": 2, "post": 3},
    "direct_plain": {"get": 1, "post": 2},  # as direct_calls: api → monitor, then monitor → alerting
    "event_plain": {"get": 2, "post": 2},
}
"""Round trips through the relay on the critical path of a sequential request, by app. Direct splits: a GET is one
call api → monitor; an ok result is the chain api → monitor → alerting (two calls, one inside the other). Event-split:
every message crosses two hops, sender → broker → receiver (the broker is a process of its own, as a broker pod
would be): a GET is a request and its reply, 2 RTTs; an ok result adds the monitor's confirmed publication of
``CheckCompleted`` (monitor → broker → monitor) before the reply, 3 RTTs. Event-plain-split: a call and its reply, 2
RTTs for both (the monitor's outbox publishes after its reply)."""
CAPACITY_KEYS = ("valid", "capacity_rps", "capacity_offered_rps", "p95_at_capacity_ms", "at_least", "below_first_step",
                 "generator_bound", "limited_by", "stopped", "live_agrees")


def variants(options: Options, runnable: list[str]) -> list[str]:
    """The variants of the network runs: the split ones asked for that can run."""
    if not options.network or not options.network_rtts:
        return []
    return [v for v in options.network_variants if v in runnable and VARIANTS[v].is_split and not VARIANTS[v].is_plain]


def capacity_rtts(options: Options) -> list[float]:
    """The round-trip times with a capacity search: the lowest and the highest."""
    rtts = sorted(options.network_rtts)
    return sorted({rtts[0], rtts[-1]}) if rtts else []


def rtt_key(rtt_ms: float) -> str:
    return f"{rtt_ms:g}"


def rtt_dir(rtt_ms: float) -> str:
    return f"rtt{rtt_key(rtt_ms)}ms"


def sequential_options(options: Options) -> Options:
    """The options of a network run's sequential step: the section's own call counts."""
    return dataclasses.replace(options, seq_calls=options.network_seq_calls, probe_results=options.network_probe_results)


def sequential_estimate(options: Options, variant: str, rtt_ms: float) -> float:
    """Seconds of a network run's sequential step: each pair of calls costs what it costs on the loopback plus the
    round trips on its path."""
    path = PATH_RTTS[VARIANTS[variant].app]
    per_pair_s = 0.025 + rtt_ms / 1000 * (path["get"] + path["post"])
    return 0.5 + (options.network_seq_calls + options.seq_warmup + options.network_probe_results) * per_pair_s


# --------------------------------------------------------------------------- summary


def summarize(raw: Path, steps: list[dict], options: dict) -> dict:
    """The summary's ``network`` block: per variant and RTT the sequential figures and the capacity, the latency added
    over the variant's lowest RTT (in ms and in RTTs), and the round trips each request's path has."""
    from loadtest.summarize import sequential_run  # the summary module imports this one

    per_variant: dict = {}
    for step in steps:
        rtt = step.get("rtt_ms")
        if rtt is None or step["status"] != "ok" or not step.get("dir"):
            continue
        entry = per_variant.setdefault(step["variant"], {}).setdefault(rtt_key(rtt), {"rtt_ms": rtt})
        if step["kind"] == "sequential":
            row = sequential_run(raw / step["dir"])
            if row:
                entry["sequential"] = {**row, "dir": step["dir"]}
        elif step["kind"] == "capacity":
            row = capacity_search.summarize_run(raw / step["dir"], options)
            entry["capacity"] = {**{k: row.get(k) for k in CAPACITY_KEYS}, "steps": len(row.get("steps", [])),
                                 "dir": step["dir"]}
    for per_rtt in per_variant.values():
        _added(per_rtt)
    return {
        "enabled": bool(options.get("network")),
        "rtts": options.get("network_rtts") or [],
        "scenario": SCENARIO,
        "variants": {v: per_variant[v] for v in sorted(per_variant, key=list(VARIANTS).index)},
        "path_rtts": {v: PATH_RTTS[VARIANTS[v].app] for v in per_variant},
    }


def _added(per_rtt: dict) -> None:
    """Latency over the lowest RTT that measured it (the base), in ms and in round trips, in place."""
    measured = sorted((e for e in per_rtt.values() if e.get("sequential")), key=lambda e: e["rtt_ms"])
    if not measured:
        return
    base = measured[0]
    for entry in measured:
        entry["base_rtt_ms"] = base["rtt_ms"]
        span = entry["rtt_ms"] - base["rtt_ms"]
        for kind in ("get", "post"):
            mine, theirs = entry["sequential"].get(f"{kind}_p50_ms"), base["sequential"].get(f"{kind}_p50_ms")
            added = mine - theirs if mine is not None and theirs is not None else None
            entry[f"added_{kind}_ms"] = added
            entry[f"added_{kind}_rtts"] = added / span if added is not None and span > 0 else None
