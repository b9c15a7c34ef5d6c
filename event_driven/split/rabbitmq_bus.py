"""The event bus on RabbitMQ (pika), for the app split into processes.

Topology, every name prefixed with the namespace (``BUS_NAMESPACE``), declared by each process for the
groups it subscribes:
- ``NS.events``: one durable topic exchange; an event's routing key is its wire name;
- ``NS.GROUP``: one durable **quorum** queue per shared group, bound by the wire names the group
  subscribed to. ``x-delivery-limit`` bounds redeliveries and ``x-dead-letter-exchange`` sends a
  message that is given up to ``NS.dead-letter`` (direct), which routes it to ``NS.GROUP.dead-letter``
  (a durable classic queue, one per group, so an operator can inspect or replay a service's failures);
  a group with ``concurrency=1`` has ``x-single-active-consumer``: one consumer at a time over all
  processes, prefetch 1, so its events are handled one at a time in queue order (per-target order of
  results in alerting);
- an exclusive group (RPC replies) is a classic exclusive auto-delete queue of this connection, bound
  by its wire names, consumed with automatic acks: it disappears with the process anyway.

Why quorum queues: the broker counts deliveries (``x-delivery-count``) and enforces the limit itself,
also for a message that crashes its consumer (a retry header with republish could not count those),
a returned message goes back to the head of the queue, so a retry keeps the order, and the message is
not copied or moved: no duplicate or reordering from a republish. The cost is a Raft log per queue.

Delivery: persistent messages, and ``publish`` returns only once the broker confirmed the message
(publisher confirms), else raises ``Unavailable``. A handler runs on a worker thread; the message is
acked after every handler of the group returned, that is after the handler's database commit. A
handler that raises makes the message return to the queue (after a short pause growing with each try)
and come back; the handlers of the group that already succeeded on it are not called again in this
process. On the ``max_attempts``-th failure the message is rejected to the dead-letter queue and the
queue moves on. A message that is not a valid event goes there at once.

RPC replies: a request carries ``reply_to`` (this process's reply queue) and a ``message_id``; the
responder's reply carries the request's id as ``correlation_id`` and goes straight to that queue
through the default exchange, not to every requester. ``EventRPC`` matches it to the waiting request
and raises ``DeadlineExceeded`` (504) when none came in time. A reply that has no known requester is
published on the topic exchange like any event.

Connection and threads (pika connections and channels are not thread-safe):
- one connection per process, owned by one I/O thread that runs pika's ``SelectConnection`` ioloop:
  it opens the channels (one with confirms for publishing, one per group for consuming, each with its
  own prefetch), declares the topology, receives deliveries and confirms, and sends acks. It never
  runs a handler, so heartbeats are answered while handlers work, however long they take.
- any other thread (gunicorn's request threads, handler workers) talks to the connection only through
  ``ioloop.add_callback_threadsafe``: ``publish`` hands the message over and waits on an event that the
  I/O thread sets when the broker's confirm arrives; a worker hands its ack over the same way. Nothing
  opens a connection or channel per message, and no lock is held across the network.
- each group has ``concurrency`` worker threads fed by a local queue that the I/O thread fills.
This gives pipelined publishing for many request threads on one connection (each waits only for its
own confirm) at the price of one thread hop each way. A connection per thread would multiply
connections by gunicorn's threads; a ``BlockingConnection`` behind a lock would serialise every
publish behind the previous one's confirm.

Failures: when the connection drops (broker restart, ``close_all_connections``, network), ``health``
reports it, ``publish`` raises ``Unavailable`` at once (the edge answers 503, never hangs), and the
I/O thread reconnects with exponential backoff (with jitter, capped) and declares everything again.
Messages in hand are not acked on the dead channel: the broker delivers them again (handlers are
idempotent). ``close`` stops accepting publications from outside the handlers, lets the handlers
finish what this process published to its own groups and what they hold, then closes the connection.
"""
from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pika
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.channel import Channel
from pika.spec import Basic, BasicProperties

from shared.domain import Unavailable

from .bus import EventBus, Group, handler_name
from .codec import CodecError, decode, encode
from .events import Event, is_event

log = logging.getLogger("event_driven.bus")
logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO is every socket step; the bus logs what matters

_STOP = object()
_MEMO_SIZE = 4096


# --------------------------------------------------------------------------- names

def exchange_name(namespace: str) -> str:
    return f"{namespace}.events"


def dead_letter_exchange_name(namespace: str) -> str:
    return f"{namespace}.dead-letter"


def queue_name(namespace: str, group: str) -> str:
    return f"{namespace}.{group}"


def dead_letter_queue_name(namespace: str, group: str) -> str:
    return f"{namespace}.{group}.dead-letter"


def delete_topology(url: str, namespace: str, groups: Iterable[str]) -> None:
    """Delete the exchanges and the shared groups' queues (and dead-letter queues) of ``namespace``.

    For tests and tearing down an environment; exclusive queues go away with their connection.
    """
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for group in groups:
            channel.queue_delete(queue_name(namespace, group))
            channel.queue_delete(dead_letter_queue_name(namespace, group))
        channel.exchange_delete(exchange_name(namespace))
        channel.exchange_delete(dead_letter_exchange_name(namespace))
    finally:
        connection.close()


# --------------------------------------------------------------------------- the bus

@dataclass
class _Publication:
    """A message handed to the I/O thread; ``done`` is set when the broker confirmed it or it failed."""

    routing_key: str
    body: bytes
    properties: BasicProperties
    directed: bool
    request: bool
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None

    def fail(self, reason: str) -> None:
        self.error = reason
        self.done.set()


@dataclass
class _Delivery:
    generation: int
    channel: Channel | None
    tag: int
    properties: BasicProperties
    body: bytes


@dataclass
class _Lane:
    """A group: its queue name, its worker threads and the local queue the I/O thread fills."""

    group: Group
    name: str
    local: queue.Queue = field(default_factory=queue.Queue)
    workers: list[threading.Thread] = field(default_factory=list)
    busy: int = 0
    """Deliveries received and not finished (guarded by the bus's condition)."""


class RabbitMQEventBus(EventBus):
    """An :class:`EventBus` on RabbitMQ; see the module's documentation.

    ``max_attempts``: deliveries of a message before it is dead-lettered. ``retry_delay_s``: the pause
    before a failed message returns to the queue, doubling per try up to ``max_retry_delay_s``.
    ``publish_timeout_s``: how long ``publish`` waits for the broker's confirm. ``reconnect_delay_s``:
    the first pause before reconnecting, doubling up to ``max_reconnect_delay_s``.
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
    ):
        super().__init__()
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.namespace = namespace
        self._params = pika.URLParameters(url)
        if "heartbeat" not in url:
            self._params.heartbeat = heartbeat_s
        if "socket_timeout" not in url:
            self._params.socket_timeout = 5.0
        self._params.blocked_connection_timeout = 30.0
        self._params.connection_attempts = 1
        self._instance = uuid.uuid4().hex[:12]
        name = connection_name or f"{namespace}:{os.environ.get('PROCESS_NAME', 'app')}:{os.getpid()}"
        self._params.client_properties = {"connection_name": name}
        self._max_attempts = max_attempts
        self._retry_delay_s = retry_delay_s
        self._max_retry_delay_s = max_retry_delay_s
        self._publish_timeout_s = publish_timeout_s
        self._reconnect_delay_s = reconnect_delay_s
        self._max_reconnect_delay_s = max_reconnect_delay_s
        self._start_timeout_s = start_timeout_s
        self._exchange = exchange_name(namespace)
        self._dead_letter_exchange = dead_letter_exchange_name(namespace)

        # Shared between threads.
        self._cond = threading.Condition()
        self._closing = False
        self._ready = False
        self._last_error = "not connected yet"
        self._generation = 0  # of the current connection (each reconnect makes a new one)
        self._lost_generation = 0  # the last one whose connection closed
        self._outstanding: dict[str, int] = {}  # message id -> deliveries to our own lanes not finished
        self._reply_routes: dict[str, str] = {}  # request event id -> the requester's queue, while handled
        self._memo: OrderedDict[tuple[str, str], set[int]] = OrderedDict()  # handlers done per message
        self._local = threading.local()  # .bus is self on this bus's worker threads
        self._first_attempt = threading.Event()  # set once the first connection is up or has failed
        self.dead_letters = 0

        # Owned by the I/O thread.
        self._loop = IOLoop()
        self._io_thread: threading.Thread | None = None
        self._lanes: dict[str, _Lane] = {}
        self._reply_lane: _Lane | None = None
        self._types: dict[str, type[Event]] = {}
        self._connection: SelectConnection | None = None
        self._publisher: Channel | None = None
        self._consumers: dict[str, tuple[Channel, str]] = {}  # lane -> (channel, consumer tag)
        self._queue_names: dict[str, str] = {}  # lane -> queue name on this connection
        self._unconfirmed: dict[int, _Publication] = {}
        self._next_tag = 0
        self._failures = 0
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Declare the topology and start consuming; returns once the first connection is up, or has
        failed (the bus keeps trying in the background, and ``health`` says why it is not ready)."""
        with self._cond:
            if self._started or self._closing:
                return
            super().start()
        self._types = self.event_types_by_wire_name()
        for group in self.groups:
            lane = _Lane(group, queue_name(self.namespace, group.name))
            self._lanes[group.name] = lane
            for index in range(group.concurrency):
                lane.workers.append(threading.Thread(
                    target=self._work, args=(lane,), name=f"bus-{group.name}-{index}", daemon=True))
            if group.exclusive and self._reply_lane is None and any(
                "correlation_id" in getattr(self._types[name], "__dataclass_fields__", {}) for name in self.wire_names(group)
            ):
                self._reply_lane = lane
        for lane in self._lanes.values():
            for worker in lane.workers:
                worker.start()
        self._io_thread = threading.Thread(target=self._run_io, name="bus-io", daemon=True)
        self._io_thread.start()
        if not self._first_attempt.wait(self._start_timeout_s):
            log.warning("event bus: not connected after %.0fs; still trying", self._start_timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        with self._cond:
            if self._closing:
                return
            self._closing = True
            started = self._started
        if not started:
            self._loop.close()
            return
        deadline = time.monotonic() + timeout_s

        def remaining() -> float:
            return max(0.0, deadline - time.monotonic())

        with self._cond:  # what we published to our own groups, and what handlers publish meanwhile
            if not self._cond.wait_for(lambda: not self._outstanding, timeout=remaining()):
                log.warning("event bus closing with %d of its own events not handled after %.1fs",
                            len(self._outstanding), timeout_s)
        self._in_io(self._cancel_consumers)
        with self._cond:  # what the workers hold
            self._cond.wait_for(lambda: all(lane.busy == 0 for lane in self._lanes.values()), timeout=remaining())
        for lane in self._lanes.values():
            for _ in lane.workers:
                lane.local.put(_STOP)
        for lane in self._lanes.values():
            for worker in lane.workers:
                worker.join(timeout=remaining())
        self._in_io(self._shutdown)
        if self._io_thread is not None:
            self._io_thread.join(timeout=max(1.0, remaining()))
        log.info("event bus closed (%d messages dead-lettered by this process)", self.dead_letters)

    def health(self) -> list[str]:
        if self._closing:
            return ["event bus: closed"]
        if not self._started:
            return ["event bus: not started"]
        reasons = [] if self._ready else [f"event bus: broker unreachable ({self._last_error})"]
        dead = [w.name for lane in self._lanes.values() for w in lane.workers if not w.is_alive()]
        return reasons + [f"event bus: worker {name} stopped" for name in dead]

    # ------------------------------------------------------------------ publishing (any thread)

    def publish(self, event: Event) -> None:
        if not is_event(event):
            raise TypeError(f"not an event: {event!r}")
        if self._closing and getattr(self._local, "bus", None) is not self:
            raise Unavailable("event bus is closed")
        if not self._started:
            raise Unavailable("event bus: not started")
        if threading.current_thread() is self._io_thread:
            raise RuntimeError("publish from the bus's I/O thread would deadlock")
        correlation_id = getattr(event, "correlation_id", None)
        reply_to = self._reply_routes.get(correlation_id) if isinstance(correlation_id, str) else None
        message_id = uuid.uuid4().hex
        properties = BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            type=event.wire_name,
            message_id=message_id,
            correlation_id=correlation_id if isinstance(correlation_id, str) else None,
            timestamp=int(time.time()),
            app_id=self._instance,
        )
        publication = _Publication(
            reply_to or event.wire_name, encode(event), properties,
            directed=reply_to is not None, request=hasattr(event, "deadline"),
        )
        ours = self._own_lanes_reached(event.wire_name, reply_to)
        if ours:
            with self._cond:
                self._outstanding[message_id] = ours
        if not self._in_io(lambda: self._send(publication)):
            publication.fail("event bus is closed")
        if publication.done.wait(self._publish_timeout_s) and publication.error is None:
            return
        if ours and publication.error is not None:  # never sent: nothing of ours will handle it
            self._finished(message_id)
        reason = publication.error or f"no confirm within {self._publish_timeout_s:g}s"
        raise Unavailable(f"event bus: {event.wire_name} not published: {reason}")

    def _own_lanes_reached(self, wire_name: str, reply_to: str | None) -> int:
        """How many of this process's groups will receive the message (for ``close`` to wait for them)."""
        if reply_to is not None:  # a reply straight to a requester's queue: is it one of ours?
            return int(reply_to.endswith(f".{self._instance}"))
        return sum(1 for group in self.groups_for(wire_name) if group.name in self._lanes)

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

    # ------------------------------------------------------------------ the I/O thread

    def _in_io(self, callback: Callable[[], None]) -> bool:
        """Have the I/O thread run ``callback`` (the only way other threads touch the connection).
        False when its loop is gone (the bus closed): a delivery not acked is delivered again."""
        try:
            self._loop.add_callback_threadsafe(callback)
            return True
        except Exception:  # noqa: BLE001 - pika raises various errors on a closed loop
            return False

    def _run_io(self) -> None:
        self._loop.add_callback_threadsafe(self._connect)
        try:
            self._loop.start()
        finally:
            self._loop.close()

    def _connect(self) -> None:
        if self._stopping:
            return
        self._generation += 1
        generation = self._generation
        self._connection = SelectConnection(
            self._params,
            on_open_callback=lambda connection: self._on_open(generation, connection),
            on_open_error_callback=lambda connection, error: self._on_closed(generation, error),
            on_close_callback=lambda connection, reason: self._on_closed(generation, reason),
            custom_ioloop=self._loop,
        )

    def _on_closed(self, generation: int, reason: BaseException) -> None:
        if generation != self._generation:
            return
        was_ready = self._ready
        self._ready = False
        self._lost_generation = generation
        self._last_error = f"{type(reason).__name__}: {reason}"
        self._publisher = None
        self._consumers.clear()
        self._queue_names.clear()
        unconfirmed, self._unconfirmed = self._unconfirmed, {}
        for publication in unconfirmed.values():
            publication.fail("connection lost before the broker confirmed")
        self._first_attempt.set()
        if self._stopping:
            self._loop.stop()
            return
        delay = min(self._max_reconnect_delay_s, self._reconnect_delay_s * 2 ** self._failures)
        delay *= random.uniform(0.8, 1.2)
        self._failures += 1
        (log.warning if was_ready or self._failures == 1 else log.info)(
            "event bus: connection to the broker lost or refused (%s); reconnecting in %.1fs", self._last_error, delay)
        self._loop.call_later(delay, self._connect)

    def _fail(self, generation: int, reason: str) -> None:
        """Something on the connection broke (a channel closed, a consumer cancelled): start over."""
        connection = self._connection
        if generation != self._generation or self._stopping or connection is None:
            return
        if connection.is_closing or connection.is_closed:
            return  # the connection's own close callback reports it
        self._last_error = reason
        log.warning("event bus: %s; reconnecting", reason)
        connection.close(200, reason[:200])

    def _on_open(self, generation: int, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=lambda channel: self._on_publisher_open(generation, connection, channel))

    def _watch(self, generation: int, channel: Channel, what: str) -> None:
        def closed(_channel: Channel, reason: BaseException) -> None:
            if not self._stopping:
                self._fail(generation, f"{what} channel closed: {reason}")

        channel.add_on_close_callback(closed)

    def _on_publisher_open(self, generation: int, connection: SelectConnection, channel: Channel) -> None:
        self._watch(generation, channel, "publishing")
        self._next_tag = 0
        channel.confirm_delivery(ack_nack_callback=self._on_confirm,
                                 callback=lambda _frame: self._declare(generation, connection, channel))

    def _declare(self, generation: int, connection: SelectConnection, channel: Channel) -> None:
        """Declare the exchanges and every lane's queue and bindings, then start consuming."""
        steps: list[Callable[[Callable[[], None]], None]] = [
            lambda done: channel.exchange_declare(self._exchange, "topic", durable=True, callback=lambda _f: done()),
            lambda done: channel.exchange_declare(self._dead_letter_exchange, "direct", durable=True,
                                                  callback=lambda _f: done()),
        ]
        for lane in self._lanes.values():
            steps.extend(self._lane_steps(generation, channel, lane))

        def finished() -> None:
            self._publisher = channel
            self._start_consumers(generation, connection)

        _chain(steps, finished, alive=lambda: channel.is_open and generation == self._generation and not self._stopping)

    def _lane_steps(self, generation: int, channel: Channel, lane: _Lane) -> list[Callable[[Callable[[], None]], None]]:
        group = lane.group
        if group.exclusive:
            name = f"{lane.name}.{self._instance}"  # the same after a reconnect: late replies still find it
            steps = [lambda done: channel.queue_declare(name, exclusive=True, auto_delete=True, callback=lambda _f: done())]
        else:
            name = lane.name
            dead = dead_letter_queue_name(self.namespace, group.name)
            arguments = {
                "x-queue-type": "quorum",
                "x-delivery-limit": self._max_attempts,
                "x-dead-letter-exchange": self._dead_letter_exchange,
                "x-dead-letter-routing-key": group.name,
            }
            if group.concurrency == 1:
                arguments["x-single-active-consumer"] = True
            steps = [
                lambda done: channel.queue_declare(dead, durable=True, callback=lambda _f: done()),
                lambda done: channel.queue_bind(dead, self._dead_letter_exchange, routing_key=group.name,
                                                callback=lambda _f: done()),
                lambda done: channel.queue_declare(name, durable=True, arguments=arguments, callback=lambda _f: done()),
            ]
        for wire_name in self.wire_names(group):
            steps.append(lambda done, key=wire_name: channel.queue_bind(name, self._exchange, routing_key=key,
                                                                        callback=lambda _f: done()))
        self._queue_names[group.name] = name
        return steps

    def _start_consumers(self, generation: int, connection: SelectConnection) -> None:
        waiting = set(self._lanes)
        if not waiting:
            self._on_ready(generation)
            return

        def consuming(lane: _Lane, channel: Channel, tag: str) -> None:
            self._consumers[lane.group.name] = (channel, tag)
            waiting.discard(lane.group.name)
            if not waiting:
                self._on_ready(generation)

        for lane in self._lanes.values():
            def opened(channel: Channel, lane: _Lane = lane) -> None:
                self._watch(generation, channel, f"{lane.group.name} consumer")
                channel.add_on_cancel_callback(
                    lambda _frame, lane=lane: self._fail(generation, f"the broker cancelled the consumer of {lane.name}"))
                auto_ack = lane.group.exclusive
                holder: dict[str, str] = {}

                def consume(_frame: object = None) -> None:
                    holder["tag"] = channel.basic_consume(
                        self._queue_names[lane.group.name],
                        on_message_callback=lambda ch, method, props, body: self._on_message(
                            lane, generation, ch, method, props, body),
                        auto_ack=auto_ack,
                        callback=lambda _f: consuming(lane, channel, holder["tag"]),
                    )

                if auto_ack:
                    consume()
                else:
                    channel.basic_qos(prefetch_count=lane.group.concurrency, callback=consume)

            connection.channel(on_open_callback=opened)

    def _on_ready(self, generation: int) -> None:
        if generation != self._generation:
            return
        if self._failures:
            log.warning("event bus: connected to the broker again")
        self._failures = 0
        self._last_error = ""
        self._ready = True
        self._first_attempt.set()

    def _send(self, publication: _Publication) -> None:
        channel = self._publisher
        if not self._ready or channel is None or not channel.is_open:
            publication.fail(f"broker unreachable ({self._last_error or 'connecting'})")
            return
        if publication.request and self._reply_lane is not None:
            publication.properties.reply_to = self._queue_names.get(self._reply_lane.group.name)
        exchange = "" if publication.directed else self._exchange
        try:
            channel.basic_publish(exchange, publication.routing_key, publication.body, publication.properties)
        except Exception as error:  # noqa: BLE001 - reported to the publisher
            publication.fail(f"{type(error).__name__}: {error}")
            return
        self._next_tag += 1
        self._unconfirmed[self._next_tag] = publication

    def _on_confirm(self, frame: pika.frame.Method) -> None:
        method = frame.method
        ok = isinstance(method, Basic.Ack)
        tags = [t for t in self._unconfirmed if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        for tag in tags:
            publication = self._unconfirmed.pop(tag, None)
            if publication is None:
                continue
            if ok:
                publication.done.set()
            else:
                publication.fail("the broker refused the message (nack)")

    def _on_message(self, lane: _Lane, generation: int, channel: Channel, method: Basic.Deliver,
                    properties: BasicProperties, body: bytes) -> None:
        with self._cond:
            lane.busy += 1
        lane.local.put(_Delivery(generation, channel, method.delivery_tag, properties, body))

    def _settle(self, delivery: _Delivery, outcome: str) -> None:
        """Ack, retry (back to the queue) or dead-letter a delivery, if its channel is still the one it came on."""
        channel = delivery.channel
        if channel is None or delivery.generation != self._generation or not channel.is_open:
            return  # the broker has already put it back in the queue
        if outcome == "ack":
            channel.basic_ack(delivery.tag)
        else:
            channel.basic_nack(delivery.tag, requeue=outcome == "retry")

    def _cancel_consumers(self) -> None:
        for channel, tag in list(self._consumers.values()):
            if channel.is_open:
                channel.basic_cancel(tag)
        self._consumers.clear()

    def _shutdown(self) -> None:
        self._stopping = True
        connection = self._connection
        if connection is not None and not (connection.is_closing or connection.is_closed):
            connection.close()
            self._loop.call_later(2.0, self._loop.stop)  # if the broker does not answer the close
        else:
            self._loop.stop()

    # ------------------------------------------------------------------ handling (worker threads)

    def _work(self, lane: _Lane) -> None:
        self._local.bus = self
        while True:
            delivery = lane.local.get()
            if delivery is _STOP:
                return
            try:
                if lane.group.exclusive:
                    self._handle_exclusive(lane, delivery)
                else:
                    self._handle_shared(lane, delivery)
            except Exception:  # noqa: BLE001 - a worker never dies
                log.exception("event bus: unexpected error handling a message of %s", lane.name)
            finally:
                with self._cond:
                    lane.busy -= 1
                    self._cond.notify_all()

    def _decode(self, lane: _Lane, delivery: _Delivery) -> Event | None:
        try:
            return decode(delivery.body, self._types)
        except CodecError as error:
            log.error("event bus: dead-lettered a message of %s that is not a valid event: %s", lane.name, error)
            return None

    def _handle_shared(self, lane: _Lane, delivery: _Delivery) -> None:
        if delivery.generation <= self._lost_generation:
            return  # came on a connection that is gone: the broker delivers it again
        event = self._decode(lane, delivery)
        if event is None:
            self._dead_letter(delivery)
            return
        attempt = int((delivery.properties.headers or {}).get("x-delivery-count", 0)) + 1
        key = (lane.group.name, delivery.properties.message_id or event.event_id)
        with self._cond:
            done = self._memo.pop(key, set())
        if self._run_handlers(lane, delivery, event, done, attempt):
            self._in_io(lambda: self._settle(delivery, "ack"))
            self._finished(delivery.properties.message_id)
        elif attempt >= self._max_attempts:
            log.error("event bus: dead-lettered %s %s of %s after %d attempts",
                      event.wire_name, event.event_id, lane.name, attempt)
            self._dead_letter(delivery)
        else:
            with self._cond:
                self._memo[key] = done
                while len(self._memo) > _MEMO_SIZE:
                    self._memo.popitem(last=False)
            time.sleep(min(self._max_retry_delay_s, self._retry_delay_s * 2 ** (attempt - 1)))
            self._in_io(lambda: self._settle(delivery, "retry"))

    def _dead_letter(self, delivery: _Delivery) -> None:
        with self._cond:
            self.dead_letters += 1
        self._in_io(lambda: self._settle(delivery, "reject"))
        self._finished(delivery.properties.message_id)

    def _handle_exclusive(self, lane: _Lane, delivery: _Delivery) -> None:
        """Auto-acked: a failing handler is retried here, then the event is given up (and logged)."""
        event = self._decode(lane, delivery)
        if event is None:
            with self._cond:
                self.dead_letters += 1
            self._finished(delivery.properties.message_id)
            return
        done: set[int] = set()
        for attempt in range(1, self._max_attempts + 1):
            if self._run_handlers(lane, delivery, event, done, attempt):
                break
            if attempt < self._max_attempts:
                time.sleep(min(self._max_retry_delay_s, self._retry_delay_s * 2 ** (attempt - 1)))
        else:
            with self._cond:
                self.dead_letters += 1
            log.error("event bus: gave up %s %s of %s after %d attempts",
                      event.wire_name, event.event_id, lane.name, self._max_attempts)
        self._finished(delivery.properties.message_id)

    def _run_handlers(self, lane: _Lane, delivery: _Delivery, event: Event, done: set[int], attempt: int) -> bool:
        """Call the group's handlers not in ``done`` (adding those that succeed); whether all succeeded."""
        reply_to = delivery.properties.reply_to
        if reply_to:
            self._reply_routes[event.event_id] = reply_to
        ok = True
        try:
            for index, handler in enumerate(self.handlers(lane.group, event.wire_name)):
                if index in done:
                    continue
                try:
                    handler(event)
                    done.add(index)
                except Exception:
                    ok = False
                    log.exception("handler %s (group %s) failed on %s %s, attempt %d of %d",
                                  handler_name(handler), lane.group.name, event.wire_name, event.event_id,
                                  attempt, self._max_attempts)
        finally:
            if reply_to:
                self._reply_routes.pop(event.event_id, None)
        return ok


def _chain(steps: list[Callable[[Callable[[], None]], None]], finished: Callable[[], None], alive: Callable[[], bool]) -> None:
    """Run callback-style ``steps`` one after another (each calls ``done`` when its reply came), then
    ``finished``; stop quietly when ``alive()`` turns false (the channel closed meanwhile)."""
    pending = iter(steps)

    def advance() -> None:
        if not alive():
            return
        step = next(pending, None)
        if step is None:
            finished()
        else:
            step(advance)

    advance()
