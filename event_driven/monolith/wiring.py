"""Wiring that does not depend on the environment: which handlers subscribe where, and the edge's RPC.

``bootstrap`` builds the cores and the bus from the settings and calls :func:`assemble`; tests call it
with in-memory stores. A process may run any subset of the services, with or without the HTTP edge.
"""
from __future__ import annotations

from dataclasses import dataclass

from shared.core import AlertingCore, MonitorCore, NotificationCore

from .bus import EventBus
from .edge import EventBackend
from .events import reply_types
from .handlers import subscribe_services
from .rpc import EventRPC


@dataclass
class Application:
    """A started bus with the handlers of ``services`` subscribed, and the edge's backend if this process serves HTTP."""

    bus: EventBus
    services: list[str]
    backend: EventBackend | None = None

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop taking requests, finish the events in flight, stop the bus."""
        self.bus.close(timeout_s)


def assemble(
    bus: EventBus,
    *,
    monitor: MonitorCore | None = None,
    alerting: AlertingCore | None = None,
    notification: NotificationCore | None = None,
    with_edge: bool = True,
    rpc_timeout_s: float = 5.0,
) -> Application:
    """Subscribe the given services' handlers (and the edge's reply listener) on ``bus``, then start it."""
    services = subscribe_services(bus, monitor=monitor, alerting=alerting, notification=notification)
    backend = None
    if with_edge:
        rpc = EventRPC(bus, timeout_s=rpc_timeout_s)
        rpc.listen(reply_types())
        pings = {name: core.ping for name, core in (("monitor", monitor), ("alerting", alerting),
                                                     ("notification", notification)) if core is not None}
        backend = EventBackend(rpc, bus, pings, rpc_timeout_s)
    bus.start()
    return Application(bus, services, backend)
