"""The direct-calls services over in-memory fakes: the calls between them, and all-or-nothing ingestion."""
from __future__ import annotations

import pytest

from direct_calls.monolith.services import AlertingService, MonitorService, NotificationService
from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.domain import AlertChange, Conflict, NewResult, NewTarget, NotFound, Unavailable
from shared.ports import ProbeOutcome, Prober, WebhookSender
from tests.support.fakes import InMemoryAlertingStore, InMemoryMonitorStore, InMemoryNotificationStore


class FixedProber(Prober):
    def __init__(self, outcome: ProbeOutcome):
        self.outcome = outcome
        self.urls: list[str] = []

    def probe(self, url: str) -> ProbeOutcome:
        self.urls.append(url)
        return self.outcome


class RecordingWebhook(WebhookSender):
    def __init__(self, answer: bool = True):
        self.answer = answer
        self.posts: list[tuple[str, dict]] = []

    def post(self, url: str, payload: dict) -> bool:
        self.posts.append((url, payload))
        return self.answer


class FlakyNotification(NotificationService):
    """A notification service whose peer is down until ``up`` is set (what a split client raises)."""

    up = False

    def notify(self, change: AlertChange):
        if not self.up:
            raise Unavailable("notification is down")
        return super().notify(change)


@pytest.fixture
def app():
    webhook = RecordingWebhook()
    notification = FlakyNotification(NotificationCore(InMemoryNotificationStore(), webhook))
    notification.up = True
    alerting = AlertingService(AlertingCore(InMemoryAlertingStore()), notification)
    prober = FixedProber(ProbeOutcome(ok=False, latency_ms=3.0, status_code=500))
    monitor = MonitorService(MonitorCore(InMemoryMonitorStore(), prober), alerting)
    return monitor, alerting, notification, webhook, prober


def fail(key: str | None = None) -> NewResult:
    return NewResult(ok=False, latency_ms=1.0, key=key)


def test_the_threshold_failure_opens_an_alert_and_notifies_log_and_webhook(app):
    monitor, alerting, notification, webhook, _ = app
    target = monitor.create_target("dev", NewTarget("t", "http://x.test", failure_threshold=2, webhook_url="http://hook.test"))
    monitor.ingest_result("dev", target.id, fail())
    third = monitor.ingest_result("dev", target.id, fail())
    [alert] = alerting.list_alerts("dev", target.id, "open")
    assert alert.opened_by_result_id == third.id
    assert sorted(n.channel for n in notification.list_notifications("dev", target.id, None)) == ["log", "webhook"]
    assert webhook.posts[0][1]["alert"]["id"] == alert.id


def test_a_repeated_idempotency_key_is_applied_once(app):
    monitor, alerting, _, _, _ = app
    target = monitor.create_target("dev", NewTarget("t", "http://x.test", failure_threshold=2))
    first = monitor.ingest_result("dev", target.id, fail("k1"))
    again = monitor.ingest_result("dev", target.id, fail("k1"))
    assert first.id == again.id
    assert len(monitor.list_results("dev", target.id, 50)) == 1
    assert alerting.list_alerts("dev", target.id, None) == []


def test_when_notification_is_down_ingestion_fails_and_no_alert_stays_open(app):
    monitor, alerting, notification, _, _ = app
    target = monitor.create_target("dev", NewTarget("t", "http://x.test", failure_threshold=1))
    notification.up = False
    with pytest.raises(Unavailable):
        monitor.ingest_result("dev", target.id, fail("k1"))
    assert alerting.list_alerts("dev", target.id, None) == []


class DiesAfterCommitting(AlertingService):
    """Alerting that applies a result, then dies before answering, the first ``deaths`` times."""

    deaths = 1

    def evaluate(self, result, params):
        changes = super().evaluate(result, params)
        if self.deaths:
            self.deaths -= 1
            raise Unavailable("alerting died before answering")
        return changes


def _applied(alerting: AlertingService, target_id: str, result_ids: list[str]) -> list[str]:
    """Which of ``result_ids`` alerting has applied (its ledger, read through a unit of work)."""
    with alerting._core._store.unit_of_work(target_id) as uow:
        return [rid for rid in result_ids if uow.is_processed(rid)]


def test_a_result_that_alerting_applied_before_dying_is_neither_lost_nor_applied_twice():
    notification = NotificationService(NotificationCore(InMemoryNotificationStore(), RecordingWebhook()))
    alerting = DiesAfterCommitting(AlertingCore(InMemoryAlertingStore()), notification)
    monitor = MonitorService(MonitorCore(InMemoryMonitorStore(), FixedProber(ProbeOutcome(True, 1.0, 200))), alerting)
    target = monitor.create_target("dev", NewTarget("t", "http://x.test", failure_threshold=2))
    with pytest.raises(Unavailable):
        monitor.ingest_result("dev", target.id, fail("k1"))  # applied by alerting, the answer lost
    monitor.ingest_result("dev", target.id, NewResult(ok=True, latency_ms=1.0, key="k2"))
    monitor.ingest_result("dev", target.id, fail("k3"))
    stored = [r.id for r in reversed(monitor.list_results("dev", target.id, 50))]
    assert len(stored) == 3
    assert _applied(alerting, target.id, stored) == stored  # what is listed is what alerting counted
    assert alerting.list_alerts("dev", target.id, None) == []  # failure, ok, failure: the threshold of 2 is never met


def test_a_retry_of_a_result_whose_answer_was_lost_applies_it_once(app):
    _, _, notification, _, _ = app
    alerting = DiesAfterCommitting(AlertingCore(InMemoryAlertingStore()), notification)
    monitor = MonitorService(MonitorCore(InMemoryMonitorStore(), FixedProber(ProbeOutcome(True, 1.0, 200))), alerting)
    target = monitor.create_target("dev", NewTarget("t", "http://x.test", failure_threshold=1))
    with pytest.raises(Unavailable):
        monitor.ingest_result("dev", target.id, fail("k1"))
    again = monitor.ingest_result("dev", target.id, fail("k1"))
    assert [r.id for r in monitor.list_results("dev", target.id, 50)] == [again.id]
    assert len(alerting.list_alerts("dev", target.id, "open")) == 1
    assert len(notification.list_notifications("dev", target.id, None)) == 1


def test_a_retry_after_the_peer_recovers_opens_exactly_one_alert_and_one_notification(app):
    monitor, alerting, notification, _, _ = app
    target = monitor.create_target("dev", NewTarget("t", "http://x.test", failure_threshold=1))
    notification.up = False
    with pytest.raises(Unavailable):
        monitor.ingest_result("dev", target.id, fail("k1"))
    notification.up = True
    monitor.ingest_result("dev", target.id, fail("k1"))
    assert len(alerting.list_alerts("dev", target.id, "open")) == 1
    assert len(notification.list_notifications("dev", target.id, None)) == 1


def test_check_probes_the_target_url_and_ingests_the_outcome(app):
    monitor, alerting, _, _, prober = app
    target = monitor.create_target("dev", NewTarget("t", "http://probe.test/x", failure_threshold=1))
    result = monitor.check_target("dev", target.id)
    assert prober.urls == ["http://probe.test/x"]
    assert (result.ok, result.status_code) == (False, 500)
    assert len(alerting.list_alerts("dev", target.id, "open")) == 1


def test_results_for_an_unknown_target_are_refused(app):
    monitor = app[0]
    with pytest.raises(NotFound):
        monitor.ingest_result("dev", "00000000-0000-0000-0000-000000000000", fail())


def test_applying_a_result_again_returns_the_changes_it_made_the_first_time(app):
    monitor, alerting, _, _, _ = app
    target = monitor.create_target("dev", NewTarget("t", "http://x.test", failure_threshold=1))
    result = monitor.ingest_result("dev", target.id, fail())
    core = alerting._core
    again = core.apply(result, target.rule_params)
    assert [(c.alert.kind, c.event) for c in again] == [("down", "alert_opened")]
    assert len(alerting.list_alerts("dev", target.id, None)) == 1


def test_a_targets_tenant_travels_to_its_alerts_and_notifications(app):
    monitor, alerting, notification, _, _ = app
    target = monitor.create_target("acme", NewTarget("t", "http://x.test", failure_threshold=1, webhook_url="http://h.test"))
    monitor.ingest_result("acme", target.id, fail())
    [alert] = alerting.list_alerts("acme", target.id, None)
    assert target.tenant == alert.tenant == "acme"
    assert {n.tenant for n in notification.list_notifications("acme", None, alert.id)} == {"acme"}
    assert alerting.list_alerts("dev", None, None) == [] and notification.list_notifications("dev", None, None) == []


def test_another_tenant_can_neither_read_nor_change_a_target_nor_probe_it(app):
    monitor, alerting, _, webhook, prober = app
    target = monitor.create_target("acme", NewTarget("t", "http://x.test", failure_threshold=1, webhook_url="http://h.test"))
    for refused in (lambda: monitor.get_target("dev", target.id), lambda: monitor.list_results("dev", target.id, 10),
                    lambda: monitor.ingest_result("dev", target.id, fail()), lambda: monitor.check_target("dev", target.id),
                    lambda: monitor.delete_target("dev", target.id)):
        with pytest.raises(NotFound):
            refused()
    assert monitor.list_targets("dev", 10, 0).total == 0
    assert prober.urls == [] and webhook.posts == [] and alerting.list_alerts("acme", None, None) == []
    assert monitor.get_target("acme", target.id) == target and monitor.list_results("acme", target.id, 10) == []


def test_a_name_is_unique_within_a_tenant_only(app):
    monitor = app[0]
    monitor.create_target("acme", NewTarget("web", "http://x.test"))
    monitor.create_target("globex", NewTarget("web", "http://x.test"))
    with pytest.raises(Conflict):
        monitor.create_target("acme", NewTarget("web", "http://y.test"))
