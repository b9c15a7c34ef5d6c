"""Each store keeps tenants apart, on the in-memory fake, SQLite and PostgreSQL (the backends and fixtures of
``test_storage``): lists hold the asking tenant's rows only, target names are unique per tenant, and a target of
another tenant is not found, not read, not removed and takes no result. A table from before tenants is refused."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import Engine

from shared.domain import Conflict, NotFound
from shared.ports import AlertingStore, MonitorStore, NotificationStore
from shared.storage import SqlMonitorStore
from shared.storage.database import OutdatedSchema
from tests.integration import test_storage as storage
from tests.integration.test_storage import a_notification, a_result, a_target, an_alert

# test_storage's backends (memory, SQLite, PostgreSQL in a fresh schema) and stores, by the same fixture names.
postgres_url = storage.postgres_url
postgres_schema_url = storage.postgres_schema_url
backend = storage.backend
database_url = storage.database_url
open_engine = storage.open_engine
monitor = storage.monitor
alerting = storage.alerting
notification = storage.notification


def test_two_tenants_may_each_have_a_target_of_the_same_name_but_not_two(monitor: MonitorStore) -> None:
    monitor.add_target(replace(a_target("web"), tenant="acme"))
    monitor.add_target(replace(a_target("web"), tenant="globex"))

    with pytest.raises(Conflict):
        monitor.add_target(replace(a_target("web"), tenant="acme"))

    assert monitor.list_targets("acme", limit=10, offset=0).total == 1
    assert monitor.list_targets("globex", limit=10, offset=0).total == 1


def test_a_tenant_lists_and_counts_only_its_own_targets(monitor: MonitorStore) -> None:
    mine = [replace(a_target(f"m{i}"), tenant="acme") for i in range(3)]
    for target in [*mine, replace(a_target("theirs"), tenant="globex")]:
        monitor.add_target(target)

    page = monitor.list_targets("acme", limit=2, offset=0)

    assert page.total == 3 and {t.name for t in page.items} <= {"m0", "m1", "m2"} and len(page.items) == 2
    assert monitor.list_targets("nobody", limit=10, offset=0).total == 0


def test_a_target_of_another_tenant_is_not_found_and_stays(monitor: MonitorStore) -> None:
    target = replace(a_target(), tenant="acme")
    monitor.add_target(target)

    with pytest.raises(NotFound):
        monitor.get_target(target.id, "globex")
    with pytest.raises(NotFound):
        monitor.remove_target(target.id, "globex")

    assert monitor.get_target(target.id, "acme") == target
    assert monitor.get_target(target.id) == target  # the service's own bookkeeping reads any tenant's


def test_a_result_for_a_target_of_another_tenant_is_refused_and_not_stored(monitor: MonitorStore) -> None:
    target = replace(a_target(), tenant="acme")
    monitor.add_target(target)

    with pytest.raises(NotFound):
        monitor.add_result_of_target(a_result(target.id, result_id="r1"), None, "globex")
    with pytest.raises(NotFound):
        monitor.add_unannounced_result(a_result(target.id, result_id="r2"), None, "globex")

    assert monitor.list_results(target.id, limit=10) == []
    stored, found, created = monitor.add_result_of_target(a_result(target.id, result_id="r3"), None, "acme")
    assert created and found == target and monitor.list_results(target.id, limit=10) == [stored]


def test_a_tenant_lists_only_its_own_alerts(alerting: AlertingStore) -> None:
    mine = replace(an_alert("t1", opened_by="k1"), tenant="acme")
    theirs = replace(an_alert("t2", opened_by="k2"), tenant="globex")
    for alert in (mine, theirs):
        with alerting.unit_of_work(alert.target_id) as uow:
            uow.add_alert(alert)

    assert alerting.list_alerts("acme", None, None) == [mine]
    assert alerting.list_alerts("acme", "t2", None) == []
    assert alerting.list_alerts("globex", None, "open") == [theirs]


def test_a_tenant_lists_only_its_own_notifications(notification: NotificationStore) -> None:
    mine = replace(a_notification("a1", target_id="t1"), tenant="acme")
    theirs = replace(a_notification("a2", target_id="t2"), tenant="globex")
    notification.add_all([mine])
    notification.add_all([theirs])

    assert notification.list_notifications("acme", None, None) == [mine]
    assert notification.list_notifications("acme", None, "a2") == []
    assert notification.list_notifications("globex", "t2", None) == [theirs]


@storage.sql_only
def test_a_targets_table_from_before_tenants_is_refused_with_a_message_that_says_what_to_do(
    open_engine: Callable[[], Engine],
) -> None:
    engine = open_engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE targets (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE)")

    with pytest.raises(OutdatedSchema, match=r"table targets has no column tenant.*older version.*make clean"):
        SqlMonitorStore(engine)
