"""The alert rules of the public contract, as pure functions over a per-target rule state."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from .domain import AlertKind, RuleParams


@dataclass(frozen=True)
class RuleState:
    """What alerting remembers about one target between results."""

    consecutive_failures: int = 0
    down_open: bool = False
    slow_open: bool = False


@dataclass(frozen=True)
class Transition:
    kind: AlertKind
    action: Literal["open", "resolve"]


def evaluate(state: RuleState, ok: bool, latency_ms: float, params: RuleParams) -> tuple[RuleState, list[Transition]]:
    """Apply one result to ``state``; return the new state and the alert transitions it causes.

    - ``failure_threshold`` consecutive failures with no open ``down`` alert open one;
    - the first ok result while ``down`` is open resolves it;
    - with ``latency_threshold_ms`` set, an ok result slower than it opens ``slow`` if none is open,
      and an ok result at or under it resolves an open one.
    Failed results never touch the ``slow`` alert (a failed probe's latency says nothing about slowness).
    """
    transitions: list[Transition] = []
    if not ok:
        failures = state.consecutive_failures + 1
        new = replace(state, consecutive_failures=failures)
        if not state.down_open and failures >= params.failure_threshold:
            new = replace(new, down_open=True)
            transitions.append(Transition("down", "open"))
        return new, transitions

    new = replace(state, consecutive_failures=0)
    if state.down_open:
        new = replace(new, down_open=False)
        transitions.append(Transition("down", "resolve"))
    threshold = params.latency_threshold_ms
    if threshold is not None:
        if latency_ms > threshold and not state.slow_open:
            new = replace(new, slow_open=True)
            transitions.append(Transition("slow", "open"))
        elif latency_ms <= threshold and state.slow_open:
            new = replace(new, slow_open=False)
            transitions.append(Transition("slow", "resolve"))
    return new, transitions
