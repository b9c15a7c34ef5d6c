"""The deadline of the call being served, so the calls a service makes meanwhile fit inside it.

The api gives each remote call ``Settings.call_timeout_s``. The service serving it knows how long its
caller will wait (gRPC carries the deadline itself, the HTTP transport in the ``X-Timeout-Ms``
header) and gives its own downstream calls at most what is left, minus a margin per hop. So an inner
call times out first, the service compensates and answers, and the outer caller gets that answer
instead of timing out while the inner work is still undone.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from shared.domain import DeadlineExceeded

HOP_MARGIN_S = 0.25
"""Time kept back per hop for the service to compensate and answer after its downstream call failed."""

_deadline: ContextVar[float | None] = ContextVar("direct_calls_deadline", default=None)


@contextmanager
def within(timeout_s: float | None) -> Iterator[None]:
    """Inside the block, the current call must end within ``timeout_s`` seconds (None: no deadline)."""
    token = _deadline.set(None if timeout_s is None else time.monotonic() + timeout_s)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left of the current call's deadline (negative once passed); None without a deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def budget(timeout_s: float) -> float:
    """How long a downstream call started now may take: ``timeout_s``, or less if the current call ends sooner.

    Raises ``DeadlineExceeded`` when nothing is left for it.
    """
    left = remaining()
    if left is None:
        return timeout_s
    left -= HOP_MARGIN_S
    if left <= 0:
        raise DeadlineExceeded("the deadline of this call passed before its downstream call could start")
    return min(timeout_s, left)
