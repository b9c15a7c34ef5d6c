"""The statements built once and the folded transactions of the SQL stores (on every backend of test_storage)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import Engine, event, select

from shared.domain import NotFound
from shared.ports import AlertingStore, MonitorStore
from shared.rules import RuleState
from shared.storage import SqlAlertingStore, write_transaction
from shared.storage.database import insert_ignoring_conflicts
from shared.storage.tables import rule_states
from tests.integration.test_storage import (  # noqa: F401 - fixtures
    a_result,
    a_target,
    alerting,
    backend,
    database_url,
    monitor,
    open_engine,
    postgres_schema_url,
    postgres_url,
)


def test_a_result_is_stored_with_its_target_in_one_call_and_a_repeat_is_not_new(monitor: MonitorStore) -> None:  # noqa: F811
    target = a_target()
    monitor.add_target(target)
    first = a_result(target.id, result_id="r1")

    assert monitor.add_result_of_target(first, "k") == (first, target, True)
    assert monitor.add_result_of_target(replace(first, latency_ms=99.0), "k") == (first, target, False)
    with pytest.raises(NotFound):
        monitor.add_result_of_target(a_result("nope"), None)
    assert monitor.list_results(target.id, limit=10) == [first]


def test_inserting_several_rows_ignoring_conflicts_counts_only_the_new_ones(
    backend: str, open_engine: Callable[[], Engine]  # noqa: F811
) -> None:
    if backend == "memory":
        pytest.skip("SQL only")
    engine = open_engine()
    SqlAlertingStore(engine)  # creates the tables
    def row(target_id: str, failures: int) -> dict[str, object]:
        return {"target_id": target_id, "consecutive_failures": failures, "down_open": False, "slow_open": False}

    with write_transaction(engine) as connection:
        assert insert_ignoring_conflicts(connection, rule_states, [row("a", 1)], ["target_id"]) == 1
        assert insert_ignoring_conflicts(connection, rule_states, [row("a", 2), row("b", 3), row("c", 4)], ["target_id"]) == 2
        assert insert_ignoring_conflicts(connection, rule_states, [], ["target_id"]) == 0
        stored = connection.execute(select(rule_states.c.target_id, rule_states.c.consecutive_failures)
                                    .order_by(rule_states.c.target_id)).all()
    assert [tuple(r) for r in stored] == [("a", 1), ("b", 3), ("c", 4)]


def test_a_unit_of_work_that_changes_no_state_writes_no_state(
    backend: str, open_engine: Callable[[], Engine], alerting: AlertingStore  # noqa: F811
) -> None:
    with alerting.unit_of_work("t") as uow:
        uow.save_state(RuleState(consecutive_failures=2))
    if backend == "memory":
        return
    engine = open_engine()
    store = SqlAlertingStore(engine)
    updates: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: updates.append(statement) if statement.startswith("UPDATE") else None)
    with store.unit_of_work("t") as uow:
        assert uow.load_state() == RuleState(consecutive_failures=2)
        uow.save_state(RuleState(consecutive_failures=2))
        assert updates == []
        uow.save_state(RuleState())
        assert uow.load_state() == RuleState()
    assert len(updates) == 1
    with store.unit_of_work("t") as uow:
        assert uow.load_state() == RuleState()
