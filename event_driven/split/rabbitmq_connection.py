"""The RabbitMQ bus's one connection and the I/O thread that owns it.

Connection and threads (pika connections and channels are not thread-safe):
- one connection per process, owned by one I/O thread that runs pika's ``SelectConnection`` ioloop:
  it opens the channels (one with confirms for publishing, one per consumed queue, each with its own
  prefetch), declares the topology, receives deliveries and confirms, and sends acks. It runs no group's
  handler, so heartbeats are answered while handlers work, however long they take (only the inbox's,
  which must not block: it hands a reply to its waiting caller).
- any other thread (gunicorn's request threads, handler workers) talks to the connection only through
  ``ioloop.add_callback_threadsafe`` (:meth:`BrokerConnection.in_io`): ``publish`` hands the message over
  and waits on an event that the I/O thread sets when the broker's confirm arrives (``publish_nowait``
  hands it over and returns: a message whose loss costs nothing but a timeout, a reply); a worker hands
  its ack over the same way. Nothing opens a connection or channel per message, and no lock is held
  across the network.
This gives pipelined publishing for many request threads on one connection (each waits only for its
own confirm) at the price of one thread hop each way. A connection per thread would multiply
connections by gunicorn's threads; a ``BlockingConnection`` behind a lock would serialise every
publish behind the previous one's confirm.

Failures: when the connection drops (broker restart, ``close_all_connections``, network), ``health``
reports it, ``publish`` fails at once (the bus raises ``Unavailable``, the edge answers 503, never
hangs), and the I/O thread reconnects with exponential backoff (with jitter, capped) and declares
everything again. Messages in hand are not acked on the dead channel: the broker delivers them again.

A consumer can be re-registered (:meth:`BrokerConnection.restart_consumer`): its channel is closed, which
returns what the broker had sent it to the head of the queue, and a new channel consumes again, behind
the queue's other consumers (how a process hands a partition of a single-active-consumer queue to the
next in line, see :mod:`.rabbitmq_partitions`). ``tick`` runs on the I/O thread every ``tick_s`` while
connected (the partitions' balancing).
"""
from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

import pika
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.channel import Channel
from pika.spec import Basic

from .rabbitmq_messages import Consumer, Delivery, Publication
from .rabbitmq_topology import Step, chain

log = logging.getLogger("event_driven.bus")
logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO is every socket step; the bus logs what matters


class BrokerConnection:
    """The connection of one process; see the module's documentation.

    ``declare(channel)`` gives the topology's declaration steps, run on every (re)connection before the
    ``consumers`` start. ``ready`` is true once every consumer consumes, until the connection drops.
    """

    def __init__(
        self,
        url: str,
        *,
        connection_name: str,
        declare: Callable[[Channel], list[Step]],
        heartbeat_s: int,
        reconnect_delay_s: float,
        max_reconnect_delay_s: float,
        tick: Callable[[], None] | None = None,
        tick_s: float = 1.0,
    ):
        self._params = pika.URLParameters(url)
        if "heartbeat" not in url:
            self._params.heartbeat = heartbeat_s
        if "socket_timeout" not in url:
            self._params.socket_timeout = 5.0
        self._params.blocked_connection_timeout = 30.0
        self._params.connection_attempts = 1
        self._params.client_properties = {"connection_name": connection_name}
        self._declare = declare
        self._reconnect_delay_s = reconnect_delay_s
        self._max_reconnect_delay_s = max_reconnect_delay_s
        self._tick = tick
        self._tick_s = tick_s

        # Read by other threads, written by the I/O thread.
        self.ready = False
        self.last_error = "not connected yet"
        self.generation = 0  # of the current connection (each reconnect makes a new one)
        self.lost_generation = 0  # the last one whose connection closed
        self.first_attempt = threading.Event()  # set once the first connection is up or has failed

        # Owned by the I/O thread.
        self._loop = IOLoop()
        self._thread: threading.Thread | None = None
        self._consumers: list[Consumer] = []
        self._connection: SelectConnection | None = None
        self._publisher: Channel | None = None
        self._consuming: dict[str, tuple[Channel, str]] = {}  # by queue: its channel and consumer tag
        self._restarting: set[int] = set()  # channel numbers closed on purpose, to consume again
        self._consumers_cancelled = False
        self._unconfirmed: dict[int, Publication] = {}
        self._next_tag = 0
        self._failures = 0
        self._stopping = False

    # ------------------------------------------------------------------ any thread

    def start(self, consumers: list[Consumer], timeout_s: float) -> bool:
        """Start the I/O thread; whether the first connection came up or failed within ``timeout_s``."""
        self._consumers = list(consumers)
        self._thread = threading.Thread(target=self._run, name="bus-io", daemon=True)
        self._thread.start()
        return self.first_attempt.wait(timeout_s)

    def in_io(self, callback: Callable[[], None]) -> bool:
        """Have the I/O thread run ``callback`` (the only way other threads touch the connection).
        False when its loop is gone (the bus closed): a delivery not acked is delivered again."""
        try:
            self._loop.add_callback_threadsafe(callback)
            return True
        except Exception:  # noqa: BLE001 - pika raises various errors on a closed loop
            return False

    def is_io_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def publish(self, publication: Publication, timeout_s: float) -> Publication:
        """Send ``publication`` and wait for the broker's confirm, at most ``timeout_s``."""
        if not self.in_io(lambda: self._send(publication)):
            publication.fail("event bus is closed")
        publication.done.wait(timeout_s)
        return publication

    def publish_nowait(self, publication: Publication) -> Publication:
        """Hand ``publication`` to the I/O thread and return at once (fire and forget): failed already when
        the connection is down now; a failure after that only reaches ``publication.on_failed``."""
        if not self.ready:
            publication.fail(f"broker unreachable ({self.last_error or 'connecting'})")
        elif not self.in_io(lambda: self._send(publication)):
            publication.fail("event bus is closed")
        return publication

    def settle(self, delivery: Delivery, outcome: str) -> None:
        """Ack (``ack``), return to the queue (``retry``) or dead-letter (``reject``) a delivery."""
        self.in_io(lambda: self._settle(delivery, outcome))

    def cancel_consumers(self) -> None:
        self.in_io(self._cancel_consumers)

    def restart_consumer(self, queue: str) -> None:
        """(I/O thread) Close the channel consuming ``queue`` (what it holds unacked returns to the head of
        the queue) and consume it again on a new one; nothing when it is not consuming now."""
        held = self._consuming.pop(queue, None)
        if held is None or self._consumers_cancelled:
            return
        channel, _tag = held
        if channel.is_open:
            self._restarting.add(channel.channel_number)
            channel.close()

    def consumer_count(self, queue: str, callback: Callable[[int], None]) -> None:
        """(I/O thread) Ask the broker how many consumers ``queue`` has; ``callback`` gets the answer."""
        self._ask(queue, lambda method: callback(method.consumer_count))

    def message_count(self, queue: str, callback: Callable[[int], None]) -> None:
        """(I/O thread) Ask the broker how many messages wait in ``queue`` (ready, not yet delivered to a consumer)."""
        self._ask(queue, lambda method: callback(method.message_count))

    def _ask(self, queue: str, callback: Callable[[pika.spec.Queue.DeclareOk], None]) -> None:
        """A passive declare of ``queue`` (one this process declared, so it exists) on the publisher's channel."""
        channel = self._publisher
        if channel is not None and channel.is_open:
            channel.queue_declare(queue, passive=True, callback=lambda frame: callback(frame.method))

    def close(self, timeout_s: float) -> None:
        """Close the connection and stop the I/O thread."""
        if self._thread is None:
            self._loop.close()
            return
        self.in_io(self._shutdown)
        self._thread.join(timeout=max(1.0, timeout_s))

    # ------------------------------------------------------------------ the I/O thread

    def _run(self) -> None:
        self._loop.add_callback_threadsafe(self._connect)
        try:
            self._loop.start()
        finally:
            self._loop.close()

    def _connect(self) -> None:
        if self._stopping:
            return
        self.generation += 1
        generation = self.generation
        self._connection = SelectConnection(
            self._params,
            on_open_callback=lambda connection: self._on_open(generation, connection),
            on_open_error_callback=lambda connection, error: self._on_closed(generation, error),
            on_close_callback=lambda connection, reason: self._on_closed(generation, reason),
            custom_ioloop=self._loop,
        )

    def _on_closed(self, generation: int, reason: BaseException) -> None:
        if generation != self.generation:
            return
        was_ready = self.ready
        self.ready = False
        self.lost_generation = generation
        self.last_error = f"{type(reason).__name__}: {reason}"
        self._publisher = None
        self._consuming.clear()
        self._restarting.clear()
        unconfirmed, self._unconfirmed = self._unconfirmed, {}
        for publication in unconfirmed.values():
            publication.fail("connection lost before the broker confirmed")
        self.first_attempt.set()
        if self._stopping:
            self._loop.stop()
            return
        delay = min(self._max_reconnect_delay_s, self._reconnect_delay_s * 2 ** self._failures)
        delay *= random.uniform(0.8, 1.2)
        self._failures += 1
        (log.warning if was_ready or self._failures == 1 else log.info)(
            "event bus: connection to the broker lost or refused (%s); reconnecting in %.1fs", self.last_error, delay)
        self._loop.call_later(delay, self._connect)

    def _fail(self, generation: int, reason: str) -> None:
        """Something on the connection broke (a channel closed, a consumer cancelled): start over."""
        connection = self._connection
        if generation != self.generation or self._stopping or connection is None:
            return
        if connection.is_closing or connection.is_closed:
            return  # the connection's own close callback reports it
        self.last_error = reason
        log.warning("event bus: %s; reconnecting", reason)
        connection.close(200, reason[:200])

    def _watch(self, generation: int, channel: Channel, what: str) -> None:
        def closed(_channel: Channel, reason: BaseException) -> None:
            if not self._stopping:
                self._fail(generation, f"{what} channel closed: {reason}")

        channel.add_on_close_callback(closed)

    def _on_open(self, generation: int, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=lambda channel: self._on_publisher_open(generation, connection, channel))

    def _on_publisher_open(self, generation: int, connection: SelectConnection, channel: Channel) -> None:
        self._watch(generation, channel, "publishing")
        self._next_tag = 0

        def declared() -> None:
            self._publisher = channel
            self._start_consumers(generation, connection)

        def declare(_frame: object) -> None:
            chain(self._declare(channel), declared,
                  alive=lambda: channel.is_open and generation == self.generation and not self._stopping)

        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=declare)

    def _start_consumers(self, generation: int, connection: SelectConnection) -> None:
        waiting = set(range(len(self._consumers)))
        if not waiting:
            self._on_ready(generation)
            return

        def consuming(index: int) -> None:
            waiting.discard(index)
            if not waiting:
                self._on_ready(generation)

        for index, consumer in enumerate(self._consumers):
            self._consume(generation, connection, consumer, lambda index=index: consuming(index))

    def _consume(self, generation: int, connection: SelectConnection, consumer: Consumer,
                 consuming: Callable[[], None] | None = None) -> None:
        """Open a channel that consumes ``consumer.queue``; ``consuming`` once the broker registered it."""

        def closed(channel: Channel, reason: BaseException) -> None:
            if self._stopping:
                return
            if channel.channel_number in self._restarting:  # closed on purpose: consume again
                self._restarting.discard(channel.channel_number)
                if generation == self.generation and connection.is_open and not self._consumers_cancelled:
                    self._consume(generation, connection, consumer)
                return
            self._fail(generation, f"{consumer.queue} consumer channel closed: {reason}")

        def opened(channel: Channel) -> None:
            channel.add_on_close_callback(closed)
            channel.add_on_cancel_callback(
                lambda _frame: self._fail(generation, f"the broker cancelled the consumer of {consumer.queue}"))
            holder: dict[str, str] = {}

            def registered(_frame: object) -> None:
                if generation != self.generation or not channel.is_open:
                    return
                self._consuming[consumer.queue] = (channel, holder["tag"])
                if consumer.on_consuming is not None:
                    consumer.on_consuming()
                if consuming is not None:
                    consuming()

            def consume(_frame: object = None) -> None:
                holder["tag"] = channel.basic_consume(
                    consumer.queue,
                    on_message_callback=lambda ch, method, props, body: consumer.on_message(
                        Delivery(generation, ch, method.delivery_tag, props, body)),
                    auto_ack=consumer.auto_ack,
                    callback=registered,
                )

            if consumer.auto_ack:
                consume()
            else:
                channel.basic_qos(prefetch_count=consumer.prefetch, callback=consume)

        connection.channel(on_open_callback=opened)

    def _on_ready(self, generation: int) -> None:
        if generation != self.generation:
            return
        if self._failures:
            log.warning("event bus: connected to the broker again")
        self._failures = 0
        self.last_error = ""
        self.ready = True
        self.first_attempt.set()
        if self._tick is not None:
            self._loop.call_later(self._tick_s, lambda: self._ticking(generation))

    def _ticking(self, generation: int) -> None:
        if generation != self.generation or self._stopping or self._consumers_cancelled or self._tick is None:
            return
        if self.ready:
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - a failed tick is logged and tried again next time
                log.exception("event bus: periodic task failed")
        self._loop.call_later(self._tick_s, lambda: self._ticking(generation))

    def _send(self, publication: Publication) -> None:
        channel = self._publisher
        if not self.ready or channel is None or not channel.is_open:
            publication.fail(f"broker unreachable ({self.last_error or 'connecting'})")
            return
        try:
            channel.basic_publish(publication.exchange, publication.routing_key, publication.body, publication.properties)
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

    def _settle(self, delivery: Delivery, outcome: str) -> None:
        channel = delivery.channel
        if channel is None or delivery.generation != self.generation or not channel.is_open:
            return  # the broker has already put it back in the queue
        if outcome == "ack":
            channel.basic_ack(delivery.tag)
        else:
            channel.basic_nack(delivery.tag, requeue=outcome == "retry")

    def _cancel_consumers(self) -> None:
        self._consumers_cancelled = True
        for channel, tag in self._consuming.values():
            if channel.is_open:
                channel.basic_cancel(tag)
        self._consuming.clear()

    def _shutdown(self) -> None:
        self._stopping = True
        connection = self._connection
        if connection is not None and not (connection.is_closing or connection.is_closed):
            connection.close()
            self._loop.call_later(2.0, self._loop.stop)  # if the broker does not answer the close
        else:
            self._loop.stop()
