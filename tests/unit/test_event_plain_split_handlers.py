"""The plain split's services without a broker: the ledger, the copies fed by events, the outbox, the codec."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from event_plain.monolith.messages import CreateTarget, ResultRecorded
from event_plain.monolith.tables import alerts, rule_states
from event_plain.split.bootstrap import service_bus
from event_plain.split.codec import decode_event, encode_event
from event_plain.split.messages import AlertChanged, Receive, TargetCreated, TargetDeleted
from event_plain.split.outbox import Relay
from event_plain.split.tables import SCHEMAS, outbox
from shared.domain import Alert, CheckResult, Conflict, NewTarget, Target
from shared.storage.database import create_tables, make_engine, read_transaction

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
TARGET = Target(id="t1", name="web", url="https://example.org", interval_s=60, failure_threshold=2,
                latency_threshold_ms=None, webhook_url=None, created_at=NOW, tenant="acme")


def _failure(result_id: str) -> CheckResult:
    return CheckResult(id=result_id, target_id=TARGET.id, ok=False, latency_ms=5.0, status_code=500,
                       checked_at=NOW, received_at=NOW)


def _service(tmp_path, name: str):
    engine = make_engine(f"sqlite:///{tmp_path / (name + '.db')}")
    create_tables(engine, SCHEMAS[name])
    relay = Relay(engine, "amqp://unused", "test")  # never started: its rows stay in the outbox
    return engine, service_bus(name, engine, relay.store, lambda target_id: None)


def _outbox(engine) -> list[tuple[str, dict]]:
    with read_transaction(engine) as connection:
        rows = connection.execute(select(outbox.c.routing_key, outbox.c.body).order_by(outbox.c.seq)).all()
    return [(row.routing_key, json.loads(row.body)) for row in rows]


def test_a_message_delivered_twice_is_applied_once_and_its_alert_announced_once(tmp_path):
    engine, bus = _service(tmp_path, "alerting")
    bus.handle(Receive("m0", TargetCreated(TARGET)))
    bus.handle(Receive("m1", ResultRecorded(_failure("r1"))))
    bus.handle(Receive("m1", ResultRecorded(_failure("r1"))))  # a redelivery: counting it would open the alert
    with read_transaction(engine) as connection:
        assert connection.execute(select(alerts.c.id)).all() == []
    bus.handle(Receive("m2", ResultRecorded(_failure("r2"))))
    [(key, body)] = _outbox(engine)
    assert key == "alert.opened"
    assert body["alert"]["opened_by_result_id"] == "r2" and body["alert"]["tenant"] == "acme"


def test_an_event_about_a_target_deleted_since_is_dropped_with_what_hung_on_its_copy(tmp_path):
    engine, bus = _service(tmp_path, "alerting")
    bus.handle(Receive("m0", TargetCreated(TARGET)))
    bus.handle(Receive("m1", ResultRecorded(_failure("r1"))))
    bus.handle(Receive("m2", TargetDeleted(TARGET.id)))
    bus.handle(Receive("m3", ResultRecorded(_failure("r2"))))  # late: the target is gone
    with read_transaction(engine) as connection:
        assert connection.execute(select(rule_states.c.target_id)).all() == []
        assert connection.execute(select(alerts.c.id)).all() == []
    assert _outbox(engine) == []


def test_the_monitor_keeps_an_event_in_its_outbox_only_when_its_command_commits(tmp_path):
    engine, bus = _service(tmp_path, "monitor")
    created = bus.handle(CreateTarget("acme", NewTarget(name="web", url="https://example.org")))
    with pytest.raises(Conflict):
        bus.handle(CreateTarget("acme", NewTarget(name="web", url="https://example.org/other")))
    [(key, body)] = _outbox(engine)
    assert key == "target.created" and body["target"]["id"] == created.id


@pytest.mark.parametrize("event", [
    TargetCreated(TARGET),
    TargetDeleted("t1"),
    ResultRecorded(_failure("r1")),
    AlertChanged(Alert(id="a1", target_id="t1", kind="down", state="resolved", opened_at=NOW, resolved_at=NOW,
                       opened_by_result_id="r1", tenant="acme"), "alert_resolved"),
], ids=["target-created", "target-deleted", "result-recorded", "alert-changed"])
def test_an_event_crosses_the_broker_unchanged(event):
    key, body = encode_event(event)
    assert decode_event(key, json.loads(json.dumps(body))) == event
