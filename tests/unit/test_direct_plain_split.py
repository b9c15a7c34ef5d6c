"""What replaced the plain monolith's shared transaction when it moved to services: outboxes handed over after the
commit, in order, and receivers that apply a repeat once. The parity suite runs the split with every service up;
these tests take a peer down."""
from __future__ import annotations

from pathlib import Path

import pytest

from direct_plain.monolith.database import Database
from direct_plain.monolith.monitor import MonitorService
from direct_plain.split.alerting import SplitAlertingService
from direct_plain.split.clients import AlertingClient, NotificationClient
from direct_plain.split.monitor import Evaluations
from direct_plain.split.notification import SplitNotificationService, SplitWebhooks
from direct_plain.split.tables import ALERTING, MONITOR, NOTIFICATION
from shared.domain import Alert, AlertEvent, CheckResult, NewResult, NewTarget, RuleParams, Unavailable, utcnow
from shared.outbound import HttpProber, HttpWebhookSender
from shared.ports import WebhookOutcome
from shared.storage import make_engine


class FlakyAlerting(AlertingClient):
    """The alerting service as the monitor reaches it: down until ``up``; records what it was handed."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1:9", 1.0)
        self.up = False
        self.handed: list[str] = []

    def evaluate(self, result: CheckResult, params: RuleParams) -> None:
        if not self.up:
            raise Unavailable("the alerting service is unavailable")
        self.handed.append(result.id)


class RecordingNotification(NotificationClient):
    def __init__(self) -> None:
        super().__init__("127.0.0.1:9", 1.0)
        self.changes: list[tuple[str, str, str | None]] = []

    def notify(self, alert: Alert, event: AlertEvent, webhook_url: str | None) -> None:
        self.changes.append((alert.kind, event, webhook_url))


class RecordingSender(HttpWebhookSender):
    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    def deliver(self, url: str, payload: dict, idempotency_key: str) -> WebhookOutcome:
        self.keys.append(idempotency_key)
        return WebhookOutcome(delivered=True, attempts=1)


def _db(tmp_path: Path, name: str, schema) -> Database:
    return Database(make_engine(f"sqlite:///{tmp_path / name}.db"), schema)


def test_results_recorded_while_alerting_is_down_are_handed_over_later_once_each_and_in_order(tmp_path):
    db, alerting = _db(tmp_path, "monitor", MONITOR), FlakyAlerting()
    evaluations = Evaluations(db, alerting)
    monitor = MonitorService(db, HttpProber(), evaluations)  # type: ignore[arg-type]
    with db.transaction():
        target = monitor.create_target("dev", NewTarget(name="web", url="http://x/"))
    recorded = []
    for ok in (False, True, False):
        with db.transaction():  # the commit hands it over: alerting is down, so it stays waiting
            recorded.append(monitor.ingest_result("dev", target.id, NewResult(ok=ok, latency_ms=1)).id)
    assert alerting.handed == []
    alerting.up = True
    assert evaluations.hand_over(target.id) is True
    assert evaluations.hand_over(target.id) is True
    assert alerting.handed == recorded


def test_alerting_applies_a_result_handed_over_twice_once_and_hands_each_change_to_notification(tmp_path):
    db, notification = _db(tmp_path, "alerting", ALERTING), RecordingNotification()
    alerting = SplitAlertingService(db, notification)
    params = RuleParams(failure_threshold=1, latency_threshold_ms=None, webhook_url="http://hooks/a", tenant="acme")
    result = CheckResult("r1", "t1", False, 1.0, None, *(2 * [utcnow()]))
    for _ in range(2):
        with db.transaction():
            alerting.evaluate(result, params)
    with db.reading():
        [alert] = alerting.list_alerts("acme", "t1", None)
        assert alerting.list_alerts("dev", None, None) == []
    assert (alert.kind, alert.state, alert.opened_by_result_id) == ("down", "open", "r1")
    assert notification.changes == [("down", "alert_opened", "http://hooks/a")]


def test_notification_records_and_sends_a_change_notified_twice_once(tmp_path):
    db, sender = _db(tmp_path, "notification", NOTIFICATION), RecordingSender()
    service = SplitNotificationService(db, SplitWebhooks(db, sender))
    alert = Alert("a1", "t1", "down", "open", utcnow(), None, "r1", tenant="acme")
    for _ in range(2):
        with db.transaction():
            service.notify(alert, "alert_opened", "http://hooks/a")
    with db.reading():
        notes = service.list_notifications("acme", "t1", None)
        assert service.list_notifications("dev", None, None) == []
    assert sorted((n.channel, n.status) for n in notes) == [("log", "sent"), ("webhook", "sent")]
    assert sender.keys == [next(n.id for n in notes if n.channel == "webhook")]


@pytest.mark.parametrize("name", ["monitor", "alerting", "notification"])
def test_each_service_database_has_no_table_of_another_service(name):
    schema = {"monitor": MONITOR, "alerting": ALERTING, "notification": NOTIFICATION}[name]
    owned = {"monitor": {"targets", "results", "evaluation_outbox"},
             "alerting": {"rule_states", "alerts", "evaluated_results", "notification_outbox"},
             "notification": {"notifications", "webhook_outbox"}}[name]
    assert set(schema.tables) == owned
    assert all(fk.column.table.name in owned for table in schema.tables.values() for fk in table.foreign_keys)
