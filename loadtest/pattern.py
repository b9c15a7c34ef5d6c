"""The deterministic result stream of the ``ingest`` and ``mixed`` scenarios.

Every stream target gets rule parameters from its index ``k`` and a result pattern from its sequence
number ``seq``, so the alerts and notifications a run must produce are known in advance: they are
computed by replaying the accepted results through :func:`shared.rules.evaluate` (the rules are not
re-implemented here).
"""

from __future__ import annotations

from dataclasses import dataclass

FAST_MS = 20.0
SLOW_MS = 400.0
LATENCY_THRESHOLD_MS = 250
RESULTS_PER_TARGET = 48
"""A stream moves on to a new target after this many results (keeps read-backs small)."""

# One cycle of 16 results: (ok, slow). Failure runs of 3, 2 and 1 open a ``down`` alert depending on the
# target's threshold (2 or 3); the slow pair opens a ``slow`` alert on targets with a latency threshold.
# Stream ``k`` starts at position ``k`` of the cycle, so the streams are out of phase.
_CYCLE: tuple[tuple[bool, bool], ...] = (
    (False, False),
    (False, False),
    (False, False),
    (True, False),
    (True, True),
    (True, True),
    (True, False),
    (False, False),
    (False, False),
    (True, False),
    (True, False),
    (False, False),
    (True, False),
    (True, False),
    (True, False),
    (True, False),
)


@dataclass(frozen=True)
class StreamParams:
    failure_threshold: int
    latency_threshold_ms: int | None
    webhook_url: str | None = None


def params_for(k: int) -> StreamParams:
    """Rule parameters of stream target number ``k``."""
    return StreamParams(failure_threshold=2 + k % 2, latency_threshold_ms=None if k % 3 == 1 else LATENCY_THRESHOLD_MS)


def result_for(k: int, seq: int) -> tuple[bool, float]:
    """``(ok, latency_ms)`` of result ``seq`` (0-based) of stream target ``k``."""
    ok, slow = _CYCLE[(seq + k) % len(_CYCLE)]
    if not ok:
        return False, 0.0
    return True, SLOW_MS if slow else FAST_MS + (seq % 7)
