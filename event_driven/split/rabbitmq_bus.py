"""The event bus on RabbitMQ (pika), for the app split into processes.

The parts: :mod:`.rabbitmq_topology` (exchanges, quorum queues, partitions, dead letters, the inbox,
their names), :mod:`.rabbitmq_connection` (the one connection, its I/O thread, confirms, reconnection),
:mod:`.rabbitmq_consumer` (workers, acks, retries, dead-lettering) and :mod:`.rabbitmq_partitions` (how
the processes of a partitioned group share its partitions). This module puts them together behind
:class:`EventBus`.

Scaling out: a group that is not partitioned is one queue whose consumers compete (every process that
subscribes it takes messages; ``concurrency=1`` makes it a single active consumer, one process at a
time); a partitioned group's partitions are spread over the processes that subscribe it, each
partition handled by one process at a time, in order (a keyed group's: in order per key, different keys
at once), and taken over by another when it dies.

Delivery: ``publish`` sends a persistent message and returns only once the broker confirmed it
(publisher confirms), else raises ``Unavailable``: at once while the connection is down (the edge
answers 503, never hangs), or after ``publish_timeout_s`` without a confirm. The confirm is what makes
an announced event (``CheckCompleted``, an alert change) safe before the caller goes on: it is in its
groups' quorum queues, on disk, when the api answers 202. A call (``CallRequested``) is published the
same way, so a request the broker did not take is a fast 503, never a silent 504; but the queues of
the groups that take only calls are classic and non-durable (:mod:`.rabbitmq_topology`), so for a
request the confirm costs a round trip to the broker's memory, no fsync, and it arrives while the
service already works on it. A
handler runs on a worker thread and the message is acked after every handler of the group returned (after
its commit); a failing one is retried, then dead-lettered (see :mod:`.rabbitmq_consumer`).

The inbox: ``address`` is this process's exclusive auto-delete queue; ``send(address, event)`` publishes
through the replies exchange (``NS.replies``, to which each inbox is bound by its name) with the address as
routing key, so the event reaches that one queue and no group (how a reply reaches only the process that asked).
The bus knows nothing else about replies.
``send`` is fire and forget: a transient message, handed to the I/O thread without waiting for a
confirm (``Unavailable`` at once only while the connection is down). Persistence or a confirm would buy
nothing there: the inbox is not durable and dies with its process, and a confirm does not say the
address exists (a message to an address nobody has is confirmed and dropped). A reply lost on the way
is a call that times out (504), exactly as when the requester died; a request carries no outcome that
only its reply would keep (the service committed it, and a retry with the same key finds it).

``close`` stops accepting publications from outside the handlers, lets the handlers finish what this
process published to its own groups and inbox and what they hold, then closes the connection.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid

import pika
from pika.channel import Channel
from pika.spec import BasicProperties

from event_driven.monolith.bus import EventBus, trace_name
from event_driven.monolith.events import Event
from event_driven.monolith.rpc import CallRequested
from shared.domain import Unavailable
from shared.telemetry import propagation

from .codec import encode
from .rabbitmq_connection import BrokerConnection
from .rabbitmq_consumer import Consumption
from .rabbitmq_messages import Publication
from .rabbitmq_partitions import Balancer
from .rabbitmq_topology import (
    Step,
    declarations,
    exchange_name,
    group_queues,
    inbox_name,
    members_queue_name,
    partition_headers,
    replies_exchange_name,
)

log = logging.getLogger("event_driven.bus")


class RabbitMQEventBus(EventBus):
    """An :class:`EventBus` on RabbitMQ; see the module's documentation.

    ``max_attempts``: deliveries of a message before it is dead-lettered. ``retry_delay_s``: the pause
    before a failed message returns to the queue, doubling per try up to ``max_retry_delay_s``.
    ``publish_timeout_s``: how long ``publish`` waits for the broker's confirm. ``reconnect_delay_s``:
    the first pause before reconnecting, doubling up to ``max_reconnect_delay_s``. ``balance_every_s``:
    how often this process checks its share of each partitioned group's partitions. ``depth_every_s``: how
    often it asks the broker how many messages wait in each queue it consumes (one passive declare per queue;
    the first tick asks at once).
    """

    def __init__(
        self,
        url: str,
        namespace: str,
        *,
        max_attempts: int = 5,
        retry_delay_s: float = 0.1,
        max_retry_delay_s: float = 2.0,
        publish_timeout_s: float = 5.0,
        reconnect_delay_s: float = 0.2,
        max_reconnect_delay_s: float = 5.0,
        heartbeat_s: int = 30,
        start_timeout_s: float = 15.0,
        connection_name: str | None = None,
        balance_every_s: float = 1.0,
        depth_every_s: float = 5.0,
    ):
        super().__init__()
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.namespace = namespace
        self._instance = uuid.uuid4().hex[:12]
        self._address = inbox_name(namespace, self._instance)
        self._exchange = exchange_name(namespace)
        self._replies = replies_exchange_name(namespace)
        self._max_attempts = max_attempts
        self._publish_timeout_s = publish_timeout_s
        self._start_timeout_s = start_timeout_s
        self._connection = BrokerConnection(
            url,
            connection_name=connection_name or f"{namespace}:{os.environ.get('PROCESS_NAME', 'app')}:{os.getpid()}",
            declare=self._declarations,
            heartbeat_s=heartbeat_s,
            reconnect_delay_s=reconnect_delay_s,
            max_reconnect_delay_s=max_reconnect_delay_s,
            tick=self._tick,
            tick_s=balance_every_s,
        )
        self._consumption = Consumption(
            self._connection, handlers=self.handlers, finished=self._finished,
            max_attempts=max_attempts, retry_delay_s=retry_delay_s, max_retry_delay_s=max_retry_delay_s,
        )
        self._balancer = Balancer(self._connection, self._consumption)
        self._cond = threading.Condition()
        self._closing = False
        self._outstanding: dict[str, int] = {}  # message id -> deliveries to our own queues not finished
        self._depth_every_s = depth_every_s
        self._depths_due = 0.0  # monotonic time of the next depth question (the first tick asks)

    def _tick(self) -> None:
        """(I/O thread, every ``balance_every_s``) Balance the partitions; every ``depth_every_s``, ask how deep
        each consumed queue is."""
        self._balancer.tick()
        now = time.monotonic()
        if now >= self._depths_due:
            self._depths_due = now + self._depth_every_s
            self._consumption.measure_depths()

    @property
    def address(self) -> str:
        return self._address

    @property
    def dead_letters(self) -> int:
        """Messages this process dead-lettered (or gave up, in its inbox) since it started."""
        return self._consumption.dead_letters

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Declare the topology and start consuming; returns once the first connection is up, or has
        failed (the bus keeps trying in the background, and ``health`` says why it is not ready)."""
        with self._cond:
            if self._started or self._closing:
                return
            super().start()
        for group in self.groups:
            members = members_queue_name(self.namespace, group.name) if group.partitioned else None
            self._consumption.add_group(group, group_queues(self.namespace, group), members)
        if self.inbox_handler is not None:
            self._consumption.add_inbox(self._address, self.inbox_handler)
        self._consumption.start()
        if not self._connection.start(self._consumption.consumers(), self._start_timeout_s):
            log.warning("event bus: not connected after %.0fs; still trying", self._start_timeout_s)

    def _declarations(self, channel: Channel) -> list[Step]:
        """What to declare on each (re)connection (the connection's I/O thread calls this)."""
        groups = [(group, self.bindings(group)) for group in self.groups]
        inbox = self._address if self.inbox_handler is not None else None
        return declarations(channel, self.namespace, groups, inbox, self._max_attempts, self.transient_groups())

    def transient_groups(self) -> list[str]:
        """The groups whose queues are classic and non-durable: those that take only calls (every
        subscription a ``CallRequested``). See :mod:`.rabbitmq_topology`."""
        return [group.name for group, subscriptions in self._subscriptions.values()
                if all(issubclass(s.event_type, CallRequested) for s in subscriptions)]

    def close(self, timeout_s: float = 10.0) -> None:
        with self._cond:
            if self._closing:
                return
            self._closing = True
            started = self._started
        if not started:
            self._connection.close(0)
            return
        deadline = time.monotonic() + timeout_s

        def remaining() -> float:
            return max(0.0, deadline - time.monotonic())

        with self._cond:  # what we published to our own queues, and what handlers publish meanwhile
            if not self._cond.wait_for(lambda: not self._outstanding, timeout=remaining()):
                log.warning("event bus closing with %d of its own events not handled after %.1fs",
                            len(self._outstanding), timeout_s)
        self._connection.cancel_consumers()
        self._consumption.wait_idle(remaining())  # what the workers hold
        self._consumption.stop(deadline)
        self._connection.close(remaining())
        log.info("event bus closed (%d messages dead-lettered by this process)", self.dead_letters)

    def health(self) -> list[str]:
        if self._closing:
            return ["event bus: closed"]
        if not self._started:
            return ["event bus: not started"]
        reasons = [] if self._connection.ready else [f"event bus: broker unreachable ({self._connection.last_error})"]
        return reasons + [f"event bus: worker {name} stopped" for name in self._consumption.stopped_workers()]

    # ------------------------------------------------------------------ publishing (any thread)

    def publish(self, event: Event) -> None:
        """Persistent and confirmed: returns once the broker has the event in every queue it routes to."""
        _require_event(event)
        if self._connection.is_io_thread():
            raise RuntimeError("publish from the bus's I/O thread would deadlock")
        ours = len(self.groups_for(event.routing_key))  # how many of this process's queues it reaches
        _, publication = self._publication(self._exchange, event.routing_key, event, ours, persistent=True)
        self._connection.publish(publication, self._publish_timeout_s)
        if publication.confirmed:
            return
        if ours and publication.error is None:  # no confirm in time, but it may still arrive and be handled
            publication.on_failed = None
        reason = publication.error or f"no confirm within {self._publish_timeout_s:g}s"
        raise Unavailable(f"event bus: {event.wire_name} not published: {reason}")

    def send(self, address: str, event: Event) -> None:
        """Transient and not confirmed (fire and forget); raises ``Unavailable`` at once only while the
        connection is down. See the module's documentation for why that is all an inbox needs."""
        _require_event(event)
        ours = int(address == self._address and self.inbox_handler is not None)
        _, publication = self._publication(self._replies, address, event, ours, persistent=False)
        self._connection.publish_nowait(publication)
        if publication.error is not None:
            raise Unavailable(f"event bus: {event.wire_name} not sent: {publication.error}")

    def _publication(self, exchange: str, routing_key: str, event: Event, ours: int,
                     persistent: bool) -> tuple[str, Publication]:
        """A message of ``event`` ready to hand to the connection; ``ours``: how many of this process's own
        queues it reaches (``close`` waits for them, until handled or the publication fails)."""
        if self._closing and not self._consumption.on_worker_thread():
            raise Unavailable("event bus is closed")
        if not self._started:
            raise Unavailable("event bus: not started")
        message_id = uuid.uuid4().hex
        properties = BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent if persistent else pika.DeliveryMode.Transient,
            type=event.wire_name,
            message_id=message_id,
            timestamp=int(time.time()),
            app_id=self._instance,
            headers=propagation.inject(trace_name(event), partition_headers(event)),  # and the trace, if traced
        )
        publication = Publication(exchange, routing_key, encode(event), properties)
        if ours:
            with self._cond:
                self._outstanding[message_id] = ours
            publication.on_failed = lambda: self._forget(message_id)  # never sent: nothing of ours handles it
        return message_id, publication

    def _forget(self, message_id: str) -> None:
        with self._cond:
            if self._outstanding.pop(message_id, None) is not None:
                self._cond.notify_all()

    def _finished(self, message_id: str | None) -> None:
        if message_id is None:
            return
        with self._cond:
            left = self._outstanding.get(message_id)
            if left is None:
                return
            if left <= 1:
                del self._outstanding[message_id]
                self._cond.notify_all()
            else:
                self._outstanding[message_id] = left - 1


def _require_event(event: object) -> None:
    if not isinstance(event, Event):
        raise TypeError(f"not an event: {event!r}")
