"""An event bus inside one process, with a broker's semantics.

Each group is a bounded FIFO queue consumed by ``concurrency`` worker threads (one, by default, so a
group handles its events in publication order, as a RabbitMQ queue with a single active consumer). A
partitioned group is :data:`~.bus.PARTITIONS` such queues (lanes), each with one worker thread: an event
goes to the lane of its ``partition_key`` (:func:`~.bus.partition_of`), so the events of one key are
handled in publication order while different keys proceed in parallel. A keyed group's lanes (``in_flight``
N > 1) have no worker of their own: each lane takes up to N of its events, in order, as soon as they are
published or one of its events is done, and hands them to the group's :class:`~.keyed_pool.KeyedPool`
(``concurrency`` workers shared by the lanes), which runs those of one key one at a time in that order and
those of different keys at once. Beyond the guarantees of :class:`EventBus`:
- a handler that raises is retried up to ``max_attempts`` times, with a growing pause, on the same
  worker (so the group's order, or the key's, holds), then the event is given up for that handler and
  logged as dead-lettered (counted in ``dead_letters``);
- a full queue (a group's, or a partitioned group's lane, not counting what a keyed lane has taken) blocks
  the publisher for at most ``publish_timeout_s``, then ``publish`` raises ``Unavailable``;
- events live in memory only: what is queued when the process dies is lost (``close`` drains first);
- the inbox (``address``, ``send``) is this bus's alone: ``send`` to it runs the inbox handler at once on
  the sender's thread, which is why an inbox handler must not block (it only hands the event over, e.g.
  wakes a waiting requester); its exception is logged, never raised to the sender. ``send`` to any
  other address drops the event (there is no other process to reach).
"""
from __future__ import annotations

import functools
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field

from shared.domain import Unavailable
from shared.telemetry import propagation
from shared.telemetry.metrics import handled, register_gauge

from .bus import EventBus, Group, Handler, handler_name, partition_of, trace_name
from .events import Event
from .keyed_pool import KeyedPool

log = logging.getLogger("event_driven.bus")

_STOP = object()


@dataclass
class _Lane:
    """A group's queue (or one lane of a partitioned group) and its worker threads (none for a keyed lane:
    its events go to the group's pool, at most ``group.in_flight`` taken and not done at a time)."""

    name: str
    group: Group
    queue: queue.Queue
    workers: list[threading.Thread] = field(default_factory=list)
    taken: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class InMemoryEventBus(EventBus):
    def __init__(
        self,
        *,
        queue_size: int = 1024,
        publish_timeout_s: float = 5.0,
        max_attempts: int = 3,
        retry_delay_s: float = 0.05,
    ):
        super().__init__()
        self._queue_size = queue_size
        self._publish_timeout_s = publish_timeout_s
        self._max_attempts = max_attempts
        self._retry_delay_s = retry_delay_s
        self._lanes: dict[str, _Lane] = {}  # by lane name: the group's, or ``GROUP.pK`` for lane K of a partitioned one
        self._pools: dict[str, KeyedPool] = {}  # by group name: the workers of each keyed group
        self._state_lock = threading.Lock()
        self._closing = False
        self._local = threading.local()  # .bus is self on this bus's worker threads
        self._address = f"memory-inbox-{uuid.uuid4().hex[:12]}"
        self.dead_letters = 0

    @property
    def address(self) -> str:
        return self._address

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with self._state_lock:
            if self._started or self._closing:
                return
            for group in self.groups:
                if group.keyed:
                    self._pools[group.name] = KeyedPool(group.name, group.concurrency, on_thread=self._mark_worker)
                for partition in range(group.partitions):
                    lane = self._lane(group, partition)
                    for index in range(0 if group.keyed else group.concurrency):
                        worker = threading.Thread(
                            target=self._work, args=(lane,), name=f"bus-{lane.name}-{index}", daemon=True
                        )
                        lane.workers.append(worker)
            super().start()
        for lane in self._lanes.values():
            for worker in lane.workers:
                worker.start()
        for pool in self._pools.values():
            pool.start()
        register_gauge("bus_queue_depth", "Events waiting in an in-memory queue", "queue",  # read at each scrape
                       lambda: {name: lane.queue.qsize() for name, lane in list(self._lanes.items())})
        register_gauge("bus_messages_in_flight", "Events taken from a queue and not yet handled", "group",
                       lambda: {name: lane.queue.unfinished_tasks - lane.queue.qsize()
                                for name, lane in list(self._lanes.items())})
        for lane in self._lanes.values():
            if lane.group.keyed:
                self._take(lane)  # what was published before the start

    def close(self, timeout_s: float = 10.0) -> None:
        with self._state_lock:
            if self._closing:
                return
            self._closing = True
            started = self._started
        if not started:
            return
        deadline = time.monotonic() + timeout_s
        if not self._drain(deadline):
            left = sum(lane.queue.unfinished_tasks for lane in self._lanes.values())
            log.warning("event bus closed with %d events not handled after %.1fs", left, timeout_s)
        for lane in self._lanes.values():
            for _ in lane.workers:
                try:
                    lane.queue.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
                except queue.Full:
                    break
        for lane in self._lanes.values():
            for worker in lane.workers:
                worker.join(timeout=max(0.0, deadline - time.monotonic()))
        for pool in self._pools.values():
            pool.stop(deadline)
        log.info("event bus closed (%d events dead-lettered since start)", self.dead_letters)

    def _drain(self, deadline: float) -> bool:
        """Wait until no group has an event queued or in hand. Handlers may publish to other groups
        while we wait, so repeat until one pass finds every group idle."""
        while True:
            settled = True
            for lane in self._lanes.values():
                with lane.queue.all_tasks_done:
                    if lane.queue.unfinished_tasks:
                        settled = False
                        if not lane.queue.all_tasks_done.wait_for(
                            lambda q=lane.queue: q.unfinished_tasks == 0, timeout=max(0.0, deadline - time.monotonic())
                        ):
                            return False
            if settled:
                return True

    def health(self) -> list[str]:
        if self._closing:
            return ["event bus: closed"]
        if not self._started:
            return ["event bus: not started"]
        dead = [w.name for lane in self._lanes.values() for w in lane.workers if not w.is_alive()]
        dead += [name for pool in self._pools.values() for name in pool.stopped_workers()]
        return [f"event bus: worker {name} stopped" for name in dead]

    # ------------------------------------------------------------------ publishing

    def publish(self, event: Event) -> None:
        self._check_open(event)
        groups = self.groups_for(event.routing_key)
        if not groups:
            log.debug("no subscriber for %s %s; dropped", event.routing_key, event.event_id)
            return
        trace = propagation.capture(trace_name(event))  # the publisher's trace, resumed where each group handles it
        for group in groups:
            lane = self._lane(group, partition_of(event.partition_key, group.partitions))
            try:
                lane.queue.put((event, trace), timeout=self._publish_timeout_s)
            except queue.Full:
                raise Unavailable(f"event bus: queue {lane.name!r} is full") from None
            if group.keyed:
                self._take(lane)

    def send(self, address: str, event: Event) -> None:
        self._check_open(event)
        handler = self.inbox_handler
        if address != self._address or handler is None:
            log.debug("no inbox at %s for %s %s; dropped", address, event.wire_name, event.event_id)
            return
        try:
            handler(event)
        except Exception:
            log.exception("inbox handler %s failed on %s %s", handler_name(handler), event.wire_name, event.event_id)

    def _check_open(self, event: Event) -> None:
        if not isinstance(event, Event):
            raise TypeError(f"not an event: {event!r}")
        if self._closing and getattr(self._local, "bus", None) is not self:
            raise Unavailable("event bus is closed")

    def _lane(self, group: Group, partition: int) -> _Lane:
        name = f"{group.name}.p{partition}" if group.partitioned else group.name
        lane = self._lanes.get(name)
        if lane is None:
            lane = self._lanes.setdefault(name, _Lane(name, group, queue.Queue(maxsize=self._queue_size)))
        return lane

    # ------------------------------------------------------------------ delivering

    def _mark_worker(self) -> None:
        self._local.bus = self

    def _work(self, lane: _Lane) -> None:
        self._mark_worker()
        while True:
            item = lane.queue.get()
            try:
                if item is _STOP:
                    return
                self._handle(lane, *item)
            finally:
                lane.queue.task_done()

    def _take(self, lane: _Lane) -> None:
        """Hand a keyed lane's next events, in queue order, to its group's pool while fewer than
        ``in_flight`` are taken and not done; each is keyed by its partition key within the lane."""
        pool = self._pools.get(lane.group.name)
        if pool is None:
            return  # not started yet: ``start`` takes what is queued
        with lane.lock:
            while lane.taken < lane.group.in_flight:
                try:
                    event, trace = lane.queue.get_nowait()
                except queue.Empty:
                    return
                lane.taken += 1
                try:
                    pool.submit((lane.name, event.partition_key), functools.partial(self._handle_taken, lane, event, trace))
                except RuntimeError:  # the pool stopped (close gave up waiting): lost, as anything still queued
                    lane.taken -= 1
                    lane.queue.task_done()
                    return

    def _handle(self, lane: _Lane, event: Event, trace: object | None) -> None:
        """(a worker) Deliver ``event`` to its group's handlers, within the trace that published it."""
        with propagation.handling(trace, f"{trace_name(event)} [{lane.group.name}]"), handled(lane.group.name):
            for handler in self.handlers(lane.group, event):
                self._deliver(lane.group, handler, event)

    def _handle_taken(self, lane: _Lane, event: Event, trace: object | None) -> None:
        """(a pool worker) Deliver an event a keyed lane took, then let the lane take the next."""
        try:
            self._handle(lane, event, trace)
        finally:
            with lane.lock:
                lane.taken -= 1
            lane.queue.task_done()
            self._take(lane)

    def _deliver(self, group: Group, handler: Handler, event: Event) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                handler(event)
                return
            except Exception:
                log.exception(
                    "handler %s (group %s) failed on %s %s, attempt %d of %d",
                    handler_name(handler), group.name, event.wire_name, event.event_id, attempt, self._max_attempts,
                )
            if attempt < self._max_attempts:
                time.sleep(self._retry_delay_s * 2 ** (attempt - 1))
        with self._state_lock:
            self.dead_letters += 1
        log.error("dead-lettered %s %s for handler %s (group %s)", event.wire_name, event.event_id,
                  handler_name(handler), group.name)
