"""The plain monolith's own mechanics that the parity suite cannot reach: the request's shared transaction and its
after-commit work, and webhooks left behind by a process that died between the commit and the POST."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from direct_plain.monolith.alerting import AlertingService
from direct_plain.monolith.backend import PlainBackend
from direct_plain.monolith.database import Database
from direct_plain.monolith.monitor import MonitorService
from direct_plain.monolith.notification import NotificationService
from direct_plain.monolith.tables import SCHEMA, targets, webhook_outbox
from direct_plain.monolith.webhooks import Webhooks
from shared.domain import NewResult, NewTarget, utcnow
from shared.outbound import HttpProber, HttpWebhookSender
from shared.ports import WebhookOutcome
from shared.storage import make_engine


class RecordingSender(HttpWebhookSender):
    """Records each delivery; ``fail`` makes the next one raise, as a process dying mid-send would stop it."""

    def __init__(self) -> None:
        super().__init__()
        self.deliveries: list[tuple[str, dict, str]] = []
        self.fail = False

    def deliver(self, url: str, payload: dict, idempotency_key: str) -> WebhookOutcome:
        if self.fail:
            self.fail = False
            raise ConnectionError("the process died before the POST")
        self.deliveries.append((url, payload, idempotency_key))
        return WebhookOutcome(delivered=True, attempts=1)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(make_engine(f"sqlite:///{tmp_path / 'plain.db'}"), SCHEMA)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def app(db: Database, sender: RecordingSender) -> tuple[PlainBackend, Webhooks]:
    webhooks = Webhooks(db, sender)
    notification = NotificationService(db, webhooks)
    alerting = AlertingService(db, notification)
    return PlainBackend(db, MonitorService(db, HttpProber(), alerting), alerting, notification), webhooks


def test_work_given_to_on_commit_runs_after_the_commit_and_a_joined_transaction_commits_with_the_outer(db):
    seen: list[int] = []
    with db.transaction() as outer:
        with db.transaction() as inner:
            assert inner is outer
            inner.execute(targets.insert(), {"id": "t", "tenant": "dev", "name": "n", "url": "http://x/", "interval_s": 60,
                                             "failure_threshold": 1, "latency_threshold_ms": None, "webhook_url": None,
                                             "created_at": utcnow()})
        db.on_commit(lambda: seen.append(len(db.engine.connect().execute(select(targets.c.id)).all())))
        assert seen == []
    assert seen == [1]  # ran once the row was committed, visible to another connection


def test_work_given_to_on_commit_never_runs_when_the_transaction_rolls_back(db):
    seen: list[str] = []
    with pytest.raises(LookupError), db.transaction():
        db.on_commit(lambda: seen.append("ran"))
        raise LookupError("the request failed after queuing its work")
    assert seen == []


def test_an_alert_change_posts_its_webhook_once_after_the_commit_and_records_it(app, sender):
    backend, _ = app
    target = backend.create_target("dev", NewTarget(name="web", url="http://x/", failure_threshold=1,
                                                    webhook_url="http://hooks/a"))
    backend.ingest_result("dev", target.id, NewResult(ok=False, latency_ms=1))
    [(url, payload, key)] = sender.deliveries
    assert (url, payload["event"]) == ("http://hooks/a", "alert_opened")
    notes = backend.list_notifications("dev", target.id, None)
    assert {(n.channel, n.status) for n in notes} == {("log", "sent"), ("webhook", "sent")}
    assert next(n for n in notes if n.channel == "webhook").id == key


def test_a_webhook_left_unsent_is_sent_again_with_the_same_key_once_its_claim_lapses(app, db, sender):
    backend, webhooks = app
    target = backend.create_target("dev", NewTarget(name="web", url="http://x/", failure_threshold=1,
                                                    webhook_url="http://hooks/a"))
    sender.fail = True
    backend.ingest_result("dev", target.id, NewResult(ok=False, latency_ms=1))  # committed; its POST died
    assert sender.deliveries == []
    assert webhooks.sweep() == 0  # the claim is still fresh: its owner may yet send it
    with db.transaction() as connection:
        connection.execute(update(webhook_outbox).values(claimed_at=utcnow() - timedelta(seconds=60)))
    assert webhooks.sweep() == 1
    assert webhooks.sweep() == 0  # sent and recorded: nothing is left to take over
    [(_, payload, key)] = sender.deliveries
    assert payload["event"] == "alert_opened"
    [webhook] = [n for n in backend.list_notifications("dev", target.id, None) if n.channel == "webhook"]
    assert (webhook.id, webhook.status) == (key, "sent")


def test_deleting_a_target_deletes_its_results_alerts_and_notifications(app):
    backend, _ = app
    target = backend.create_target("dev", NewTarget(name="web", url="http://x/", failure_threshold=1))
    backend.ingest_result("dev", target.id, NewResult(ok=False, latency_ms=1))
    assert backend.list_alerts("dev", target.id, None) and backend.list_notifications("dev", target.id, None)
    backend.delete_target("dev", target.id)
    assert backend.list_alerts("dev", None, None) == [] and backend.list_notifications("dev", None, None) == []
