"""What the RabbitMQ bus declares on the broker, and the names it gives it.

Every name is prefixed with the namespace (``BUS_NAMESPACE``); each process declares what its groups need:
- ``NS.events``: one durable topic exchange; an event is published with its routing key (by default its
  wire name; ``rpc.<service>.<method>`` for a call);
- ``NS.GROUP``: one durable **quorum** queue per group, bound by the group's binding keys.
  ``x-delivery-limit`` bounds redeliveries and ``x-dead-letter-exchange`` sends a message that is given
  up to ``NS.dead-letter`` (direct), which routes it to ``NS.GROUP.dead-letter`` (a durable classic
  queue, one per group, so an operator can inspect or replay a service's failures); a group with
  ``concurrency=1`` has ``x-single-active-consumer``: one consumer at a time over all processes,
  prefetch 1, so its events are handled one at a time in queue order (per-target order of results in
  alerting);
- a *partitioned* group (per-key order, several processes sharing the work) has instead of ``NS.GROUP``:
  ``NS.GROUP.partitions``, a headers exchange bound to ``NS.events`` by the group's binding keys, and
  :data:`~event_driven.monolith.bus.PARTITIONS` quorum queues ``NS.GROUP.p0`` ... ``NS.GROUP.p7``, each
  bound to it by ``partition = K`` and with a single active consumer (and the same delivery limit and
  dead letters). A *keyed* group (``in_flight`` N > 1) has the same queues and arguments: only its
  consumers differ, with prefetch N instead of 1 and ordering what they hold by key
  (:mod:`.rabbitmq_consumer`), so a group becomes keyed (or stops being) in place. The publisher puts
  ``partition_of(event.partition_key)`` in the message's ``partition`` header
  (:func:`partition_headers`), so each message of the group lands in exactly one partition
  queue; a message without that header (published by something else than the bus) goes through the
  exchange's alternate exchange ``NS.GROUP.unkeyed`` (fanout) to ``NS.GROUP.p0``, never nowhere. Every
  process that subscribes the group consumes every partition: the broker makes one of them active per
  partition and, when it dies, hands the partition to the next. ``NS.GROUP.members`` (a classic queue
  nobody publishes to) has one consumer per such process: its consumer count is how many share the
  partitions (see :mod:`.rabbitmq_partitions`);
- ``NS.replies``: one durable direct exchange for what ``send`` delivers to an inbox (replies), routed by the
  inbox's name; every process declares it (a service replies through it, the api binds its inbox to it);
- ``NS.inbox.INSTANCE``: this process's inbox (``bus.address``), a classic exclusive auto-delete queue
  of its connection, bound to ``NS.replies`` by its own name: ``send`` reaches it through that exchange, with
  the queue name as routing key. Not through the default exchange, which would route to any queue by name: a
  broker user that may write to ``NS.replies`` reaches the inboxes and nothing else
  (:mod:`.rabbitmq_permissions`). Its name stays the same across reconnections, so a late message still
  finds it, and it disappears with the process.

- a *transient* group, one that takes only calls (every subscription a ``CallRequested``: the services'
  read groups and the monitor's writes), has **classic, non-durable** queues instead (the same names,
  bindings, partitions, dead letters and single active consumer): nothing they hold is written to disk
  or replicated, so a request costs no fsync on its way in nor before its delivery. What that gives up
  is safe to give up: a request is not yet accepted, and lives no longer than its requester waits (its
  deadline), so a request lost with the broker is a call that times out (504), which a client handles
  like any other timeout (a 504 says nothing about the outcome: retry, with the same idempotency key for
  a write). What the call *does* is durable where it must be: the service commits it, and the events it
  publishes (``CheckCompleted``) go to quorum queues with a confirm before it replies. Per-key order
  holds the same way (a single active consumer per partition, prefetch 1, an unacked request returns to
  its place in the queue). The delivery limit does not exist on a classic queue: the consumers count the
  attempts, and a request that kills its consumer every time stops with its deadline (the responder
  drops a request whose requester stopped waiting before running it). A non-durable queue outlives its
  consumers (the processes of the group share it) and disappears only with the broker; the next
  connection declares it again. A namespace cannot switch a group between the two kinds in place (the
  broker refuses to redeclare a queue with other arguments): delete the namespace first.

Why quorum queues: the broker counts deliveries (``x-delivery-count``) and enforces the limit itself,
also for a message that crashes its consumer (a retry header with republish could not count those),
a returned message goes back to the head of the queue, so a retry keeps the order, and the message is
not copied or moved: no duplicate or reordering from a republish. The cost is a Raft log per queue.

Why the publisher computes the partition, with a headers exchange, rather than the consistent-hash
exchange plugin or a ``.pK`` routing-key suffix: nothing to enable on the broker (compose, k8s and CI run a
stock RabbitMQ); the lane of a key is exactly ``stable hash mod P``, the same function as the in-memory
bus's, so tests can aim at a partition, and every partition gets an equal share of the keys (a hash ring
with a few queues is uneven); routing keys and topic bindings keep their meaning (a suffix would change
what ``check.completed`` or ``rpc.svc.*`` match for the groups that are not partitioned). What it costs:
P is fixed for a namespace (changing it moves keys between partitions, so drain the queues first), the
same in every process.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

import pika
from pika.channel import Channel

from event_driven.monolith.bus import PARTITIONS, Group, partition_of
from event_driven.monolith.events import Event

Step = Callable[[Callable[[], None]], None]
"""One declaration: it calls its argument once the broker answered."""


def exchange_name(namespace: str) -> str:
    return f"{namespace}.events"


def dead_letter_exchange_name(namespace: str) -> str:
    return f"{namespace}.dead-letter"


def queue_name(namespace: str, group: str) -> str:
    return f"{namespace}.{group}"


def dead_letter_queue_name(namespace: str, group: str) -> str:
    return f"{namespace}.{group}.dead-letter"


def replies_exchange_name(namespace: str) -> str:
    return f"{namespace}.replies"


def inbox_name(namespace: str, instance: str) -> str:
    return f"{namespace}.inbox.{instance}"


def partition_exchange_name(namespace: str, group: str) -> str:
    return f"{namespace}.{group}.partitions"


def unkeyed_exchange_name(namespace: str, group: str) -> str:
    return f"{namespace}.{group}.unkeyed"


def partition_queue_name(namespace: str, group: str, partition: int) -> str:
    return f"{namespace}.{group}.p{partition}"


def members_queue_name(namespace: str, group: str) -> str:
    return f"{namespace}.{group}.members"


def group_queues(namespace: str, group: Group) -> list[str]:
    """The queues a group's consumers take messages from: its queue, or its partitions' in order."""
    if group.partitioned:
        return [partition_queue_name(namespace, group.name, k) for k in range(group.partitions)]
    return [queue_name(namespace, group.name)]


PARTITION_HEADER = "partition"
"""The message header a partitioned group's exchange routes by (not ``x-`` prefixed: a headers exchange
ignores those when matching)."""


def partition_headers(event: Event) -> dict[str, str]:
    """The headers that route ``event`` to its partition in every partitioned group (set on every publication)."""
    return {PARTITION_HEADER: str(partition_of(event.partition_key))}


def delete_topology(url: str, namespace: str, groups: Iterable[str]) -> None:
    """Delete the exchanges and the groups' queues (and dead-letter queues) of ``namespace``.

    For tests and tearing down an environment; inboxes go away with their connection.
    """
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for group in groups:  # a group may have been either kind: delete both kinds' (deleting what is not there is fine)
            for name in (queue_name(namespace, group), dead_letter_queue_name(namespace, group),
                         members_queue_name(namespace, group),
                         *(partition_queue_name(namespace, group, k) for k in range(PARTITIONS))):
                channel.queue_delete(name)
            channel.exchange_delete(partition_exchange_name(namespace, group))
            channel.exchange_delete(unkeyed_exchange_name(namespace, group))
        channel.exchange_delete(exchange_name(namespace))
        channel.exchange_delete(dead_letter_exchange_name(namespace))
        channel.exchange_delete(replies_exchange_name(namespace))
    finally:
        connection.close()


def queue_arguments(namespace: str, group: Group, max_attempts: int, transient: bool = False) -> dict[str, object]:
    """The arguments of a group's quorum queue (or of each of its partitions): delivery limit,
    dead-lettering, single active consumer when the group (or partition) keeps order (a keyed group's
    partitions too: one process per partition, which orders by key what it holds). A ``transient``
    group's queue is classic instead (declared not durable), with the same dead-lettering; a classic
    queue has no delivery limit, so its consumers count the attempts (see :mod:`.rabbitmq_consumer`)."""
    arguments: dict[str, object] = {
        "x-queue-type": "classic" if transient else "quorum",
        "x-dead-letter-exchange": dead_letter_exchange_name(namespace),
        "x-dead-letter-routing-key": group.name,
    }
    if not transient:
        arguments["x-delivery-limit"] = max_attempts
    if group.partitioned or group.concurrency == 1:
        arguments["x-single-active-consumer"] = True
    return arguments


def declarations(
    channel: Channel,
    namespace: str,
    groups: Sequence[tuple[Group, Sequence[str]]],
    inbox: str | None,
    max_attempts: int,
    transient: Collection[str] = (),
) -> list[Step]:
    """The steps that declare the exchanges, each group's queues bound by its binding keys, and the inbox.

    The groups named in ``transient`` get classic, non-durable queues: see the module. The dead-letter exchange is
    declared by a process with groups only (one without, the api, has no permission on it)."""

    exchange, dead_letters = exchange_name(namespace), dead_letter_exchange_name(namespace)
    replies = replies_exchange_name(namespace)
    steps: list[Step] = [
        lambda done: channel.exchange_declare(exchange, "topic", durable=True, callback=lambda _f: done()),
        lambda done: channel.exchange_declare(replies, "direct", durable=True, callback=lambda _f: done()),
    ]
    if groups:
        steps.append(lambda done: channel.exchange_declare(dead_letters, "direct", durable=True,
                                                           callback=lambda _f: done()))
    for group, bindings in groups:
        dead = dead_letter_queue_name(namespace, group.name)
        durable = group.name not in transient
        arguments = queue_arguments(namespace, group, max_attempts, transient=not durable)
        steps += [
            lambda done, dead=dead: channel.queue_declare(dead, durable=True, callback=lambda _f: done()),
            lambda done, dead=dead, key=group.name: channel.queue_bind(
                dead, dead_letters, routing_key=key, callback=lambda _f: done()),
        ]
        steps += [
            lambda done, name=name, arguments=arguments, durable=durable: channel.queue_declare(
                name, durable=durable, arguments=arguments, callback=lambda _f: done())
            for name in group_queues(namespace, group)
        ]
        if group.partitioned:
            steps += _partitions(channel, namespace, group, bindings)
        else:
            name = queue_name(namespace, group.name)
            steps += [
                lambda done, name=name, key=key: channel.queue_bind(name, exchange, routing_key=key,
                                                                    callback=lambda _f: done())
                for key in bindings
            ]
    if inbox is not None:
        steps += [
            lambda done: channel.queue_declare(inbox, exclusive=True, auto_delete=True, callback=lambda _f: done()),
            lambda done: channel.queue_bind(inbox, replies, routing_key=inbox, callback=lambda _f: done()),
        ]
    return steps


def _partitions(channel: Channel, namespace: str, group: Group, bindings: Sequence[str]) -> list[Step]:
    """The exchanges that route a partitioned group's messages to its partition queues, and its members queue."""
    exchange, unkeyed = exchange_name(namespace), unkeyed_exchange_name(namespace, group.name)
    partitions = partition_exchange_name(namespace, group.name)
    members = members_queue_name(namespace, group.name)
    steps: list[Step] = [
        lambda done: channel.exchange_declare(unkeyed, "fanout", durable=True, callback=lambda _f: done()),
        lambda done: channel.exchange_declare(partitions, "headers", durable=True,
                                              arguments={"alternate-exchange": unkeyed}, callback=lambda _f: done()),
        lambda done: channel.queue_bind(partition_queue_name(namespace, group.name, 0), unkeyed,
                                        callback=lambda _f: done()),
        lambda done: channel.queue_declare(members, durable=True, callback=lambda _f: done()),
    ]
    steps += [
        lambda done, k=k: channel.queue_bind(partition_queue_name(namespace, group.name, k), partitions,
                                             arguments={"x-match": "all", PARTITION_HEADER: str(k)},
                                             callback=lambda _f: done())
        for k in range(group.partitions)
    ]
    steps += [
        lambda done, key=key: channel.exchange_bind(partitions, exchange, routing_key=key, callback=lambda _f: done())
        for key in bindings
    ]
    return steps


def chain(steps: list[Step], finished: Callable[[], None], alive: Callable[[], bool]) -> None:
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
