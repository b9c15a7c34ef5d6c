"""The domain events: facts one service announces to whoever subscribes, named in the past tense.

Each is a frozen dataclass with a stable wire name: the ``type`` of its JSON envelope on a broker, and by
default its routing key. The wire name never changes when a class is renamed. Values are the domain's own
dataclasses, so an event carries all the data its consumers need (a service never reads another
service's tables). Request/reply over the bus is not a domain event: its generic envelope is in :mod:`.rpc`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from shared.domain import AlertChange, CheckResult, RuleParams, new_id

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


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all events. ``event_id`` identifies this event; a redelivery carries the same id."""

    wire_name: ClassVar[str]
    event_id: str = field(default_factory=new_id)

    @property
    def routing_key(self) -> str:
        """What the bus routes this event by (a topic); the wire name unless a subclass says otherwise."""
        return self.wire_name

    @property
    def partition_key(self) -> str | None:
        """What a partitioned group orders this event by (events of one key are handled in publication
        order); None for an event that belongs to no ordered stream."""
        return None


@wire_name("check.completed")
@dataclass(frozen=True, kw_only=True)
class CheckCompleted(Event):
    """The monitor accepted a new result; its target's rule parameters travel with it.

    Published in the order the monitor accepted the results of a target; ordered by its target.
    """

    result: CheckResult
    params: RuleParams

    @property
    def partition_key(self) -> str:
        return self.result.target_id


@wire_name("alert.opened")
@dataclass(frozen=True, kw_only=True)
class AlertOpened(Event):
    """Alerting opened an alert; ``change.webhook_url`` says where to deliver it besides the log."""

    change: AlertChange

    @property
    def partition_key(self) -> str:
        return self.change.alert.target_id


@wire_name("alert.resolved")
@dataclass(frozen=True, kw_only=True)
class AlertResolved(Event):
    """Alerting resolved an alert; ``change.webhook_url`` says where to deliver it besides the log."""

    change: AlertChange

    @property
    def partition_key(self) -> str:
        return self.change.alert.target_id
