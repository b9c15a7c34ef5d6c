"""How the RabbitMQ bus handles what it receives: worker threads, acks, retries and dead letters.

Each group has ``concurrency`` worker threads fed by a local queue that the I/O thread fills (it never
runs a handler itself; a keyed group's workers are a pool its lanes share, see below). A message is
acked after every handler of the group returned, that is after the handler's database commit. A handler
that raises makes the message return to the queue (after a short pause growing with each try) and come
back (a keyed group's: retried in place, see below); the handlers of the group that already succeeded on it are
not called again in this process (a memo of the handlers done per message). On the ``max_attempts``-th
failure the message is rejected to the dead-letter queue and the queue moves on. A message that is not a
valid event goes there at once. A delivery that came on a connection since lost is left alone: the broker
delivers it again (handlers are idempotent).

A partitioned group has a lane per partition queue, each with one worker and prefetch 1 (the queue's
single active consumer handles one message at a time, in order). A lane can be *released* (handed to
the next process in the partition's line, see :mod:`.rabbitmq_partitions`): it stops taking deliveries,
and once its worker has acked the message in hand, its consumer is re-registered (the channel closed,
so a delivery received meanwhile returns to the head of the queue, then consumed again at the back of
the line). The next consumer thus starts after the last message this process handled, in order; a
returned delivery counts as one more delivery against a quorum queue's limit.

A *keyed* group (``in_flight`` N > 1) has the same partition queues and single active consumers, but
each lane has prefetch N and no worker of its own: the I/O thread decodes each delivery for its
partition key and hands it to the group's :class:`~event_driven.monolith.keyed_pool.KeyedPool`
(``concurrency`` workers shared by the group's lanes) under the key (lane, partition key). So the
messages of one key run one at a time in delivery order, each acked (or dead-lettered) before the next
of its key starts, while other keys' run at the same time; acks of different keys may go out of order,
which the broker does not mind. A failed message is retried *in place*, on its worker, after the same
pauses (returned to the queue, it would come back behind the later messages of its key that this process
already holds, and they would go first); the attempts are the broker's count of earlier deliveries
(``x-delivery-count``: crashes, hand-overs) or this process's memo, plus the tries in place. Releasing a
keyed lane drops the messages it took but had not started (the closed channel returns them to the head
of the queue, in order, each counted as a delivery) and waits for those running; one being retried
stops at its next pause and goes back the same way. The next consumer thus starts, for each key, after
the last message this process finished.

The inbox is consumed with automatic acks (it disappears with the process anyway), and its handler runs
on the I/O thread as the message arrives (the handler must not block: a reply is handed to the waiting
caller with no hop through a worker thread). A handler that raises there (or that publishes: that would
block the I/O thread, so the bus refuses it) gets the message again on the inbox's one worker, which
retries it with pauses, then gives it up and logs it.

Attempts: a quorum queue counts a message's deliveries itself (``x-delivery-count``, also when its
consumer died holding it) and enforces the limit; a transient group's classic queue does not, so its
consumers count the failed attempts of each message (the memo above): the limit then holds per process.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from event_driven.monolith.bus import Group, Handler, handler_name
from event_driven.monolith.events import Event
from event_driven.monolith.keyed_pool import KeyedPool
from shared.telemetry import propagation
from shared.telemetry.metrics import handled, register_gauge

from .codec import CodecError, decode
from .rabbitmq_connection import BrokerConnection
from .rabbitmq_messages import Consumer, Delivery

log = logging.getLogger("event_driven.bus")

_STOP = object()
_MEMO_SIZE = 4096


@dataclass
class Lane:
    """A consumed queue: a group's (``group`` set) or the inbox, with its workers and local queue (or, for a
    keyed group's lane, no worker: the group's ``pool``)."""

    queue_name: str
    group: Group | None
    concurrency: int
    """The lane's own workers (0 for a keyed lane)."""
    name: str = "inbox"
    prefetch: int = 1
    """Deliveries the broker sends ahead of acks: the workers' count, or a keyed lane's ``in_flight``."""
    pool: KeyedPool | None = None
    local: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    workers: list[threading.Thread] = field(default_factory=list)
    busy: int = 0
    """Deliveries received and not finished (guarded by the consumption's condition)."""
    active: bool = False
    """(I/O thread) A delivery came since the consumer was (re)registered: this process is the partition's
    active consumer (it stays so until it re-registers or its connection drops)."""
    releasing: bool = False
    """Handing the partition to the next consumer once idle (guarded by the consumption's condition)."""


@dataclass
class Partitioned:
    """A partitioned group's lanes (one per partition, in order) and its members queue."""

    group: Group
    members: str
    lanes: list[Lane]


class Consumption:
    """The lanes of one bus and their workers; see the module's documentation.

    ``handlers(group, event)`` gives a group's handlers for an event; ``inbox`` is the inbox handler;
    ``finished(message_id)`` is told each message this process is done with (for ``close`` to wait).
    """

    def __init__(
        self,
        connection: BrokerConnection,
        *,
        handlers: Callable[[Group, Event], list[Handler]],
        finished: Callable[[str | None], None],
        max_attempts: int,
        retry_delay_s: float,
        max_retry_delay_s: float,
    ):
        self._connection = connection
        self._handlers = handlers
        self._finished = finished
        self._max_attempts = max_attempts
        self._retry_delay_s = retry_delay_s
        self._max_retry_delay_s = max_retry_delay_s
        self._cond = threading.Condition()
        self._memo: OrderedDict[tuple[str, str], tuple[set[int], int]] = OrderedDict()  # handlers done, attempts
        self._local = threading.local()  # .mine is True on these workers
        self._inbox: Handler | None = None
        self._pools: list[KeyedPool] = []  # the keyed groups' workers
        self._depths: dict[str, int] = {}  # queue -> messages waiting, the broker's last answer (I/O thread writes)
        self.lanes: list[Lane] = []
        self.partitioned: list[Partitioned] = []
        self.dead_letters = 0

    def add_group(self, group: Group, queue_names: list[str], members: str | None = None) -> None:
        """Consume ``queue_names``: the group's queue, or (partitioned, with its ``members`` queue) its partitions'."""
        pool = KeyedPool(group.name, group.concurrency, on_thread=self._mark_worker) if group.keyed else None
        if pool is not None:
            self._pools.append(pool)
        lanes = [Lane(name, group, 0 if pool else group.concurrency, f"{group.name}.p{k}" if group.partitioned else group.name,
                      prefetch=group.in_flight if pool else group.concurrency, pool=pool)
                 for k, name in enumerate(queue_names)]
        self.lanes += lanes
        if group.partitioned:
            assert members is not None, "a partitioned group has a members queue"
            self.partitioned.append(Partitioned(group, members, lanes))

    def add_inbox(self, queue_name: str, handler: Handler) -> None:
        self._inbox = handler
        self.lanes.append(Lane(queue_name, None, 1))

    def consumers(self) -> list[Consumer]:
        """What the connection consumes: every lane's queue, acked by hand except the inbox, and the members
        queue of each partitioned group (nothing arrives there: the consumer only counts this process)."""
        lanes = [Consumer(lane.queue_name, lane.prefetch, lane.group is None,
                          lambda delivery, lane=lane: self._received(lane, delivery),
                          on_consuming=lambda lane=lane: setattr(lane, "active", False)) for lane in self.lanes]
        return lanes + [Consumer(p.members, 1, True, lambda _delivery: None) for p in self.partitioned]

    def start(self) -> None:
        for lane in self.lanes:
            for index in range(lane.concurrency):
                worker = threading.Thread(target=self._work, args=(lane,), name=f"bus-{lane.name}-{index}", daemon=True)
                lane.workers.append(worker)
                worker.start()
        for pool in self._pools:
            pool.start()
        register_gauge("bus_messages_in_flight", "Messages delivered to this process and not yet acknowledged", "group",
                       self._in_flight)
        register_gauge("bus_queue_depth", "Messages waiting in a queue this process consumes, as the broker said at "
                       "the last tick", "queue", lambda: dict(self._depths))

    def measure_depths(self) -> None:
        """(I/O thread) Ask the broker how many messages wait in each queue this process consumes (the gauge
        ``bus_queue_depth`` shows the last answers)."""
        for lane in self.lanes:
            self._connection.message_count(lane.queue_name, lambda n, q=lane.queue_name: self._depths.__setitem__(q, n))

    def _in_flight(self) -> dict[str, float]:
        counts: dict[str, float] = {}
        for lane in self.lanes:
            name = lane.group.name if lane.group is not None else "inbox"
            counts[name] = counts.get(name, 0) + lane.busy
        return counts

    def on_worker_thread(self) -> bool:
        """Whether the caller is one of these workers (a handler running)."""
        return getattr(self._local, "mine", False)

    def stopped_workers(self) -> list[str]:
        return ([w.name for lane in self.lanes for w in lane.workers if not w.is_alive()]
                + [name for pool in self._pools for name in pool.stopped_workers()])

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no worker holds a delivery."""
        with self._cond:
            return self._cond.wait_for(lambda: all(lane.busy == 0 for lane in self.lanes), timeout=timeout_s)

    def stop(self, deadline: float) -> None:
        """Stop the workers once they finished what they hold (at the latest at ``deadline``, monotonic)."""
        for lane in self.lanes:
            for _ in lane.workers:
                lane.local.put(_STOP)
        for lane in self.lanes:
            for worker in lane.workers:
                worker.join(timeout=max(0.0, deadline - time.monotonic()))
        for pool in self._pools:
            pool.stop(deadline)

    # ------------------------------------------------------------------ the I/O thread

    def _received(self, lane: Lane, delivery: Delivery) -> None:
        if lane.group is None:
            self._received_in_inbox(lane, delivery)
            return
        if delivery.channel is not None and not delivery.channel.is_open:
            return  # its channel is closing (a release): the broker returns it to the queue
        with self._cond:
            if lane.releasing:  # not taken: the release closes the channel, which returns it
                self._release_if_idle(lane)
                return
            lane.busy += 1
        lane.active = True
        if lane.pool is None:
            lane.local.put(delivery)
            return
        event = self._decode_quietly(delivery)  # for its key (a worker dead-letters what is not an event)
        try:
            lane.pool.submit((lane.name, event.partition_key if event is not None else None),
                             lambda: self._handle(lane, delivery, event))
        except RuntimeError:  # the pool stopped (closing): not taken, the connection's close returns it
            self._done(lane)

    def _received_in_inbox(self, lane: Lane, delivery: Delivery) -> None:
        """Run the inbox handler here, on the I/O thread (it must not block: a reply wakes its caller with
        no hop through a worker); if it raises, or the message is not an event, the worker takes over."""
        event = self._decode_quietly(delivery)
        if event is not None and self._run(lane, [self._inbox] if self._inbox else [], event, set(), 1, quiet=True):
            self._finished(delivery.properties.message_id)
            return
        with self._cond:
            lane.busy += 1
        lane.local.put(delivery)

    def release(self, lane: Lane) -> None:
        """(I/O thread) Hand ``lane``'s partition to the next consumer in line once the worker is idle (a
        keyed lane: what it took but has not started is dropped here, returned when the channel closes)."""
        with self._cond:
            lane.releasing = True
            if lane.pool is not None:
                lane.busy -= lane.pool.discard(lambda key: key[0] == lane.name)
                self._cond.notify_all()
            self._release_if_idle(lane)

    def _release_if_idle(self, lane: Lane) -> None:
        """(I/O thread, holding the condition) Re-register the consumer of a releasing lane that holds nothing."""
        if lane.releasing and lane.busy == 0:
            lane.releasing = False
            lane.active = False
            self._connection.restart_consumer(lane.queue_name)

    def _released_when_idle(self, lane: Lane) -> None:
        with self._cond:
            self._release_if_idle(lane)

    # ------------------------------------------------------------------ worker threads

    def _mark_worker(self) -> None:
        self._local.mine = True

    def _work(self, lane: Lane) -> None:
        self._mark_worker()
        while True:
            delivery = lane.local.get()
            if delivery is _STOP:
                return
            self._handle(lane, delivery)

    def _handle(self, lane: Lane, delivery: Delivery, event: Event | None = None) -> None:
        """Handle a delivery of ``lane`` (on a lane's worker, or a keyed group's pool; ``event``: decoded already)."""
        try:
            if lane.group is None:
                self._handle_inbox(lane, delivery)
                return
            trace = propagation.extract(delivery.properties.headers)  # the publisher's, continued in this handler
            with propagation.handling(trace, f"{delivery.properties.type} [{lane.group.name}]"), handled(lane.group.name):
                if lane.pool is not None:
                    self._handle_in_place(lane, lane.group, delivery, event)
                else:
                    self._handle_group(lane, lane.group, delivery)
        except Exception:  # noqa: BLE001 - a worker never dies
            log.exception("event bus: unexpected error handling a message of %s", lane.queue_name)
        finally:
            self._done(lane)

    def _done(self, lane: Lane) -> None:
        """A delivery of ``lane`` is finished (or not taken): the lane may go idle, and a releasing lane then go."""
        with self._cond:
            lane.busy -= 1
            self._cond.notify_all()
            if lane.releasing and lane.busy == 0:
                self._connection.in_io(lambda lane=lane: self._released_when_idle(lane))

    @staticmethod
    def _decode_quietly(delivery: Delivery) -> Event | None:
        try:
            return decode(delivery.body)
        except CodecError:
            return None

    def _decode(self, lane: Lane, delivery: Delivery) -> Event | None:
        try:
            return decode(delivery.body)
        except CodecError as error:
            log.error("event bus: dead-lettered a message of %s that is not a valid event: %s", lane.queue_name, error)
            return None

    def _handle_group(self, lane: Lane, group: Group, delivery: Delivery) -> None:
        if delivery.generation <= self._connection.lost_generation:
            return  # came on a connection that is gone: the broker delivers it again
        event = self._decode(lane, delivery)
        if event is None:
            self._dead_letter(delivery)
            return
        key = (group.name, delivery.properties.message_id or event.event_id)
        with self._cond:
            done, tried = self._memo.pop(key, (set(), 0))
        counted = (delivery.properties.headers or {}).get("x-delivery-count")  # a quorum queue's count
        attempt = (int(counted) if counted is not None else tried) + 1
        if self._run(lane, self._handlers(group, event), event, done, attempt):
            self._connection.settle(delivery, "ack")
            self._finished(delivery.properties.message_id)
        elif attempt >= self._max_attempts:
            log.error("event bus: dead-lettered %s %s of %s after %d attempts",
                      event.wire_name, event.event_id, lane.queue_name, attempt)
            self._dead_letter(delivery)
        else:
            self._remember(key, done, attempt)
            time.sleep(self._pause(attempt))
            self._connection.settle(delivery, "retry")

    def _handle_in_place(self, lane: Lane, group: Group, delivery: Delivery, event: Event | None) -> None:
        """A keyed lane's message: acked once handled, retried here until then (see the module), dead-lettered
        on the ``max_attempts``-th failure; left unacked (it returns to the queue) when its lane is released or
        its connection lost meanwhile."""
        if delivery.generation <= self._connection.lost_generation:
            return  # came on a connection that is gone: the broker delivers it again
        if event is None:
            event = self._decode(lane, delivery)
        if event is None:
            self._dead_letter(delivery)
            return
        key = (group.name, delivery.properties.message_id or event.event_id)
        with self._cond:
            done, tried = self._memo.pop(key, (set(), 0))
        counted = (delivery.properties.headers or {}).get("x-delivery-count")  # a quorum queue's count
        attempt = max(int(counted or 0), tried) + 1
        handlers = self._handlers(group, event)
        while not self._run(lane, handlers, event, done, attempt):
            if attempt >= self._max_attempts:
                log.error("event bus: dead-lettered %s %s of %s after %d attempts",
                          event.wire_name, event.event_id, lane.queue_name, attempt)
                self._dead_letter(delivery)
                return
            time.sleep(self._pause(attempt))
            if lane.releasing or delivery.generation <= self._connection.lost_generation:
                self._remember(key, done, attempt)  # it comes back (here or elsewhere) with the queue
                return
            attempt += 1
        self._connection.settle(delivery, "ack")
        self._finished(delivery.properties.message_id)

    def _remember(self, key: tuple[str, str], done: set[int], attempt: int) -> None:
        with self._cond:
            self._memo[key] = (done, attempt)
            while len(self._memo) > _MEMO_SIZE:
                self._memo.popitem(last=False)

    def _dead_letter(self, delivery: Delivery) -> None:
        with self._cond:
            self.dead_letters += 1
        self._connection.settle(delivery, "reject")
        self._finished(delivery.properties.message_id)

    def _handle_inbox(self, lane: Lane, delivery: Delivery) -> None:
        """Auto-acked, and failed once on the I/O thread: the handler is retried here (from the second
        attempt), then the event is given up (and logged)."""
        event = self._decode(lane, delivery)
        handlers = [self._inbox] if self._inbox is not None else []
        if event is None:
            with self._cond:
                self.dead_letters += 1
            self._finished(delivery.properties.message_id)
            return
        done: set[int] = set()
        for attempt in range(1, self._max_attempts + 1):
            if attempt > 1 and self._run(lane, handlers, event, done, attempt):
                break
            if attempt < self._max_attempts:
                time.sleep(self._pause(attempt))
        else:
            with self._cond:
                self.dead_letters += 1
            log.error("event bus: gave up %s %s of %s after %d attempts",
                      event.wire_name, event.event_id, lane.queue_name, self._max_attempts)
        self._finished(delivery.properties.message_id)

    def _pause(self, attempt: int) -> float:
        return min(self._max_retry_delay_s, self._retry_delay_s * 2 ** (attempt - 1))

    def _run(self, lane: Lane, handlers: list[Handler], event: Event, done: set[int], attempt: int,
             quiet: bool = False) -> bool:
        """Call the ``handlers`` not in ``done`` (adding those that succeed); whether all succeeded.
        ``quiet``: a failure is not logged (the caller tries again where it is)."""
        ok = True
        name = lane.name
        for index, handler in enumerate(handlers):
            if index in done:
                continue
            try:
                handler(event)
                done.add(index)
            except Exception:
                ok = False
                if quiet:
                    continue
                log.exception("handler %s (group %s) failed on %s %s, attempt %d of %d",
                              handler_name(handler), name, event.wire_name, event.event_id, attempt, self._max_attempts)
        return ok
