"""The composition root of the split app: the monolith's ``bootstrap`` with a bus factory that knows RabbitMQ.

``EVENT_BUS=rabbitmq`` is the broker at ``RABBITMQ_URL``, its exchange and queues prefixed with
``BUS_NAMESPACE``; ``memory`` (and any error) is the monolith's choice.
"""
from __future__ import annotations

from collections.abc import Iterable

from event_driven.monolith import bootstrap as monolith
from event_driven.monolith.bootstrap import Application
from event_driven.monolith.bus import EventBus
from event_driven.monolith.handlers import SERVICES
from shared.config import Settings

from .rabbitmq_bus import RabbitMQEventBus


def make_bus(settings: Settings) -> EventBus:
    """The bus named by ``settings.event_bus`` (not started)."""
    if settings.event_bus == "rabbitmq":
        return RabbitMQEventBus(settings.rabbitmq_url, settings.bus_namespace)
    return monolith.make_bus(settings)


def bootstrap(settings: Settings, *, services: Iterable[str] = SERVICES, with_edge: bool = True) -> Application:
    """The monolith's :func:`~event_driven.monolith.bootstrap.bootstrap` on this module's bus."""
    return monolith.bootstrap(settings, services=services, with_edge=with_edge, make_bus=make_bus)
