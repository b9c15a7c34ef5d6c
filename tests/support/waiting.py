"""Wait for asynchronous effects by polling, never with a fixed sleep."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_UNSET = object()


def wait_until(
    fn: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition not met",
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``fn`` until it returns a truthy value and return that value.

    Raises ``AssertionError`` with ``message`` (a string, or a callable giving one) and the last value
    ``fn`` returned after ``timeout`` seconds. An exception raised by ``fn`` is not swallowed unless its
    type is in ``ignore`` (e.g. ``requests.ConnectionError`` while a process restarts): then it counts
    as a falsy value and is reported as the last value. ``fn`` is always called at least once, and once
    more at the deadline.
    """
    deadline = time.monotonic() + timeout
    last: object = _UNSET
    while True:
        try:
            last = fn()
        except ignore as error:
            last = error
        else:
            if last:
                return last  # type: ignore[return-value]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))
    text = message() if callable(message) else message
    raise AssertionError(f"{text} (waited {timeout:.1f}s; last value: {last!r})")


def wait_for_count(fn: Callable[[], list], expected: int, timeout: float = 10.0, message: str = "") -> list:
    """Wait until ``fn()`` returns a list of exactly ``expected`` items, and return it."""
    holder: dict[str, list] = {}

    def probe() -> bool:
        holder["items"] = fn()
        return len(holder["items"]) == expected

    try:
        wait_until(probe, timeout=timeout, message=message or f"expected {expected} items")
    except AssertionError as error:
        raise AssertionError(f"{error}; last items: {holder.get('items')!r}") from None
    return holder["items"]
