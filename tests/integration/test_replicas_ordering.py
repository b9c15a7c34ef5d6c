"""Per-target order and exactly one alert per transition with several replicas on one database.

Each "replica" is a service stack on an engine of its own, as a separate process would have (an engine
is a process's connection pool; nothing in-process is shared between two engines on PostgreSQL). On
SQLite the replicas are two engines of one process on one file: a SQLite file has one writer process.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from direct_calls.monolith.services import AlertingService, MonitorService, NotificationService
from shared import rules
from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.domain import AlertChange, CheckResult, NewResult, NewTarget, RuleParams, Unavailable, derived_id
from shared.ports import ProbeOutcome, Prober, WebhookSender
from shared.storage import SqlAlertingStore, SqlMonitorStore, SqlNotificationStore, key_locks, make_engine
from tests.integration.test_storage import postgres_schema_url, postgres_url, run_concurrently  # noqa: F401
from tests.support.transports import InProcessServers
from tests.support.waiting import wait_until

REPLICAS = 2
THREADS_PER_REPLICA = 6
RESULTS = 60
# fail, fail (opens down), slow ok (resolves down, opens slow), fast ok (resolves slow), ...
PATTERN = [(False, 5.0), (False, 5.0), (True, 300.0), (True, 5.0), (False, 5.0), (True, 300.0), (True, 300.0), (True, 5.0)]


class NoProber(Prober):
    def probe(self, url: str) -> ProbeOutcome:
        raise AssertionError("not probed in these tests")


class NoWebhook(WebhookSender):
    def post(self, url: str, payload: dict) -> bool:
        return True


class RecordingAlerting(AlertingService):
    """Records the order in which results reach alerting, across every replica (one shared list)."""

    def __init__(self, core: AlertingCore, notification: NotificationService, evaluated: list[str],
                 on_evaluate: Callable[[CheckResult], None] = lambda _: None):
        super().__init__(core, notification)
        self._evaluated = evaluated
        self._on_evaluate = on_evaluate

    def evaluate(self, result: CheckResult, params: RuleParams) -> list[AlertChange]:
        self._evaluated.append(result.id)  # list.append is atomic; callers hold the target
        self._on_evaluate(result)
        return super().evaluate(result, params)


@dataclass
class Replica:
    engine: Engine
    monitor_store: SqlMonitorStore
    monitor: MonitorService
    alerting: RecordingAlerting
    notification: NotificationService


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monolith.db'}"
    return request.getfixturevalue("postgres_schema_url")


# The database lock that several processes wait on is PostgreSQL's; a SQLite file has one process.
postgres_only = pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)


@pytest.fixture
def evaluated() -> list[str]:
    return []


@pytest.fixture
def replicas(database_url: str, evaluated: list[str]) -> Iterator[Callable[..., Replica]]:
    """Builds replicas of the direct monolith, each on an engine of its own on the one database."""
    engines: list[Engine] = []

    def build(on_evaluate: Callable[[CheckResult], None] = lambda _: None) -> Replica:
        engine = make_engine(database_url)
        engines.append(engine)
        notification = NotificationService(NotificationCore(SqlNotificationStore(engine), NoWebhook()))
        alerting = RecordingAlerting(AlertingCore(SqlAlertingStore(engine)), notification, evaluated, on_evaluate)
        store = SqlMonitorStore(engine)
        return Replica(engine, store, MonitorService(MonitorCore(store, NoProber()), alerting), alerting, notification)

    yield build
    for engine in engines:
        engine.dispose()


def expected_changes(results: list[CheckResult], params: RuleParams) -> list[tuple[str, str]]:
    """(alert id, event) of each transition, replaying the rules over ``results`` in their order."""
    state, open_ids, changes = rules.RuleState(), {}, []
    for result in results:
        state, transitions = rules.evaluate(state, result.ok, result.latency_ms, params)
        for transition in transitions:
            if transition.action == "open":
                open_ids[transition.kind] = derived_id(result.id, transition.kind)
                changes.append((open_ids[transition.kind], "alert_opened"))
            else:
                changes.append((open_ids.pop(transition.kind), "alert_resolved"))
    return changes


def waiting_advisory_locks(engine: Engine, namespace: str, key: str) -> int:
    """How many sessions wait for the advisory lock of ``key`` (pg_locks splits a bigint key in two)."""
    number = key_locks.advisory_key(namespace, key) & 0xFFFFFFFFFFFFFFFF
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                 " AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"),
            {"high": number >> 32, "low": number & 0xFFFFFFFF},
        ).scalar_one()


# --------------------------------------------------------------------------- the service chain


def test_concurrent_results_through_two_replicas_are_evaluated_in_acceptance_order_once_per_transition(
    replicas: Callable[..., Replica], evaluated: list[str]
) -> None:
    stacks = [replicas() for _ in range(REPLICAS)]
    target = stacks[0].monitor.create_target("dev", NewTarget(name="web", url="https://example.com", failure_threshold=2,
                                                       latency_threshold_ms=100))

    def post(index: int) -> CheckResult:
        ok, latency = PATTERN[index % len(PATTERN)]
        return stacks[index % REPLICAS].monitor.ingest_result("dev", target.id, NewResult(ok=ok, latency_ms=latency))

    run_concurrently(lambda thread: [post(i) for i in range(thread, RESULTS, REPLICAS * THREADS_PER_REPLICA)],
                     threads=REPLICAS * THREADS_PER_REPLICA)

    accepted = list(reversed(stacks[1].monitor.list_results("dev", target.id, limit=RESULTS)))
    assert len(accepted) == RESULTS
    assert evaluated == [result.id for result in accepted], "evaluation order differs from acceptance order"
    notified = [(n.alert_id, n.event) for n in reversed(stacks[1].notification.list_notifications("dev", target.id, None))
                if n.channel == "log"]
    assert notified == expected_changes(accepted, target.rule_params)
    resolved = {alert_id for alert_id, event in notified if event == "alert_resolved"}
    assert sorted((a.id, a.state) for a in stacks[0].alerting.list_alerts("dev", target.id, None)) == sorted(
        (alert_id, "resolved" if alert_id in resolved else "open") for alert_id, event in notified if event == "alert_opened"
    )


@postgres_only
def test_a_replica_waits_in_the_database_while_another_evaluates_the_same_target(
    replicas: Callable[..., Replica], evaluated: list[str], database_url: str
) -> None:
    entered, release = threading.Event(), threading.Event()

    def hold_first(result: CheckResult) -> None:
        if not entered.is_set():
            entered.set()
            assert release.wait(10), "never released"

    first, second = replicas(on_evaluate=hold_first), replicas()
    target = first.monitor.create_target("dev", NewTarget(name="web", url="https://example.com", failure_threshold=1))
    answers: dict[str, CheckResult] = {}
    threads = [
        threading.Thread(target=lambda: answers.update(
            first=first.monitor.ingest_result("dev", target.id, NewResult(False, 1.0)))),
        threading.Thread(target=lambda: answers.update(
            second=second.monitor.ingest_result("dev", target.id, NewResult(True, 1.0)))),
    ]
    threads[0].start()
    assert entered.wait(10)
    threads[1].start()
    try:
        wait_until(lambda: waiting_advisory_locks(second.engine, "monitor.target", target.id) == 1, timeout=5,
                   message="the second replica did not wait for the target in the database")
        assert len(evaluated) == 1 and len(second.monitor.list_results("dev", target.id, limit=10)) == 1
    finally:
        release.set()
        for thread in threads:
            thread.join(10)

    assert evaluated == [answers["first"].id, answers["second"].id]
    assert [(a.opened_by_result_id, a.state) for a in second.alerting.list_alerts("dev", target.id, None)] == [
        (answers["first"].id, "resolved")
    ]


@postgres_only
@pytest.mark.parametrize("kind", ["grpc", "http"])
def test_the_split_with_two_replicas_of_each_service_keeps_the_order_across_the_network(
    kind: str, database_url: str, evaluated: list[str]
) -> None:
    """api → two monitors → two alerting → two notification processes, each on its own engine, every
    call balanced over the two replicas of its peer; the monitor holds the target while alerting answers."""
    wiring, engines = InProcessServers(kind), [make_engine(database_url) for _ in range(REPLICAS)]
    try:
        notifications = ",".join(wiring.serve("notification", NotificationService(
            NotificationCore(SqlNotificationStore(engine), NoWebhook()))) for engine in engines)
        alertings = ",".join(wiring.serve("alerting", RecordingAlerting(
            AlertingCore(SqlAlertingStore(engine)), wiring.client("notification", notifications), evaluated))
            for engine in engines)
        monitors = ",".join(wiring.serve("monitor", MonitorService(
            MonitorCore(SqlMonitorStore(engine), NoProber()), wiring.client("alerting", alertings))) for engine in engines)
        api = wiring.client("monitor", monitors)
        target = api.create_target("dev", NewTarget(name="web", url="https://example.com", failure_threshold=2,
                                             latency_threshold_ms=100))

        def post(index: int) -> CheckResult:
            ok, latency = PATTERN[index % len(PATTERN)]
            return api.ingest_result("dev", target.id, NewResult(ok=ok, latency_ms=latency))

        threads = REPLICAS * THREADS_PER_REPLICA
        run_concurrently(lambda thread: [post(i) for i in range(thread, RESULTS, threads)], threads=threads)

        accepted = list(reversed(api.list_results("dev", target.id, limit=RESULTS)))
        assert len(accepted) == RESULTS
        assert evaluated == [result.id for result in accepted], "evaluation order differs from acceptance order"
        store = SqlNotificationStore(engines[0])
        notified = [(n.alert_id, n.event) for n in reversed(store.list_notifications("dev", target.id, None))
                    if n.channel == "log"]
        assert notified == expected_changes(accepted, target.rule_params)
    finally:
        wiring.close()
        for engine in engines:
            engine.dispose()


# --------------------------------------------------------------------------- the stores


def test_a_target_is_held_by_one_store_at_a_time_across_engines(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(REPLICAS)]
    try:
        stores = [SqlMonitorStore(engine) for engine in engines]
        guard, inside, most_inside = threading.Lock(), [0], [0]

        def hold(index: int) -> None:
            with stores[index % REPLICAS].target_lock("t1"):
                with guard:
                    inside[0] += 1
                    most_inside[0] = max(most_inside[0], inside[0])
                stores[index % REPLICAS].ping()  # a round trip while holding it
                with guard:
                    inside[0] -= 1

        run_concurrently(hold, threads=16)
        assert most_inside[0] == 1
    finally:
        for engine in engines:
            engine.dispose()


def test_holding_one_target_does_not_hold_another_and_a_thread_cannot_hold_one_twice(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(REPLICAS)]
    try:
        first, second = (SqlMonitorStore(engine) for engine in engines)
        with first.target_lock("t1"):
            with second.target_lock("t2"):  # would wait forever (or time out) if t1 held it
                pass
            with pytest.raises(RuntimeError):
                with first.target_lock("t1"):
                    pass
    finally:
        for engine in engines:
            engine.dispose()


@postgres_only
def test_a_replica_waiting_too_long_for_a_target_gets_unavailable(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(key_locks, "LOCK_WAIT_TIMEOUT_MS", 200)
    engines = [make_engine(database_url) for _ in range(REPLICAS)]
    try:
        first, second = (SqlMonitorStore(engine) for engine in engines)
        with first.target_lock("t1"), pytest.raises(Unavailable):
            with second.target_lock("t1"):
                pass
        with second.target_lock("t1"):  # free again once the holder left
            pass
    finally:
        for engine in engines:
            engine.dispose()


def test_units_of_work_on_one_target_from_two_engines_run_one_after_the_other(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(REPLICAS)]
    try:
        stores = [SqlAlertingStore(engine) for engine in engines]
        target_id = str(uuid.uuid4())
        guard, inside, most_inside = threading.Lock(), [0], [0]

        def increment(index: int) -> None:
            with stores[index % REPLICAS].unit_of_work(target_id) as uow:
                with guard:
                    inside[0] += 1
                    most_inside[0] = max(most_inside[0], inside[0])
                state = uow.load_state()
                uow.save_state(replace(state, consecutive_failures=state.consecutive_failures + 1))
                with guard:
                    inside[0] -= 1

        run_concurrently(increment, threads=20)

        with stores[0].unit_of_work(target_id) as uow:
            assert uow.load_state().consecutive_failures == 20
        assert most_inside[0] == 1
    finally:
        for engine in engines:
            engine.dispose()
