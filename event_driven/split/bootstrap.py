"""The composition root of the event-driven app: the bus chosen from ``EVENT_BUS``, the services' cores.

This is the one module that knows which bus implementation exists. ``EVENT_BUS=memory`` is the
in-process bus; ``rabbitmq`` is the broker at ``RABBITMQ_URL``, its exchange and queues prefixed with
``BUS_NAMESPACE``.
"""
from __future__ import annotations

from collections.abc import Iterable

from shared.config import ConfigError, Settings
from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.outbound import HttpProber, HttpWebhookSender
from shared.storage import SqlAlertingStore, SqlMonitorStore, SqlNotificationStore, make_engine

from .bus import EventBus
from .handlers import SERVICES
from .memory_bus import InMemoryEventBus
from .rabbitmq_bus import RabbitMQEventBus
from .wiring import Application, assemble


def make_bus(settings: Settings) -> EventBus:
    """The bus named by ``settings.event_bus`` (not started)."""
    if settings.event_bus == "memory":
        return InMemoryEventBus()
    if settings.event_bus == "rabbitmq":
        return RabbitMQEventBus(settings.rabbitmq_url, settings.bus_namespace)
    raise ConfigError(f"EVENT_BUS must be 'memory' or 'rabbitmq', got {settings.event_bus!r}")


def build(settings: Settings, services: Iterable[str] = SERVICES, with_edge: bool = True) -> Application:
    """Start the handlers of ``services`` (and the HTTP edge's backend) on the configured bus.

    The services share one database (``settings.database_url``), each owning its own tables.
    """
    services = tuple(services)
    unknown = sorted(set(services) - set(SERVICES))
    if unknown:
        raise ConfigError(f"unknown services {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    bus = make_bus(settings)
    engine = make_engine(settings.database_url) if services else None
    return assemble(
        bus,
        monitor=MonitorCore(SqlMonitorStore(engine), HttpProber()) if "monitor" in services else None,
        alerting=AlertingCore(SqlAlertingStore(engine)) if "alerting" in services else None,
        notification=NotificationCore(SqlNotificationStore(engine), HttpWebhookSender()) if "notification" in services else None,
        with_edge=with_edge,
        rpc_timeout_s=settings.rpc_timeout_s,
    )
