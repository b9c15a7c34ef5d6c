"""Delivery guarantees of every ``EventBus``: fan-out to groups, routing, isolation, order, redelivery,
draining, and the inbox."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from event_driven.monolith.bus import EventBus, Group
from event_driven.monolith.events import Event
from event_driven.monolith.rpc import CallRequested
from shared.domain import Unavailable
from tests.bus.samples import Pinged, Poked, all_samples
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


def deletes(count: int) -> list[Poked]:
    return [Poked(target_id=f"t{i}") for i in range(count)]


def test_every_subscribed_group_and_handler_receives_each_event(new_bus: NewBus) -> None:
    bus = new_bus()
    first, second, third = Recorder(), Recorder(), Recorder()
    bus.subscribe(Group("one"), Poked, first)
    bus.subscribe(Group("two"), Poked, second)
    bus.subscribe(Group("two"), Poked, third)
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
    bus.subscribe(Group("gets"), Pinged, gets)
    bus.subscribe(Group("others"), Poked, others)
    bus.start()
    bus.publish(Poked(target_id="a"))
    bus.publish(Pinged(target_id="b"))
    wait_for_count(gets.ids, 1)
    wait_for_count(others.ids, 1)
    assert [type(e) for e in gets.events] == [Pinged]
    assert [type(e) for e in others.events] == [Poked]


def test_an_event_nobody_subscribed_to_is_dropped_quietly(new_bus: NewBus) -> None:
    bus = new_bus()
    bus.subscribe(Group("gets"), Pinged, Recorder())
    bus.start()
    bus.publish(Poked(target_id="nobody listens"))


def test_publish_returns_before_the_handler_runs(new_bus: NewBus) -> None:
    bus = new_bus()
    release, handled = threading.Event(), Recorder()

    def slow(event: Event) -> None:
        assert release.wait(10), "never released"
        handled(event)

    bus.subscribe(Group("slow"), Pinged, slow)
    bus.start()
    bus.publish(Pinged(target_id="a"))
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

    bus.subscribe(Group("mixed"), Pinged, broken_handler)
    bus.subscribe(Group("mixed"), Pinged, same_group)
    bus.subscribe(Group("other"), Pinged, other_group)
    bus.start()
    events = [Pinged(target_id=str(i)) for i in range(3)]
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
    bus.subscribe(Group("ordered"), Poked, recorder)
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

    bus.subscribe(Group("parallel", concurrency=2), Pinged, meet)
    bus.start()
    bus.publish(Pinged(target_id="a"))
    bus.publish(Pinged(target_id="b"))
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

    bus.subscribe(Group("flaky"), Pinged, fails_first_time)
    bus.start()
    event = Pinged(target_id="a")
    bus.publish(event)
    wait_until(lambda: applied.get(event.event_id))
    assert applied == {event.event_id: 1}


def test_an_event_that_always_fails_is_given_up_and_does_not_block_its_group(new_bus: NewBus) -> None:
    bus = new_bus()
    attempts = Recorder()
    handled = Recorder()

    def poison_fails(event: Pinged) -> None:
        attempts(event)
        if event.target_id == "poison":
            raise ValueError("cannot handle this one, ever")
        handled(event)

    bus.subscribe(Group("poisoned"), Pinged, poison_fails)
    bus.start()
    poison, fine = Pinged(target_id="poison"), Pinged(target_id="fine")
    bus.publish(poison)
    bus.publish(fine)
    assert wait_for_count(handled.ids, 1) == [fine.event_id]
    assert 1 <= attempts.ids().count(poison.event_id) <= 10


def test_every_event_type_arrives_equal_to_what_was_published(new_bus: NewBus) -> None:
    bus = new_bus()
    recorder = Recorder()
    samples = all_samples()
    for cls, key in dict.fromkeys((type(event), event.routing_key) for event in samples):
        bus.subscribe(Group("everything"), cls, recorder, routing_key=key)
    bus.start()
    for event in samples:
        bus.publish(event)
    wait_for_count(recorder.ids, len(samples))
    assert recorder.events == samples


def test_routing_is_by_the_routing_key_with_topic_wildcards(new_bus: NewBus) -> None:
    """A call is routed by ``rpc.<service>.<method>``: each group gets the keys it is bound to."""
    bus = new_bus()
    writes, reads, of_svc, of_all = Recorder(), Recorder(), Recorder(), Recorder()
    bus.subscribe(Group("writes"), CallRequested, writes, routing_key="rpc.svc.write")
    bus.subscribe(Group("reads", concurrency=2), CallRequested, reads, routing_key="rpc.svc.read")
    bus.subscribe(Group("of-svc"), CallRequested, of_svc, routing_key="rpc.svc.*")
    bus.subscribe(Group("of-all"), CallRequested, of_all, routing_key="rpc.#")
    bus.start()
    write, read = CallRequested(service="svc", method="write"), CallRequested(service="svc", method="read")
    other = CallRequested(service="other", method="write")
    for event in (write, read, other):
        bus.publish(event)
    assert wait_for_count(writes.ids, 1) == [write.event_id]
    assert wait_for_count(reads.ids, 1) == [read.event_id]
    assert wait_for_count(of_svc.ids, 2) == [write.event_id, read.event_id]
    assert wait_for_count(of_all.ids, 3) == [write.event_id, read.event_id, other.event_id]


def test_a_handler_gets_only_the_class_it_subscribed_with(new_bus: NewBus) -> None:
    bus = new_bus()
    pings, pokes = Recorder(), Recorder()
    bus.subscribe(Group("g"), Pinged, pings, routing_key=Poked.wire_name)  # bound to the pokes' key, for pings
    bus.subscribe(Group("g"), Poked, pokes)
    bus.start()
    events = [Poked(target_id=str(i)) for i in range(3)]
    for event in events:
        bus.publish(event)
    assert wait_for_count(pokes.ids, 3) == [e.event_id for e in events]
    assert pings.ids() == []


def test_send_delivers_to_the_inbox_at_the_address_and_to_no_group(new_bus: NewBus) -> None:
    bus = new_bus()
    inbox, group = Recorder(), Recorder()
    bus.subscribe_inbox(inbox)
    bus.subscribe(Group("g"), Pinged, group)
    bus.start()
    events = [Pinged(target_id=str(i)) for i in range(5)]
    for event in events:
        bus.send(bus.address, event)
    assert wait_for_count(inbox.ids, 5) == [e.event_id for e in events]
    bus.publish(Pinged(target_id="marker"))
    wait_for_count(group.ids, 1)
    assert [e.target_id for e in group.events] == ["marker"]


def test_send_reaches_only_the_bus_whose_address_it_is(new_bus: NewBus) -> None:
    first, second = new_bus(), new_bus()
    heard = {"first": Recorder(), "second": Recorder()}
    first.subscribe_inbox(heard["first"])
    second.subscribe_inbox(heard["second"])
    first.start()
    second.start()
    assert first.address != second.address
    first.send(first.address, Pinged(target_id="to first"))
    first.send("nobody-has-this-address", Pinged(target_id="to nobody"))  # dropped quietly
    wait_for_count(heard["first"].ids, 1)
    assert heard["second"].ids() == []


def test_an_inbox_handler_that_raises_never_reaches_the_sender(new_bus: NewBus, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    bus = new_bus()
    received = Recorder()

    def broken_inbox(event: Event) -> None:
        received(event)
        raise RuntimeError("boom in inbox")

    bus.subscribe_inbox(broken_inbox)
    bus.start()
    bus.send(bus.address, Pinged(target_id="a"))  # never raises the handler's error
    wait_until(received.ids, message="the inbox handler was not called")  # a broker bus may retry it
    wait_until(lambda: [r for r in caplog.records if "broken_inbox" in r.getMessage() and r.exc_info],
               message="the failure was not logged with its exception")


def test_a_bus_has_one_inbox_handler_declared_before_start(new_bus: NewBus) -> None:
    bus = new_bus()
    bus.subscribe_inbox(Recorder())
    with pytest.raises(ValueError):
        bus.subscribe_inbox(Recorder())
    late = new_bus()
    late.start()
    with pytest.raises(RuntimeError):
        late.subscribe_inbox(Recorder())


def test_subscriptions_are_declared_before_start(new_bus: NewBus) -> None:
    bus = new_bus()
    bus.start()
    with pytest.raises(RuntimeError):
        bus.subscribe(Group("late"), Pinged, Recorder())


def test_a_group_name_means_one_group(new_bus: NewBus) -> None:
    bus = new_bus()
    bus.subscribe(Group("g"), Pinged, Recorder())
    with pytest.raises(ValueError):
        bus.subscribe(Group("g", concurrency=3), Poked, Recorder())


def test_health_reports_a_started_bus_as_healthy(new_bus: NewBus) -> None:
    bus = new_bus()
    bus.subscribe(Group("g"), Pinged, Recorder())
    bus.start()
    assert wait_until(lambda: bus.health() == [], timeout=10) is True


def test_close_drains_what_is_in_flight_including_what_handlers_publish(new_bus: NewBus) -> None:
    bus = new_bus()
    followed_up = Recorder()
    gate = threading.Event()

    def forward(event: Pinged) -> None:
        gate.wait(10)
        bus.publish(Poked(target_id=event.target_id))

    bus.subscribe(Group("first"), Pinged, forward)
    bus.subscribe(Group("second"), Poked, followed_up)
    bus.start()
    for i in range(30):
        bus.publish(Pinged(target_id=str(i)))
    gate.set()
    bus.close(timeout_s=20.0)
    assert [e.target_id for e in followed_up.events] == [str(i) for i in range(30)]
    assert bus.health()  # a closed bus is not healthy
    with pytest.raises(Unavailable):
        bus.publish(Pinged(target_id="after close"))
