"""The composition root of the direct-calls app split into services: wiring only, as in the monolith.

The api process gets a client for each of the three services; each service process gets its own
store on its own database (``DATABASE_URL``) and a client for the service it calls. ``TRANSPORT``
(grpc or http) picks the kind of client; ``MONITOR_ADDR``, ``ALERTING_ADDR`` and
``NOTIFICATION_ADDR`` say where the peers listen, and ``MONITOR_TOKEN``, ``ALERTING_TOKEN``,
``NOTIFICATION_TOKEN`` the tokens a client of that service presents (:mod:`.credentials`; each process is given
those of the services it calls, and a service its own). The service classes and the edge's backend are the
monolith's, imported unchanged.
"""
from __future__ import annotations

from importlib import import_module
from types import ModuleType

from direct_calls.monolith.backend import DirectBackend
from direct_calls.monolith.services import AlertingService, MonitorService, NotificationService
from shared.config import ConfigError, Settings
from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.outbound import HttpProber, HttpWebhookSender
from shared.storage import SqlAlertingStore, SqlMonitorStore, SqlNotificationStore, make_engine

TRANSPORTS = {"grpc": "direct_calls.split.grpc_transport", "http": "direct_calls.split.http_transport"}
PEERS = {"monitor": "alerting", "alerting": "notification", "notification": None}
"""The service each service calls (synchronously, as in the monolith)."""


def transport(settings: Settings) -> ModuleType:
    """The transport module ``TRANSPORT`` names (only that one is imported)."""
    try:
        return import_module(TRANSPORTS[settings.transport])
    except KeyError:
        raise ConfigError(f"TRANSPORT must be one of {', '.join(TRANSPORTS)}, got {settings.transport!r}") from None


def bootstrap(settings: Settings) -> DirectBackend:
    """The api: the three services are remote, reached through clients with their methods."""
    remote = transport(settings)
    return DirectBackend(
        remote.MonitorClient(settings.require("monitor_addr"), settings.call_timeout_s, settings.token("monitor")),
        remote.AlertingClient(settings.require("alerting_addr"), settings.call_timeout_s, settings.token("alerting")),
        remote.NotificationClient(settings.require("notification_addr"), settings.call_timeout_s,
                                  settings.token("notification")),
    )


def service(name: str, settings: Settings) -> MonitorService | AlertingService | NotificationService:
    """The service ``name`` on its own database, with a client for the service it calls."""
    remote = transport(settings)
    engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    if name == "notification":
        sender = HttpWebhookSender(allow=settings.outbound_allow)
        return NotificationService(NotificationCore(SqlNotificationStore(engine), sender))
    if name == "alerting":
        notification = remote.NotificationClient(settings.require("notification_addr"), settings.call_timeout_s,
                                                 settings.token("notification"))
        return AlertingService(AlertingCore(SqlAlertingStore(engine)), notification)
    if name == "monitor":
        alerting = remote.AlertingClient(settings.require("alerting_addr"), settings.call_timeout_s,
                                         settings.token("alerting"))
        prober = HttpProber(allow=settings.outbound_allow)
        return MonitorService(MonitorCore(SqlMonitorStore(engine), prober), alerting)
    raise ConfigError(f"unknown service {name!r}; known: {', '.join(PEERS)}")
