"""What each service does with the events it receives, and the routing table that subscribes it.

A handler translates an event into a call on its service's core (``shared.core``) and the outcome into
events: a request handler returns its success reply (``rpc.responder`` publishes it, or the failure
reply for a domain error); an event handler publishes the events that follow. No business logic here,
and each service's handlers use only that service's core (its own tables).

Idempotence, since any event may be delivered twice (the ids recorded with the effect, in the same
transaction, are the core's):
- a result is recorded under an id derived from the client's key or else the request's ``event_id``,
  so a redelivered ``ResultIngestRequested`` finds the first result and its ``CheckCompleted`` is
  published again; alerting does not apply it again (it records each applied result id with its
  effect) but announces the changes it recorded for it again, which notification ignores;
- ``CheckCompleted``, ``AlertOpened`` and ``AlertResolved`` have ids derived from what they are about,
  and notification records each (alert, event) once;
- a target is created under an id derived from the request's ``event_id``, so a redelivered
  ``TargetCreateRequested`` answers with the target the first delivery created; a new request with a
  taken name is refused as a conflict; deleting a target twice is refused by its absence.

Ordering: results of one target are recorded and their ``CheckCompleted`` published under a per-target
lock, in acceptance order; the ``alerting`` and ``notification`` groups handle one event at a time.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.domain import AlertChange, CheckResult, NewResult, derived_id
from shared.locks import KeyedLock

from .bus import EventBus, Group, Publish
from .events import (
    AlertListFailed,
    AlertListRequested,
    AlertOpened,
    AlertResolved,
    AlertsListed,
    CheckCompleted,
    Event,
    Failed,
    NotificationListFailed,
    NotificationListRequested,
    NotificationsListed,
    ResultAccepted,
    ResultIngestFailed,
    ResultIngestRequested,
    ResultListFailed,
    ResultListRequested,
    ResultsListed,
    TargetChecked,
    TargetCheckFailed,
    TargetCheckRequested,
    TargetCreated,
    TargetCreateFailed,
    TargetCreateRequested,
    TargetDeleted,
    TargetDeleteFailed,
    TargetDeleteRequested,
    TargetFound,
    TargetGetFailed,
    TargetGetRequested,
    TargetListFailed,
    TargetListRequested,
    TargetsListed,
)
from .rpc import responder

SERVICES = ("monitor", "alerting", "notification")


# --------------------------------------------------------------------------- what the handlers of each service use

@dataclass(frozen=True)
class Monitor:
    core: MonitorCore
    publish: Publish
    per_target: KeyedLock = field(default_factory=KeyedLock)


@dataclass(frozen=True)
class Alerting:
    core: AlertingCore
    publish: Publish


@dataclass(frozen=True)
class Notifier:
    core: NotificationCore


# --------------------------------------------------------------------------- monitor

def create_target(monitor: Monitor, request: TargetCreateRequested) -> TargetCreated:
    target = monitor.core.create_target(request.new, request_id=request.event_id)
    return TargetCreated(correlation_id=request.event_id, target=target)


def list_targets(monitor: Monitor, request: TargetListRequested) -> TargetsListed:
    return TargetsListed(correlation_id=request.event_id, page=monitor.core.list_targets(request.limit, request.offset))


def get_target(monitor: Monitor, request: TargetGetRequested) -> TargetFound:
    return TargetFound(correlation_id=request.event_id, target=monitor.core.get_target(request.target_id))


def delete_target(monitor: Monitor, request: TargetDeleteRequested) -> TargetDeleted:
    monitor.core.delete_target(request.target_id)
    return TargetDeleted(correlation_id=request.event_id, target_id=request.target_id)


def ingest_result(monitor: Monitor, request: ResultIngestRequested) -> ResultAccepted:
    result = _record(monitor, request.target_id, request.new, request.event_id)
    return ResultAccepted(correlation_id=request.event_id, result=result)


def list_results(monitor: Monitor, request: ResultListRequested) -> ResultsListed:
    results = monitor.core.list_results(request.target_id, request.limit)
    return ResultsListed(correlation_id=request.event_id, results=results)


def check_target(monitor: Monitor, request: TargetCheckRequested) -> TargetChecked:
    """Probe outside the target's lock (up to 5 s), then record the outcome like an ingested result."""
    _, outcome = monitor.core.probe(request.target_id)
    result = _record(monitor, request.target_id, outcome, request.event_id)
    return TargetChecked(correlation_id=request.event_id, result=result)


def _record(monitor: Monitor, target_id: str, new: NewResult, request_id: str) -> CheckResult:
    """Record a result and announce it, one target at a time, so announcements follow acceptance order.

    A repeat (same key or same request) announces the stored result again: if the first announcement
    was lost, alerting gets it now; if not, alerting ignores it. If a new result cannot be announced,
    it is removed again and the error propagates, so nothing stays half-accepted.
    """
    with monitor.per_target.hold(target_id):
        result, target, created = monitor.core.record_result(target_id, new, request_id=request_id)
        try:
            monitor.publish(CheckCompleted(
                event_id=derived_id("check.completed", result.id), result=result, params=target.rule_params,
            ))
        except Exception:
            if created:
                monitor.core.forget_result(result.id)
            raise
        return result


# --------------------------------------------------------------------------- alerting

def apply_check(alerting: Alerting, event: CheckCompleted) -> None:
    """Apply the result once and announce each alert it opens or resolves.

    A redelivered event changes nothing but announces the recorded changes again (with the same event
    ids), so an announcement that failed the first time is made on redelivery; notification ignores
    the repeats. Announcements are therefore at least once, their effects exactly once.
    """
    for change in alerting.core.apply(event.result, event.params):
        alerting.publish(alert_changed(change))


def alert_changed(change: AlertChange) -> AlertOpened | AlertResolved:
    """The event announcing ``change``; its id is derived from the alert and the change."""
    event_type = AlertOpened if change.event == "alert_opened" else AlertResolved
    return event_type(event_id=derived_id(event_type.wire_name, change.alert.id), change=change)


def list_alerts(alerting: Alerting, request: AlertListRequested) -> AlertsListed:
    return AlertsListed(correlation_id=request.event_id, alerts=alerting.core.list_alerts(request.target_id, request.state))


# --------------------------------------------------------------------------- notification

def deliver(notifier: Notifier, event: AlertOpened | AlertResolved) -> None:
    notifier.core.deliver(event.change)


def list_notifications(notifier: Notifier, request: NotificationListRequested) -> NotificationsListed:
    notifications = notifier.core.list_notifications(request.target_id, request.alert_id)
    return NotificationsListed(correlation_id=request.event_id, notifications=notifications)


# --------------------------------------------------------------------------- the routing table

MONITOR = Group("monitor")
"""Monitor writes, one at a time in arrival order (a target's deletion after its earlier results)."""
MONITOR_READS = Group("monitor-reads", concurrency=8)
"""Monitor queries and probes, concurrently (a probe may take 5 s)."""
ALERTING = Group("alerting")
"""Results, evaluated one at a time in the order the monitor announced them."""
ALERTING_READS = Group("alerting-reads", concurrency=4)
NOTIFICATION = Group("notification")
"""Alert changes, delivered one at a time in the order alerting announced them."""
NOTIFICATION_READS = Group("notification-reads", concurrency=4)


@dataclass(frozen=True)
class Route:
    group: Group
    event_type: type[Event]
    handler: Callable
    failed: type[Failed] | None = None
    """For a request: the failure reply. The handler returns the success reply."""


ROUTES: dict[str, tuple[Route, ...]] = {
    "monitor": (
        Route(MONITOR, TargetCreateRequested, create_target, TargetCreateFailed),
        Route(MONITOR, TargetDeleteRequested, delete_target, TargetDeleteFailed),
        Route(MONITOR, ResultIngestRequested, ingest_result, ResultIngestFailed),
        Route(MONITOR_READS, TargetListRequested, list_targets, TargetListFailed),
        Route(MONITOR_READS, TargetGetRequested, get_target, TargetGetFailed),
        Route(MONITOR_READS, ResultListRequested, list_results, ResultListFailed),
        Route(MONITOR_READS, TargetCheckRequested, check_target, TargetCheckFailed),
    ),
    "alerting": (
        Route(ALERTING, CheckCompleted, apply_check),
        Route(ALERTING_READS, AlertListRequested, list_alerts, AlertListFailed),
    ),
    "notification": (
        Route(NOTIFICATION, AlertOpened, deliver),
        Route(NOTIFICATION, AlertResolved, deliver),
        Route(NOTIFICATION_READS, NotificationListRequested, list_notifications, NotificationListFailed),
    ),
}


def subscribe_services(
    bus: EventBus,
    *,
    monitor: MonitorCore | None = None,
    alerting: AlertingCore | None = None,
    notification: NotificationCore | None = None,
) -> list[str]:
    """Subscribe the handlers of each service whose core is given (the others run elsewhere).

    Returns the names of the services subscribed.
    """
    contexts: Mapping[str, object] = {
        name: context
        for name, context in (
            ("monitor", monitor and Monitor(monitor, bus.publish)),
            ("alerting", alerting and Alerting(alerting, bus.publish)),
            ("notification", notification and Notifier(notification)),
        )
        if context is not None
    }
    for name, context in contexts.items():
        for route in ROUTES[name]:
            handler = _bind(route.handler, context)
            if route.failed is not None:
                handler = responder(handler, route.failed, bus.publish)
            bus.subscribe(route.group, route.event_type, handler)
    return list(contexts)


def _bind(handler: Callable, context: object) -> Callable[[Event], object]:
    @functools.wraps(handler)
    def bound(event: Event) -> object:
        return handler(context, event)

    return bound
