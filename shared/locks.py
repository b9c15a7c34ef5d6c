"""A lock per key (per target), so the threads of one process handle one key at a time."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Entry:
    __slots__ = ("lock", "users", "owner")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0  # threads holding or waiting for the lock
        self.owner: int | None = None  # the thread holding it


class KeyedLock:
    """Mutual exclusion per key among the threads of this process; the lock of a key is dropped once
    nobody holds or waits for it.

    Not re-entrant: a thread that asks for a key it holds gets ``RuntimeError`` at once (it would wait
    for itself).
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, _Entry] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        me = threading.get_ident()
        with self._guard:
            entry = self._locks.setdefault(key, _Entry())
            if entry.owner == me:
                raise RuntimeError(f"this thread holds {key!r} already; it would wait for itself")
            entry.users += 1
        entry.lock.acquire()
        entry.owner = me
        try:
            yield
        finally:
            entry.owner = None
            entry.lock.release()
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    del self._locks[key]
