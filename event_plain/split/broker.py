"""The app's few RabbitMQ objects and the connection to them (pika).

Per namespace (``BUS_NAMESPACE``, one per run): a durable topic exchange ``<ns>.events``; a durable queue per
consuming service, ``<ns>.alerting.events`` and ``<ns>.notification.events``, bound to the routing keys that
service handles; a durable queue of calls per service, ``<ns>.<service>.calls``, answered through RabbitMQ's
direct reply-to; and ``<ns>.dead-letters`` for messages a consumer could not handle. Every process declares all of
them when it connects (declaring is idempotent), so no message is routed before its queue exists, whatever
order the processes start in.
"""
from __future__ import annotations

import logging

import pika
from pika.adapters.blocking_connection import BlockingChannel

SERVICES = ("monitor", "alerting", "notification")
BINDINGS = {
    "alerting": ("target.created", "target.deleted", "result.recorded"),
    "notification": ("target.created", "target.deleted", "alert.opened", "alert.resolved"),
}
"""The routing keys (events) each consuming service's queue receives."""


def exchange(namespace: str) -> str:
    return f"{namespace}.events"


def events_queue(namespace: str, service: str) -> str:
    return f"{namespace}.{service}.events"


def calls_queue(namespace: str, service: str) -> str:
    return f"{namespace}.{service}.calls"


def dead_letters(namespace: str) -> str:
    return f"{namespace}.dead-letters"


def connect(url: str, namespace: str, role: str) -> pika.BlockingConnection:
    """A new blocking connection (one per thread: pika's connections are not thread-safe), named
    ``<namespace>:<role>`` on the broker. pika's own INFO lines (every socket step) are not logged; its warnings are."""
    logging.getLogger("pika").setLevel(logging.WARNING)
    parameters = pika.URLParameters(url)
    parameters.client_properties = {"connection_name": f"{namespace}:{role}"}
    parameters.connection_attempts = 1
    parameters.socket_timeout = 5
    parameters.blocked_connection_timeout = 10
    return pika.BlockingConnection(parameters)


def declare(channel: BlockingChannel, namespace: str) -> None:
    """Declare every exchange, queue and binding of ``namespace`` (idempotent)."""
    channel.exchange_declare(exchange(namespace), exchange_type="topic", durable=True)
    channel.queue_declare(dead_letters(namespace), durable=True)
    for service in SERVICES:
        channel.queue_declare(calls_queue(namespace, service), durable=True)
    for service, keys in BINDINGS.items():
        queue = events_queue(namespace, service)
        channel.queue_declare(queue, durable=True)
        for key in keys:
            channel.queue_bind(queue, exchange(namespace), routing_key=key)


def delete(url: str, namespace: str) -> None:
    """Delete every queue and the exchange of ``namespace`` (the end of a throwaway run; messages are lost)."""
    connection = connect(url, namespace, "teardown")
    try:
        channel = connection.channel()
        queues = [dead_letters(namespace), *(calls_queue(namespace, s) for s in SERVICES),
                  *(events_queue(namespace, s) for s in BINDINGS)]
        for queue in queues:
            channel.queue_delete(queue)
        channel.exchange_delete(exchange(namespace))
    finally:
        connection.close()
