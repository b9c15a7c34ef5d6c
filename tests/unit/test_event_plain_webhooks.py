"""The plain monolith's webhook sends, made after the commit from the ``webhook_sends`` table."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from event_plain.monolith.tables import METADATA, alerts, notifications, targets, webhook_sends
from event_plain.monolith.webhooks import LEASE_S, WebhookDeliveries
from shared.domain import utcnow
from shared.outbound import HttpWebhookSender
from shared.ports import WebhookOutcome
from shared.storage.database import create_tables, make_engine, read_transaction, write_transaction
from tests.support.waiting import wait_until


class RecordingSender(HttpWebhookSender):
    """Records each delivery instead of POSTing it."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    def deliver(self, url: str, payload: dict, idempotency_key: str) -> WebhookOutcome:
        self.keys.append(idempotency_key)
        return WebhookOutcome(delivered=True, attempts=1)


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_tables(engine, METADATA)
    now = utcnow()
    with write_transaction(engine) as connection:
        connection.execute(insert(targets).values(id="t1", tenant="dev", name="web", url="https://example.org",
                                                  interval_s=60, failure_threshold=1, latency_threshold_ms=None,
                                                  webhook_url="https://example.org/hook", created_at=now))
        connection.execute(insert(alerts).values(id="a1", target_id="t1", kind="down", state="open", opened_at=now,
                                                 resolved_at=None, opened_by_result_id="r1"))
    return engine


def _pending(engine, claimed_ago_s: float | None) -> None:
    claimed_at = None if claimed_ago_s is None else utcnow() - timedelta(seconds=claimed_ago_s)
    with write_transaction(engine) as connection:
        connection.execute(insert(webhook_sends).values(
            id="w1", alert_id="a1", target_id="t1", event="alert_opened", url="https://example.org/hook",
            payload=json.dumps({"event": "alert_opened"}), message="down alert opened", token="dead" if claimed_at else None,
            claimed_at=claimed_at))


def _recorded(engine) -> list[tuple[str, str]]:
    with read_transaction(engine) as connection:
        return [tuple(row) for row in connection.execute(select(notifications.c.id, notifications.c.status))]


@pytest.mark.parametrize("claimed_ago_s", [None, LEASE_S + 1], ids=["never-woken", "claimant-died"])
def test_a_send_left_by_a_process_that_died_is_sent_once_by_the_sweeper_and_recorded(engine, claimed_ago_s):
    _pending(engine, claimed_ago_s)
    sender = RecordingSender()
    deliveries = WebhookDeliveries(engine, sender)
    deliveries.start()  # the sweeper looks at once
    try:
        wait_until(lambda: _recorded(engine), message="the pending webhook was not sent")
        deliveries.wake("t1")  # nothing is left to send
    finally:
        deliveries.close()  # waits for the sends asked for
    assert _recorded(engine) == [("w1", "sent")]
    assert sender.keys == ["w1"]


def test_a_send_claimed_by_a_live_sender_is_left_to_it(engine):
    _pending(engine, claimed_ago_s=0.0)
    sender = RecordingSender()
    deliveries = WebhookDeliveries(engine, sender)
    deliveries.wake("t1")
    deliveries.close()  # waits for the worker
    assert sender.keys == [] and _recorded(engine) == []
