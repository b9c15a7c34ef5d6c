"""The event-driven app's handlers and subscriptions, with in-memory stores and a recording publisher (no bus)."""
from __future__ import annotations

import inspect
from datetime import timedelta

import pytest

from event_driven.monolith import handlers
from event_driven.monolith.backend import EventBackend
from event_driven.monolith.events import AlertOpened, AlertResolved, CheckCompleted, Event
from event_driven.monolith.rpc import CallFailed, CallRequested, CallSucceeded, responder, routing_key
from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.domain import Alert, AlertChange, NewResult, NewTarget, NotFound, RuleParams, Target, Unavailable, new_id, utcnow
from shared.http.backend import Backend
from shared.ports import ProbeOutcome, Prober, WebhookSender
from tests.support.fakes import InMemoryAlertingStore, InMemoryMonitorStore, InMemoryNotificationStore


class Published(list):
    """A publish function that records, and can be told to fail."""

    fail_with: Exception | None = None

    def __call__(self, event: Event) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.append(event)


class Sent(list):
    """A send function that records (address, event), and can be told to fail."""

    fail_with: Exception | None = None

    def __call__(self, address: str, event: Event) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.append((address, event))


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


def make_target(monitor: handlers.Monitor, threshold: int = 1) -> Target:
    new = NewTarget("web", "http://example.com/", failure_threshold=threshold)
    return handlers.create_target(monitor, "dev", new, request_id=new_id())


def call(method: str, reply_to: str | None = "inbox-1", deadline=None, **args) -> CallRequested:
    """A call of tenant ``dev``, as the api makes them (every call carries the caller's tenant)."""
    return CallRequested(service="monitor", method=method, args={"tenant": "dev", **args}, reply_to=reply_to,
                         deadline=deadline)


def test_create_target_is_answered_with_the_target_correlated_to_the_request(monitor: handlers.Monitor) -> None:
    sent = Sent()
    respond = responder(lambda **args: handlers.create_target(monitor, **args), sent)
    request = call("create_target", new=NewTarget("web", "http://example.com/"), request_id=new_id())
    respond(request)
    ((address, reply),) = sent
    assert address == "inbox-1"
    assert isinstance(reply, CallSucceeded) and reply.correlation_id == request.event_id
    assert monitor.core.get_target("dev", reply.value.id) == reply.value


def test_a_redelivered_create_request_answers_with_the_target_the_first_created(monitor: handlers.Monitor) -> None:
    sent = Sent()
    respond = responder(lambda **args: handlers.create_target(monitor, **args), sent)
    request = call("create_target", new=NewTarget("web", "http://example.com/"), request_id=new_id())
    respond(request)
    respond(request)  # the broker delivers it again
    (_, first), (_, again) = sent
    assert isinstance(again, CallSucceeded) and again.value == first.value
    assert monitor.core.list_targets("dev", 10, 0).total == 1
    respond(call("create_target", new=NewTarget("web", "http://example.org/"), request_id=new_id()))  # a new request
    assert isinstance(sent[-1][1], CallFailed) and sent[-1][1].code == "conflict"


def test_ingest_records_the_result_and_announces_it_with_the_rule_parameters(monitor: handlers.Monitor) -> None:
    target = make_target(monitor, threshold=4)
    result = handlers.ingest_result(monitor, "dev", target.id, NewResult(ok=False, latency_ms=3.0), request_id=new_id())
    (announced,) = monitor.publish
    assert isinstance(announced, CheckCompleted)
    assert announced.result == result and announced.params == RuleParams(4, None, None)


def test_a_redelivered_ingest_request_records_nothing_new_and_announces_the_same_event(monitor: handlers.Monitor) -> None:
    target = make_target(monitor)
    request_id = new_id()
    first = handlers.ingest_result(monitor, "dev", target.id, NewResult(ok=False, latency_ms=3.0), request_id=request_id)
    again = handlers.ingest_result(monitor, "dev", target.id, NewResult(ok=False, latency_ms=3.0), request_id=request_id)
    assert again == first
    assert monitor.core.list_results("dev", target.id, 10) == [first]
    assert monitor.publish[0] == monitor.publish[1]  # same event id: alerting applies it once


def test_a_result_that_cannot_be_announced_is_not_kept(monitor: handlers.Monitor) -> None:
    target = make_target(monitor)
    monitor.publish.fail_with = Unavailable("event bus: queue 'alerting' is full")
    with pytest.raises(Unavailable):
        handlers.ingest_result(monitor, "dev", target.id, NewResult(ok=False, latency_ms=3.0), request_id=new_id())
    assert monitor.core.list_results("dev", target.id, 10) == []


def test_check_probes_and_records_the_outcome(monitor: handlers.Monitor) -> None:
    target = make_target(monitor)
    result = handlers.check_target(monitor, "dev", target.id, request_id=new_id())
    assert (result.ok, result.status_code, result.latency_ms) == (True, 200, 42.0)
    assert isinstance(monitor.publish[-1], CheckCompleted) and monitor.publish[-1].result == result


def test_another_tenant_records_announces_and_probes_nothing_for_a_target(monitor: handlers.Monitor) -> None:
    target = make_target(monitor)
    request_id = new_id()
    for refused in (
        lambda: handlers.ingest_result(monitor, "acme", target.id, NewResult(ok=False, latency_ms=3.0), request_id=request_id),
        lambda: handlers.check_target(monitor, "acme", target.id, request_id=new_id()),
        lambda: handlers.get_target(monitor, "acme", target.id),
        lambda: handlers.delete_target(monitor, "acme", target.id),
    ):
        with pytest.raises(NotFound):
            refused()
    handlers.announce_if_recorded(monitor, "acme", target.id, request_id)
    assert monitor.publish == [] and monitor.core.list_results("dev", target.id, 10) == []
    assert handlers.list_targets(monitor, "acme", 10, 0).total == 0


def test_the_tenant_of_a_target_travels_with_its_results_to_alerting(monitor: handlers.Monitor) -> None:
    target = handlers.create_target(monitor, "acme", NewTarget("web", "http://example.com/"), request_id=new_id())
    handlers.ingest_result(monitor, "acme", target.id, NewResult(ok=False, latency_ms=3.0), request_id=new_id())
    (announced,) = monitor.publish
    assert target.tenant == announced.params.tenant == "acme"


def check_completed(monitor: handlers.Monitor, target: Target, ok: bool = False) -> CheckCompleted:
    handlers.ingest_result(monitor, "dev", target.id, NewResult(ok=ok, latency_ms=3.0), request_id=new_id())
    return monitor.publish[-1]


def test_a_redelivered_check_opens_nothing_new_and_announces_the_same_event_again(
    monitor: handlers.Monitor, alerting: handlers.Alerting
) -> None:
    target = make_target(monitor, threshold=1)
    event = check_completed(monitor, target)
    handlers.apply_check(alerting, event)
    handlers.apply_check(alerting, event)  # redelivered
    opened, again = alerting.publish
    assert again == opened and len(alerting.core.list_alerts("dev", target.id, None)) == 1
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
    assert alerting.core.list_alerts("dev", target.id, None) == [opened.change.alert]


def test_deliver_records_an_alert_change_once() -> None:
    store = InMemoryNotificationStore()
    notifier = handlers.Notifier(NotificationCore(store, NoWebhook()))
    alert = Alert("a1", "t1", "down", "open", utcnow(), None, "r1")
    event = handlers.alert_changed(AlertChange(alert, "alert_opened", None))
    handlers.deliver(notifier, event)
    handlers.deliver(notifier, event)
    assert [(n.alert_id, n.channel) for n in store.list_notifications("dev", None, None)] == [("a1", "log")]


def test_alert_events_have_ids_derived_from_the_change() -> None:
    alert = Alert("a1", "t1", "down", "open", utcnow(), None, "r1")
    opened = handlers.alert_changed(AlertChange(alert, "alert_opened", None))
    assert opened == handlers.alert_changed(AlertChange(alert, "alert_opened", None))
    assert handlers.alert_changed(AlertChange(alert, "alert_resolved", None)).event_id != opened.event_id


# --------------------------------------------------------------------------- the responder


def test_the_responder_sends_the_value_or_the_domain_error(monitor: handlers.Monitor) -> None:
    sent = Sent()
    get = responder(lambda **args: handlers.get_target(monitor, **args), sent)
    target = make_target(monitor)
    ok, missing = call("get_target", target_id=target.id), call("get_target", target_id="nope")
    get(ok)
    get(missing)
    assert sent[0] == ("inbox-1", CallSucceeded(event_id=sent[0][1].event_id, correlation_id=ok.event_id, value=target))
    assert isinstance(sent[1][1], CallFailed)
    assert (sent[1][1].correlation_id, sent[1][1].code) == (missing.event_id, "not_found")


def test_the_responder_answers_an_unexpected_error_as_internal_without_details() -> None:
    sent = Sent()

    def crash(**args: object) -> None:
        raise ZeroDivisionError("secret")

    responder(crash, sent)(call("create_target", new=NewTarget("a", "http://a/"), request_id=new_id()))
    ((_, reply),) = sent
    assert (reply.code, reply.message) == ("internal", "internal error")


def test_the_responder_drops_a_request_whose_requester_left() -> None:
    sent = Sent()
    called = []
    respond = responder(lambda **args: called.append(args), sent)
    respond(call("get_target", deadline=utcnow() - timedelta(milliseconds=1), target_id="t"))
    assert called == [] and sent == []


def _monitor_responder(monitor: handlers.Monitor, name: str, sent: Sent):
    (entry,) = [e for e in handlers.SUBSCRIPTIONS["monitor"] if isinstance(e, handlers.Method) and e.name == name]
    late = (lambda **args: entry.late(monitor, **args)) if entry.late else None
    return responder(lambda **args: entry.function(monitor, **args), sent, late)


def test_an_expired_ingest_whose_first_delivery_recorded_the_result_and_died_announces_it_on_redelivery(
    monitor: handlers.Monitor,
) -> None:
    target = make_target(monitor)
    request_id, new = new_id(), NewResult(ok=False, latency_ms=3.0)
    recorded, _, _ = monitor.core.record_result("dev", target.id, new, request_id=request_id)  # then the process was killed
    sent = Sent()
    respond = _monitor_responder(monitor, "ingest_result", sent)
    respond(call("ingest_result", deadline=utcnow() - timedelta(seconds=1), target_id=target.id, new=new,
                 request_id=request_id))
    (announced,) = monitor.publish
    assert isinstance(announced, CheckCompleted) and announced.result == recorded  # alerting will see it, in order
    assert sent == []  # the requester stopped waiting: no reply
    assert monitor.core.list_results("dev", target.id, 10) == [recorded]


def test_an_expired_ingest_that_recorded_nothing_is_dropped_without_recording(monitor: handlers.Monitor) -> None:
    target = make_target(monitor)
    sent = Sent()
    respond = _monitor_responder(monitor, "ingest_result", sent)
    respond(call("ingest_result", deadline=utcnow() - timedelta(seconds=1), target_id=target.id,
                 new=NewResult(ok=False, latency_ms=3.0, key="k1"), request_id=new_id()))
    assert monitor.publish == [] and sent == []
    assert monitor.core.list_results("dev", target.id, 10) == []


def test_an_expired_check_announces_what_its_first_delivery_recorded_without_probing_again(
    monitor: handlers.Monitor,
) -> None:
    target = make_target(monitor)
    request_id = new_id()
    recorded, _, _ = monitor.core.record_result("dev", target.id, NewResult(ok=True, latency_ms=42.0), request_id=request_id)
    respond = _monitor_responder(monitor, "check_target", Sent())
    respond(call("check_target", deadline=utcnow() - timedelta(seconds=1), target_id=target.id, request_id=request_id))
    (announced,) = monitor.publish
    assert announced.result == recorded


def test_a_request_without_a_reply_address_is_carried_out_unanswered(monitor: handlers.Monitor) -> None:
    sent = Sent()
    create = responder(lambda **args: handlers.create_target(monitor, **args), sent)
    create(call("create_target", reply_to=None, new=NewTarget("web", "http://example.com/"), request_id=new_id()))
    assert sent == [] and monitor.core.list_targets("dev", 10, 0).total == 1


def test_a_reply_that_cannot_be_sent_does_not_redo_the_work(monitor: handlers.Monitor) -> None:
    sent = Sent()
    sent.fail_with = Unavailable("closed")
    create = responder(lambda **args: handlers.create_target(monitor, **args), sent)
    create(call("create_target", new=NewTarget("web", "http://example.com/"), request_id=new_id()))  # logged, not raised
    assert monitor.core.list_targets("dev", 10, 0).total == 1


# --------------------------------------------------------------------------- the subscriptions


def entries() -> list[tuple[str, handlers.On | handlers.Method]]:
    return [(service, entry) for service, service_entries in handlers.SUBSCRIPTIONS.items() for entry in service_entries]


def test_every_backend_operation_is_one_method_of_one_service() -> None:
    methods = [(service, entry.name) for service, entry in entries() if isinstance(entry, handlers.Method)]
    operations = {name for name, _ in inspect.getmembers(Backend, inspect.isfunction) if not name.startswith("_")} - {"readiness"}
    assert sorted(name for _, name in methods) == sorted(operations)
    assert len(set(methods)) == len(methods)
    assert {name for name, _ in inspect.getmembers(EventBackend, inspect.isfunction)} >= operations
    for service, entry in entries():
        if isinstance(entry, handlers.Method):  # the method's context is its own service's
            context = next(iter(inspect.signature(entry.function).parameters.values()))
            assert context.annotation == {"monitor": "Monitor", "alerting": "Alerting",
                                          "notification": "Notifier"}[service], entry.name


def test_writes_are_ordered_and_reads_concurrent() -> None:
    groups = {entry.name: entry.group for _, entry in entries() if isinstance(entry, handlers.Method)}
    assert {name for name, group in groups.items() if group == handlers.MONITOR} == {
        "create_target", "delete_target", "ingest_result"}
    assert handlers.MONITOR.concurrency == 1 and handlers.MONITOR_READS.concurrency == 8
    assert groups["check_target"] == groups["get_target"] == handlers.MONITOR_READS


def test_the_ordered_groups_are_partitioned_by_target_and_the_reads_compete() -> None:
    ordered = {handlers.MONITOR, handlers.ALERTING, handlers.NOTIFICATION}
    assert all(group.partitioned for group in ordered)
    assert not any(group.partitioned for group in set(handlers.groups()) - ordered)
    assert all(group.concurrency > 1 for group in set(handlers.groups()) - ordered)  # no single active consumer


def test_notification_delivers_the_alert_changes_of_different_targets_at_once_and_of_one_target_in_order() -> None:
    assert handlers.NOTIFICATION.partitioned and handlers.NOTIFICATION.keyed
    assert handlers.NOTIFICATION.in_flight > 1 and handlers.NOTIFICATION.concurrency >= handlers.NOTIFICATION.partitions
    assert not handlers.MONITOR.keyed and not handlers.ALERTING.keyed  # one lane, one event at a time


def test_events_and_write_calls_carry_their_target_as_partition_key(monitor: handlers.Monitor) -> None:
    target = make_target(monitor)
    result = handlers.ingest_result(monitor, "dev", target.id, NewResult(ok=False, latency_ms=3.0), request_id=new_id())
    (check,) = monitor.publish
    assert check.partition_key == result.target_id == target.id
    alert = Alert("a1", target.id, "down", "open", utcnow(), None, result.id)
    for event_type in (AlertOpened, AlertResolved):
        assert event_type(change=AlertChange(alert, "alert_opened", None)).partition_key == target.id

    class Calls:
        def __init__(self) -> None:
            self.made: list[tuple[str, str | None]] = []

        def call(self, service: str, method: str, /, *, key: str | None = None, **args: object) -> None:
            self.made.append((method, key))

    calls = Calls()
    backend = EventBackend(calls, None, {}, 1.0)  # type: ignore[arg-type]
    backend.create_target("dev", NewTarget("web", "http://example.com/"))
    backend.delete_target("dev", "t1")
    backend.ingest_result("dev", "t2", NewResult(ok=True, latency_ms=1.0))
    assert calls.made == [("create_target", "web"), ("delete_target", "t1"), ("ingest_result", "t2")]


def test_the_domain_events_reach_the_service_that_reacts_to_them() -> None:
    owner = {entry.event_type: service for service, entry in entries() if isinstance(entry, handlers.On)}
    assert owner == {CheckCompleted: "alerting", AlertOpened: "notification", AlertResolved: "notification"}
    methods = {entry.name: service for service, entry in entries() if isinstance(entry, handlers.Method)}
    assert methods["ingest_result"] == methods["check_target"] == "monitor"


def test_a_service_subscribes_only_its_own_handlers() -> None:
    from event_driven.monolith.memory_bus import InMemoryEventBus

    bus = InMemoryEventBus()
    services = handlers.subscribe_services(bus, alerting=AlertingCore(InMemoryAlertingStore()))
    assert services == ["alerting"]
    assert {group.name for group in bus.groups} == {"alerting", "alerting-reads"}
    assert bus.groups_for(CheckCompleted.wire_name) == [handlers.ALERTING]
    assert bus.groups_for(routing_key("alerting", "list_alerts")) == [handlers.ALERTING_READS]
    assert bus.groups_for(routing_key("monitor", "ingest_result")) == []
