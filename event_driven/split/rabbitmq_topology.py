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
- ``NS.inbox.INSTANCE``: this process's inbox (``bus.address``), a classic exclusive auto-delete queue
  of its connection, bound to nothing: ``send`` reaches it through the default exchange, with the queue
  name as routing key. Its name stays the same across reconnections, so a late message still finds it,
  and it disappears with the process.

Why quorum queues: the broker counts deliveries (``x-delivery-count``) and enforces the limit itself,
also for a message that crashes its consumer (a retry header with republish could not count those),
a returned message goes back to the head of the queue, so a retry keeps the order, and the message is
not copied or moved: no duplicate or reordering from a republish. The cost is a Raft log per queue.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import pika
from pika.channel import Channel

from event_driven.monolith.bus import Group

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


def inbox_name(namespace: str, instance: str) -> str:
    return f"{namespace}.inbox.{instance}"


def delete_topology(url: str, namespace: str, groups: Iterable[str]) -> None:
    """Delete the exchanges and the groups' queues (and dead-letter queues) of ``namespace``.

    For tests and tearing down an environment; inboxes go away with their connection.
    """
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for group in groups:
            channel.queue_delete(queue_name(namespace, group))
            channel.queue_delete(dead_letter_queue_name(namespace, group))
        channel.exchange_delete(exchange_name(namespace))
        channel.exchange_delete(dead_letter_exchange_name(namespace))
    finally:
        connection.close()


def queue_arguments(namespace: str, group: Group, max_attempts: int) -> dict[str, object]:
    """The arguments of a group's quorum queue: delivery limit, dead-lettering, single active consumer."""
    arguments: dict[str, object] = {
        "x-queue-type": "quorum",
        "x-delivery-limit": max_attempts,
        "x-dead-letter-exchange": dead_letter_exchange_name(namespace),
        "x-dead-letter-routing-key": group.name,
    }
    if group.concurrency == 1:
        arguments["x-single-active-consumer"] = True
    return arguments


def declarations(
    channel: Channel,
    namespace: str,
    groups: Sequence[tuple[Group, Sequence[str]]],
    inbox: str | None,
    max_attempts: int,
) -> list[Step]:
    """The steps that declare the exchanges, each group's queues bound by its binding keys, and the inbox."""

    exchange, dead_letters = exchange_name(namespace), dead_letter_exchange_name(namespace)
    steps: list[Step] = [
        lambda done: channel.exchange_declare(exchange, "topic", durable=True, callback=lambda _f: done()),
        lambda done: channel.exchange_declare(dead_letters, "direct", durable=True, callback=lambda _f: done()),
    ]
    for group, bindings in groups:
        name, dead = queue_name(namespace, group.name), dead_letter_queue_name(namespace, group.name)
        arguments = queue_arguments(namespace, group, max_attempts)
        steps += [
            lambda done, dead=dead: channel.queue_declare(dead, durable=True, callback=lambda _f: done()),
            lambda done, dead=dead, key=group.name: channel.queue_bind(
                dead, dead_letters, routing_key=key, callback=lambda _f: done()),
            lambda done, name=name, arguments=arguments: channel.queue_declare(
                name, durable=True, arguments=arguments, callback=lambda _f: done()),
        ]
        steps += [
            lambda done, name=name, key=key: channel.queue_bind(name, exchange, routing_key=key, callback=lambda _f: done())
            for key in bindings
        ]
    if inbox is not None:
        steps.append(lambda done: channel.queue_declare(inbox, exclusive=True, auto_delete=True,
                                                        callback=lambda _f: done()))
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
