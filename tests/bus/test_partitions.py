"""Partitioned groups on every ``EventBus``: the events of one key are handled one at a time in publication
order, different keys proceed at the same time, and events without a key keep one order."""
from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from event_driven.monolith.bus import PARTITIONS, EventBus, Group, partition_of
from event_driven.monolith.rpc import RpcClient, serve
from tests.bus.samples import Keyed, Pinged, keys_in_distinct_partitions
from tests.support.waiting import wait_for_count, wait_until

NewBus = Callable[[], EventBus]
PARTS = Group("parts", partitioned=True)


class Ordered:
    """A thread-safe handler that records (key, seq) in the order the events were handled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.handled: list[tuple[str, int]] = []

    def __call__(self, event: Keyed) -> None:
        with self._lock:
            self.handled.append((event.key, event.seq))

    def items(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self.handled)


def test_partition_of_is_stable_and_spreads_keys() -> None:
    assert partition_of(None) == 0
    assert partition_of("target-1") == partition_of("target-1")
    assert {partition_of(f"t{i}") for i in range(200)} == set(range(PARTITIONS))
    assert len(keys_in_distinct_partitions(PARTITIONS)) == PARTITIONS


def test_a_partitioned_group_must_handle_each_lane_one_at_a_time() -> None:
    assert PARTS.partitions == PARTITIONS and Group("plain").partitions == 1
    with pytest.raises(ValueError):
        Group("g", concurrency=2, partitioned=True)


def test_a_partitioned_group_handles_the_events_of_each_key_in_publication_order(new_bus: NewBus) -> None:
    bus = new_bus()
    recorder = Ordered()
    bus.subscribe(PARTS, Keyed, recorder)
    bus.start()
    keys = [f"target-{i}" for i in range(12)]  # several keys share a partition, others have their own
    for seq in range(25):
        for key in keys:
            bus.publish(Keyed(key=key, seq=seq))
    handled = wait_for_count(recorder.items, 25 * len(keys))
    for key in keys:
        assert [seq for k, seq in handled if k == key] == list(range(25)), key


def test_different_keys_of_a_partitioned_group_are_handled_at_the_same_time(new_bus: NewBus) -> None:
    bus = new_bus()
    both_inside = threading.Barrier(2, timeout=10)
    recorder = Ordered()

    def meet(event: Keyed) -> None:
        both_inside.wait()  # only passes when the two keys are being handled at once
        recorder(event)

    bus.subscribe(PARTS, Keyed, meet)
    bus.start()
    first, second = keys_in_distinct_partitions(2)
    bus.publish(Keyed(key=first))
    bus.publish(Keyed(key=second))
    assert sorted(wait_for_count(recorder.items, 2)) == sorted([(first, 0), (second, 0)])


def test_a_key_waits_for_its_previous_event_while_other_keys_go_on(new_bus: NewBus) -> None:
    bus = new_bus()
    release, inside = threading.Event(), threading.Event()
    recorder = Ordered()

    def hold_the_first(event: Keyed) -> None:
        if event.key == slow and event.seq == 0:
            inside.set()
            assert release.wait(10), "never released"
        recorder(event)

    bus.subscribe(PARTS, Keyed, hold_the_first)
    bus.start()
    slow, fast = keys_in_distinct_partitions(2, prefix="w")
    bus.publish(Keyed(key=slow, seq=0))
    bus.publish(Keyed(key=slow, seq=1))
    assert inside.wait(10)
    for seq in range(5):
        bus.publish(Keyed(key=fast, seq=seq))
    wait_for_count(lambda: [item for item in recorder.items() if item[0] == fast], 5)
    assert [item for item in recorder.items() if item[0] == slow] == []  # its second event waits for the first
    release.set()
    wait_for_count(recorder.items, 7)
    assert [seq for key, seq in recorder.items() if key == slow] == [0, 1]


def test_events_without_a_key_keep_one_order_in_a_partitioned_group(new_bus: NewBus) -> None:
    bus = new_bus()
    handled: list[str] = []
    bus.subscribe(PARTS, Pinged, lambda event: handled.append(event.target_id))
    bus.start()
    for i in range(30):
        bus.publish(Pinged(target_id=str(i)))
    assert wait_for_count(lambda: list(handled), 30) == [str(i) for i in range(30)]


def test_calls_with_a_key_are_ordered_per_key_in_a_partitioned_group(new_bus: NewBus) -> None:
    bus = new_bus()
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()

    def write(target_id: str, seq: int) -> int:
        with lock:
            seen.append((target_id, seq))
        return seq

    serve(bus, PARTS, "svc", "write", write)
    rpc = RpcClient(bus, timeout_s=10)
    bus.start()
    keys = keys_in_distinct_partitions(3, prefix="c")
    answers: dict[str, list[int]] = {}

    def caller(key: str) -> None:  # one caller per key, each call after the previous one's reply
        answers[key] = [rpc.call("svc", "write", key=key, target_id=key, seq=seq) for seq in range(10)]

    threads = [threading.Thread(target=caller, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == {key: list(range(10)) for key in keys}
    wait_until(lambda: len(seen) == 30)
    for key in keys:
        assert [seq for k, seq in seen if k == key] == list(range(10))
