"""What crosses between the RabbitMQ bus's threads and its connection's I/O thread: a message to publish,
a message received, a queue to consume (see :mod:`.rabbitmq_connection`)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pika.channel import Channel
from pika.spec import BasicProperties


@dataclass
class Publication:
    """A message handed to the I/O thread; ``done`` is set when the broker confirmed it or it failed."""

    exchange: str
    routing_key: str
    body: bytes
    properties: BasicProperties
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None
    on_failed: Callable[[], None] | None = None
    """Called (once, on whichever thread saw it) if the message was never sent or the broker refused it."""

    def fail(self, reason: str) -> None:
        self.error = reason
        self.done.set()
        if self.on_failed is not None:
            self.on_failed()

    @property
    def confirmed(self) -> bool:
        return self.done.is_set() and self.error is None


@dataclass
class Delivery:
    """A message received on connection number ``generation``, to be settled on its ``channel``."""

    generation: int
    channel: Channel | None
    tag: int
    properties: BasicProperties
    body: bytes


@dataclass(frozen=True)
class Consumer:
    """A queue to consume: ``on_message`` runs on the I/O thread, so it must not block (it hands the
    delivery over, or runs the inbox's handler, which may not block either); ``on_consuming``, if any,
    too, each time the broker registered the consumer (after a (re)connection or a restart)."""

    queue: str
    prefetch: int
    auto_ack: bool
    on_message: Callable[[Delivery], None]
    on_consuming: Callable[[], None] | None = None
