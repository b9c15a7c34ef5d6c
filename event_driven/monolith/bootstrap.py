"""The composition root of the event-driven app: the bus, the services' cores, the edge's backend.

:func:`bootstrap` builds a process from the settings: the bus from ``make_bus`` (by default this module's,
which knows only the in-process bus: ``EVENT_BUS=memory``; ``rabbitmq`` is not part of the monolith and
is refused with a one-line ``ConfigError``), the cores of ``services`` on ``DATABASE_URL``, and the HTTP
edge's backend. :func:`assemble` does the wiring that does not depend on the environment (tests call it
with in-memory stores); which handler subscribes where is ``handlers.SUBSCRIPTIONS``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared.config import ConfigError, Settings
from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.outbound import HttpProber, HttpWebhookSender
from shared.storage import SqlAlertingStore, SqlMonitorStore, SqlNotificationStore, make_engine

from .backend import EventBackend
from .bus import EventBus
from .handlers import SERVICES, subscribe_services
from .memory_bus import InMemoryEventBus
from .rpc import RpcClient

MakeBus = Callable[[Settings], EventBus]


def make_bus(settings: Settings) -> EventBus:
    """The bus named by ``settings.event_bus`` (not started)."""
    if settings.event_bus == "memory":
        return InMemoryEventBus()
    if settings.event_bus == "rabbitmq":
        raise ConfigError("EVENT_BUS=rabbitmq is not available in the event-driven monolith; use EVENT_BUS=memory")
    raise ConfigError(f"EVENT_BUS must be 'memory' or 'rabbitmq', got {settings.event_bus!r}")


@dataclass
class Application:
    """A started bus with the handlers of ``services`` subscribed, and the edge's backend if this process serves HTTP."""

    bus: EventBus
    services: list[str]
    backend: EventBackend | None = None

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop taking requests, finish the events in flight, stop the bus."""
        self.bus.close(timeout_s)


def bootstrap(
    settings: Settings,
    *,
    services: Iterable[str] = SERVICES,
    with_edge: bool = True,
    make_bus: MakeBus = make_bus,
) -> Application:
    """Start the handlers of ``services`` (and the HTTP edge's backend) on the bus ``make_bus`` gives.

    The services share one database (``settings.database_url``), each owning its own tables; a process
    with no service opens none.
    """
    services = tuple(services)
    unknown = sorted(set(services) - set(SERVICES))
    if unknown:
        raise ConfigError(f"unknown services {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    bus = make_bus(settings)
    engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous) if services else None
    allow = settings.outbound_allow  # the non-public networks probes and webhooks may reach
    return assemble(
        bus,
        monitor=MonitorCore(SqlMonitorStore(engine), HttpProber(allow=allow)) if "monitor" in services else None,
        alerting=AlertingCore(SqlAlertingStore(engine)) if "alerting" in services else None,
        notification=(NotificationCore(SqlNotificationStore(engine), HttpWebhookSender(allow=allow))
                      if "notification" in services else None),
        with_edge=with_edge,
        timeout_s=settings.call_timeout_s,
    )


def assemble(
    bus: EventBus,
    *,
    monitor: MonitorCore | None = None,
    alerting: AlertingCore | None = None,
    notification: NotificationCore | None = None,
    with_edge: bool = True,
    timeout_s: float = 5.0,
) -> Application:
    """Subscribe the given services' handlers (and the edge's RPC client on the inbox) on ``bus``, then start it.

    ``timeout_s`` is the deadline of the edge's calls.
    """
    services = subscribe_services(bus, monitor=monitor, alerting=alerting, notification=notification)
    backend = None
    if with_edge:
        pings = {name: core.ping for name, core in (("monitor", monitor), ("alerting", alerting),
                                                     ("notification", notification)) if core is not None}
        backend = EventBackend(RpcClient(bus, timeout_s=timeout_s), bus, pings, timeout_s)
    bus.start()
    return Application(bus, services, backend)
