"""Locks on an application key (a target id) that every process sharing one database respects.

A holder first takes an in-process lock on the key, so the threads of one process queue without
holding database connections; then, on PostgreSQL, a transaction-scoped advisory lock on the key
(``pg_advisory_xact_lock``) in a transaction of its own that stays open until the block ends, so the
holders of every process on that database queue on the database. SQLite needs nothing more than the
in-process lock: its database files are written by one process.
"""
from __future__ import annotations

import hashlib
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError

from ..domain import Unavailable
from ..locks import KeyedLock
from .database import unavailable_when_the_database_is

__all__ = ["LOCK_WAIT_TIMEOUT_MS", "advisory_key", "hold_key"]

LOCK_WAIT_TIMEOUT_MS = 30_000
"""How long a holder waits for the database lock held by another process (as SQLite's busy timeout)."""

_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock wait that hit lock_timeout

_guard = threading.Lock()
# SQLite: one in-process lock per database file, shared by every engine of this process on it.
_by_file: weakref.WeakValueDictionary[str, KeyedLock] = weakref.WeakValueDictionary()
# Other databases: one per engine (an engine stands for a process; the database lock does the rest).
_by_engine: weakref.WeakKeyDictionary[Engine, KeyedLock] = weakref.WeakKeyDictionary()


def advisory_key(namespace: str, key: str) -> int:
    """The signed 64-bit advisory-lock key of ``key`` in ``namespace`` (stable across processes and runs).

    Two keys may share a number; their holders then merely queue on each other.
    """
    digest = hashlib.sha256(f"{namespace}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def in_process_lock(engine: Engine) -> KeyedLock:
    """The in-process lock of ``engine``'s keys: per database file on SQLite, per engine otherwise."""
    with _guard:
        if engine.dialect.name == "sqlite":
            path = os.path.realpath(Path(engine.url.database or "").expanduser())
            lock = _by_file.get(path)
            if lock is None:
                lock = _by_file[path] = KeyedLock()
            return lock
        lock = _by_engine.get(engine)
        if lock is None:
            lock = _by_engine[engine] = KeyedLock()
        return lock


@contextmanager
def hold_key(engine: Engine, namespace: str, key: str, local: KeyedLock | None = None) -> Iterator[None]:
    """Hold ``key`` of ``namespace`` for the block, against every holder on the same database.

    ``local`` is the in-process lock to take first (default :func:`in_process_lock`). On PostgreSQL
    the block runs while a pooled connection keeps a transaction open with the advisory lock; the
    block's own statements use other connections, so this process's concurrent holders must stay
    below the engine's pool size. A holder waits at most ``LOCK_WAIT_TIMEOUT_MS`` for another
    process's holder, then gets ``Unavailable``. Raises ``RuntimeError`` when the thread holds
    ``key`` already. If the database connection is lost during the block, so is the lock: the error
    surfaces when the block ends.
    """
    with (local or in_process_lock(engine)).hold(f"{namespace}\x00{key}"):
        if engine.dialect.name != "postgresql":
            yield
            return
        # the database unreachable (at connect, or at the commit that ends the block) is Unavailable, as elsewhere
        with unavailable_when_the_database_is(), engine.connect() as connection, connection.begin():
            try:
                connection.execute(text(f"SET LOCAL lock_timeout = {int(LOCK_WAIT_TIMEOUT_MS)}"))
                connection.execute(select(func.pg_advisory_xact_lock(advisory_key(namespace, key))))
            except OperationalError as error:
                if getattr(error.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                    raise Unavailable(f"{namespace} {key} is busy; try again") from error
                raise
            yield
