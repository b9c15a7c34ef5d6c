"""The stores of ``shared.ports``: the same tests on the in-memory fakes, SQLite and PostgreSQL.

PostgreSQL comes from ``TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
each test runs in a fresh schema that is dropped afterwards. When PostgreSQL is unreachable its
tests are skipped, unless ``CI=true``, where they fail.
"""
from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, StatementError

from shared.domain import Alert, CheckResult, Conflict, NotFound, Notification, Target
from shared.ports import AlertingStore, MonitorStore, NotificationStore
from shared.rules import RuleState
from shared.storage import (
    ALERTING,
    MONITOR,
    NOTIFICATION,
    SqlAlertingStore,
    SqlMonitorStore,
    SqlNotificationStore,
    create_tables,
    make_engine,
    ping,
    read_transaction,
    write_transaction,
)
from tests.support.fakes import InMemoryAlertingStore, InMemoryMonitorStore, InMemoryNotificationStore

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
THREADS = 30
T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)

R = TypeVar("R")


# --------------------------------------------------------------------------- builders

def a_target(name: str = "web", *, created_at: datetime = T0, target_id: str | None = None) -> Target:
    return Target(
        id=target_id or str(uuid.uuid4()),
        name=name,
        url="https://example.com/health",
        interval_s=60,
        failure_threshold=3,
        latency_threshold_ms=None,
        webhook_url=None,
        created_at=created_at,
    )


def a_result(target_id: str, *, result_id: str | None = None, latency_ms: float = 12.5,
             checked_at: datetime = T0) -> CheckResult:
    return CheckResult(
        id=result_id or str(uuid.uuid4()),
        target_id=target_id,
        ok=True,
        latency_ms=latency_ms,
        status_code=200,
        checked_at=checked_at,
        received_at=checked_at + timedelta(milliseconds=5),
    )


def an_alert(target_id: str = "t1", kind: str = "down", *, opened_by: str = "k1") -> Alert:
    return Alert(
        id=str(uuid.uuid4()),
        target_id=target_id,
        kind=kind,  # type: ignore[arg-type]
        state="open",
        opened_at=T0,
        resolved_at=None,
        opened_by_result_id=opened_by,
    )


def a_notification(alert_id: str = "a1", *, channel: str = "log", event_name: str = "alert_opened",
                   target_id: str = "t1", created_at: datetime = T0) -> Notification:
    return Notification(
        id=str(uuid.uuid4()),
        alert_id=alert_id,
        target_id=target_id,
        event=event_name,  # type: ignore[arg-type]
        channel=channel,  # type: ignore[arg-type]
        status="sent",
        message=f"{event_name} via {channel}",
        created_at=created_at,
    )


def run_concurrently(task: Callable[[int], R], threads: int = THREADS) -> list[R]:
    """Run ``task(i)`` on ``threads`` threads released together by a barrier."""
    barrier = threading.Barrier(threads, timeout=60)

    def released(index: int) -> R:
        barrier.wait()
        return task(index)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(released, range(threads)))


# --------------------------------------------------------------------------- backends

@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    engine = make_engine(url)
    try:
        ping(engine)
    except OperationalError as error:
        message = f"PostgreSQL unreachable at {make_url(url).render_as_string()}: {error.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose connections use a fresh schema (dropped after the test), so runs never collide."""
    schema = f"test_storage_{uuid.uuid4().hex[:16]}"
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str | None:
    if backend == "memory":
        return None
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'not' / 'yet' / 'there' / 'storage.db'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def open_engine(database_url: str | None) -> Iterator[Callable[[], Engine]]:
    """Opens engines on the test's database; disposes them all after the test."""
    opened: list[Engine] = []

    def open_one() -> Engine:
        assert database_url is not None, "no engine for the in-memory backend"
        opened.append(make_engine(database_url))
        return opened[-1]

    yield open_one
    for engine in opened:
        engine.dispose()


@pytest.fixture
def monitor(backend: str, open_engine: Callable[[], Engine]) -> MonitorStore:
    return InMemoryMonitorStore() if backend == "memory" else SqlMonitorStore(open_engine())


@pytest.fixture
def alerting(backend: str, open_engine: Callable[[], Engine]) -> AlertingStore:
    return InMemoryAlertingStore() if backend == "memory" else SqlAlertingStore(open_engine())


@pytest.fixture
def notification(backend: str, open_engine: Callable[[], Engine]) -> NotificationStore:
    return InMemoryNotificationStore() if backend == "memory" else SqlNotificationStore(open_engine())


sql_only = pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])


# --------------------------------------------------------------------------- monitor store

def test_adding_a_target_whose_name_is_taken_raises_conflict(monitor: MonitorStore) -> None:
    monitor.add_target(a_target("web"))

    with pytest.raises(Conflict):
        monitor.add_target(a_target("web"))

    assert monitor.list_targets("dev", limit=10, offset=0).total == 1


def test_targets_are_listed_oldest_first_in_pages_with_the_total(monitor: MonitorStore) -> None:
    created = [a_target(f"t{i}", created_at=T0 + timedelta(seconds=i)) for i in range(5)]
    for target in (created[3], created[0], created[4], created[1], created[2]):
        monitor.add_target(target)

    first = monitor.list_targets("dev", limit=2, offset=0)
    last = monitor.list_targets("dev", limit=2, offset=4)
    beyond = monitor.list_targets("dev", limit=2, offset=10)

    assert [t.name for t in first.items] == ["t0", "t1"] and first.total == 5
    assert [t.name for t in last.items] == ["t4"] and last.total == 5
    assert beyond.items == [] and beyond.total == 5


def test_a_stored_target_reads_back_equal(monitor: MonitorStore) -> None:
    target = replace(a_target(), latency_threshold_ms=250, webhook_url="https://hooks.example.com/x")
    monitor.add_target(target)

    assert monitor.get_target(target.id) == target


def test_getting_an_unknown_target_raises_not_found(monitor: MonitorStore) -> None:
    with pytest.raises(NotFound):
        monitor.get_target("nope")


def test_removing_an_unknown_target_raises_not_found(monitor: MonitorStore) -> None:
    with pytest.raises(NotFound):
        monitor.remove_target("nope", "dev")


def test_removing_a_target_removes_it_and_its_results(monitor: MonitorStore) -> None:
    target, other = a_target("a"), a_target("b")
    monitor.add_target(target)
    monitor.add_target(other)
    monitor.add_result(a_result(target.id), None)
    kept, _ = monitor.add_result(a_result(other.id), None)

    monitor.remove_target(target.id, "dev")

    with pytest.raises(NotFound):
        monitor.get_target(target.id)
    assert monitor.list_results(target.id, limit=10) == []
    assert monitor.list_results(other.id, limit=10) == [kept]
    with pytest.raises(NotFound):
        monitor.add_result(a_result(target.id), None)


def test_adding_a_result_whose_id_exists_returns_the_stored_one_and_not_new(monitor: MonitorStore) -> None:
    target = a_target()
    monitor.add_target(target)
    first = a_result(target.id, result_id="r1", latency_ms=10.0)

    stored, new = monitor.add_result(first, "key-1")
    again, new_again = monitor.add_result(replace(first, latency_ms=99.0), "key-1")

    assert (stored, new) == (first, True)
    assert (again, new_again) == (first, False)
    assert monitor.list_results(target.id, limit=10) == [first]


def test_adding_a_result_for_an_unknown_target_raises_not_found(monitor: MonitorStore) -> None:
    with pytest.raises(NotFound):
        monitor.add_result(a_result("nope"), None)


def test_results_are_listed_newest_accepted_first_up_to_the_limit(monitor: MonitorStore) -> None:
    target, other = a_target("a"), a_target("b")
    monitor.add_target(target)
    monitor.add_target(other)
    # checked_at goes backwards: the order is the acceptance order, not the check time.
    accepted = [a_result(target.id, checked_at=T0 - timedelta(minutes=i)) for i in range(3)]
    for result in accepted:
        monitor.add_result(result, None)
    monitor.add_result(a_result(other.id), None)

    assert monitor.list_results(target.id, limit=2) == [accepted[2], accepted[1]]
    assert monitor.list_results(target.id, limit=50) == accepted[::-1]


def test_removing_a_result_undoes_it_and_ignores_unknown_ids(monitor: MonitorStore) -> None:
    target = a_target()
    monitor.add_target(target)
    result, _ = monitor.add_result(a_result(target.id), None)

    monitor.remove_result(result.id)
    monitor.remove_result("never-stored")

    assert monitor.list_results(target.id, limit=10) == []
    assert monitor.add_result(result, None) == (result, True)


def test_an_unannounced_result_stays_marked_until_it_is_settled(monitor: MonitorStore) -> None:
    target, other = a_target("a"), a_target("b")
    monitor.add_target(target)
    monitor.add_target(other)
    first, second = a_result(target.id, result_id="r1"), a_result(target.id, result_id="r2")

    assert monitor.add_unannounced_result(first, "k1") == (first, target, True, [first])
    assert monitor.add_unannounced_result(replace(first, latency_ms=99.0), "k1") == (first, target, False, [first])
    assert monitor.add_unannounced_result(a_result(other.id, result_id="o1"), None)[3] == [a_result(other.id, result_id="o1")]
    assert monitor.add_unannounced_result(second, None)[3] == [first, second]
    monitor.settle("r1")
    monitor.settle("never-marked")
    third = a_result(target.id, result_id="r3")
    assert monitor.add_unannounced_result(third, None)[3] == [second, third]


def test_removing_an_unannounced_result_or_its_target_removes_its_mark(monitor: MonitorStore) -> None:
    target = a_target()
    monitor.add_target(target)
    monitor.add_unannounced_result(a_result(target.id, result_id="r1"), None)
    monitor.remove_result("r1")
    assert monitor.add_unannounced_result(a_result(target.id, result_id="r2"), None)[3] == [a_result(target.id, result_id="r2")]
    monitor.remove_target(target.id, "dev")
    monitor.add_target(target)
    assert monitor.add_unannounced_result(a_result(target.id, result_id="r3"), None)[3] == [a_result(target.id, result_id="r3")]


def test_concurrent_results_with_the_same_id_are_stored_once(monitor: MonitorStore) -> None:
    target = a_target()
    monitor.add_target(target)

    outcomes = run_concurrently(lambda i: monitor.add_result(a_result(target.id, result_id="same", latency_ms=i), None))

    assert sum(new for _, new in outcomes) == 1
    assert len({stored for stored, _ in outcomes}) == 1
    assert len(monitor.list_results(target.id, limit=100)) == 1


# --------------------------------------------------------------------------- alerting store

def test_a_target_never_seen_starts_from_the_initial_rule_state(alerting: AlertingStore) -> None:
    with alerting.unit_of_work("t1") as uow:
        assert uow.load_state() == RuleState()
        assert not uow.is_processed("k1")
        assert uow.processed_snapshot("k1") is None


def test_a_unit_of_work_keeps_its_changes_when_its_block_ends_normally(alerting: AlertingStore) -> None:
    alert = an_alert("t1", opened_by="k1")
    with alerting.unit_of_work("t1") as uow:
        uow.save_state(RuleState(consecutive_failures=3, down_open=True))
        uow.mark_processed("k1", RuleState(consecutive_failures=2))
        uow.add_alert(alert)

    with alerting.unit_of_work("t1") as uow:
        assert uow.load_state() == RuleState(consecutive_failures=3, down_open=True)
        assert uow.is_processed("k1")
    assert alerting.list_alerts("dev", "t1", None) == [alert]


def test_a_unit_of_work_discards_its_changes_when_its_block_raises(alerting: AlertingStore) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with alerting.unit_of_work("t1") as uow:
            uow.save_state(RuleState(consecutive_failures=3, down_open=True))
            uow.mark_processed("k1", RuleState())
            uow.add_alert(an_alert("t1"))
            raise Boom()

    with alerting.unit_of_work("t1") as uow:
        assert uow.load_state() == RuleState()
        assert not uow.is_processed("k1")
    assert alerting.list_alerts("dev", None, None) == []


def test_processed_keys_can_be_marked_snapshotted_and_unmarked(alerting: AlertingStore) -> None:
    before = RuleState(consecutive_failures=2, down_open=False, slow_open=True)
    with alerting.unit_of_work("t1") as uow:
        uow.mark_processed("k1", before)
        uow.mark_processed("k1", RuleState())  # marking again keeps the first snapshot
        assert uow.is_processed("k1")
        assert uow.processed_snapshot("k1") == before

    with alerting.unit_of_work("t1") as uow:
        uow.unmark_processed("k1")
        uow.unmark_processed("never-marked")
        assert not uow.is_processed("k1")
        assert uow.processed_snapshot("k1") is None


def test_processed_keys_belong_to_their_target(alerting: AlertingStore) -> None:
    with alerting.unit_of_work("t1") as uow:
        uow.mark_processed("k1", RuleState())

    with alerting.unit_of_work("t2") as uow:
        assert not uow.is_processed("k1")


def test_resolving_an_alert_returns_it_resolved_and_none_when_none_is_open(alerting: AlertingStore) -> None:
    down = an_alert("t1", "down", opened_by="k1")
    resolved_at = T0 + timedelta(minutes=5)
    with alerting.unit_of_work("t1") as uow:
        uow.add_alert(down)
        assert uow.resolve_alert("slow", resolved_at, by_key="k2") is None
        resolved = uow.resolve_alert("down", resolved_at, by_key="k2")
        assert uow.resolve_alert("down", resolved_at, by_key="k3") is None

    assert resolved == replace(down, state="resolved", resolved_at=resolved_at)
    assert alerting.list_alerts("dev", "t1", None) == [resolved]
    assert alerting.list_alerts("dev", "t1", "open") == []


def test_alerts_opened_by_a_key_can_be_removed(alerting: AlertingStore) -> None:
    by_k1 = an_alert("t1", "down", opened_by="k1")
    by_k2 = an_alert("t1", "slow", opened_by="k2")
    elsewhere = an_alert("t2", "down", opened_by="k1")
    with alerting.unit_of_work("t1") as uow:
        uow.add_alert(by_k1)
        uow.add_alert(by_k2)
    with alerting.unit_of_work("t2") as uow:
        uow.add_alert(elsewhere)

    with alerting.unit_of_work("t1") as uow:
        uow.remove_alerts_opened_by("k1")

    assert alerting.list_alerts("dev", None, None) == [elsewhere, by_k2]


def test_alerts_resolved_by_a_key_can_be_reopened(alerting: AlertingStore) -> None:
    down = an_alert("t1", "down", opened_by="k1")
    with alerting.unit_of_work("t1") as uow:
        uow.add_alert(down)
        uow.resolve_alert("down", T0 + timedelta(minutes=1), by_key="k2")

    with alerting.unit_of_work("t1") as uow:
        uow.reopen_alerts_resolved_by("k2")
    assert alerting.list_alerts("dev", "t1", None) == [down]

    with alerting.unit_of_work("t1") as uow:  # the reopened alert no longer remembers k2
        uow.reopen_alerts_resolved_by("k2")
        again = uow.resolve_alert("down", T0 + timedelta(minutes=2), by_key="k3")
        uow.reopen_alerts_resolved_by("k2")
    assert alerting.list_alerts("dev", "t1", None) == [again]


def test_alerts_are_listed_newest_first_and_filtered_by_target_and_state(alerting: AlertingStore) -> None:
    first, second, third = an_alert("t1", "down"), an_alert("t2", "down"), an_alert("t1", "slow", opened_by="k9")
    for alert in (first, second, third):
        with alerting.unit_of_work(alert.target_id) as uow:
            uow.add_alert(alert)
    with alerting.unit_of_work("t1") as uow:
        resolved_first = uow.resolve_alert("down", T0, by_key="k5")

    assert alerting.list_alerts("dev", None, None) == [third, second, resolved_first]
    assert alerting.list_alerts("dev", "t1", None) == [third, resolved_first]
    assert alerting.list_alerts("dev", None, "open") == [third, second]
    assert alerting.list_alerts("dev", "t1", "resolved") == [resolved_first]
    assert alerting.list_alerts("dev", "unknown", None) == []


def test_thirty_concurrent_units_of_work_on_one_target_run_one_after_the_other(alerting: AlertingStore) -> None:
    guard = threading.Lock()
    inside, most_inside = 0, 0

    def increment(_: int) -> None:
        nonlocal inside, most_inside
        with alerting.unit_of_work("t1") as uow:
            with guard:
                inside += 1
                most_inside = max(most_inside, inside)
            state = uow.load_state()
            uow.save_state(replace(state, consecutive_failures=state.consecutive_failures + 1))
            with guard:
                inside -= 1

    run_concurrently(increment)

    with alerting.unit_of_work("t1") as uow:
        assert uow.load_state().consecutive_failures == THREADS
    assert most_inside == 1


# --------------------------------------------------------------------------- notification store

def test_finding_an_alert_event_without_notifications_gives_an_empty_list(notification: NotificationStore) -> None:
    assert notification.find("a1", "alert_opened") == []


def test_adding_the_same_notifications_twice_stores_them_once(notification: NotificationStore) -> None:
    log, webhook = a_notification("a1", channel="log"), a_notification("a1", channel="webhook")

    stored = notification.add_all([log, webhook])
    again = notification.add_all([a_notification("a1", channel="log"), a_notification("a1", channel="webhook")])

    assert stored == [log, webhook]
    assert again == stored
    assert notification.find("a1", "alert_opened") == stored
    assert notification.list_notifications("dev", None, None) == [webhook, log]
    assert notification.add_all([]) == []


def test_adding_notifications_returns_everything_stored_for_the_alert_event(notification: NotificationStore) -> None:
    log = a_notification("a1", channel="log")
    notification.add_all([log])
    resolved = a_notification("a1", channel="log", event_name="alert_resolved")
    notification.add_all([resolved])

    webhook = a_notification("a1", channel="webhook")
    stored = notification.add_all([a_notification("a1", channel="log"), webhook])

    assert stored == [log, webhook]


def test_concurrent_duplicate_notifications_are_stored_once(notification: NotificationStore) -> None:
    def record(_: int) -> list[Notification]:
        # Fresh ids each time: only the (alert_id, event, channel) uniqueness can deduplicate.
        return notification.add_all([a_notification("a1", channel="webhook"), a_notification("a1", channel="log")])

    outcomes = run_concurrently(record)

    stored = notification.find("a1", "alert_opened")
    assert len(stored) == 2
    assert all(outcome == stored for outcome in outcomes)
    assert len(notification.list_notifications("dev", None, "a1")) == 2


def test_notifications_are_listed_newest_first_and_filtered_by_target_and_alert(notification: NotificationStore) -> None:
    first = a_notification("a1", target_id="t1")
    second = a_notification("a2", target_id="t2")
    third = a_notification("a1", target_id="t1", event_name="alert_resolved")
    for item in (first, second, third):
        notification.add_all([item])

    assert notification.list_notifications("dev", None, None) == [third, second, first]
    assert notification.list_notifications("dev", "t1", None) == [third, first]
    assert notification.list_notifications("dev", None, "a2") == [second]
    assert notification.list_notifications("dev", "t2", "a1") == []


# --------------------------------------------------------------------------- all stores

def test_datetimes_round_trip_as_timezone_aware_utc(
    monitor: MonitorStore, alerting: AlertingStore, notification: NotificationStore
) -> None:
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=plus_two)
    target = a_target(created_at=moment)
    monitor.add_target(target)
    monitor.add_result(a_result(target.id, checked_at=moment), None)
    with alerting.unit_of_work(target.id) as uow:
        uow.add_alert(replace(an_alert(target.id), opened_at=moment))
        uow.resolve_alert("down", moment, by_key="k2")
    notification.add_all([a_notification("a1", created_at=moment)])

    [result] = monitor.list_results(target.id, limit=1)
    [alert] = alerting.list_alerts("dev", target.id, None)
    [sent] = notification.list_notifications("dev", None, None)
    read_back = [monitor.get_target(target.id).created_at, result.checked_at, result.received_at,
                 alert.opened_at, alert.resolved_at, sent.created_at]

    assert all(value is not None and value.utcoffset() == timedelta(0) for value in read_back)
    assert read_back[0] == moment and read_back[1] == moment and read_back[3] == moment


def test_naive_datetimes_are_refused(monitor: MonitorStore) -> None:
    with pytest.raises((ValueError, StatementError)):
        monitor.add_target(a_target(created_at=datetime(2024, 5, 1, 12, 0)))


def test_every_store_answers_ping(monitor: MonitorStore, alerting: AlertingStore, notification: NotificationStore) -> None:
    monitor.ping()
    alerting.ping()
    notification.ping()


# --------------------------------------------------------------------------- engines and schema

@sql_only
def test_tables_can_be_created_by_several_processes_at_once(backend: str, open_engine: Callable[[], Engine]) -> None:
    engines = [open_engine() for _ in range(8)]  # one engine each, like separate processes

    def create(index: int) -> None:
        for metadata in (MONITOR, ALERTING, NOTIFICATION):
            create_tables(engines[index], metadata)

    run_concurrently(create, threads=len(engines))

    store = SqlMonitorStore(engines[0])
    store.add_target(a_target())
    assert store.list_targets("dev", limit=10, offset=0).total == 1


def test_sqlite_connections_use_wal_foreign_keys_and_a_thirty_second_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "folder" / "monitor.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert path.exists()
    finally:
        engine.dispose()


def test_sqlite_write_transactions_begin_immediate_and_read_transactions_do_not(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    statements: list[str] = []
    event.listen(engine, "connect", lambda dbapi_connection, _record: dbapi_connection.set_trace_callback(statements.append))
    try:
        with write_transaction(engine) as connection:
            connection.execute(text("SELECT 1"))
        with read_transaction(engine) as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()

    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN"]


def test_postgres_urls_always_use_the_psycopg_driver() -> None:
    for url in ("postgresql://u@db/x", "postgres://u@db/x", "postgresql+psycopg://u@db/x"):
        engine = make_engine(url)
        assert engine.url.drivername == "postgresql+psycopg"
        engine.dispose()


def test_in_memory_sqlite_and_unknown_databases_are_refused() -> None:
    for url in ("sqlite://", "sqlite:///:memory:", "mysql://u@db/x"):
        with pytest.raises(ValueError):
            make_engine(url)


def test_ping_raises_when_the_database_cannot_be_reached() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(OperationalError):
            ping(engine)
    finally:
        engine.dispose()


def test_the_changes_made_by_a_key_are_found_again_in_order(alerting: AlertingStore) -> None:
    down = an_alert("t1", "down", opened_by="k1")
    slow = an_alert("t1", "slow", opened_by="k2")
    with alerting.unit_of_work("t1") as uow:
        uow.add_alert(down)
        uow.add_alert(slow)
        resolved = uow.resolve_alert("down", T0 + timedelta(minutes=1), by_key="k2")

    with alerting.unit_of_work("t1") as uow:
        assert uow.changes_by("k1") == [(resolved, "alert_opened")]
        assert uow.changes_by("k2") == [(resolved, "alert_resolved"), (slow, "alert_opened")]
        assert uow.changes_by("k9") == []


def test_an_unreachable_database_is_unavailable_not_an_internal_error(tmp_path) -> None:
    """The driver's operational errors (a server restarting, a lost connection) become ``Unavailable`` (503, retried
    by a client) in read and write transactions alike."""
    from sqlalchemy.exc import OperationalError

    from shared.domain import Unavailable
    from shared.storage.database import make_engine, read_transaction, write_transaction

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    for transaction in (read_transaction, write_transaction):
        with pytest.raises(Unavailable, match="the database is unavailable"):
            with transaction(engine):
                raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection unexpectedly"))
