"""What each service does with the events and calls it receives, and the one table that subscribes it.

A handler translates an event or a call into a call on its service's core (``shared.core``) and the
outcome into events: a method (answering a call over :mod:`.rpc`) returns its value or raises a domain
error; an event handler publishes the events that follow. No business logic here, and each service's
handlers use only that service's core (its own tables).

Idempotence, since any event or call may be delivered twice (the ids recorded with the effect, in the
same transaction, are the core's):
- a result is recorded under an id derived from the client's key or else the call's ``request_id``, so a
  redelivered ``ingest_result`` call finds the first result and its ``CheckCompleted`` is published
  again; alerting does not apply it again (it records each applied result id with its effect) but
  announces the changes it recorded for it again, which notification ignores;
- ``CheckCompleted``, ``AlertOpened`` and ``AlertResolved`` have ids derived from what they are about,
  and notification records each (alert, event) once;
- a request past its deadline is not answered, but a redelivered ``ingest_result`` or ``check_target`` whose
  first delivery recorded the result and died before announcing it announces it then
  (:func:`announce_if_recorded`), ahead of the target's later results, so alerting misses none;
- a target is created under an id derived from the call's ``request_id``, so a redelivered
  ``create_target`` call answers with the target the first delivery created; a new call with a taken
  name is refused as a conflict; deleting a target twice is refused by its absence.

Ordering is per target, not global: the ``monitor`` writes, ``alerting`` and ``notification`` groups are
partitioned by target (a call's ``key``, a ``CheckCompleted``'s result's target, an alert change's
target), so each handles the events and calls of one target one at a time, in the order they were
made or published, while different targets proceed in parallel (and in several processes); notification's
lanes are keyed (different targets of one lane at the same time too), since a webhook may take seconds. Across
processes, results of one target are recorded and their ``CheckCompleted`` published under the target's
lock in the monitor's database (a probe recorded by ``check_target`` comes from the concurrent reads group), so announcements
follow acceptance order. A creation is keyed by the new target's name: two creations of one name are
handled one after the other, so the second finds the name taken.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.domain import Alert, AlertChange, CheckResult, NewResult, NewTarget, Notification, Target, TargetPage, derived_id

from .bus import EventBus, Group, Publish
from .events import AlertOpened, AlertResolved, CheckCompleted, Event
from .rpc import serve

SERVICES = ("monitor", "alerting", "notification")


# --------------------------------------------------------------------------- what the handlers of each service use

@dataclass(frozen=True)
class Monitor:
    core: MonitorCore
    publish: Publish


@dataclass(frozen=True)
class Alerting:
    core: AlertingCore
    publish: Publish


@dataclass(frozen=True)
class Notifier:
    core: NotificationCore


# --------------------------------------------------------------------------- monitor

def create_target(monitor: Monitor, tenant: str, new: NewTarget, request_id: str) -> Target:
    return monitor.core.create_target(tenant, new, request_id=request_id)


def list_targets(monitor: Monitor, tenant: str, limit: int, offset: int) -> TargetPage:
    return monitor.core.list_targets(tenant, limit, offset)


def get_target(monitor: Monitor, tenant: str, target_id: str) -> Target:
    return monitor.core.get_target(tenant, target_id)


def delete_target(monitor: Monitor, tenant: str, target_id: str) -> None:
    monitor.core.delete_target(tenant, target_id)


def ingest_result(monitor: Monitor, tenant: str, target_id: str, new: NewResult, request_id: str) -> CheckResult:
    return _record(monitor, tenant, target_id, new, request_id)


def list_results(monitor: Monitor, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
    return monitor.core.list_results(tenant, target_id, limit)


def check_target(monitor: Monitor, tenant: str, target_id: str, request_id: str) -> CheckResult:
    """Probe outside the target's lock (up to 5 s), then record the outcome like an ingested result."""
    _, outcome = monitor.core.probe(tenant, target_id)
    return _record(monitor, tenant, target_id, outcome, request_id)


def announce_if_recorded(monitor: Monitor, tenant: str, target_id: str, request_id: str, new: NewResult | None = None
                         ) -> None:
    """An expired ``ingest_result`` or ``check_target`` request, delivered again: its requester has stopped
    waiting, but its first delivery may have recorded the result and died before announcing it. Announce it
    then, now, before the target's next results (the request comes back ahead of them in its partition), so
    alerting sees every recorded result in order; if nothing was recorded, nothing was applied, and the request
    is dropped. A probe is not run again. A result of a target of another tenant was never recorded."""
    with monitor.core.target_lock(target_id):
        found = monitor.core.recorded(target_id, request_id, key=new.key if new is not None else None)
        if found is not None and found[1].tenant == tenant:
            result, target = found
            monitor.publish(CheckCompleted(
                event_id=derived_id("check.completed", result.id), result=result, params=target.rule_params,
            ))


def _record(monitor: Monitor, tenant: str, target_id: str, new: NewResult, request_id: str) -> CheckResult:
    """Record a result and announce it, one target at a time, so announcements follow acceptance order.

    A repeat (same key or same request) announces the stored result again: if the first announcement
    was lost, alerting gets it now; if not, alerting ignores it. If a new result cannot be announced,
    it is removed again and the error propagates, so nothing stays half-accepted.
    """
    with monitor.core.target_lock(target_id):
        result, target, created = monitor.core.record_result(tenant, target_id, new, request_id=request_id)
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


def list_alerts(alerting: Alerting, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
    return alerting.core.list_alerts(tenant, target_id, state)


# --------------------------------------------------------------------------- notification

def deliver(notifier: Notifier, event: AlertOpened | AlertResolved) -> None:
    notifier.core.deliver(event.change)


def list_notifications(notifier: Notifier, tenant: str, target_id: str | None, alert_id: str | None
                       ) -> list[Notification]:
    return notifier.core.list_notifications(tenant, target_id, alert_id)


# --------------------------------------------------------------------------- the subscriptions

MONITOR = Group("monitor", partitioned=True)
"""Monitor writes, partitioned by target: one target's calls one at a time in arrival order (its deletion
after its earlier results); creations by the new name."""
MONITOR_READS = Group("monitor-reads", concurrency=8)
"""Monitor queries and probes, concurrently and competing across processes (a probe may take 5 s)."""
ALERTING = Group("alerting", partitioned=True)
"""Results, partitioned by target: one target's evaluated one at a time in the order the monitor announced them."""
ALERTING_READS = Group("alerting-reads", concurrency=4)
NOTIFICATION = Group("notification", partitioned=True, in_flight=16, concurrency=16)
"""Alert changes, keyed by target: one target's delivered one at a time in the order alerting announced them,
different targets' at the same time even when they share a lane (up to 16 taken per lane, 16 delivered at once
per process), since a delivery may wait seconds on a webhook: a slow webhook holds up its own target's
notifications only, until that target has 16 waiting in its lane."""
NOTIFICATION_READS = Group("notification-reads", concurrency=4)


@dataclass(frozen=True)
class On:
    """An event handler: ``handler(context, event)`` for each ``event_type`` that reaches ``group``."""

    group: Group
    event_type: type[Event]
    handler: Callable


@dataclass(frozen=True)
class Method:
    """A method callable over :mod:`.rpc` as ``<service>.<function name>``: ``function(context, **args)``
    answers each call in ``group``."""

    group: Group
    function: Callable
    late: Callable | None = None
    """``late(context, **args)`` for a request past its deadline: the effects it must still finish (see
    :func:`.rpc.responder`); None: an expired request is dropped."""

    @property
    def name(self) -> str:
        return self.function.__name__


SUBSCRIPTIONS: dict[str, tuple[On | Method, ...]] = {
    "monitor": (
        Method(MONITOR, create_target),
        Method(MONITOR, delete_target),
        Method(MONITOR, ingest_result, late=announce_if_recorded),
        Method(MONITOR_READS, list_targets),
        Method(MONITOR_READS, get_target),
        Method(MONITOR_READS, list_results),
        Method(MONITOR_READS, check_target, late=announce_if_recorded),
    ),
    "alerting": (
        On(ALERTING, CheckCompleted, apply_check),
        Method(ALERTING_READS, list_alerts),
    ),
    "notification": (
        On(NOTIFICATION, AlertOpened, deliver),
        On(NOTIFICATION, AlertResolved, deliver),
        Method(NOTIFICATION_READS, list_notifications),
    ),
}
"""Every service's handlers: which group gets which events and calls. The only routing table."""


def groups() -> list[Group]:
    """Every group of every service (what a broker namespace holds)."""
    return list(dict.fromkeys(entry.group for entries in SUBSCRIPTIONS.values() for entry in entries))


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
    contexts = {
        name: context
        for name, context in (
            ("monitor", monitor and Monitor(monitor, bus.publish)),
            ("alerting", alerting and Alerting(alerting, bus.publish)),
            ("notification", notification and Notifier(notification)),
        )
        if context is not None
    }
    for service, context in contexts.items():
        for entry in SUBSCRIPTIONS[service]:
            if isinstance(entry, Method):
                late = _bind(entry.late, context) if entry.late else None
                serve(bus, entry.group, service, entry.name, _bind(entry.function, context), late)
            else:
                bus.subscribe(entry.group, entry.event_type, _bind(entry.handler, context))
    return list(contexts)


def _bind(function: Callable, context: object) -> Callable:
    @functools.wraps(function)
    def bound(*args: object, **kwargs: object) -> object:
        return function(context, *args, **kwargs)

    return bound
