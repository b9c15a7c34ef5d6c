"""A queue consumed on a thread of its own: manual acks, in delivery order, reconnecting when the broker goes.

A message is acknowledged after its handler returned (the handler commits its effect and records the message as
handled in one transaction, so a redelivery changes nothing). A handler that raises closes the channel: the
message and every later one already delivered go back to the queue in their order and come again after a pause
(an error is never allowed to reorder one target's events). A message that failed ``MAX_ATTEMPTS`` times in a row
is moved to the namespace's dead-letter queue and acknowledged, so that one bad message does not stop the queue.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from pika.spec import Basic, BasicProperties

from shared.telemetry import propagation

from . import broker

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_PAUSE_S = 1.0

Handler = Callable[[BlockingChannel, Basic.Deliver, BasicProperties, bytes], None]


class _HandlerFailed(Exception):
    """A handler raised: the channel is dropped so that the unacknowledged messages are redelivered in order."""


class Consumer:
    def __init__(self, url: str, namespace: str, queue: str, handle: Handler, *, prefetch: int = 20,
                 ack_first: bool = False):
        """``ack_first``: acknowledge on receipt, before handling (at most once: for calls, whose caller retries)."""
        self._url = url
        self._namespace = namespace
        self._queue = queue
        self._handle = handle
        self._prefetch = prefetch
        self._ack_first = ack_first
        self._failures: dict[str, int] = {}
        self._stopped = threading.Event()
        self.consuming = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"consumer {queue}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop after the message in hand; unacknowledged ones go back to the queue."""
        self._stopped.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopped.is_set():
            connection = None
            try:
                connection = broker.connect(self._url, self._namespace, f"consumer {self._queue}")
                channel = connection.channel()
                broker.declare(channel, self._namespace)
                channel.basic_qos(prefetch_count=self._prefetch)
                channel.basic_consume(self._queue, self._on_message)
                self.consuming.set()
                while not self._stopped.is_set():
                    connection.process_data_events(time_limit=0.5)
            except _HandlerFailed:
                pass  # logged where it happened
            except AMQPError as error:
                log.warning("consuming %s: %s: %s; reconnecting", self._queue, type(error).__name__, error)
            finally:
                self.consuming.clear()
                if connection is not None and connection.is_open:
                    try:
                        connection.close()
                    except AMQPError:
                        pass
            self._stopped.wait(RETRY_PAUSE_S)

    def _on_message(self, channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties,
                    body: bytes) -> None:
        with propagation.handling(propagation.extract(properties.headers), method.routing_key or self._queue):
            self._take(channel, method, properties, body)

    def _take(self, channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties, body: bytes) -> None:
        if self._ack_first:
            channel.basic_ack(method.delivery_tag)
            self._handle(channel, method, properties, body)
            return
        key = properties.message_id or f"tag {method.delivery_tag}"
        try:
            self._handle(channel, method, properties, body)
        except Exception as error:
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            if failures < MAX_ATTEMPTS:
                log.exception("message %s (%s) failed (attempt %d); redelivering", key, method.routing_key, failures)
                raise _HandlerFailed from error
            log.error("message %s (%s) failed %d times: moved to %s", key, method.routing_key, failures,
                      broker.dead_letters(self._namespace))
            channel.basic_publish("", broker.dead_letters(self._namespace), body,
                                  pika.BasicProperties(message_id=properties.message_id, delivery_mode=2,
                                                       headers={"routing_key": method.routing_key}))
        self._failures.pop(key, None)
        channel.basic_ack(method.delivery_tag)
