"""What the RabbitMQ bus adds to the conformance suite (``tests/bus``), on the real broker: dead letters,
durability while nobody consumes, a single active consumer, partitions shared by processes and taken over
when one dies, competing consumers, replies sent to one process's inbox, heartbeats, reconnection and an
unreachable broker."""
from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pika
import pytest

from event_driven.monolith.bus import PARTITIONS, Group, partition_of
from event_driven.monolith.events import Event
from event_driven.monolith.rpc import CallRequested, CallSucceeded, RpcClient, serve
from event_driven.split.codec import encode
from event_driven.split.rabbitmq_bus import RabbitMQEventBus
from event_driven.split.rabbitmq_topology import (
    dead_letter_queue_name,
    exchange_name,
    partition_headers,
    partition_queue_name,
    queue_name,
    replies_exchange_name,
)
from shared.domain import Target, Unavailable, utcnow
from tests.bus.samples import Keyed, Pinged, Poked, keys_in_distinct_partitions, keys_in_one_partition
from tests.support.broker import close_connections, delete_namespace, require_broker
from tests.support.waiting import wait_for_count, wait_until

pytestmark = pytest.mark.broker

NewBus = Callable[..., RabbitMQEventBus]


@pytest.fixture
def namespace() -> str:
    return f"bus-it-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def new_bus(namespace: str) -> Iterator[NewBus]:
    """Buses on one namespace (a second one is another process's bus); closed and deleted afterwards."""
    url = require_broker()
    made: list[RabbitMQEventBus] = []

    def make(**options) -> RabbitMQEventBus:
        bus = RabbitMQEventBus(options.pop("url", url), namespace, **{"retry_delay_s": 0.01, **options})
        made.append(bus)
        return bus

    yield make
    groups: set[str] = set()
    for bus in made:
        bus.close(timeout_s=5.0)
        groups.update(g.name for g in bus.groups)
    delete_namespace(namespace, groups)


@pytest.fixture
def channel() -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(require_broker()))
    yield connection.channel()
    connection.close()


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list = []

    def __call__(self, event) -> None:
        with self.lock:
            self.events.append(event)

    def targets(self) -> list[str]:
        with self.lock:
            return [e.target_id for e in self.events]


def test_a_message_that_always_fails_is_dead_lettered_after_max_attempts_and_the_queue_moves_on(new_bus, namespace, channel):
    bus = new_bus(max_attempts=3)
    attempts, handled = Recorder(), Recorder()

    def poison_fails(event: Pinged) -> None:
        attempts(event)
        if event.target_id == "poison":
            raise ValueError("never works")
        handled(event)

    bus.subscribe(Group("g"), Pinged, poison_fails)
    bus.start()
    poison = Pinged(target_id="poison")
    bus.publish(poison)
    for i in range(3):
        bus.publish(Pinged(target_id=f"fine{i}"))
    assert wait_for_count(handled.targets, 3) == ["fine0", "fine1", "fine2"]  # in order, after the poison
    assert attempts.targets().count("poison") == 3
    method, properties, body = wait_until(lambda: _get(channel, dead_letter_queue_name(namespace, "g")))
    assert poison.event_id.encode() in body
    assert properties.headers["x-first-death-queue"] == queue_name(namespace, "g")
    assert properties.headers["x-first-death-reason"] == "rejected"
    assert bus.dead_letters == 1


def test_a_message_that_is_not_an_event_is_dead_lettered_at_once(new_bus, namespace, channel):
    bus = new_bus()
    handled = Recorder()
    bus.subscribe(Group("g"), Pinged, handled)
    bus.start()
    channel.basic_publish(exchange_name(namespace), Pinged.wire_name, b'{"type": "target.get_requested"}')
    bus.publish(Pinged(target_id="after"))
    assert wait_for_count(handled.targets, 1) == ["after"]
    _, _, body = wait_until(lambda: _get(channel, dead_letter_queue_name(namespace, "g")))
    assert body == b'{"type": "target.get_requested"}'


def test_the_broker_dead_letters_a_message_whose_consumer_dies_every_time(new_bus, namespace, channel):
    """The delivery limit is the broker's: it also stops a message that kills its consumer (no ack, no nack)."""
    bus = new_bus(max_attempts=2)
    bus.subscribe(Group("g", concurrency=2), Pinged, Recorder())  # no single active consumer: basic.get works
    bus.start()
    bus.close()  # the queue stays, with its delivery limit; now a consumer that dies on every delivery
    channel.basic_publish(exchange_name(namespace), Pinged.wire_name, b"{}")
    connection = pika.BlockingConnection(pika.URLParameters(require_broker()))
    try:
        for _ in range(3):
            dying = connection.channel()
            assert wait_until(lambda ch=dying: _get(ch, queue_name(namespace, "g"), ack=False))
            dying.close()  # dies holding it: the broker counts a delivery
        assert wait_until(lambda: _get(channel, dead_letter_queue_name(namespace, "g")))[1].headers[
            "x-first-death-reason"] == "delivery_limit"
    finally:
        connection.close()


def test_events_published_while_no_consumer_runs_are_delivered_when_it_starts(new_bus):
    consumer = new_bus()
    recorder = Recorder()
    consumer.subscribe(Group("g"), Poked, recorder)
    consumer.start()
    consumer.close()  # the service is stopped; its durable queue stays
    publisher = new_bus()
    publisher.start()
    for i in range(5):
        publisher.publish(Poked(target_id=str(i)))
    restarted = new_bus()
    restarted.subscribe(Group("g"), Poked, recorder)
    for i in range(5):  # more queues to declare and consume: the backlog arrives before all are ready
        restarted.subscribe(Group(f"other{i}"), Pinged, Recorder())
    restarted.start()
    assert wait_for_count(recorder.targets, 5) == [str(i) for i in range(5)]


def test_an_ordered_group_has_one_active_consumer_across_processes_and_fails_over(new_bus):
    first, second = new_bus(), new_bus()
    seen: dict[str, list[str]] = {"first": [], "second": []}
    for name, bus in (("first", first), ("second", second)):
        bus.subscribe(Group("ordered"), Poked, lambda e, name=name: seen[name].append(e.target_id))
        bus.start()
    for i in range(20):
        first.publish(Poked(target_id=str(i)))
    wait_until(lambda: len(seen["first"]) + len(seen["second"]) == 20)
    active = "first" if seen["first"] else "second"
    assert seen[active] == [str(i) for i in range(20)]  # one consumer had them all, in order
    (first if active == "first" else second).close()
    standby = second if active == "first" else first
    for i in range(20, 25):
        standby.publish(Poked(target_id=str(i)))
    other = "second" if active == "first" else "first"
    assert wait_for_count(lambda: seen[other], 5) == [str(i) for i in range(20, 25)]


PARTS = Group("parts", partitioned=True)
KEYED = Group("keyed", partitioned=True, in_flight=4, concurrency=8)


class Shared:
    """What two processes of one partitioned group handled: (process, key, seq, event id), in handling order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handled: list[tuple[str, str, int, str]] = []

    def handler(self, process: str, hold: threading.Event | None = None, held: threading.Event | None = None):
        def handle(event: Keyed) -> None:
            if hold is not None and held is not None and not hold.is_set():
                held.set()
                hold.wait(30)  # in hand when its process loses the broker
            with self.lock:
                self.handled.append((process, event.key, event.seq, event.event_id))

        return handle

    def by(self, process: str) -> list[tuple[str, int]]:
        with self.lock:
            return [(key, seq) for p, key, seq, _ in self.handled if p == process]

    def ids(self) -> set[str]:
        with self.lock:
            return {event_id for *_, event_id in self.handled}

    def assert_in_order_per_key(self) -> None:
        """Over both processes, each key's events were handled in publication order (a redelivery may repeat one)."""
        with self.lock:
            handled = list(self.handled)
        for key in {key for _, key, _, _ in handled}:
            seqs = [seq for _, k, seq, _ in handled if k == key]
            assert all(b >= a for a, b in zip(seqs, seqs[1:], strict=False)), (key, seqs)


@pytest.mark.parametrize("group", [PARTS, KEYED], ids=["lanes", "keyed-lanes"])
def test_two_processes_share_the_partitions_of_a_partitioned_group(new_bus, group):
    first, second = new_bus(balance_every_s=0.2), new_bus(balance_every_s=0.2)
    shared = Shared()
    for name, bus in (("first", first), ("second", second)):
        bus.subscribe(group, Keyed, shared.handler(name))
        bus.start()
    keys = keys_in_distinct_partitions(8)
    published: list[Keyed] = []

    def publish_round() -> bool:
        seq = len(published) // len(keys)
        for key in keys:
            published.append(Keyed(key=key, seq=seq))
            first.publish(published[-1])
        return bool(shared.by("first")) and bool(shared.by("second"))

    wait_until(publish_round, timeout=20, interval=0.02, message="both processes should get partitions")
    for _ in range(5):  # once balanced, each process handles its own keys
        publish_round()
    wait_until(lambda: shared.ids() >= {e.event_id for e in published}, message="every event handled")
    shared.assert_in_order_per_key()
    recent = {key for key, _ in shared.by("first")[-8:]}, {key for key, _ in shared.by("second")[-8:]}
    assert recent[0] and recent[1]


@pytest.mark.parametrize("group", [PARTS, KEYED], ids=["lanes", "keyed-lanes"])
def test_when_a_process_loses_the_broker_another_takes_over_its_partitions_and_nothing_is_lost(new_bus, namespace, group):
    doomed = new_bus(balance_every_s=0.2, connection_name=f"{namespace}-doomed:test:1",
                     reconnect_delay_s=60, max_reconnect_delay_s=60)  # dead for the rest of the test
    survivor = new_bus(balance_every_s=0.2)
    shared = Shared()
    hold, held = threading.Event(), threading.Event()
    doomed.subscribe(group, Keyed, shared.handler("doomed", hold, held))
    doomed.start()  # first: active on every partition
    survivor.subscribe(group, Keyed, shared.handler("survivor"))
    survivor.start()
    keys = keys_in_distinct_partitions(8)
    published: list[Keyed] = []
    try:
        for seq in range(3):
            for key in keys:
                published.append(Keyed(key=key, seq=seq))
                survivor.publish(published[-1])
        assert held.wait(10)  # the doomed process holds a message unacked
        assert close_connections(f"{namespace}-doomed") == 1  # it dies, as far as the broker can tell
        for seq in range(3, 6):
            for key in keys:
                published.append(Keyed(key=key, seq=seq))
                survivor.publish(published[-1])
        wait_until(lambda: shared.ids() >= {e.event_id for e in published}, timeout=20,
                   message="the survivor should handle what the doomed process held and everything after")
        assert {key for key, _ in shared.by("survivor")} == set(keys)
        shared.assert_in_order_per_key()  # the held message first, again, then the rest
    finally:
        hold.set()  # the doomed handler returns; its ack goes nowhere


def test_a_released_keyed_lane_finishes_what_it_started_and_returns_what_it_had_not(new_bus):
    first, second = new_bus(balance_every_s=0.2), new_bus(balance_every_s=0.2)
    lock = threading.Lock()
    steps: list[tuple[str, str, int, str]] = []  # (start or end, key, seq, process), in the order they happened
    inside, release = threading.Event(), threading.Event()
    (slow,) = keys_in_one_partition(1, prefix="handover", partition=PARTITIONS - 1)

    def handler(process: str):
        def handle(event: Keyed) -> None:
            with lock:
                steps.append(("start", event.key, event.seq, process))
            if event.key == slow and event.seq == 0:
                inside.set()
                assert release.wait(20), "never released"
            with lock:
                steps.append(("end", event.key, event.seq, process))

        return handle

    first.subscribe(KEYED, Keyed, handler("first"))
    first.start()
    warm = keys_in_distinct_partitions(PARTITIONS, prefix="warm")
    for key in warm:  # the first process alone: active on every lane
        first.publish(Keyed(key=key))
    wait_until(lambda: len([s for s in steps if s[0] == "end"]) == len(warm))
    lane = first._consumption.partitioned[0].lanes[PARTITIONS - 1]
    try:
        first.publish(Keyed(key=slow, seq=0))
        first.publish(Keyed(key=slow, seq=1))
        assert inside.wait(10)
        wait_until(lambda: lane.busy == 2, message="the lane should hold the running event and the one behind it")
        second.subscribe(KEYED, Keyed, handler("second"))
        second.start()  # the first hands half of its lanes, the last among them, to the second
        wait_until(lambda: lane.releasing and lane.busy == 1,
                   message="the released lane should give back what it had not started and finish the rest")
    finally:
        release.set()
    wait_until(lambda: ("end", slow, 1, "second") in steps, message="the next process should get what was given back")
    with lock:
        of_slow = [step for step in steps if step[1] == slow]
    assert of_slow == [("start", slow, 0, "first"), ("end", slow, 0, "first"),
                       ("start", slow, 1, "second"), ("end", slow, 1, "second")]


def test_a_group_that_needs_no_order_has_competing_consumers_in_every_process(new_bus, channel, namespace):
    first, second = new_bus(), new_bus()
    got: dict[str, list[str]] = {"first": [], "second": []}
    both = threading.Event()

    def handler(name: str):
        def handle(event: Pinged) -> None:
            got[name].append(event.target_id)
            if got["first"] and got["second"]:
                both.set()
            assert both.wait(10), "the other process got nothing while this one was busy"

        return handle

    for name, bus in (("first", first), ("second", second)):
        bus.subscribe(Group("reads", concurrency=2), Pinged, handler(name))
        bus.start()
    for i in range(12):
        first.publish(Pinged(target_id=str(i)))
    wait_until(lambda: len(got["first"]) + len(got["second"]) == 12)
    assert got["first"] and got["second"]
    declared = channel.queue_declare(queue_name(namespace, "reads"), passive=True)
    assert declared.method.consumer_count == 2  # both consume at once: no single active consumer


def test_a_message_lands_in_the_partition_its_header_names_and_without_one_in_the_first(new_bus, namespace, channel):
    bus = new_bus()
    bus.subscribe(PARTS, Pinged, Recorder())
    bus.start()
    bus.close()  # the queues stay: look at where messages land
    channel.confirm_delivery()
    in_fifth = next(key for key in keys_in_distinct_partitions(8) if partition_of(key) == 5)
    event = Pinged(target_id="x")
    channel.basic_publish(exchange_name(namespace), event.routing_key, encode(event))
    channel.basic_publish(exchange_name(namespace), event.routing_key, encode(event),
                          pika.BasicProperties(headers=partition_headers(Keyed(key=in_fifth))))
    counts = [channel.queue_declare(partition_queue_name(namespace, "parts", k), passive=True).method.message_count
              for k in range(8)]
    assert counts == [1, 0, 0, 0, 0, 1, 0, 0]


class OverhearingClient(RpcClient):
    """An RPC client that also records everything that reaches its process's inbox."""

    def __init__(self, bus: RabbitMQEventBus):
        self.overheard = Recorder()
        super().__init__(bus, timeout_s=5.0)

    def receive(self, reply: Event) -> None:
        self.overheard(reply)
        super().receive(reply)


def test_replies_go_only_to_the_process_that_asked(new_bus):
    server = new_bus()

    def found(target_id: str) -> Target:
        return Target(target_id, "n", "http://x/", 60, 3, None, None, utcnow())

    serve(server, Group("server", concurrency=4), "targets", "get", found)
    server.start()
    clients = []
    for _ in range(2):
        bus = new_bus()
        client = OverhearingClient(bus)
        bus.start()
        clients.append(client)
    rpc_a, rpc_b = clients
    for i in range(5):
        assert rpc_a.call("targets", "get", target_id=f"a{i}").id == f"a{i}"
    assert rpc_b.call("targets", "get", target_id="b").id == "b"
    assert [e.value.id for e in rpc_a.overheard.events] == [f"a{i}" for i in range(5)]
    assert [e.value.id for e in rpc_b.overheard.events] == ["b"]


def test_the_inbox_is_an_exclusive_queue_reached_through_the_replies_exchange(new_bus, channel):
    bus = new_bus()
    inbox = Recorder()
    bus.subscribe_inbox(inbox)
    bus.start()
    assert bus.address.startswith(f"{bus.namespace}.inbox.")
    channel.basic_publish(replies_exchange_name(bus.namespace), bus.address, encode(Pinged(target_id="direct")))
    assert wait_for_count(inbox.targets, 1) == ["direct"]
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as raised:  # another connection may not consume it
        channel.basic_consume(bus.address, lambda *args: None)
    assert raised.value.reply_code == 405  # RESOURCE_LOCKED: it is the bus's connection's alone


def test_a_handler_longer_than_the_heartbeat_does_not_lose_the_connection(new_bus):
    bus = new_bus(heartbeat_s=1)
    done = Recorder()

    def slow(event: Pinged) -> None:
        if event.target_id == "long":
            time.sleep(3.5)  # well past two heartbeat intervals: the I/O thread answers them meanwhile
        done(event)

    bus.subscribe(Group("slow"), Pinged, slow)
    bus.start()
    bus.publish(Pinged(target_id="long"))
    wait_for_count(done.targets, 1)
    assert bus.health() == []
    bus.publish(Pinged(target_id="next"))
    assert wait_for_count(done.targets, 2) == ["long", "next"]  # acked once, not delivered again


def test_the_bus_reconnects_after_the_broker_drops_its_connection(new_bus, namespace):
    bus = new_bus()
    recorder = Recorder()
    bus.subscribe(Group("g"), Poked, recorder)
    bus.start()
    bus.publish(Poked(target_id="before"))
    wait_for_count(recorder.targets, 1)
    assert close_connections(namespace) == 1
    refused = 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # publishing during the outage fails fast; then it works again
        started = time.monotonic()
        try:
            bus.publish(Poked(target_id="after"))
            break
        except Unavailable:
            refused += 1
            assert time.monotonic() - started < 1.0
            time.sleep(0.02)
    assert wait_for_count(recorder.targets, 2)[-1] == "after"
    assert bus.health() == []


def test_an_unreachable_broker_makes_publish_fail_fast_and_health_say_why(new_bus):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket is closed
    bus = new_bus(url=f"amqp://guest:guest@127.0.0.1:{port}/%2F")
    bus.subscribe(Group("g"), Pinged, Recorder())
    started = time.monotonic()
    bus.start()
    assert time.monotonic() - started < 5.0
    (reason,) = bus.health()
    assert "broker unreachable" in reason
    started = time.monotonic()
    with pytest.raises(Unavailable):
        bus.publish(Pinged(target_id="x"))
    assert time.monotonic() - started < 1.0


def _get(channel, queue: str, ack: bool = True):
    method, properties, body = channel.basic_get(queue, auto_ack=ack)
    return (method, properties, body) if method is not None else None


# --------------------------------------------------------------------------- what requests and replies cost

def _queues(namespace: str) -> dict[str, dict]:
    """The broker's own view of the namespace's queues (durable, type), by name."""
    done = subprocess.run(["rabbitmqctl", "list_queues", "-q", "--formatter", "json", "name", "durable", "type"],
                          capture_output=True, text=True, timeout=60, check=True)
    return {q["name"]: q for q in json.loads(done.stdout) if q["name"].startswith(f"{namespace}.")}


def test_groups_that_take_only_calls_have_classic_non_durable_queues_and_event_groups_quorum_ones(new_bus, namespace):
    bus = new_bus()
    serve(bus, Group("reads", concurrency=4), "targets", "get", lambda target_id: None)
    serve(bus, PARTS, "targets", "change", lambda target_id: None)
    bus.subscribe(Group("events"), Pinged, Recorder())
    bus.start()
    assert sorted(bus.transient_groups()) == ["parts", "reads"]
    queues = _queues(namespace)
    for name in [queue_name(namespace, "reads"), *(partition_queue_name(namespace, "parts", k) for k in range(8))]:
        assert (queues[name]["durable"], queues[name]["type"]) == (False, "classic"), name
    assert (queues[queue_name(namespace, "events")]["durable"], queues[queue_name(namespace, "events")]["type"]) == (
        True, "quorum")
    assert queues[dead_letter_queue_name(namespace, "reads")]["durable"] is True  # what failed stays inspectable


def test_published_events_are_persistent_and_sent_replies_transient(new_bus, namespace, channel):
    bus = new_bus()
    bus.subscribe(Group("events", concurrency=2), Pinged, Recorder())
    bus.start()
    bus.close()  # the group's queue stays: look at what lands in it
    publisher = new_bus()
    publisher.start()
    publisher.publish(Pinged(target_id="event"))
    address = channel.queue_declare("", exclusive=True).method.queue  # an inbox of another process
    channel.queue_bind(address, replies_exchange_name(namespace), routing_key=address)  # as an inbox is bound
    publisher.send(address, CallSucceeded(correlation_id="c", value=None))
    _, event_properties, _ = wait_until(lambda: _get(channel, queue_name(namespace, "events")))
    _, reply_properties, _ = wait_until(lambda: _get(channel, address))
    assert event_properties.delivery_mode == pika.DeliveryMode.Persistent.value
    assert reply_properties.delivery_mode == pika.DeliveryMode.Transient.value


def test_a_call_whose_handler_always_fails_is_dead_lettered_after_max_attempts_counted_by_the_consumer(
        new_bus, namespace, channel):
    """A classic queue has no delivery limit: the bus counts the attempts itself."""
    bus = new_bus(max_attempts=3)
    attempts = Recorder()

    def always_fails(request: CallRequested) -> None:
        attempts(request)
        raise ValueError("never works")

    bus.subscribe(Group("calls", concurrency=2), CallRequested, always_fails, routing_key="rpc.svc.m")
    bus.start()
    request = CallRequested(service="svc", method="m")
    bus.publish(request)
    _, properties, body = wait_until(lambda: _get(channel, dead_letter_queue_name(namespace, "calls")))
    assert request.event_id.encode() in body
    assert properties.headers["x-first-death-reason"] == "rejected"
    assert len(attempts.events) == 3
    assert bus.dead_letters == 1


def test_an_inbox_handler_that_publishes_gets_its_event_on_a_worker(new_bus):
    """The inbox handler runs on the I/O thread, where a publish (which waits for a confirm) is refused;
    such a handler gets the event again on the inbox's worker, where it may publish."""
    bus = new_bus()
    handled = Recorder()
    bus.subscribe(Group("g"), Poked, handled)

    def forwards(event: Pinged) -> None:
        bus.publish(Poked(target_id=event.target_id))

    bus.subscribe_inbox(forwards)
    bus.start()
    bus.send(bus.address, Pinged(target_id="forwarded"))
    assert wait_for_count(handled.targets, 1) == ["forwarded"]


def test_a_call_made_while_the_broker_is_unreachable_is_refused_at_once_not_timed_out(new_bus):
    """The fast 503: a request the broker cannot take raises ``Unavailable``, never waits for its deadline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bus = new_bus(url=f"amqp://guest:guest@127.0.0.1:{port}/%2F")
    rpc = RpcClient(bus, timeout_s=120.0)  # a 504 would take two minutes
    bus.start()
    for method in ("get_target", "ingest_result"):
        with pytest.raises(Unavailable):
            rpc.call("monitor", method, key="t", target_id="t")


def test_a_call_made_while_the_connection_is_lost_is_refused_not_timed_out_and_then_answered(new_bus, namespace):
    server = new_bus()
    serve(server, PARTS, "targets", "change", lambda target_id: target_id)
    server.start()
    client_bus = new_bus(connection_name=f"{namespace}-client:test:1")
    rpc = RpcClient(client_bus, timeout_s=120.0)
    client_bus.start()
    assert rpc.call("targets", "change", key="a", target_id="a") == "a"
    assert close_connections(f"{namespace}-client") == 1
    answers = []
    while len(answers) < 2 or answers[-1] != "b":  # refused while reconnecting, never left waiting
        try:
            answers.append(rpc.call("targets", "change", key="b", target_id="b"))
        except Unavailable:
            answers.append("refused")
            time.sleep(0.02)
        if len(answers) > 2000:
            pytest.fail(f"not answered again after reconnecting: {answers[-5:]}")
    assert set(answers) <= {"refused", "b"}
