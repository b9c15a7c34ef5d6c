"""Keyed lanes on every ``EventBus`` (a partitioned group with ``in_flight`` > 1): the events of one key are
handled one at a time in publication order, while the events of different keys run at the same time even
when they share a lane, so a slow key holds up only itself."""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

import pytest

from event_driven.monolith.bus import EventBus, Group, partition_of
from event_driven.monolith.events import AlertOpened, AlertResolved
from event_driven.monolith.handlers import NOTIFICATION
from shared.domain import AlertChange
from tests.bus.samples import Keyed, Pinged, keys_in_distinct_partitions, keys_in_one_partition, sample
from tests.support.waiting import wait_for_count, wait_until

NewBus = Callable[[], EventBus]
KEYED = Group("keyed", partitioned=True, in_flight=4, concurrency=8)


class PerKey:
    """A thread-safe handler that records (key, seq) in handling order, and whether two events of one key
    were ever in the handler at the same time. ``work`` stands for the handler's own work (a few ms)."""

    def __init__(self, work_s: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._inside: dict[str, int] = {}
        self._work_s = work_s
        self.handled: list[tuple[str, int]] = []
        self.overlaps: list[tuple[str, int]] = []

    def __call__(self, event: Keyed) -> None:
        with self._lock:
            self._inside[event.key] = self._inside.get(event.key, 0) + 1
            if self._inside[event.key] > 1:
                self.overlaps.append((event.key, event.seq))
        try:
            if self._work_s:
                time.sleep(self._work_s)  # the handler's work, not a wait for something
        finally:
            with self._lock:
                self._inside[event.key] -= 1
                self.handled.append((event.key, event.seq))

    def items(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self.handled)


def test_in_flight_is_for_partitioned_groups_and_keeps_their_single_worker_per_lane_otherwise() -> None:
    assert KEYED.keyed and KEYED.partitions == 8 and KEYED.concurrency == 8
    assert not Group("lanes", partitioned=True).keyed
    for invalid in ({"in_flight": 4}, {"partitioned": True, "in_flight": 0}, {"concurrency": 2, "partitioned": True}):
        with pytest.raises(ValueError):
            Group("g", **invalid)


def test_a_slow_target_does_not_delay_another_target_in_its_lane(new_bus: NewBus) -> None:
    bus = new_bus()
    slow, fast = keys_in_one_partition(2, prefix="lane-mate")
    assert partition_of(slow) == partition_of(fast)
    inside, release, fast_handled = threading.Event(), threading.Event(), threading.Event()
    handled = PerKey()

    def handle(event: Keyed) -> None:
        if event.key == slow:
            inside.set()
            assert release.wait(20), "never released"
        handled(event)
        if event.key == fast:
            fast_handled.set()

    bus.subscribe(KEYED, Keyed, handle)
    bus.start()
    try:
        bus.publish(Keyed(key=slow, seq=0))
        assert inside.wait(10), "the slow target's event never reached its handler"
        bus.publish(Keyed(key=fast, seq=0))
        assert fast_handled.wait(10), "the other target of the lane waited for the slow one"
        assert handled.items() == [(fast, 0)]  # the slow one is still in its handler
    finally:
        release.set()
    assert wait_for_count(handled.items, 2) == [(fast, 0), (slow, 0)]


def test_a_keyed_lane_handles_the_events_of_each_key_one_at_a_time_in_publication_order(new_bus: NewBus) -> None:
    bus = new_bus()
    handled = PerKey(work_s=0.003)
    bus.subscribe(KEYED, Keyed, handled)
    bus.start()
    keys = keys_in_one_partition(5, prefix="same-lane") + keys_in_distinct_partitions(3, prefix="elsewhere")
    for seq in range(12):
        for key in keys:
            bus.publish(Keyed(key=key, seq=seq))
    items = wait_for_count(handled.items, 12 * len(keys), timeout=20)
    for key in keys:
        assert [seq for k, seq in items if k == key] == list(range(12)), key
    assert handled.overlaps == []


def test_a_retried_event_is_handled_before_the_next_event_of_its_key(new_bus: NewBus) -> None:
    bus = new_bus()
    key, other = keys_in_one_partition(2, prefix="retry")
    lock = threading.Lock()
    attempts: list[tuple[str, int]] = []
    handled = PerKey()

    def fails_once(event: Keyed) -> None:
        with lock:
            attempts.append((event.key, event.seq))
            first_try = attempts.count((event.key, event.seq)) == 1
        if event.key == key and event.seq == 0 and first_try:
            raise ConnectionError("transient")
        handled(event)

    bus.subscribe(KEYED, Keyed, fails_once)
    bus.start()
    for seq in range(4):
        bus.publish(Keyed(key=key, seq=seq))
        bus.publish(Keyed(key=other, seq=seq))
    items = wait_for_count(handled.items, 8, timeout=20)
    assert [seq for k, seq in items if k == key] == [0, 1, 2, 3]
    assert [seq for k, seq in items if k == other] == [0, 1, 2, 3]
    with lock:
        mine = [seq for k, seq in attempts if k == key]
    assert mine[:2] == [0, 0] and sorted(mine[2:]) == mine[2:] == [1, 2, 3]  # nothing of the key before its retry


def test_events_without_a_key_keep_one_order_in_a_keyed_group(new_bus: NewBus) -> None:
    bus = new_bus()
    lock = threading.Lock()
    handled: list[str] = []

    def record(event: Pinged) -> None:
        with lock:
            handled.append(event.target_id)

    bus.subscribe(KEYED, Pinged, record)
    bus.start()
    for i in range(30):
        bus.publish(Pinged(target_id=str(i)))
    assert wait_for_count(lambda: list(handled), 30) == [str(i) for i in range(30)]


def test_the_lanes_of_a_keyed_group_handle_keys_at_the_same_time(new_bus: NewBus) -> None:
    bus = new_bus()
    keys = keys_in_one_partition(2, prefix="meet") + keys_in_distinct_partitions(2, prefix="meet-elsewhere")
    all_inside = threading.Barrier(len(keys), timeout=10)
    handled = PerKey()

    def meet(event: Keyed) -> None:
        all_inside.wait()  # only passes when the four keys are in their handlers at once
        handled(event)

    bus.subscribe(KEYED, Keyed, meet)
    bus.start()
    for key in keys:
        bus.publish(Keyed(key=key))
    wait_until(lambda: sorted(handled.items()) == sorted((key, 0) for key in keys))


def alert_change(event_type: type[AlertOpened | AlertResolved], target_id: str, alert_id: str) -> AlertOpened | AlertResolved:
    change = sample(AlertChange, True)
    alert = dataclasses.replace(change.alert, id=alert_id, target_id=target_id)
    event = "alert_opened" if event_type is AlertOpened else "alert_resolved"
    return event_type(change=dataclasses.replace(change, alert=alert, event=event))


def test_the_notification_group_delivers_a_target_while_another_of_its_lane_waits_and_each_target_in_order(
    new_bus: NewBus,
) -> None:
    bus = new_bus()
    slow, fast = keys_in_one_partition(2, prefix="target-")
    release, inside = threading.Event(), threading.Event()
    lock = threading.Lock()
    delivered: list[tuple[str, str, str]] = []

    def deliver(event: AlertOpened | AlertResolved) -> None:
        alert = event.change.alert
        if alert.target_id == slow and alert.id == "a0":
            inside.set()
            assert release.wait(20), "never released"
        with lock:
            delivered.append((alert.target_id, alert.id, event.change.event))

    bus.subscribe(NOTIFICATION, AlertOpened, deliver)
    bus.subscribe(NOTIFICATION, AlertResolved, deliver)
    bus.start()
    changes = [(event_type, target, f"a{i}") for i in range(3) for target in (slow, fast)
               for event_type in (AlertOpened, AlertResolved)]
    try:
        for event_type, target, alert_id in changes:
            bus.publish(alert_change(event_type, target, alert_id))
        assert inside.wait(10)
        wait_until(lambda: len([d for d in delivered if d[0] == fast]) == 6,
                   message="the other target of the lane should get its alert changes while the slow one waits")
        assert [d for d in delivered if d[0] == slow] == []
    finally:
        release.set()
    wait_until(lambda: len(delivered) == len(changes))
    for target in (slow, fast):
        assert [d[1:] for d in delivered if d[0] == target] == [
            (f"a{i}", event) for i in range(3) for event in ("alert_opened", "alert_resolved")]
