"""The event-driven app's handlers and routing table, with in-memory stores and a recording publisher (no bus)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from event_driven.monolith import handlers
from event_driven.monolith.events import (
    REGISTRY,
    AlertOpened,
    AlertResolved,
    CheckCompleted,
    Event,
    Failed,
    Request,
    ResultAccepted,
    ResultIngestRequested,
    TargetCheckRequested,
    TargetCreated,
    TargetCreateFailed,
    TargetCreateRequested,
    TargetGetFailed,
    TargetGetRequested,
)
from event_driven.monolith.rpc import responder
from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.domain import Alert, AlertChange, NewResult, NewTarget, RuleParams, Unavailable, utcnow
from shared.ports import ProbeOutcome, Prober, WebhookSender
from tests.fakes import InMemoryAlertingStore, InMemoryMonitorStore, InMemoryNotificationStore


class Published(list):
    """A publish function that records, and can be told to fail."""

    fail_with: Exception | None = None

    def __call__(self, event: Event) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.append(event)


class UpProber(Prober):
    def probe(self, url: str) -> ProbeOutcome:
        return ProbeOutcome(ok=True, latency_ms=42.0, status_code=200)


class NoWebhook(WebhookSender):
    def post(self, url: str, payload: dict) -> bool:
        raise AssertionError("no webhook expected")


@pytest.fixture
def monitor() -> handlers.Monitor:
    return handlers.Monitor(MonitorCore(InMemoryMonitorStore(), UpProber()), Published())


@pytest.fixture
def alerting() -> handlers.Alerting:
    return handlers.Alerting(AlertingCore(InMemoryAlertingStore()), Published())


def make_target(monitor: handlers.Monitor, threshold: int = 1):
    new = NewTarget("web", "http://example.com/", failure_threshold=threshold)
    return handlers.create_target(monitor, TargetCreateRequested(new=new)).target


def test_create_target_replies_with_the_target_correlated_to_the_request(monitor: handlers.Monitor) -> None:
    request = TargetCreateRequested(new=NewTarget("web", "http://example.com/"))
    reply = handlers.create_target(monitor, request)
    assert isinstance(reply, TargetCreated) and reply.correlation_id == request.event_id
    assert monitor.core.get_target(reply.target.id) == reply.target


def test_ingest_records_the_result_and_announces_it_with_the_rule_parameters(monitor: handlers.Monitor) -> None:
    target = make_target(monitor, threshold=4)
    request = ResultIngestRequested(target_id=target.id, new=NewResult(ok=False, latency_ms=3.0))
    reply = handlers.ingest_result(monitor, request)
    assert isinstance(reply, ResultAccepted) and reply.correlation_id == request.event_id
    (announced,) = monitor.publish
    assert isinstance(announced, CheckCompleted)
    assert announced.result == reply.result and announced.params == RuleParams(4, None, None)


def test_a_redelivered_ingest_request_records_nothing_new_and_announces_the_same_event(monitor: handlers.Monitor) -> None:
    target = make_target(monitor)
    request = ResultIngestRequested(target_id=target.id, new=NewResult(ok=False, latency_ms=3.0))
    first = handlers.ingest_result(monitor, request)
    again = handlers.ingest_result(monitor, request)
    assert again.result == first.result
    assert monitor.core.list_results(target.id, 10) == [first.result]
    assert monitor.publish[0] == monitor.publish[1]  # same event id: alerting applies it once


def test_a_result_that_cannot_be_announced_is_not_kept(monitor: handlers.Monitor) -> None:
    target = make_target(monitor)
    monitor.publish.fail_with = Unavailable("event bus: queue 'alerting' is full")
    with pytest.raises(Unavailable):
        handlers.ingest_result(monitor, ResultIngestRequested(target_id=target.id, new=NewResult(ok=False, latency_ms=3.0)))
    assert monitor.core.list_results(target.id, 10) == []


def test_check_probes_and_records_the_outcome(monitor: handlers.Monitor) -> None:
    target = make_target(monitor)
    reply = handlers.check_target(monitor, TargetCheckRequested(target_id=target.id))
    assert (reply.result.ok, reply.result.status_code, reply.result.latency_ms) == (True, 200, 42.0)
    assert isinstance(monitor.publish[-1], CheckCompleted) and monitor.publish[-1].result == reply.result


def check_completed(monitor: handlers.Monitor, target, ok: bool = False) -> CheckCompleted:
    handlers.ingest_result(monitor, ResultIngestRequested(target_id=target.id, new=NewResult(ok=ok, latency_ms=3.0)))
    return monitor.publish[-1]


def test_a_redelivered_check_opens_nothing_new_and_announces_the_same_event_again(
    monitor: handlers.Monitor, alerting: handlers.Alerting
) -> None:
    target = make_target(monitor, threshold=1)
    event = check_completed(monitor, target)
    handlers.apply_check(alerting, event)
    handlers.apply_check(alerting, event)  # redelivered
    opened, again = alerting.publish
    assert again == opened and len(alerting.core.list_alerts(target.id, None)) == 1
    assert isinstance(opened, AlertOpened) and opened.change.alert.opened_by_result_id == event.result.id
    handlers.apply_check(alerting, check_completed(monitor, target, ok=True))
    assert isinstance(alerting.publish[-1], AlertResolved)
    assert alerting.publish[-1].event_id != opened.event_id


def test_an_alert_change_that_cannot_be_announced_is_announced_on_redelivery(
    monitor: handlers.Monitor, alerting: handlers.Alerting
) -> None:
    target = make_target(monitor, threshold=1)
    event = check_completed(monitor, target)
    alerting.publish.fail_with = Unavailable("full")
    with pytest.raises(Unavailable):
        handlers.apply_check(alerting, event)
    alerting.publish.fail_with = None
    handlers.apply_check(alerting, event)  # the bus delivers it again
    (opened,) = alerting.publish
    assert alerting.core.list_alerts(target.id, None) == [opened.change.alert]


def test_deliver_records_an_alert_change_once() -> None:
    store = InMemoryNotificationStore()
    notifier = handlers.Notifier(NotificationCore(store, NoWebhook()))
    alert = Alert("a1", "t1", "down", "open", utcnow(), None, "r1")
    event = handlers.alert_changed(AlertChange(alert, "alert_opened", None))
    handlers.deliver(notifier, event)
    handlers.deliver(notifier, event)
    assert [(n.alert_id, n.channel) for n in store.list_notifications(None, None)] == [("a1", "log")]


def test_alert_events_have_ids_derived_from_the_change() -> None:
    alert = Alert("a1", "t1", "down", "open", utcnow(), None, "r1")
    opened = handlers.alert_changed(AlertChange(alert, "alert_opened", None))
    assert opened == handlers.alert_changed(AlertChange(alert, "alert_opened", None))
    assert handlers.alert_changed(AlertChange(alert, "alert_resolved", None)).event_id != opened.event_id


# --------------------------------------------------------------------------- the responder


def test_the_responder_publishes_the_reply_or_the_domain_error(monitor: handlers.Monitor) -> None:
    published = Published()
    get = responder(lambda request: handlers.get_target(monitor, request), TargetGetFailed, published)
    target = make_target(monitor)
    ok, missing = TargetGetRequested(target_id=target.id), TargetGetRequested(target_id="nope")
    get(ok)
    get(missing)
    assert published[0].target == target and published[0].correlation_id == ok.event_id
    assert isinstance(published[1], TargetGetFailed)
    assert (published[1].correlation_id, published[1].code) == (missing.event_id, "not_found")


def test_the_responder_answers_an_unexpected_error_as_internal_without_details() -> None:
    published = Published()

    def crash(request: Request) -> TargetCreated:
        raise ZeroDivisionError("secret")

    responder(crash, TargetCreateFailed, published)(TargetCreateRequested(new=NewTarget("a", "http://a/")))
    (reply,) = published
    assert (reply.code, reply.message) == ("internal", "internal error")


def test_the_responder_drops_a_request_whose_requester_left() -> None:
    published = Published()
    called = []
    respond = responder(lambda request: called.append(request), TargetGetFailed, published)
    respond(TargetGetRequested(target_id="t", deadline=utcnow() - timedelta(milliseconds=1)))
    assert called == [] and published == []


def test_a_reply_that_cannot_be_published_does_not_redo_the_work(monitor: handlers.Monitor) -> None:
    published = Published()
    published.fail_with = Unavailable("closed")
    create = responder(lambda request: handlers.create_target(monitor, request), TargetCreateFailed, published)
    create(TargetCreateRequested(new=NewTarget("web", "http://example.com/")))  # logged, not raised
    assert monitor.core.list_targets(10, 0).total == 1


# --------------------------------------------------------------------------- the routing table


def routes() -> list[handlers.Route]:
    return [route for service in handlers.ROUTES.values() for route in service]


def test_every_request_has_one_route_with_its_failure_reply() -> None:
    routed = [route.event_type for route in routes()]
    requests = [cls for cls in REGISTRY.values() if issubclass(cls, Request)]
    assert sorted(r.__name__ for r in requests) == sorted(r.__name__ for r in routed if issubclass(r, Request))
    assert len(set(routed)) == len(routed)
    for route in routes():
        if issubclass(route.event_type, Request):
            assert route.failed is not None and issubclass(route.failed, Failed)
            assert route.failed.__name__.startswith(route.event_type.__name__.removesuffix("Requested"))
        else:
            assert route.failed is None


def test_the_domain_events_reach_the_service_that_reacts_to_them() -> None:
    owner = {route.event_type: service for service, rs in handlers.ROUTES.items() for route in rs}
    assert owner[CheckCompleted] == "alerting"
    assert owner[AlertOpened] == owner[AlertResolved] == "notification"
    assert owner[ResultIngestRequested] == owner[TargetCheckRequested] == "monitor"


def test_a_service_subscribes_only_its_own_handlers() -> None:
    from event_driven.monolith.memory_bus import InMemoryEventBus

    bus = InMemoryEventBus()
    services = handlers.subscribe_services(bus, alerting=AlertingCore(InMemoryAlertingStore()))
    assert services == ["alerting"]
    assert {group.name for group in bus.groups} == {"alerting", "alerting-reads"}
    assert bus.groups_for(CheckCompleted.wire_name) == [handlers.ALERTING]
    assert bus.groups_for(ResultIngestRequested.wire_name) == []
