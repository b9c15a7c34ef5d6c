"""Small, dependency-free statistics shared by the locustfile and the harness.

Percentiles use linear interpolation between closest ranks on the raw (unrounded) samples.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REQUEST_LOG_FIELDS = ("start", "response_ms", "name", "ok", "status")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` (0..1) percentile of ``values``, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    pos = q * (len(ordered) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return percentile(present, 0.5)


def spread(values: Iterable[float | None]) -> dict:
    """Median, min, max and n of the present values (what the report quotes)."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": percentile(present, 0.5), "min": min(present), "max": max(present), "n": len(present)}


@dataclass(frozen=True)
class Request:
    start: float  # epoch seconds
    response_ms: float
    name: str
    ok: bool
    status: int

    @property
    def end(self) -> float:
        return self.start + self.response_ms / 1000.0


def read_request_log(path: Path) -> list[Request]:
    """The rows of a request log (``.csv``, or ``.csv.gz`` as capacity runs keep it)."""
    if not path.exists():
        return []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        return [
            Request(float(row["start"]), float(row["response_ms"]), row["name"], row["ok"] == "1", int(row["status"]))
            for row in csv.DictReader(handle)
        ]


def write_request_log(path: Path, rows: Iterable[tuple]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUEST_LOG_FIELDS)
        for start, response_ms, name, ok, status in rows:
            writer.writerow((f"{start:.6f}", f"{response_ms:.3f}", name, 1 if ok else 0, status))


def window_stats(requests: Sequence[Request], t0: float, t1: float) -> dict:
    """Figures of the requests that started in ``[t0, t1)``."""
    inside = [r for r in requests if t0 <= r.start < t1]
    times = [r.response_ms for r in inside]
    failures = sum(1 for r in inside if not r.ok)
    duration = max(t1 - t0, 1e-9)
    return {
        "requests": len(inside),
        "failures": failures,
        "error_rate": failures / len(inside) if inside else None,
        "rps": len(inside) / duration,
        "p50_ms": percentile(times, 0.50),
        "p95_ms": percentile(times, 0.95),
        "p99_ms": percentile(times, 0.99),
    }


@dataclass(frozen=True)
class HeldRule:
    """What a capacity step must meet to hold: p95 under the SLO, errors under the limit, the offered rate reached,
    and a load generator that was not saturated (no locust process above ``gen_cpu_limit`` of one core)."""

    slo_p95_ms: float
    max_error_rate: float = 0.01
    min_achieved: float = 0.8
    gen_cpu_limit: float = 0.9

    @classmethod
    def from_options(cls, options: dict) -> HeldRule:
        """The rule of a run, from its options (``run.json``) — the same values the live search used."""
        return cls(
            float(options["slo_ms"]),
            float(options.get("max_error_rate", 0.01)),
            float(options.get("min_achieved", 0.8)),
            float(options.get("gen_cpu_limit", 0.9)),
        )


@dataclass(frozen=True)
class Verdict:
    outcome: str  # held | failed | invalid (the load generator saturated: the step says nothing about the variant)
    why: str

    @property
    def held(self) -> bool:
        return self.outcome == "held"


def step_verdict(
    stats: dict, offered_rps: float, gen_cpu_frac: float | None, rule: HeldRule, users: tuple[int, int] | None = None
) -> Verdict:
    """THE rule for "held": whether one capacity step held, failed, or is invalid.

    The live search (deciding to go on) and the summary (what the report quotes) both call this, on the same
    request window and the same resource samples, so they cannot disagree. A step during which a load-generator
    process saturated its core is invalid whatever else happened: its latencies include the generator's own queueing.
    So is a step whose generator did not run the users it was asked for (``users``: running, asked; as the workers
    reported them when the step was judged): the offered rate was never offered.
    """
    if gen_cpu_frac is not None and gen_cpu_frac > rule.gen_cpu_limit:
        return Verdict("invalid", f"load generator saturated (a locust process at {gen_cpu_frac:.0%} of one core)")
    if users is not None and users[0] < users[1]:
        return Verdict("invalid", f"load generator ran {users[0]} of the {users[1]} users asked for")
    if not stats["requests"]:
        return Verdict("failed", "no requests")
    if stats["p95_ms"] is not None and stats["p95_ms"] > rule.slo_p95_ms:
        return Verdict("failed", f"p95 {stats['p95_ms']:.0f} ms > SLO {rule.slo_p95_ms:.0f} ms")
    if stats["error_rate"] is not None and stats["error_rate"] >= rule.max_error_rate:
        return Verdict("failed", f"errors {stats['error_rate']:.1%} >= {rule.max_error_rate:.0%}")
    if stats["rps"] < rule.min_achieved * offered_rps:
        return Verdict("failed", f"achieved {stats['rps']:.0f} rps < {rule.min_achieved:.0%} of offered {offered_rps:.0f}")
    return Verdict("held", "held")
