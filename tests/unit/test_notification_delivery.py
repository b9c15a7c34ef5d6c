"""NotificationCore: one webhook per alert change however many deliveries of it overlap, claims, takeovers."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shared.core import NotificationCore
from shared.core.notification import CLAIM_LEASE_S
from shared.domain import Alert, AlertChange, Notification, Unavailable, derived_id
from shared.outbound import WEBHOOK_BUDGET_S
from shared.ports import WebhookOutcome, WebhookSender
from tests.support.fakes import InMemoryNotificationStore
from tests.support.waiting import wait_until

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ALERT = Alert("a-1", "t-1", "down", "open", T0, None, "r-1")
CHANGE = AlertChange(ALERT, "alert_opened", "http://hooks.test/x")
WEBHOOK_ID = derived_id(ALERT.id, "alert_opened", "webhook")
DELIVERED = WebhookOutcome(delivered=True, attempts=1)


class GatedWebhook(WebhookSender):
    """Records each delivery; holds every one until ``gate`` is set; answers ``outcome``."""

    def __init__(self, outcome: WebhookOutcome = DELIVERED, gated: bool = False):
        self.outcome = outcome
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.calls: list[tuple[str, dict, str | None]] = []
        self._lock = threading.Lock()

    def post(self, url: str, payload: dict) -> bool:
        raise AssertionError("the core delivers with an idempotency key")

    def deliver(self, url: str, payload: dict, idempotency_key: str) -> WebhookOutcome:
        with self._lock:
            self.calls.append((url, payload, idempotency_key))
        assert self.gate.wait(10), "the test never opened the gate"
        return self.outcome


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_the_lease_outlasts_the_webhook_budget():
    assert CLAIM_LEASE_S >= 3 * WEBHOOK_BUDGET_S


def test_a_webhook_is_sent_with_the_notification_id_as_idempotency_key_and_its_attempts_recorded():
    webhook = GatedWebhook(WebhookOutcome(delivered=True, attempts=3))
    core = NotificationCore(InMemoryNotificationStore(), webhook)
    notes = core.deliver(CHANGE)
    [(url, payload, key)] = webhook.calls
    assert (url, key) == ("http://hooks.test/x", WEBHOOK_ID)
    assert payload["event"] == "alert_opened" and payload["alert"]["id"] == ALERT.id
    assert [(n.channel, n.status, n.attempts) for n in notes] == [("log", "sent", 1), ("webhook", "sent", 3)]
    assert notes[1].id == WEBHOOK_ID


def test_a_webhook_that_fails_is_recorded_failed_with_every_attempt_counted():
    core = NotificationCore(InMemoryNotificationStore(), GatedWebhook(WebhookOutcome(delivered=False, attempts=4)))
    assert [(n.channel, n.status, n.attempts) for n in core.deliver(CHANGE)] == [("log", "sent", 1), ("webhook", "failed", 4)]


def test_a_sender_without_its_own_retries_counts_one_attempt():
    class PlainWebhook(WebhookSender):
        def post(self, url: str, payload: dict) -> bool:
            return False

    core = NotificationCore(InMemoryNotificationStore(), PlainWebhook())
    assert [(n.status, n.attempts) for n in core.deliver(CHANGE)] == [("sent", 1), ("failed", 1)]


def test_concurrent_deliveries_of_one_change_send_its_webhook_once_and_all_return_the_record():
    store = InMemoryNotificationStore()
    webhook = GatedWebhook(gated=True)
    core = NotificationCore(store, webhook)
    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(core.deliver, CHANGE) for _ in range(10)]
        wait_until(lambda: webhook.calls, message="no delivery started")
        webhook.gate.set()
        results = [future.result(timeout=10) for future in futures]
    assert len(webhook.calls) == 1
    assert all(result == results[0] for result in results) and len(results[0]) == 2
    assert len(store.list_notifications("dev", None, ALERT.id)) == 2


def test_a_delivery_overlapping_a_send_returns_only_after_the_send_is_recorded():
    store = InMemoryNotificationStore()
    webhook = GatedWebhook(gated=True)
    core = NotificationCore(store, webhook)
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(core.deliver, CHANGE)
        wait_until(lambda: webhook.calls, message="no delivery started")
        second = pool.submit(core.deliver, CHANGE)
        with pytest.raises(TimeoutError):
            second.result(timeout=0.3)  # it waits for the claimant rather than returning early
        webhook.gate.set()
        assert second.result(timeout=10) == first.result(timeout=10)
    assert len(webhook.calls) == 1


def test_a_claim_whose_claimant_died_is_taken_over_once_its_lease_has_run_out():
    store = InMemoryNotificationStore()
    clock = Clock()
    store.claim(ALERT.id, "alert_opened", "webhook", "dead-claimant", T0, CLAIM_LEASE_S)  # crashed mid-send
    webhook = GatedWebhook()
    core = NotificationCore(store, webhook, clock=clock)
    with ThreadPoolExecutor(max_workers=1) as pool:
        delivery = pool.submit(core.deliver, CHANGE)
        with pytest.raises(TimeoutError):
            delivery.result(timeout=0.2)  # the claim is fresh: wait
        assert webhook.calls == []
        clock.now = T0 + timedelta(seconds=CLAIM_LEASE_S + 1)
        notes = delivery.result(timeout=10)
    assert [(n.channel, n.status) for n in notes] == [("log", "sent"), ("webhook", "sent")]
    assert [key for _, _, key in webhook.calls] == [WEBHOOK_ID]  # the receiver can drop a repeat by this key


def test_a_delivery_that_sees_neither_a_record_nor_the_end_of_the_lease_gives_up_unavailable():
    store = InMemoryNotificationStore()
    store.claim(ALERT.id, "alert_opened", "webhook", "stuck", T0, 0.2)
    core = NotificationCore(store, GatedWebhook(), clock=Clock(T0), lease_s=0.2)  # the clock stands still
    with pytest.raises(Unavailable):
        core.deliver(CHANGE)


class FailingOnceStore(InMemoryNotificationStore):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def add_all(self, notifications: list[Notification]) -> list[Notification]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database down (fake)")
        return super().add_all(notifications)


def test_a_claimant_that_cannot_record_releases_its_claim_so_a_retry_sends_at_once():
    store = FailingOnceStore()
    webhook = GatedWebhook()
    core = NotificationCore(store, webhook, clock=Clock())
    with pytest.raises(ConnectionError):
        core.deliver(CHANGE)
    assert [(n.channel, n.status) for n in core.deliver(CHANGE)] == [("log", "sent"), ("webhook", "sent")]
    assert len(webhook.calls) == 2  # sent again (same idempotency key): at least once when recording fails


def test_a_repeat_after_the_record_sends_nothing_and_a_change_without_webhook_claims_nothing():
    store = InMemoryNotificationStore()
    webhook = GatedWebhook()
    core = NotificationCore(store, webhook)
    first = core.deliver(CHANGE)
    assert core.deliver(CHANGE) == first and len(webhook.calls) == 1
    quiet = AlertChange(ALERT, "alert_resolved", None)
    [note] = core.deliver(quiet)
    assert (note.channel, note.status, note.attempts) == ("log", "sent", 1)
    assert store.claim(ALERT.id, "alert_resolved", "webhook", "me", T0, CLAIM_LEASE_S).token == "me"
