"""The event bus interface: ``publish(event)`` at run time; subscriptions declared at wiring time.

A subscription puts a handler in a *group*: a named queue with its own consumers, like a RabbitMQ queue
bound to a topic exchange by the event's wire name (one group per service and purpose, e.g.
``monitor``). Every group subscribed to an event's wire name gets its own copy of the event; within a
group each event is handled once, by every handler the group has for it.

Guarantees every implementation gives (checked by ``tests/bus``):
- ``publish`` only guarantees that the event has been dispatched to the subscribed groups, not that it
  was received or handled. It returns before the handlers run (delivery is asynchronous), and no
  handler's exception ever reaches the publisher.
- A handler that raises is logged and does not prevent the other handlers from getting the event.
  The bus may deliver an event again (after a failure or a restart): handlers must be idempotent.
- A group with ``concurrency=1`` handles its events one at a time, in the order they were published.
- When a group cannot take more events, ``publish`` pushes back: it blocks for a while, then raises
  ``shared.domain.Unavailable``; it never buffers without limit.
- ``close`` stops accepting publications from outside the handlers, lets the handlers finish what was
  dispatched (including what they publish meanwhile), then stops.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .events import Event

E = TypeVar("E", bound=Event)
Handler = Callable[[E], None]
Publish = Callable[[Event], None]


@dataclass(frozen=True)
class Group:
    """A subscription group: one queue and its consumers.

    ``concurrency``: how many events of the group are handled at once (1 keeps the publication order).
    ``exclusive``: the group belongs to this process alone, so every process that declares it receives
    its own copy of the events (how RPC replies reach the requester, which matches them by correlation
    id); a shared group's events are spread over the processes that declare it.
    """

    name: str
    concurrency: int = 1
    exclusive: bool = False

    def __post_init__(self) -> None:
        if not self.name or self.concurrency < 1:
            raise ValueError(f"invalid group {self!r}")


class EventBus(ABC):
    """Publishes events to the groups subscribed to their type. Subclasses provide the transport.

    Use: ``subscribe`` (composition root) ... ``start()`` ... ``publish`` (run time) ... ``close()``.
    """

    def __init__(self) -> None:
        # group name -> (group, wire name -> handlers); event class by wire name
        self._subscriptions: dict[str, tuple[Group, dict[str, list[Handler]]]] = {}
        self._types: dict[str, type[Event]] = {}
        self._started = False

    def subscribe(self, group: Group, event_type: type[E], handler: Handler[E]) -> None:
        """Have ``handler`` receive the events of ``event_type`` in ``group``.

        Declared before ``start()``. Routing is by wire name, as on a broker, and a bus that decodes
        events builds them with the class subscribed here (:meth:`event_types_by_wire_name`). Raises
        ``ValueError`` when a group name is reused with other settings or ``event_type`` is not a
        registered event class.
        """
        if self._started:
            raise RuntimeError("subscriptions are declared before the bus starts")
        name = getattr(event_type, "wire_name", None)
        if not isinstance(name, str):
            raise ValueError(f"{event_type!r} is not a registered event class")
        declared, handlers = self._subscriptions.setdefault(group.name, (group, {}))
        if declared != group:
            raise ValueError(f"group {group.name!r} is declared as {declared!r}, not {group!r}")
        self._types.setdefault(name, event_type)
        handlers.setdefault(name, []).append(handler)

    @property
    def groups(self) -> list[Group]:
        return [group for group, _ in self._subscriptions.values()]

    def wire_names(self, group: Group) -> list[str]:
        """The wire names ``group`` is subscribed to (what a broker queue is bound to)."""
        return list(self._subscriptions[group.name][1])

    def event_types_by_wire_name(self) -> dict[str, type[Event]]:
        """The subscribed event classes, for decoding what arrives (``codec.decode(body, these)``)."""
        return dict(self._types)

    def groups_for(self, wire_name: str) -> list[Group]:
        """The groups that receive events with this wire name."""
        return [group for group, handlers in self._subscriptions.values() if wire_name in handlers]

    def handlers(self, group: Group, wire_name: str) -> list[Handler]:
        return list(self._subscriptions[group.name][1].get(wire_name, ()))

    def start(self) -> None:
        """Start delivering. Subscriptions are fixed from now on."""
        self._started = True

    @abstractmethod
    def publish(self, event: Event) -> None:
        """Dispatch ``event`` to every group subscribed to its type; see the module's guarantees.

        An event nobody subscribed to is dropped. Raises ``Unavailable`` when the bus is closed or
        a group pushes back for too long (then groups that took it still handle it, as with a broker).
        """

    @abstractmethod
    def close(self, timeout_s: float = 10.0) -> None:
        """Stop accepting events from outside, finish the ones in flight (at most ``timeout_s``), stop. Idempotent."""

    @abstractmethod
    def health(self) -> list[str]:
        """Reasons the bus cannot deliver now (not started, closed, broker unreachable...); empty when healthy."""


def handler_name(handler: Callable) -> str:
    """A readable name for a handler in logs."""
    return getattr(handler, "__qualname__", None) or repr(handler)
