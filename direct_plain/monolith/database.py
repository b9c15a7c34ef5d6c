"""The monolith's database and the one transaction a request shares among the services.

The request's entry (the backend) opens :meth:`Database.transaction`; every service it calls, directly or
through another service, reaches the same connection with :meth:`Database.connection`, so what they write
commits or rolls back together. Work that must not run inside the transaction (a webhook POST) is handed to
:meth:`Database.on_commit` and runs once the transaction has committed, as Django's ``transaction.on_commit``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, MetaData

from shared.storage import create_tables, ping, read_transaction, write_transaction

log = logging.getLogger(__name__)


@dataclass
class _Unit:
    connection: Connection
    writes: bool
    after_commit: list[Callable[[], object]] = field(default_factory=list)


class Database:
    """One engine and the transaction of the request under way (per thread or task, in a ``ContextVar``)."""

    def __init__(self, engine: Engine, schema: MetaData):
        """Creates the tables of ``schema`` that do not exist yet (idempotent, safe from several processes)."""
        self.engine = engine
        create_tables(engine, schema)
        self._unit: ContextVar[_Unit | None] = ContextVar(f"unit_of_{id(self)}", default=None)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """The request's write transaction: commits when the block ends, rolls back on an exception.

        Inside another transaction of this database, the block joins it (no savepoint). The callbacks given to
        :meth:`on_commit` run after the commit (and after the SQLite writer lock is released), in the order they
        were given; an exception of one is logged, not raised: the transaction has committed.
        """
        outer = self._unit.get()
        if outer is not None:
            if not outer.writes:
                raise RuntimeError("a write transaction was opened inside a read transaction")
            yield outer.connection
            return
        with write_transaction(self.engine) as connection:
            unit = _Unit(connection, writes=True)
            token = self._unit.set(unit)
            try:
                yield connection
            finally:
                self._unit.reset(token)
        for callback in unit.after_commit:
            try:
                callback()
            except Exception:  # noqa: BLE001 - committed already; what did not run is retried by its own sweeper
                log.exception("a callback after the commit failed")

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction, or the request's transaction when one is open."""
        outer = self._unit.get()
        if outer is not None:
            yield outer.connection
            return
        with read_transaction(self.engine) as connection:
            token = self._unit.set(_Unit(connection, writes=False))
            try:
                yield connection
            finally:
                self._unit.reset(token)

    def connection(self) -> Connection:
        """The connection of the transaction under way; ``RuntimeError`` outside one (a bug of the caller)."""
        unit = self._unit.get()
        if unit is None:
            raise RuntimeError("no transaction is open: the request's entry opens one")
        return unit.connection

    def on_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the current write transaction has committed (never if it rolls back)."""
        unit = self._unit.get()
        if unit is None or not unit.writes:
            raise RuntimeError("on_commit outside a write transaction")
        unit.after_commit.append(callback)

    def ping(self) -> None:
        ping(self.engine)
