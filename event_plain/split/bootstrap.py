"""The composition roots of the service processes: each service's handlers on its own database, fed by the
broker, answering the api's calls, publishing through its outbox. Wiring only."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties
from sqlalchemy import Engine

from event_plain.monolith import alerting, monitor, notification
from event_plain.monolith.backend import PlainEventBackend
from event_plain.monolith.messagebus import EventHandler, MessageBus
from event_plain.monolith.messages import (
    AlertOpened,
    AlertResolved,
    CreateTarget,
    DeleteTarget,
    Event,
    RecordResult,
    ResultRecorded,
)
from event_plain.monolith.unit_of_work import UnitOfWork
from event_plain.monolith.webhooks import WebhookDeliveries
from shared.config import Settings
from shared.domain import utcnow
from shared.outbound import HttpProber, HttpWebhookSender
from shared.storage.database import create_tables, make_engine

from . import broker, handlers
from .codec import decode_event
from .consumer import Consumer, Handler
from .handlers import Store
from .messages import AlertChanged, Receive, TargetCreated, TargetDeleted
from .outbox import Relay
from .rpc import answering
from .tables import SCHEMAS

CALL_WORKERS = 8
"""Calls a service process answers at once (competing consumers of its calls queue)."""
METHODS = {
    "monitor": frozenset({"create_target", "list_targets", "get_target", "delete_target", "ingest_result",
                          "list_results", "check_target"}),
    "alerting": frozenset({"list_alerts"}),
    "notification": frozenset({"list_notifications"}),
}


@dataclass
class Service:
    """One service process's moving parts, started and stopped together."""

    consumers: list[Consumer]
    relay: Relay | None = None
    deliveries: WebhookDeliveries | None = None

    def start(self) -> None:
        for part in (self.relay, self.deliveries, *self.consumers):
            if part is not None:
                part.start()

    def close(self, timeout_s: float = 5.0) -> None:
        for consumer in self.consumers:
            consumer.stop(timeout_s)
        if self.relay is not None:
            self.relay.stop(timeout_s)
        if self.deliveries is not None:
            self.deliveries.close()

    def health(self) -> list[str]:
        """Why the process cannot serve now (a queue not consumed, the outbox not connected); empty when it can."""
        reasons = [f"not consuming {index}" for index, consumer in enumerate(self.consumers)
                   if not consumer.consuming.is_set()]
        if self.relay is not None and not self.relay.connected.is_set():
            reasons.append("the outbox relay is not connected")
        return reasons


def receiving(bus: MessageBus) -> Handler:
    """An events-queue handler: each message as ``Receive`` on the service's message bus (one transaction)."""

    def handle(_channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties, body: bytes) -> None:
        event = decode_event(method.routing_key, json.loads(body))
        bus.handle(Receive(properties.message_id or "", event))

    return handle


def service_bus(name: str, engine: Engine, store: Store, wake: Callable[[str], None]) -> MessageBus:
    """The message bus of service ``name``: the monolith's handlers of what it owns, the handlers of the copies it
    keeps, and ``store`` (the outbox) for what other services must hear; ``wake`` sends a target's webhooks."""
    receive = partial(handlers.receive, clock=utcnow)
    copies: dict[type[Event], list[EventHandler]] = {TargetCreated: [handlers.copy_target],
                                                     TargetDeleted: [handlers.drop_target]}
    if name == "monitor":
        return MessageBus(engine, commands={
            CreateTarget: partial(handlers.create_target, clock=utcnow, store=store),
            DeleteTarget: partial(handlers.delete_target, store=store),
            RecordResult: partial(monitor.record_result, clock=utcnow),
        }, events={ResultRecorded: [store]})
    if name == "alerting":
        announce = partial(handlers.announce_alert, store=store)
        return MessageBus(engine, commands={Receive: receive}, events={
            **copies, ResultRecorded: [partial(alerting.on_result_recorded, clock=utcnow)],
            AlertOpened: [announce], AlertResolved: [announce],
        })
    notify = partial(notification.on_alert_changed, clock=utcnow, wake=wake)
    return MessageBus(engine, commands={Receive: receive}, events={
        **copies, AlertChanged: [handlers.copy_alert], AlertOpened: [notify], AlertResolved: [notify],
    })


def bootstrap(settings: Settings, name: str) -> Service:
    """The service ``name`` (monitor, alerting or notification), not started."""
    engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    create_tables(engine, SCHEMAS[name])
    url, namespace, allow = settings.rabbitmq_url, settings.bus_namespace, settings.outbound_allow
    relay = Relay(engine, url, namespace) if name in ("monitor", "alerting") else None
    deliveries = WebhookDeliveries(engine, HttpWebhookSender(allow=allow)) if name == "notification" else None
    bus = service_bus(name, engine, relay.store if relay else _publishes_nothing,
                      deliveries.wake if deliveries else _sends_no_webhook)
    backend = PlainEventBackend(bus, engine, HttpProber(allow=allow))
    consumers = [Consumer(url, namespace, broker.calls_queue(namespace, name), answering(backend, METHODS[name]),
                          prefetch=1, ack_first=True) for _ in range(CALL_WORKERS)]
    if name in broker.BINDINGS:
        consumers.append(Consumer(url, namespace, broker.events_queue(namespace, name), receiving(bus)))
    return Service(consumers, relay, deliveries)


def _publishes_nothing(event: Event, _uow: UnitOfWork) -> None:
    raise TypeError(f"this service publishes no {type(event).__name__}")


def _sends_no_webhook(target_id: str) -> None:
    raise TypeError("this service sends no webhook")
