"""Every event the app publishes: frozen dataclasses named in the past tense, each with a stable wire name.

Three kinds:
- domain events, facts one service announces to whoever subscribes (``CheckCompleted``, ``AlertOpened``);
- requests (``...Requested``), which ask the service that owns the data to do something or answer a query;
- replies to a request, correlated with it by ``correlation_id``: a success (``TargetCreated``) or a
  failure (``TargetCreateFailed``) carrying the domain error's code and message.

The wire name is the routing key and the ``type`` of the JSON envelope (:mod:`.codec`); it never changes
when a class is renamed. Values are the domain's own dataclasses, so an event carries all the data its
consumers need (a service never reads another service's tables).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, TypeVar

from shared.domain import (
    Alert,
    AlertChange,
    CheckResult,
    NewResult,
    NewTarget,
    Notification,
    RuleParams,
    Target,
    TargetPage,
    new_id,
)

EV = TypeVar("EV", bound="Event")

REGISTRY: dict[str, type[Event]] = {}
"""Every event class by wire name."""


def wire_name(name: str) -> Callable[[type[EV]], type[EV]]:
    """Register an event class under ``name``; a name can be taken only once."""

    def register(cls: type[EV]) -> type[EV]:
        if name in REGISTRY:
            raise ValueError(f"wire name {name!r} is taken by {REGISTRY[name].__name__}")
        cls.wire_name = name
        REGISTRY[name] = cls
        return cls

    return register


def event_class(name: str) -> type[Event]:
    """The event class registered under wire name ``name``; ``KeyError`` names an unknown one."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown event wire name {name!r}") from None


def is_event(value: object) -> bool:
    """Whether ``value`` is an event: an instance of a class with a wire name, whichever load of this
    module defined it (an overlay package loads its own copy of these classes)."""
    return dataclasses.is_dataclass(value) and isinstance(getattr(type(value), "wire_name", None), str)


# --------------------------------------------------------------------------- bases

@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all events. ``event_id`` identifies this event; a redelivery carries the same id."""

    wire_name: ClassVar[str]
    event_id: str = field(default_factory=new_id)


@dataclass(frozen=True, kw_only=True)
class Request(Event):
    """Asks the owning service for something; answered by a :class:`Reply` whose correlation id is our event id.

    ``deadline`` is when the requester stops waiting: a request still queued after it is dropped unanswered.
    """

    deadline: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Reply(Event):
    """The answer to the request whose ``event_id`` is ``correlation_id``."""

    correlation_id: str


@dataclass(frozen=True, kw_only=True)
class Failed(Reply):
    """A request failed with the domain error ``code`` (``shared.domain.ERRORS_BY_CODE``) and ``message``."""

    code: str
    message: str


def reply_types() -> list[type[Reply]]:
    """Every registered reply class (successes and failures), the events a requester listens to."""
    return [cls for cls in REGISTRY.values() if issubclass(cls, Reply)]


# --------------------------------------------------------------------------- monitor: requests and replies

@wire_name("target.create_requested")
@dataclass(frozen=True, kw_only=True)
class TargetCreateRequested(Request):
    new: NewTarget


@wire_name("target.created")
@dataclass(frozen=True, kw_only=True)
class TargetCreated(Reply):
    target: Target


@wire_name("target.create_failed")
@dataclass(frozen=True, kw_only=True)
class TargetCreateFailed(Failed):
    pass


@wire_name("targets.list_requested")
@dataclass(frozen=True, kw_only=True)
class TargetListRequested(Request):
    limit: int
    offset: int


@wire_name("targets.listed")
@dataclass(frozen=True, kw_only=True)
class TargetsListed(Reply):
    page: TargetPage


@wire_name("targets.list_failed")
@dataclass(frozen=True, kw_only=True)
class TargetListFailed(Failed):
    pass


@wire_name("target.get_requested")
@dataclass(frozen=True, kw_only=True)
class TargetGetRequested(Request):
    target_id: str


@wire_name("target.found")
@dataclass(frozen=True, kw_only=True)
class TargetFound(Reply):
    target: Target


@wire_name("target.get_failed")
@dataclass(frozen=True, kw_only=True)
class TargetGetFailed(Failed):
    pass


@wire_name("target.delete_requested")
@dataclass(frozen=True, kw_only=True)
class TargetDeleteRequested(Request):
    target_id: str


@wire_name("target.deleted")
@dataclass(frozen=True, kw_only=True)
class TargetDeleted(Reply):
    target_id: str


@wire_name("target.delete_failed")
@dataclass(frozen=True, kw_only=True)
class TargetDeleteFailed(Failed):
    pass


@wire_name("result.ingest_requested")
@dataclass(frozen=True, kw_only=True)
class ResultIngestRequested(Request):
    target_id: str
    new: NewResult


@wire_name("result.accepted")
@dataclass(frozen=True, kw_only=True)
class ResultAccepted(Reply):
    result: CheckResult


@wire_name("result.ingest_failed")
@dataclass(frozen=True, kw_only=True)
class ResultIngestFailed(Failed):
    pass


@wire_name("results.list_requested")
@dataclass(frozen=True, kw_only=True)
class ResultListRequested(Request):
    target_id: str
    limit: int


@wire_name("results.listed")
@dataclass(frozen=True, kw_only=True)
class ResultsListed(Reply):
    results: list[CheckResult]


@wire_name("results.list_failed")
@dataclass(frozen=True, kw_only=True)
class ResultListFailed(Failed):
    pass


@wire_name("target.check_requested")
@dataclass(frozen=True, kw_only=True)
class TargetCheckRequested(Request):
    target_id: str


@wire_name("target.checked")
@dataclass(frozen=True, kw_only=True)
class TargetChecked(Reply):
    result: CheckResult


@wire_name("target.check_failed")
@dataclass(frozen=True, kw_only=True)
class TargetCheckFailed(Failed):
    pass


# --------------------------------------------------------------------------- alerting and notification queries

@wire_name("alerts.list_requested")
@dataclass(frozen=True, kw_only=True)
class AlertListRequested(Request):
    target_id: str | None
    state: str | None


@wire_name("alerts.listed")
@dataclass(frozen=True, kw_only=True)
class AlertsListed(Reply):
    alerts: list[Alert]


@wire_name("alerts.list_failed")
@dataclass(frozen=True, kw_only=True)
class AlertListFailed(Failed):
    pass


@wire_name("notifications.list_requested")
@dataclass(frozen=True, kw_only=True)
class NotificationListRequested(Request):
    target_id: str | None
    alert_id: str | None


@wire_name("notifications.listed")
@dataclass(frozen=True, kw_only=True)
class NotificationsListed(Reply):
    notifications: list[Notification]


@wire_name("notifications.list_failed")
@dataclass(frozen=True, kw_only=True)
class NotificationListFailed(Failed):
    pass


# --------------------------------------------------------------------------- domain events

@wire_name("check.completed")
@dataclass(frozen=True, kw_only=True)
class CheckCompleted(Event):
    """The monitor accepted a new result; its target's rule parameters travel with it.

    Published in the order the monitor accepted the results of a target.
    """

    result: CheckResult
    params: RuleParams


@wire_name("alert.opened")
@dataclass(frozen=True, kw_only=True)
class AlertOpened(Event):
    """Alerting opened an alert; ``change.webhook_url`` says where to deliver it besides the log."""

    change: AlertChange


@wire_name("alert.resolved")
@dataclass(frozen=True, kw_only=True)
class AlertResolved(Event):
    """Alerting resolved an alert; ``change.webhook_url`` says where to deliver it besides the log."""

    change: AlertChange
