"""Delivery guarantees of every ``EventBus``: fan-out to groups, isolation, order, redelivery, draining."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from event_driven.monolith.bus import EventBus, Group
from event_driven.monolith.events import REGISTRY, Event, TargetDeleteRequested, TargetGetRequested
from shared.domain import Unavailable
from tests.bus.samples import all_samples, load_events_again
from tests.support.waiting import wait_for_count, wait_until

NewBus = Callable[[], EventBus]


class Recorder:
    """A thread-safe handler that remembers what it received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def ids(self) -> list[str]:
        with self._lock:
            return [e.event_id for e in self.events]


def deletes(count: int) -> list[TargetDeleteRequested]:
    return [TargetDeleteRequested(target_id=f"t{i}") for i in range(count)]


def test_every_subscribed_group_and_handler_receives_each_event(new_bus: NewBus) -> None:
    bus = new_bus()
    first, second, third = Recorder(), Recorder(), Recorder()
    bus.subscribe(Group("one"), TargetDeleteRequested, first)
    bus.subscribe(Group("two"), TargetDeleteRequested, second)
    bus.subscribe(Group("two"), TargetDeleteRequested, third)
    bus.start()
    events = deletes(20)
    for event in events:
        bus.publish(event)
    expected = [e.event_id for e in events]
    for recorder in (first, second, third):
        assert wait_for_count(recorder.ids, 20) == expected


def test_a_group_receives_only_the_event_types_it_subscribed_to(new_bus: NewBus) -> None:
    bus = new_bus()
    gets, others = Recorder(), Recorder()
    bus.subscribe(Group("gets"), TargetGetRequested, gets)
    bus.subscribe(Group("others"), TargetDeleteRequested, others)
    bus.start()
    bus.publish(TargetDeleteRequested(target_id="a"))
    bus.publish(TargetGetRequested(target_id="b"))
    wait_for_count(gets.ids, 1)
    wait_for_count(others.ids, 1)
    assert [type(e) for e in gets.events] == [TargetGetRequested]
    assert [type(e) for e in others.events] == [TargetDeleteRequested]


def test_an_event_nobody_subscribed_to_is_dropped_quietly(new_bus: NewBus) -> None:
    bus = new_bus()
    bus.subscribe(Group("gets"), TargetGetRequested, Recorder())
    bus.start()
    bus.publish(TargetDeleteRequested(target_id="nobody listens"))


def test_publish_returns_before_the_handler_runs(new_bus: NewBus) -> None:
    bus = new_bus()
    release, handled = threading.Event(), Recorder()

    def slow(event: Event) -> None:
        assert release.wait(10), "never released"
        handled(event)

    bus.subscribe(Group("slow"), TargetGetRequested, slow)
    bus.start()
    bus.publish(TargetGetRequested(target_id="a"))
    assert handled.ids() == []  # publish came back while the handler is still waiting
    release.set()
    wait_for_count(handled.ids, 1)


def test_a_failing_handler_is_logged_and_isolated_from_the_publisher_and_other_handlers(
    new_bus: NewBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    bus = new_bus()
    same_group, other_group = Recorder(), Recorder()

    def broken_handler(event: Event) -> None:
        raise RuntimeError("boom in handler")

    bus.subscribe(Group("mixed"), TargetGetRequested, broken_handler)
    bus.subscribe(Group("mixed"), TargetGetRequested, same_group)
    bus.subscribe(Group("other"), TargetGetRequested, other_group)
    bus.start()
    events = [TargetGetRequested(target_id=str(i)) for i in range(3)]
    for event in events:
        bus.publish(event)  # never raises the handler's error
    assert wait_for_count(same_group.ids, 3) == [e.event_id for e in events]
    assert wait_for_count(other_group.ids, 3) == [e.event_id for e in events]
    wait_until(
        lambda: [r for r in caplog.records if "broken_handler" in r.getMessage() and r.exc_info
                 and "boom in handler" in str(r.exc_info[1])],
        message="the failure was not logged with its exception",
    )


def test_a_group_with_one_consumer_handles_events_in_publication_order(new_bus: NewBus) -> None:
    bus = new_bus()
    recorder = Recorder()
    bus.subscribe(Group("ordered"), TargetDeleteRequested, recorder)
    bus.start()
    events = deletes(200)
    for event in events:
        bus.publish(event)
    assert wait_for_count(recorder.ids, 200) == [e.event_id for e in events]


def test_a_group_with_concurrency_handles_events_at_the_same_time(new_bus: NewBus) -> None:
    bus = new_bus()
    both_inside = threading.Barrier(2, timeout=10)
    recorder = Recorder()

    def meet(event: Event) -> None:
        both_inside.wait()  # only passes when two events are being handled at once
        recorder(event)

    bus.subscribe(Group("parallel", concurrency=2), TargetGetRequested, meet)
    bus.start()
    bus.publish(TargetGetRequested(target_id="a"))
    bus.publish(TargetGetRequested(target_id="b"))
    wait_for_count(recorder.ids, 2)


def test_a_failed_delivery_is_retried_and_takes_effect_once(new_bus: NewBus) -> None:
    bus = new_bus()
    attempts: list[str] = []
    applied: dict[str, int] = {}
    lock = threading.Lock()

    def fails_first_time(event: Event) -> None:
        with lock:
            attempts.append(event.event_id)
            if len(attempts) == 1:
                raise ConnectionError("transient")
            applied[event.event_id] = applied.get(event.event_id, 0) + 1

    bus.subscribe(Group("flaky"), TargetGetRequested, fails_first_time)
    bus.start()
    event = TargetGetRequested(target_id="a")
    bus.publish(event)
    wait_until(lambda: applied.get(event.event_id))
    assert applied == {event.event_id: 1}


def test_an_event_that_always_fails_is_given_up_and_does_not_block_its_group(new_bus: NewBus) -> None:
    bus = new_bus()
    attempts = Recorder()
    handled = Recorder()

    def poison_fails(event: TargetGetRequested) -> None:
        attempts(event)
        if event.target_id == "poison":
            raise ValueError("cannot handle this one, ever")
        handled(event)

    bus.subscribe(Group("poisoned"), TargetGetRequested, poison_fails)
    bus.start()
    poison, fine = TargetGetRequested(target_id="poison"), TargetGetRequested(target_id="fine")
    bus.publish(poison)
    bus.publish(fine)
    assert wait_for_count(handled.ids, 1) == [fine.event_id]
    assert 1 <= attempts.ids().count(poison.event_id) <= 10


def test_every_event_type_arrives_equal_to_what_was_published(new_bus: NewBus) -> None:
    bus = new_bus()
    recorder = Recorder()
    for cls in REGISTRY.values():
        bus.subscribe(Group("everything"), cls, recorder)
    bus.start()
    samples = all_samples()
    for event in samples:
        bus.publish(event)
    wait_for_count(recorder.ids, len(samples))
    assert recorder.events == samples


def test_routing_is_by_wire_name_so_a_second_load_of_the_event_classes_still_routes(new_bus: NewBus) -> None:
    """``event_driven.split`` loads the monolith's ``events.py`` again as its own module: same wire names,
    other classes. Events route by wire name, and what is decoded is built with the subscribed class."""
    bus = new_bus()
    recorder = Recorder()
    bus.subscribe(Group("gets"), TargetGetRequested, recorder)
    bus.start()
    copy = load_events_again().TargetGetRequested(target_id="t")
    bus.publish(copy)
    assert wait_for_count(recorder.ids, 1) == [copy.event_id]
    assert recorder.events[0].wire_name == TargetGetRequested.wire_name


def test_subscriptions_are_declared_before_start(new_bus: NewBus) -> None:
    bus = new_bus()
    bus.start()
    with pytest.raises(RuntimeError):
        bus.subscribe(Group("late"), TargetGetRequested, Recorder())


def test_a_group_name_means_one_group(new_bus: NewBus) -> None:
    bus = new_bus()
    bus.subscribe(Group("g"), TargetGetRequested, Recorder())
    with pytest.raises(ValueError):
        bus.subscribe(Group("g", concurrency=3), TargetDeleteRequested, Recorder())


def test_health_reports_a_started_bus_as_healthy(new_bus: NewBus) -> None:
    bus = new_bus()
    bus.subscribe(Group("g"), TargetGetRequested, Recorder())
    bus.start()
    assert wait_until(lambda: bus.health() == [], timeout=10) is True


def test_close_drains_what_is_in_flight_including_what_handlers_publish(new_bus: NewBus) -> None:
    bus = new_bus()
    followed_up = Recorder()
    gate = threading.Event()

    def forward(event: TargetGetRequested) -> None:
        gate.wait(10)
        bus.publish(TargetDeleteRequested(target_id=event.target_id))

    bus.subscribe(Group("first"), TargetGetRequested, forward)
    bus.subscribe(Group("second"), TargetDeleteRequested, followed_up)
    bus.start()
    for i in range(30):
        bus.publish(TargetGetRequested(target_id=str(i)))
    gate.set()
    bus.close(timeout_s=20.0)
    assert [e.target_id for e in followed_up.events] == [str(i) for i in range(30)]
    assert bus.health()  # a closed bus is not healthy
    with pytest.raises(Unavailable):
        bus.publish(TargetGetRequested(target_id="after close"))
