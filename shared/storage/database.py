"""Engines, transactions and the few SQL helpers every store shares (SQLAlchemy Core, no ORM).

Supported databases: SQLite files (the embedded default) and PostgreSQL through psycopg 3.
Nothing here connects at import time; :func:`make_engine` does not connect either (the pool opens
connections on first use).
"""
from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, Engine, MetaData, Row, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

__all__ = [
    "make_engine",
    "create_tables",
    "read_transaction",
    "write_transaction",
    "insert_ignoring_conflicts",
    "domain_columns",
    "to_domain",
    "to_domain_list",
    "ping",
]

POOL_SIZE = 10
MAX_OVERFLOW = 20
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Execution option marking a connection whose transaction will write (SQLite: BEGIN IMMEDIATE).
_WRITE_OPTION = "shared_storage_write"
_POSTGRES_DRIVERS = {"postgres", "postgresql", "postgresql+psycopg"}
# SQLSTATEs of a concurrent CREATE losing the race: duplicate_table, unique_violation (pg_type),
# duplicate_object, duplicate_schema.
_ALREADY_EXISTS_SQLSTATES = {"42P07", "23505", "42710", "42P06"}
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}

D = TypeVar("D")


# --------------------------------------------------------------------------- engines

def make_engine(url: str) -> Engine:
    """An engine for a ``sqlite:///path`` or ``postgresql://`` URL (``postgres://`` and
    ``postgresql+psycopg://`` accepted too; the driver is always psycopg 3).

    SQLite: the file's folder is created if missing; every connection runs in WAL mode with foreign
    keys on and a 30 s busy timeout; write transactions (:func:`write_transaction`) start with
    ``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout instead of failing with
    "database is locked" when a read lock would be upgraded. In-memory SQLite is refused: every
    pooled connection would see a different, empty database.

    PostgreSQL: a pool of 10 (+20 overflow) connections, each checked with a ping before use.
    Raises ``ValueError`` for any other URL.
    """
    parsed = make_url(url)
    if parsed.drivername in _POSTGRES_DRIVERS:
        return _postgres_engine(parsed.set(drivername="postgresql+psycopg"))
    if parsed.drivername in {"sqlite", "sqlite+pysqlite"}:
        return _sqlite_engine(parsed)
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
                     "use sqlite:///<file> or postgresql://")


def _postgres_engine(url: URL) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database in {"", ":memory:"} or "mode=memory" in database or url.query.get("mode") == "memory":
        raise ValueError("in-memory SQLite is not supported: use a file URL (sqlite:///path/to/file.db)")
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy's documented recipe: stop the sqlite3 module from emitting BEGIN itself (its legacy
    # mode skips it for SELECT and DDL); _begin_sqlite_transaction emits our own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _enable_wal(cursor)
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Put the file in WAL mode (persistent: a no-op once done).

    Switching needs an exclusive lock for which SQLite does not call the busy handler, so connections
    opening a new file at once (several processes starting) get "database is locked" at once: retry,
    with a growing pause, for up to the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _begin_sqlite_transaction(connection: Connection) -> None:
    writes = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


# --------------------------------------------------------------------------- transactions

@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction for reads. Commits when the block ends normally, rolls back on an exception.

    SQLite: a deferred ``BEGIN`` (a consistent WAL snapshot; never blocks writers). PostgreSQL:
    READ COMMITTED.
    """
    with engine.connect() as connection, connection.begin():
        yield connection


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that may write. Commits when the block ends normally, rolls back on an exception.

    SQLite: ``BEGIN IMMEDIATE``, so it holds the database's single writer lock from its first
    statement (writers serialise; waiting up to the busy timeout). PostgreSQL: READ COMMITTED; lock
    rows explicitly (``SELECT ... FOR UPDATE``) where serialisation matters.
    """
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE_OPTION: True})
        with connection.begin():
            yield connection


def ping(engine: Engine) -> None:
    """Run ``SELECT 1``; the driver's error propagates when the database cannot be reached."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


# --------------------------------------------------------------------------- schema

def create_tables(engine: Engine, metadata: MetaData, attempts: int = 5) -> None:
    """Create the tables and indexes of ``metadata`` that do not exist yet; idempotent.

    Safe when several processes start at once: SQLite serialises the creators (write transaction);
    on PostgreSQL a creator that loses the race gets an "already exists" error, rolls back and
    retries, then finds the tables.
    """
    for attempt in range(1, attempts + 1):
        try:
            with write_transaction(engine) as connection:
                metadata.create_all(connection)
            return
        except DBAPIError as error:
            if attempt == attempts or not _is_already_exists(error):
                raise


def _is_already_exists(error: DBAPIError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    return sqlstate in _ALREADY_EXISTS_SQLSTATES or "already exists" in str(error.orig).lower()


# --------------------------------------------------------------------------- statements and rows

def insert_ignoring_conflicts(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict_columns: Sequence[str]
) -> int:
    """Insert ``rows`` in one statement, skipping each row that collides on the unique constraint
    made of ``conflict_columns`` (``INSERT ... ON CONFLICT (...) DO NOTHING``); return how many were
    inserted. A concurrent insert of the same key waits for the other transaction and then skips.
    Other constraint violations still raise ``IntegrityError``.
    """
    if not rows:
        return 0
    try:
        insert = _INSERTS[connection.dialect.name]
    except KeyError:
        raise NotImplementedError(f"no ON CONFLICT support for dialect {connection.dialect.name!r}") from None
    statement = insert(table).values(list(rows)).on_conflict_do_nothing(index_elements=list(conflict_columns))
    # SQLAlchemy only keeps the rowcount of an INSERT when asked to.
    return connection.execute(statement, execution_options={"preserve_rowcount": True}).rowcount


def domain_columns(table: Table, cls: type) -> list[Column[Any]]:
    """The columns of ``table`` named like the fields of the dataclass ``cls``, in field order."""
    return [table.c[field.name] for field in dataclasses.fields(cls)]


def to_domain(cls: type[D], row: Row[Any]) -> D:
    """Build the dataclass ``cls`` from a row selected with :func:`domain_columns`."""
    return cls(**row._mapping)


def to_domain_list(cls: type[D], rows: Iterable[Row[Any]]) -> list[D]:
    return [to_domain(cls, row) for row in rows]
