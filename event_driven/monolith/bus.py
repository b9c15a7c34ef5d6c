"""The event bus interface: ``publish(event)`` and ``send(address, event)`` at run time; subscriptions
and this process's inbox declared at wiring time.

A subscription puts a handler in a *group*: a named queue with its own consumers, like a RabbitMQ queue
bound to a topic exchange (one group per service and purpose, e.g. ``monitor``). ``publish`` routes an
event by its ``routing_key`` (by default its wire name) as a topic exchange does: every group with a
binding that matches the key gets its own copy; within a group each event is handled once, by every
handler the group has for a matching binding and the event's class. Binding keys are dot-separated words
where ``*`` stands for exactly one word and ``#`` for zero or more, as on RabbitMQ.

Besides the groups, each bus has an *inbox*: ``address`` names it, and ``send(address, event)`` delivers an
event straight to the inbox with that address, not to any group (the reply lane of request/reply, see
:mod:`.rpc`; the bus knows nothing about replies beyond that address).

Guarantees every implementation gives (checked by ``tests/bus``):
- ``publish`` only guarantees that the event has been dispatched to the subscribed groups, not that it
  was received or handled. It returns before the handlers run (delivery is asynchronous), and no
  handler's exception ever reaches the publisher.
- A handler that raises is logged and does not prevent the other handlers from getting the event.
  The bus may deliver an event again (after a failure or a restart): handlers must be idempotent.
- A group with ``concurrency=1`` handles its events one at a time, in the order they were published.
- A *partitioned* group (``Group(name, partitioned=True)``) is :data:`PARTITIONS` ordered lanes: an event
  goes to lane :func:`partition_of` of its ``partition_key`` (a target id), so the events of one key are
  handled one at a time, in the order they were published, while events of other keys proceed in
  parallel. Each lane is handled by one worker at a time, over all processes that subscribe the group
  (on a broker: each process may hold some lanes, and a survivor takes over the lanes of one that died).
  An event without a key goes to lane 0.
- A *keyed* group (``Group(name, partitioned=True, in_flight=N, concurrency=W)``, N > 1) keeps order per
  key, not per lane: each lane takes up to N of its events at once (in publication order) and hands them
  to a pool of W workers that the group's lanes share in each process. The events of one key are still
  handled one at a time, in the order they were published (a later one starts only once the earlier one
  finished, its retries included), while events of different keys run at the same time even when they
  share a lane; so a slow key holds up its own events, not its lane-mates'. Events without a key are one
  key (one order). A key with N events waiting fills its lane's window and holds its lane-mates up again
  until it drains: N is the backlog one slow key may have before it delays anyone else.
- When a group cannot take more events, ``publish`` pushes back: it blocks for a while, then raises
  ``shared.domain.Unavailable``; it never buffers without limit.
- ``close`` stops accepting publications from outside the handlers, lets the handlers finish what was
  dispatched (including what they publish meanwhile), then stops.
- ``send`` to an address nobody has drops the event; an inbox handler's exception never reaches the sender.
"""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .events import REGISTRY, Event

E = TypeVar("E", bound=Event)
Handler = Callable[[E], None]
Publish = Callable[[Event], None]
Send = Callable[[str, Event], None]


PARTITIONS = 8
"""The lanes of every partitioned group: fixed, the same in every process of a namespace (the lane of a key
is ``partition_of(key)``), and at least the largest number of replicas a service runs, so each has work."""


def partition_of(key: str | None, partitions: int = PARTITIONS) -> int:
    """The lane of ``key``: a stable hash (the same in every process and run) modulo ``partitions``; 0 without a key."""
    if key is None:
        return 0
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


@dataclass(frozen=True)
class Group:
    """A subscription group: one queue and its consumers, shared by every process that declares it.

    ``concurrency``: how many events of the group a process handles at once, i.e. its worker threads (1
    keeps the publication order); for a keyed group, the size of the pool its lanes share.
    ``partitioned``: the group is :data:`PARTITIONS` lanes, each handling its events one at a time in
    publication order; an event's lane is given by its ``partition_key`` (so per-key order, not one
    global order). ``concurrency`` is then 1 (one worker per lane).
    ``in_flight`` (partitioned groups only): how many events each lane takes at once. Above 1 the group is
    *keyed*: the events of one key one at a time in publication order, those of different keys at the same
    time even in one lane, on ``concurrency`` workers shared by the lanes (see the module's guarantees).
    Why a shared pool rather than N workers per lane: the threads stay bounded by ``concurrency`` however
    deep the lanes' windows are (a deep window lets a slow key build up a backlog before it holds up its
    lane-mates), a process that holds only some lanes (scaled out) can put all its workers on them, and
    a worker only ever holds an event it can run (never one waiting for its key's previous event).
    """

    name: str
    concurrency: int = 1
    partitioned: bool = False
    in_flight: int = 1

    def __post_init__(self) -> None:
        keyed = self.in_flight > 1
        if (not self.name or self.concurrency < 1 or self.in_flight < 1 or (keyed and not self.partitioned)
                or (self.partitioned and not keyed and self.concurrency != 1)):
            raise ValueError(f"invalid group {self!r}")

    @property
    def keyed(self) -> bool:
        """Whether the group keeps order per key within its lanes (``in_flight`` > 1), not per lane."""
        return self.in_flight > 1

    @property
    def partitions(self) -> int:
        """How many ordered lanes the group has (1 unless partitioned)."""
        return PARTITIONS if self.partitioned else 1


@dataclass(frozen=True)
class Subscription:
    binding: str
    event_type: type[Event]
    handler: Handler


def topic_matches(binding: str, routing_key: str) -> bool:
    """Whether a topic exchange routes ``routing_key`` to a queue bound with ``binding``."""

    def match(pattern: list[str], words: list[str]) -> bool:
        if not pattern:
            return not words
        head, rest = pattern[0], pattern[1:]
        if head == "#":
            return any(match(rest, words[i:]) for i in range(len(words) + 1))
        return bool(words) and head in ("*", words[0]) and match(rest, words[1:])

    return match(binding.split("."), routing_key.split("."))


class EventBus(ABC):
    """Publishes events to the groups whose bindings match them. Subclasses provide the transport.

    Use: ``subscribe`` / ``subscribe_inbox`` (composition root) ... ``start()`` ... ``publish`` / ``send``
    (run time) ... ``close()``.
    """

    def __init__(self) -> None:
        self._subscriptions: dict[str, tuple[Group, list[Subscription]]] = {}
        self._inbox: Handler | None = None
        self._started = False

    def subscribe(self, group: Group, event_type: type[E], handler: Handler[E], *, routing_key: str | None = None) -> None:
        """Have ``handler`` receive, in ``group``, the events of ``event_type`` routed by ``routing_key``.

        ``routing_key`` is the binding key, by default the wire name of ``event_type``. Declared before
        ``start()``. Raises ``ValueError`` when a group name is reused with other settings or
        ``event_type`` is not a registered event class.
        """
        self._before_start()
        name = getattr(event_type, "wire_name", None)
        if not isinstance(event_type, type) or REGISTRY.get(name) is not event_type:  # type: ignore[arg-type]
            raise ValueError(f"{event_type!r} is not a registered event class")
        declared, subscriptions = self._subscriptions.setdefault(group.name, (group, []))
        if declared != group:
            raise ValueError(f"group {group.name!r} is declared as {declared!r}, not {group!r}")
        subscriptions.append(Subscription(routing_key or event_type.wire_name, event_type, handler))

    def subscribe_inbox(self, handler: Handler[Event]) -> None:
        """Have ``handler`` receive what is sent to this bus's ``address``; one inbox handler per bus.

        Declared before ``start()``. The handler must not block (it hands the event over and returns):
        an implementation may run it on the sender's thread or on a transport thread.
        """
        self._before_start()
        if self._inbox is not None:
            raise ValueError("this bus's inbox already has a handler")
        self._inbox = handler

    def _before_start(self) -> None:
        if self._started:
            raise RuntimeError("subscriptions are declared before the bus starts")

    @property
    @abstractmethod
    def address(self) -> str:
        """This process's inbox: ``send(bus.address, event)`` from any process reaches its inbox handler."""

    @property
    def inbox_handler(self) -> Handler | None:
        return self._inbox

    @property
    def groups(self) -> list[Group]:
        return [group for group, _ in self._subscriptions.values()]

    def bindings(self, group: Group) -> list[str]:
        """The binding keys of ``group`` (what a broker queue is bound by), each once."""
        return list(dict.fromkeys(s.binding for s in self._subscriptions[group.name][1]))

    def groups_for(self, routing_key: str) -> list[Group]:
        """The groups that receive an event published with this routing key."""
        return [group for group, subs in self._subscriptions.values() if any(topic_matches(s.binding, routing_key) for s in subs)]

    def handlers(self, group: Group, event: Event) -> list[Handler]:
        """The handlers of ``group`` for ``event``: a matching binding and the subscribed class."""
        return [s.handler for s in self._subscriptions[group.name][1]
                if isinstance(event, s.event_type) and topic_matches(s.binding, event.routing_key)]

    def start(self) -> None:
        """Start delivering. Subscriptions are fixed from now on."""
        self._started = True

    @abstractmethod
    def publish(self, event: Event) -> None:
        """Dispatch ``event`` to every group bound to its routing key; see the module's guarantees.

        An event nobody subscribed to is dropped. Raises ``Unavailable`` when the bus is closed or
        a group pushes back for too long (then groups that took it still handle it, as with a broker).
        """

    @abstractmethod
    def send(self, address: str, event: Event) -> None:
        """Deliver ``event`` to the inbox at ``address`` only (no group gets it).

        Raises ``Unavailable`` when the bus is closed (to callers outside its handlers) or cannot send.
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


def trace_name(event: Event) -> str:
    """How a trace names ``event``: a call by its service and method (``monitor.ingest_result``), others by wire name."""
    method = getattr(event, "method", None)
    return f"{getattr(event, 'service', '?')}.{method}" if method else event.wire_name
