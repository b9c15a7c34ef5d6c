"""The app's handlers wired on every ``EventBus`` (in-memory stores): the flow, ordering, and redelivery."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from event_driven.monolith.bootstrap import Application, assemble
from event_driven.monolith.bus import EventBus, partition_of
from event_driven.monolith.events import AlertOpened, CheckCompleted
from event_driven.monolith.handlers import alert_changed
from event_driven.monolith.rpc import CallRequested
from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.domain import AlertChange, Conflict, NewResult, NewTarget, NotFound, new_id
from shared.ports import ProbeOutcome, Prober, WebhookSender
from tests.support.fakes import InMemoryAlertingStore, InMemoryMonitorStore, InMemoryNotificationStore
from tests.support.waiting import wait_for_count, wait_until

NewBus = Callable[[], EventBus]


class FixedProber(Prober):
    def __init__(self, outcome: ProbeOutcome):
        self.outcome = outcome

    def probe(self, url: str) -> ProbeOutcome:
        return self.outcome


class RecordingWebhook(WebhookSender):
    """Records each POST; a POST to a URL in ``held`` waits until its event is set (a receiver that hangs)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.held: dict[str, threading.Event] = {}
        self.holding = threading.Event()

    def post(self, url: str, payload: dict) -> bool:
        release = self.held.get(url)
        if release is not None:
            self.holding.set()
            assert release.wait(20), "the held webhook was never released"
        self.posts.append((url, payload))
        return True


@dataclass
class Running:
    app: Application
    monitor: InMemoryMonitorStore
    alerting: InMemoryAlertingStore
    notification: InMemoryNotificationStore
    webhook: RecordingWebhook

    @property
    def backend(self):
        assert self.app.backend is not None
        return self.app.backend

    @property
    def bus(self) -> EventBus:
        return self.app.bus


@pytest.fixture
def running(new_bus: NewBus) -> Iterator[Running]:
    stores = InMemoryMonitorStore(), InMemoryAlertingStore(), InMemoryNotificationStore()
    webhook = RecordingWebhook()
    app = assemble(
        new_bus(),
        monitor=MonitorCore(stores[0], FixedProber(ProbeOutcome(ok=False, latency_ms=12.0, status_code=503))),
        alerting=AlertingCore(stores[1]),
        notification=NotificationCore(stores[2], webhook),
        timeout_s=10.0,
    )
    yield Running(app, *stores, webhook)
    app.close()


def failure() -> NewResult:
    return NewResult(ok=False, latency_ms=5.0)


def success() -> NewResult:
    return NewResult(ok=True, latency_ms=5.0)


def test_target_lifecycle_over_the_bus(running: Running) -> None:
    backend = running.backend
    created = backend.create_target("dev", NewTarget(name="web", url="http://example.com/"))
    assert backend.get_target("dev", created.id) == created
    assert backend.list_targets("dev", 10, 0).items == [created]
    with pytest.raises(Conflict):
        backend.create_target("dev", NewTarget(name="web", url="http://example.org/"))
    backend.delete_target("dev", created.id)
    with pytest.raises(NotFound):
        backend.get_target("dev", created.id)
    with pytest.raises(NotFound):
        backend.ingest_result("dev", created.id, failure())
    assert backend.readiness() == []


def test_failures_open_an_alert_that_is_delivered_and_a_success_resolves_it(running: Running) -> None:
    backend = running.backend
    target = backend.create_target("dev", NewTarget(name="web", url="http://example.com/", failure_threshold=2,
                                             webhook_url="http://hooks.example/x"))
    for _ in range(2):
        backend.ingest_result("dev", target.id, failure())
    (alert,) = wait_for_count(lambda: backend.list_alerts("dev", target.id, "open"), 1)
    wait_for_count(lambda: backend.list_notifications("dev", None, alert.id), 2)  # log and webhook
    backend.ingest_result("dev", target.id, success())
    wait_for_count(lambda: backend.list_alerts("dev", target.id, "resolved"), 1)
    notes = wait_for_count(lambda: backend.list_notifications("dev", target.id, None), 4)
    assert [(n.event, n.channel) for n in notes] == [
        ("alert_resolved", "webhook"), ("alert_resolved", "log"), ("alert_opened", "webhook"), ("alert_opened", "log")]
    assert [payload["event"] for _, payload in running.webhook.posts] == ["alert_opened", "alert_resolved"]
    assert [r.ok for r in backend.list_results("dev", target.id, 10)] == [True, False, False]


def test_a_check_probes_and_records_like_an_ingested_result(running: Running) -> None:
    backend = running.backend
    target = backend.create_target("dev", NewTarget(name="web", url="http://example.com/", failure_threshold=1))
    result = backend.check_target("dev", target.id)
    assert (result.ok, result.status_code, result.latency_ms) == (False, 503, 12.0)
    wait_for_count(lambda: backend.list_alerts("dev", target.id, "open"), 1)
    assert backend.list_results("dev", target.id, 5) == [result]


def test_results_of_a_target_are_evaluated_in_acceptance_order(running: Running) -> None:
    backend = running.backend
    target = backend.create_target("dev", NewTarget(name="web", url="http://example.com/", failure_threshold=3))
    pattern = [False, False, True, False, False, False, True, False, False, False]
    for ok in pattern:
        backend.ingest_result("dev", target.id, NewResult(ok=ok, latency_ms=1.0))
    # In order: one alert opened by the 6th result, resolved by the 7th, one opened by the 10th.
    alerts = wait_for_count(lambda: backend.list_alerts("dev", target.id, None), 2)
    assert [a.state for a in alerts] == ["open", "resolved"]
    results = list(reversed(backend.list_results("dev", target.id, 20)))
    assert [alerts[1].opened_by_result_id, alerts[0].opened_by_result_id] == [results[5].id, results[9].id]


def test_concurrent_failures_for_one_target_give_exactly_one_alert_and_one_notification(running: Running) -> None:
    backend = running.backend
    target = backend.create_target("dev", NewTarget(name="web", url="http://example.com/", failure_threshold=3))
    errors: list[BaseException] = []

    def post() -> None:
        try:
            backend.ingest_result("dev", target.id, failure())
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=post) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    wait_for_count(lambda: backend.list_results("dev", target.id, 100), 30)
    wait_for_count(lambda: backend.list_notifications("dev", target.id, None), 1)
    # Every result has been evaluated once the last one was; none of them adds an alert or a notification.
    last = backend.list_results("dev", target.id, 1)[0]
    wait_until(lambda: running.alerting.list_alerts("dev", target.id, None) and _applied(running, target.id, last.id))
    assert len(backend.list_alerts("dev", target.id, None)) == 1
    assert len(backend.list_notifications("dev", target.id, None)) == 1


def _applied(running: Running, target_id: str, result_id: str) -> bool:
    with running.alerting.unit_of_work(target_id) as uow:
        return uow.is_processed(result_id)


def test_redelivered_events_do_not_repeat_their_effect(running: Running) -> None:
    backend, bus = running.backend, running.bus
    target = backend.create_target("dev", NewTarget(name="web", url="http://example.com/", failure_threshold=1,
                                             webhook_url="http://hooks.example/x"))
    # The same ingest request twice (a redelivery): one result, one alert, one delivery per channel.
    request = CallRequested(service="monitor", method="ingest_result",
                            args={"tenant": "dev", "target_id": target.id, "new": failure(), "request_id": new_id()})
    bus.publish(request)
    bus.publish(request)
    (result,) = wait_for_count(lambda: backend.list_results("dev", target.id, 10), 1)
    (alert,) = wait_for_count(lambda: backend.list_alerts("dev", target.id, None), 1)
    wait_for_count(lambda: backend.list_notifications("dev", target.id, None), 2)
    # The events that followed, delivered again.
    bus.publish(CheckCompleted(result=result, params=target.rule_params))
    bus.publish(alert_changed(AlertChange(alert, "alert_opened", target.webhook_url)))
    bus.publish(AlertOpened(change=AlertChange(alert, "alert_opened", target.webhook_url)))
    bus.publish(CallRequested(service="monitor", method="create_target",
                              args={"tenant": "dev", "new": NewTarget(name="web", url="http://example.com/"),
                                    "request_id": new_id()}))
    # A marker behind them in every queue: when it has been handled, so have they.
    marker = backend.ingest_result("dev", target.id, success())
    wait_for_count(lambda: backend.list_alerts("dev", target.id, "resolved"), 1)
    wait_for_count(lambda: backend.list_notifications("dev", target.id, None), 4)
    assert backend.list_results("dev", target.id, 10)[0] == marker
    assert len(backend.list_results("dev", target.id, 10)) == 2
    assert len(backend.list_alerts("dev", target.id, None)) == 1
    assert len(running.webhook.posts) == 2
    assert backend.list_targets("dev", 10, 0).total == 1


def test_a_slow_webhook_does_not_delay_the_notifications_of_another_target_in_its_lane(running: Running) -> None:
    backend, webhook = running.backend, running.webhook
    by_lane: dict[int, list] = {}
    while not any(len(targets) == 2 for targets in by_lane.values()):  # two targets whose alert changes share a lane
        index = sum(len(targets) for targets in by_lane.values())
        target = backend.create_target("dev", NewTarget(name=f"web-{index}", url="http://example.com/", failure_threshold=1,
                                                 webhook_url=f"http://hooks.example/{index}"))
        by_lane.setdefault(partition_of(target.id), []).append(target)
    slow, fast = next(targets for targets in by_lane.values() if len(targets) == 2)
    release = webhook.held[slow.webhook_url] = threading.Event()
    try:
        backend.ingest_result("dev", slow.id, failure())
        assert webhook.holding.wait(10), "the slow target's webhook was never called"
        backend.ingest_result("dev", fast.id, failure())
        wait_for_count(lambda: backend.list_notifications("dev", fast.id, None), 2)  # log and webhook, while the slow
        assert [url for url, _ in webhook.posts] == [fast.webhook_url]  # target's webhook still hangs
        assert backend.list_notifications("dev", slow.id, None) == []
    finally:
        release.set()
    wait_for_count(lambda: backend.list_notifications("dev", slow.id, None), 2)
    assert [url for url, _ in webhook.posts] == [fast.webhook_url, slow.webhook_url]
