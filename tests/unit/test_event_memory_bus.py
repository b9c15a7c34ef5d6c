"""What only the in-memory bus promises: push-back when a queue is full, bounded retries, its health."""
from __future__ import annotations

import threading
import time

import pytest

from event_driven.monolith.bus import Group, partition_of
from event_driven.monolith.memory_bus import InMemoryEventBus
from shared.domain import Unavailable
from tests.bus.samples import Keyed, Pinged, keys_in_one_partition
from tests.support.waiting import wait_until


def test_a_full_queue_pushes_back_on_the_publisher_then_refuses() -> None:
    bus = InMemoryEventBus(queue_size=2, publish_timeout_s=0.2)
    release = threading.Event()
    handled: list[str] = []
    bus.subscribe(Group("slow"), Pinged, lambda e: (release.wait(10), handled.append(e.target_id)))
    bus.start()
    try:
        bus.publish(Pinged(target_id="in hand"))
        wait_until(lambda: bus._lanes["slow"].queue.qsize() == 0)  # the worker holds it
        bus.publish(Pinged(target_id="queued 1"))
        bus.publish(Pinged(target_id="queued 2"))
        started = time.monotonic()
        with pytest.raises(Unavailable, match="full"):
            bus.publish(Pinged(target_id="one too many"))
        assert time.monotonic() - started >= 0.2  # it waited for room before refusing
        release.set()
        wait_until(lambda: len(handled) == 3)
        bus.publish(Pinged(target_id="room again"))
        wait_until(lambda: handled[-1] == "room again")
    finally:
        release.set()
        bus.close(5)


def test_a_handler_is_tried_a_bounded_number_of_times_then_dead_lettered() -> None:
    bus = InMemoryEventBus(max_attempts=3, retry_delay_s=0.001)
    attempts: list[str] = []

    def always_fails(event: Pinged) -> None:
        attempts.append(event.event_id)
        raise RuntimeError("no")

    bus.subscribe(Group("g"), Pinged, always_fails)
    bus.start()
    try:
        bus.publish(Pinged(target_id="t"))
        wait_until(lambda: bus.dead_letters == 1)
        assert len(attempts) == 3
    finally:
        bus.close(5)


def test_health_says_why_the_bus_cannot_deliver() -> None:
    bus = InMemoryEventBus()
    bus.subscribe(Group("g"), Pinged, lambda e: None)
    assert bus.health() == ["event bus: not started"]
    bus.start()
    assert bus.health() == []
    bus.close(5)
    assert bus.health() == ["event bus: closed"]
    bus.close(5)  # idempotent


def test_after_close_only_the_handlers_still_running_may_publish() -> None:
    bus = InMemoryEventBus()
    inside = threading.Event()
    release = threading.Event()
    followed: list[str] = []

    def forward(event: Pinged) -> None:
        if event.target_id == "followed":
            followed.append(event.target_id)
            return
        inside.set()
        release.wait(10)
        bus.publish(Pinged(target_id="followed"))

    bus.subscribe(Group("first"), Pinged, forward)
    bus.start()
    bus.publish(Pinged(target_id="start"))
    assert inside.wait(10)
    closer = threading.Thread(target=bus.close, args=(10,))
    closer.start()
    wait_until(lambda: bus.health() == ["event bus: closed"])
    with pytest.raises(Unavailable):
        bus.publish(Pinged(target_id="from outside"))
    release.set()
    closer.join(10)
    assert followed == ["followed"]


def test_closing_a_bus_that_never_started_returns_at_once() -> None:
    bus = InMemoryEventBus()
    bus.subscribe(Group("g"), Pinged, lambda e: None)
    bus.publish(Pinged(target_id="queued before start"))
    started = time.monotonic()
    bus.close(5)
    assert time.monotonic() - started < 1


def test_a_keyed_lane_takes_at_most_in_flight_events_and_keeps_the_rest_queued_in_order() -> None:
    bus = InMemoryEventBus()
    keyed = Group("keyed", partitioned=True, in_flight=3, concurrency=8)
    release = threading.Event()
    lock = threading.Lock()
    inside: list[str] = []

    def hold(event: Keyed) -> None:
        with lock:
            inside.append(event.key)
        assert release.wait(10), "never released"

    bus.subscribe(keyed, Keyed, hold)
    bus.start()
    try:
        keys = keys_in_one_partition(5, prefix="window")
        for key in keys:
            bus.publish(Keyed(key=key))
        wait_until(lambda: len(inside) == 3)
        lane = bus._lanes[f"keyed.p{partition_of(keys[0])}"]
        assert (lane.taken, [e.key for e, _trace in list(lane.queue.queue)]) == (3, keys[3:])  # the window is full
        assert sorted(inside) == sorted(keys[:3])
    finally:
        release.set()
    wait_until(lambda: len(inside) == 5)
    bus.close(5)
