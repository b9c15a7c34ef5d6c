"""The writers of one SQLite file in one process take turns on an in-process lock, not on SQLite's
busy handler; readers never take it; PostgreSQL has none. Also the SQLite connection settings that
``make_engine`` takes as keywords (busy timeout, ``PRAGMA synchronous``)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, insert, select

from shared.storage import SqlAlertingStore, SqlMonitorStore, SqlNotificationStore, make_engine
from shared.storage.database import _writer_lock, create_tables, read_transaction, write_transaction

THREADS = 16
TRANSACTIONS_PER_THREAD = 40

_metadata = MetaData()
rows = Table("rows", _metadata, Column("id", Integer, primary_key=True), Column("writer", String, nullable=False))


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines opened by a test; disposed after it."""
    opened: list[Engine] = []
    yield opened
    for engine in opened:
        engine.dispose()


def _open(engines: list[Engine], url: str, **keywords: object) -> Engine:
    engines.append(make_engine(url, **keywords))  # type: ignore[arg-type]
    return engines[-1]


def _count(engine: Engine) -> int:
    with read_transaction(engine) as connection:
        return connection.scalar(select(func.count()).select_from(rows)) or 0


def test_sixteen_threads_writing_one_file_without_a_busy_timeout_never_find_it_locked(
    tmp_path: Path, engines: list[Engine]
) -> None:
    # With no busy timeout SQLite fails a second writer at once ("database is locked"): only the
    # in-process lock can make these writers take turns.
    engine = _open(engines, f"sqlite:///{tmp_path / 'one.db'}", busy_timeout_ms=0)
    create_tables(engine, _metadata)
    barrier = threading.Barrier(THREADS, timeout=60)

    def write_many(writer: int) -> list[str]:
        errors: list[str] = []
        barrier.wait()
        for _ in range(TRANSACTIONS_PER_THREAD):
            try:
                with write_transaction(engine) as connection:
                    connection.scalar(select(func.count()).select_from(rows))  # read, then write
                    connection.execute(insert(rows).values(writer=str(writer)))
            except Exception as error:  # noqa: BLE001 - every failure is collected and reported
                errors.append(f"{type(error).__name__}: {error}".splitlines()[0])
        return errors

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        errors = [error for result in pool.map(write_many, range(THREADS)) for error in result]

    assert errors == []
    assert _count(engine) == THREADS * TRANSACTIONS_PER_THREAD


def test_engines_on_the_same_file_share_one_writer_lock(tmp_path: Path, engines: list[Engine]) -> None:
    (tmp_path / "sub").mkdir()
    first = _open(engines, f"sqlite:///{tmp_path / 'same.db'}", busy_timeout_ms=0)
    second = _open(engines, f"sqlite:///{tmp_path / 'sub' / '..' / 'same.db'}", busy_timeout_ms=0)
    other = _open(engines, f"sqlite:///{tmp_path / 'other.db'}", busy_timeout_ms=0)
    create_tables(first, _metadata)
    assert _writer_lock(first) is _writer_lock(second) is not None
    assert _writer_lock(other) is not _writer_lock(first)

    # While one engine's write transaction is open, the other engine's writer waits for it (with no
    # busy timeout it would otherwise fail at once), then writes.
    errors: list[BaseException] = []
    trying = threading.Event()

    def write_with_second() -> None:
        trying.set()
        try:
            with write_transaction(second) as connection:
                connection.execute(insert(rows).values(writer="second"))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    writer = threading.Thread(target=write_with_second)
    with write_transaction(first) as connection:
        connection.execute(insert(rows).values(writer="first"))
        writer.start()
        assert trying.wait(30)
        writer.join(0.2)  # room for a writer that does not wait to fail; a waiting one is still alive
        assert writer.is_alive() and errors == []
    writer.join(30)

    assert not writer.is_alive() and errors == []
    with read_transaction(first) as connection:
        assert connection.scalars(select(rows.c.writer).order_by(rows.c.id)).all() == ["first", "second"]


def test_the_three_stores_on_one_file_queue_on_the_same_lock(tmp_path: Path, engines: list[Engine]) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    stores = [SqlMonitorStore(_open(engines, url)), SqlAlertingStore(_open(engines, url)),
              SqlNotificationStore(_open(engines, url))]
    assert len({id(_writer_lock(store._engine)) for store in stores}) == 1


def test_readers_do_not_wait_for_a_writer(tmp_path: Path, engines: list[Engine]) -> None:
    engine = _open(engines, f"sqlite:///{tmp_path / 'read.db'}")
    create_tables(engine, _metadata)
    seen: list[int] = []
    reader = threading.Thread(target=lambda: seen.append(_count(engine)))
    with write_transaction(engine) as connection:
        connection.execute(insert(rows).values(writer="uncommitted"))
        reader.start()
        reader.join(30)
        assert not reader.is_alive()
    assert seen == [0]  # the reader saw the last committed state, while the writer held the lock


def test_a_write_transaction_inside_one_on_the_same_file_and_thread_fails_at_once(
    tmp_path: Path, engines: list[Engine]
) -> None:
    first = _open(engines, f"sqlite:///{tmp_path / 'nested.db'}")
    second = _open(engines, f"sqlite:///{tmp_path / 'nested.db'}")
    other = _open(engines, f"sqlite:///{tmp_path / 'elsewhere.db'}")
    create_tables(first, _metadata)
    create_tables(other, _metadata)
    with write_transaction(first) as connection:
        connection.execute(insert(rows).values(writer="outer"))
        with pytest.raises(RuntimeError, match="inside another one on the same file"):
            with write_transaction(second):
                pass
        with write_transaction(other) as elsewhere:  # another file: its own lock
            elsewhere.execute(insert(rows).values(writer="other file"))
    assert _count(first) == 1
    assert _count(other) == 1
    with write_transaction(second) as connection:  # the lock was released
        connection.execute(insert(rows).values(writer="after"))
    assert _count(first) == 2


def test_postgres_engines_have_no_writer_lock() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/test")  # never connects
    try:
        assert _writer_lock(engine) is None
    finally:
        engine.dispose()


@pytest.mark.parametrize(("synchronous", "pragma"), [(None, 2), ("FULL", 2), ("normal", 1)])
def test_sqlite_synchronous_is_full_unless_normal_is_asked_for(
    tmp_path: Path, engines: list[Engine], synchronous: str | None, pragma: int
) -> None:
    keywords = {} if synchronous is None else {"synchronous": synchronous}
    engine = _open(engines, f"sqlite:///{tmp_path / 'sync.db'}", busy_timeout_ms=1234, **keywords)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234


@pytest.mark.parametrize("synchronous", ["OFF", "off", "EXTRA", "", "FULL; DROP TABLE x"])
def test_other_synchronous_levels_are_refused(tmp_path: Path, synchronous: str) -> None:
    with pytest.raises(ValueError, match="SQLITE_SYNCHRONOUS must be one of FULL, NORMAL"):
        make_engine(f"sqlite:///{tmp_path / 'refused.db'}", synchronous=synchronous)


def test_database_errors_never_carry_the_statement_parameters(tmp_path) -> None:
    """A failed statement's error (and so its log line) shows placeholders, not values such as a webhook's token."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = make_engine(f"sqlite:///{tmp_path / 'hidden.db'}")
    with pytest.raises(DBAPIError) as caught, engine.connect() as connection:
        connection.execute(text("SELECT * FROM no_such_table WHERE url = :url"), {"url": "https://x/hook?token=s3cret"})
    assert "s3cret" not in str(caught.value)
