"""Calls from the api to the service that owns the data, over RabbitMQ: a request on the service's calls queue,
the answer on RabbitMQ's direct reply-to (``amq.rabbitmq.reply-to``), matched by correlation id.

A call carries its deadline as the message's expiration: a call nobody took in time is dropped by the broker.
A service acknowledges a call when it takes it (at most once: a call lost with a dying service is a timeout,
which the client may retry; a result's idempotency key makes that retry safe). Errors cross as
``{"error": {"code", "message"}}`` and are raised again as the domain's errors.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from pika.spec import Basic, BasicProperties

from shared.domain import DeadlineExceeded, DomainError, NewResult, NewTarget, Unavailable, error_from_code
from shared.telemetry import propagation

from . import broker
from .codec import from_wire, to_wire
from .consumer import Handler

log = logging.getLogger(__name__)

REPLY_TO = "amq.rabbitmq.reply-to"


class RpcClient:
    """Calls on one connection per thread (pika's connections are not thread-safe), opened on first use and
    opened again after the broker dropped it."""

    def __init__(self, url: str, namespace: str):
        self._url = url
        self._namespace = namespace
        self._local = threading.local()

    def call(self, service: str, method: str, timeout_s: float, **args: Any) -> Any:
        """``method(**args)`` in ``service``; its JSON value. ``Unavailable`` when the broker cannot be reached,
        ``DeadlineExceeded`` when no answer came within ``timeout_s``, a service's domain error as itself."""
        request = json.dumps({"method": method, "args": args}).encode()
        correlation_id = uuid.uuid4().hex
        try:
            channel = self._publish(service, request, correlation_id, timeout_s)
        except AMQPError as error:
            self._drop()
            raise Unavailable(f"the broker is unavailable ({type(error).__name__})") from error
        deadline = time.monotonic() + timeout_s
        replies: dict[str, bytes] = self._local.replies
        try:
            while correlation_id not in replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeadlineExceeded(f"{service} did not answer {method} within {timeout_s:g} s")
                channel.connection.process_data_events(time_limit=min(left, 0.25))
        except AMQPError as error:
            self._drop()
            raise Unavailable(f"the broker connection was lost during a call to {service}") from error
        answer = json.loads(replies.pop(correlation_id))
        if "error" in answer:
            raise error_from_code(answer["error"]["code"], answer["error"]["message"])
        return answer["value"]

    def ping(self) -> None:
        """Raise when the broker cannot be reached."""
        self._channel().connection.process_data_events(time_limit=0)

    def _publish(self, service: str, request: bytes, correlation_id: str, timeout_s: float) -> BlockingChannel:
        properties = pika.BasicProperties(reply_to=REPLY_TO, correlation_id=correlation_id,
                                          expiration=str(max(1, int(timeout_s * 1000))), content_type="application/json",
                                          headers=propagation.inject(f"call {service}", None))
        for attempt in (1, 2):  # a connection lost under the publish: once more on a new one
            channel = self._channel()
            self._local.replies.clear()  # a thread makes one call at a time: what is there answers calls given up
            try:
                channel.basic_publish("", broker.calls_queue(self._namespace, service), request, properties)
                return channel
            except AMQPError:
                self._drop()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _channel(self) -> BlockingChannel:
        channel = getattr(self._local, "channel", None)
        if channel is not None and channel.is_open and channel.connection.is_open:
            try:  # notice a connection the broker closed while this thread was idle (heartbeats unanswered)
                channel.connection.process_data_events(time_limit=0)
                return channel
            except AMQPError:
                self._drop()
        connection = broker.connect(self._url, self._namespace, "calls")
        channel = connection.channel()
        broker.declare(channel, self._namespace)
        replies: dict[str, bytes] = {}
        channel.basic_consume(REPLY_TO, lambda _ch, _m, props, body: replies.__setitem__(props.correlation_id, body),
                              auto_ack=True)
        self._local.channel, self._local.replies = channel, replies
        return channel

    def _drop(self) -> None:
        channel = getattr(self._local, "channel", None)
        self._local.channel = None
        if channel is not None and channel.connection.is_open:
            try:
                channel.connection.close()
            except AMQPError:
                pass


_DECODE_NEW = {"create_target": NewTarget, "ingest_result": NewResult}


def answering(backend: object, methods: frozenset[str]) -> Handler:
    """A calls-queue handler that runs ``backend.<method>(**args)`` for the ``methods`` this service serves and
    publishes the answer to the caller."""

    def handle(channel: BlockingChannel, _method: Basic.Deliver, properties: BasicProperties, body: bytes) -> None:
        try:
            request = json.loads(body)
            method, args = request["method"], dict(request["args"])
            if method not in methods:
                raise DomainError(f"no method {method!r} here")
            if method in _DECODE_NEW:
                args["new"] = from_wire(_DECODE_NEW[method], args["new"])
            answer = {"value": to_wire(getattr(backend, method)(**args))}
        except DomainError as error:
            answer = {"error": {"code": error.code, "message": error.message}}
        except Exception as error:  # noqa: BLE001 - the caller gets a 500, the log the details
            log.exception("call failed")
            answer = {"error": {"code": "internal", "message": f"{type(error).__name__}"}}
        if properties.reply_to:
            channel.basic_publish("", properties.reply_to, json.dumps(answer).encode(),
                                  pika.BasicProperties(correlation_id=properties.correlation_id,
                                                       content_type="application/json"))

    return handle
