"""Engines, transactions and the few SQL helpers every store shares (SQLAlchemy Core, no ORM).

Supported databases: SQLite files (the embedded default) and PostgreSQL through psycopg 3.
Nothing here connects at import time; :func:`make_engine` does not connect either (the pool opens
connections on first use).
"""
from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import Column, Connection, Engine, MetaData, Row, Table, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from ..domain import Unavailable

__all__ = [
    "make_engine",
    "create_tables",
    "OutdatedSchema",
    "read_transaction",
    "write_transaction",
    "insert_ignoring_conflicts",
    "ignoring_conflicts",
    "domain_columns",
    "domain_row",
    "to_domain",
    "to_domain_list",
    "ping",
]

POOL_SIZE = 10
MAX_OVERFLOW = 20
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_SYNCHRONOUS_LEVELS = ("FULL", "NORMAL")
"""The allowed ``PRAGMA synchronous`` levels: FULL (the default) and NORMAL. Never OFF."""

# Execution option marking a connection whose transaction will write (SQLite: BEGIN IMMEDIATE).
_WRITE_OPTION = "shared_storage_write"
_POSTGRES_DRIVERS = {"postgres", "postgresql", "postgresql+psycopg"}
# SQLSTATEs of a concurrent CREATE losing the race: duplicate_table, unique_violation (pg_type),
# duplicate_object, duplicate_schema.
_ALREADY_EXISTS_SQLSTATES = {"42P07", "23505", "42710", "42P06"}
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}

D = TypeVar("D")


# --------------------------------------------------------------------------- engines

def make_engine(
    url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, synchronous: str = "FULL"
) -> Engine:
    """An engine for a ``sqlite:///path`` or ``postgresql://`` URL (``postgres://`` and
    ``postgresql+psycopg://`` accepted too; the driver is always psycopg 3).

    SQLite: the file's folder is created if missing; every connection runs in WAL mode with foreign
    keys on, ``PRAGMA synchronous`` set to ``synchronous`` (``FULL``, the default, or ``NORMAL``;
    case-insensitive) and a busy timeout of ``busy_timeout_ms`` (30 s). Write transactions
    (:func:`write_transaction`) of this process take turns on an in-process lock per database file,
    then start with ``BEGIN IMMEDIATE``; the busy timeout only covers writers of other processes.
    In-memory SQLite is refused: every pooled connection would see a different, empty database.

    PostgreSQL: a pool of 10 (+20 overflow) connections, each checked with a ping before use; the
    SQLite keywords are ignored (``synchronous`` is still validated).
    Raises ``ValueError`` for any other URL, an unknown ``synchronous`` level or a negative timeout.
    """
    level = synchronous.strip().upper()
    if level not in SQLITE_SYNCHRONOUS_LEVELS:
        raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS_LEVELS)}, got {synchronous!r}")
    if busy_timeout_ms < 0:
        raise ValueError(f"the SQLite busy timeout must be 0 ms or more, got {busy_timeout_ms}")
    parsed = make_url(url)
    if parsed.drivername in _POSTGRES_DRIVERS:
        return _postgres_engine(parsed.set(drivername="postgresql+psycopg"))
    if parsed.drivername in {"sqlite", "sqlite+pysqlite"}:
        return _sqlite_engine(parsed, busy_timeout_ms, level)
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
                     "use sqlite:///<file> or postgresql://")


def _postgres_engine(url: URL) -> Engine:
    # hide_parameters: a database error's log line never carries values such as a webhook URL's token.
    return sqlalchemy.create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, hide_parameters=True)


def _sqlite_engine(url: URL, busy_timeout_ms: int, synchronous: str) -> Engine:
    database = url.database or ""
    if database in {"", ":memory:"} or "mode=memory" in database or url.query.get("mode") == "memory":
        raise ValueError("in-memory SQLite is not supported: use a file URL (sqlite:///path/to/file.db)")
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(  # looked up when called: tracing may have instrumented it since import
        url,
        connect_args={"check_same_thread": False},
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        hide_parameters=True,
    )
    event.listen(engine, "connect", partial(_configure_sqlite_connection, busy_timeout_ms, synchronous))
    event.listen(engine, "begin", _begin_sqlite_transaction)
    _writer_lock(engine)  # resolve the file and pick its lock now, not on the first write
    return engine


def _configure_sqlite_connection(busy_timeout_ms: int, synchronous: str, dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy's documented recipe: stop the sqlite3 module from emitting BEGIN itself (its legacy
    # mode skips it for SELECT and DDL); _begin_sqlite_transaction emits our own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _enable_wal(cursor, busy_timeout_ms)
        cursor.execute(f"PRAGMA synchronous = {synchronous}")  # per connection; one of a fixed list
    finally:
        cursor.close()


def _enable_wal(cursor: Any, busy_timeout_ms: int) -> None:
    """Put the file in WAL mode (persistent: a no-op once done).

    Switching needs an exclusive lock for which SQLite does not call the busy handler, so connections
    opening a new file at once (several processes starting) get "database is locked" at once: retry,
    with a growing pause, for up to the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
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
    # Straight on the driver connection: the same BEGIN as ``exec_driver_sql`` without a round through
    # SQLAlchemy's statement machinery (a result object, events) on every transaction.
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if writes else "BEGIN")


# --------------------------------------------------------------------------- one writer per file

class _FileWriterLock:
    """The in-process lock that the writers of one SQLite file take turns on (FIFO-ish, blocking).

    SQLite admits one writer per file; without this lock the writers of one process would meet in
    SQLite's busy handler, which polls with sleeps of up to 100 ms. Not re-entrant: a thread that
    opens a write transaction on a file while it holds one on the same file gets ``RuntimeError`` at
    once (the second ``BEGIN IMMEDIATE`` could never succeed).
    """

    __slots__ = ("path", "_lock", "__weakref__")

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    @contextmanager
    def hold(self) -> Iterator[None]:
        held = _held_files()
        if self.path in held:
            raise RuntimeError(
                f"a write transaction on {self.path} was opened inside another one on the same file "
                "in the same thread; it would wait for itself"
            )
        with self._lock:
            held.add(self.path)
            try:
                yield
            finally:
                held.discard(self.path)


_locks_guard = threading.Lock()
# One lock per resolved file path, shared by every engine of this process on that file.
_file_locks: weakref.WeakValueDictionary[str, _FileWriterLock] = weakref.WeakValueDictionary()
# The lock of each SQLite engine (None for other databases); holds the lock alive as long as the engine.
_engine_locks: weakref.WeakKeyDictionary[Engine, _FileWriterLock | None] = weakref.WeakKeyDictionary()
_this_thread = threading.local()


def _held_files() -> set[str]:
    try:
        return _this_thread.files
    except AttributeError:
        _this_thread.files = set()
        return _this_thread.files


def _writer_lock(engine: Engine) -> _FileWriterLock | None:
    """The writer lock of ``engine``'s SQLite file, or None when it is not SQLite (PostgreSQL)."""
    try:
        return _engine_locks[engine]
    except KeyError:
        pass
    lock: _FileWriterLock | None = None
    if engine.dialect.name == "sqlite":
        path = os.path.realpath(Path(engine.url.database or "").expanduser())
        with _locks_guard:
            lock = _file_locks.get(path)
            if lock is None:
                lock = _file_locks[path] = _FileWriterLock(path)
    with _locks_guard:
        _engine_locks[engine] = lock
    return lock


# --------------------------------------------------------------------------- transactions

@contextmanager
def unavailable_when_the_database_is() -> Iterator[None]:
    """The driver's operational errors (the server gone or restarting, the connection lost, a deadlock or lock
    timeout) as ``Unavailable``: a 503 a client may retry, not a 500. SQLAlchemy has already invalidated a lost
    connection, so the retry gets a fresh one from the pool."""
    try:
        yield
    except OperationalError as error:
        raise Unavailable(f"the database is unavailable ({type(error.orig).__name__})") from error


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction for reads. Commits when the block ends normally, rolls back on an exception.

    SQLite: a deferred ``BEGIN`` (a consistent WAL snapshot; never blocks writers). PostgreSQL:
    READ COMMITTED. The database unreachable is ``Unavailable``.
    """
    with unavailable_when_the_database_is(), engine.connect() as connection, connection.begin():
        yield connection


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that may write. Commits when the block ends normally, rolls back on an exception.

    SQLite: first the in-process lock of the database file (the writers of this process, across all
    its engines on that file, queue on it without polling), then ``BEGIN IMMEDIATE``, so it holds the
    database's single writer lock from its first statement; a writer of another process is waited for
    up to the busy timeout. The lock is released after the commit or rollback. Opening a write
    transaction on a file inside one on the same file in the same thread raises ``RuntimeError``.
    PostgreSQL: no in-process lock; READ COMMITTED; lock rows explicitly (``SELECT ... FOR UPDATE``)
    where serialisation matters. The database unreachable is ``Unavailable``.
    """
    lock = _writer_lock(engine)
    if lock is None:
        with unavailable_when_the_database_is(), engine.connect() as connection:
            connection.execution_options(**{_WRITE_OPTION: True})
            with connection.begin():
                yield connection
        return
    with unavailable_when_the_database_is(), lock.hold(), engine.connect() as connection:
        connection.execution_options(**{_WRITE_OPTION: True})
        with connection.begin():
            yield connection


def ping(engine: Engine) -> None:
    """Run ``SELECT 1``; the driver's error propagates when the database cannot be reached."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


# --------------------------------------------------------------------------- schema

class OutdatedSchema(RuntimeError):
    """A table exists without a column this version needs: it was made by an older version, and nothing here
    migrates it."""


def create_tables(engine: Engine, metadata: MetaData, attempts: int = 5) -> None:
    """Create the tables and indexes of ``metadata`` that do not exist yet; idempotent.

    Safe when several processes start at once: SQLite serialises the creators (write transaction);
    on PostgreSQL a creator that loses the race gets an "already exists" error, rolls back and
    retries, then finds the tables. A table that exists without a column of ``metadata`` (made by an
    older version) raises :class:`OutdatedSchema`, naming the table and the columns, instead of failing
    later on the first statement that needs them.
    """
    for attempt in range(1, attempts + 1):
        try:
            with write_transaction(engine) as connection:
                metadata.create_all(connection)
                _check_columns(connection, metadata)
            return
        except DBAPIError as error:
            if attempt == attempts or not _is_already_exists(error):
                raise


def _check_columns(connection: Connection, metadata: MetaData) -> None:
    inspector = inspect(connection)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing = [column.name for column in table.columns if column.name not in present]
        if missing:
            raise OutdatedSchema(
                f"table {table.name} has no column {', '.join(missing)}: it was made by an older version of the app "
                f"(database {connection.engine.url.render_as_string(hide_password=True)}); start on a new database "
                "(locally: make clean, or rm -rf var/<variant>)"
            )


def _is_already_exists(error: DBAPIError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    return sqlstate in _ALREADY_EXISTS_SQLSTATES or "already exists" in str(error.orig).lower()


# --------------------------------------------------------------------------- statements and rows

def insert_ignoring_conflicts(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict_columns: Sequence[str]
) -> int:
    """Insert ``rows``, skipping each row that collides on the unique constraint made of
    ``conflict_columns`` (``INSERT ... ON CONFLICT (...) DO NOTHING``); return how many were inserted.
    Several rows run as one ``executemany`` of that statement, in the order given, inside the caller's
    transaction (so all or none of them are kept). A concurrent insert of the same key waits for the
    other transaction and then skips. Other constraint violations still raise ``IntegrityError``.
    Every row must have the same keys. The statement is built and compiled once per table, conflict
    columns and dialect (:func:`ignoring_conflicts`); the rows travel as parameters.
    """
    if not rows:
        return 0
    statement = ignoring_conflicts(connection.dialect.name, table, tuple(conflict_columns))
    # SQLAlchemy only keeps the rowcount of an INSERT when asked to; for several rows the driver sums it.
    parameters = rows[0] if len(rows) == 1 else list(rows)
    return connection.execute(statement, parameters, execution_options={"preserve_rowcount": True}).rowcount


@cache
def ignoring_conflicts(dialect: str, table: Table, conflict_columns: tuple[str, ...]) -> Any:
    """``INSERT INTO table ... ON CONFLICT (conflict_columns) DO NOTHING`` for ``dialect`` (``sqlite``
    or ``postgresql``), built once: execute it with the row(s) as parameters. Chain ``.returning(...)``
    onto it for the inserted rows (none for a skipped row). Raises ``NotImplementedError`` for another
    dialect."""
    try:
        insert = _INSERTS[dialect]
    except KeyError:
        raise NotImplementedError(f"no ON CONFLICT support for dialect {dialect!r}") from None
    return insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))


def domain_columns(table: Table, cls: type) -> list[Column[Any]]:
    """The columns of ``table`` named like the fields of the dataclass ``cls``, in field order."""
    return [table.c[field.name] for field in dataclasses.fields(cls)]


def domain_row(item: Any) -> dict[str, Any]:
    """The fields of the dataclass instance ``item`` as a parameter dict, by name. Shallow, unlike
    ``dataclasses.asdict`` (which deep-copies every value): domain values are immutable."""
    return {name: getattr(item, name) for name in _field_names(type(item))}


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))


def to_domain(cls: type[D], row: Row[Any]) -> D:
    """Build the dataclass ``cls`` from a row selected with :func:`domain_columns` (its columns in
    field order, so they are passed by position)."""
    return cls(*row)


def to_domain_list(cls: type[D], rows: Iterable[Row[Any]]) -> list[D]:
    return [cls(*row) for row in rows]
