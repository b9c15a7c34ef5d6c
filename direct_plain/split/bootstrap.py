"""The composition roots of the split: the api with a client per service; each service on its own database with
a client for the service it calls (``MONITOR_ADDR``, ``ALERTING_ADDR``, ``NOTIFICATION_ADDR``: ``host:port`` or a
comma-separated list of replicas). Wiring only; each service process starts its relay (a daemon thread)."""
from __future__ import annotations

from flask import Flask

from direct_plain.monolith.background import Periodic
from direct_plain.monolith.database import Database
from direct_plain.monolith.monitor import MonitorService
from direct_plain.monolith.webhooks import SWEEP_EVERY_S
from shared.config import ConfigError, Settings
from shared.outbound import HttpProber, HttpWebhookSender
from shared.storage import make_engine

from .alerting import SplitAlertingService
from .backend import ServicesBackend
from .clients import AlertingClient, MonitorClient, NotificationClient
from .monitor import Evaluations
from .notification import SplitNotificationService, SplitWebhooks
from .routes import alerting_app, monitor_app, notification_app
from .tables import ALERTING, MONITOR, NOTIFICATION

SERVICES = ("monitor", "alerting", "notification")
HOP_S = 0.75
"""Each hop down the chain gives its call this much less time than its caller has (api → monitor: the call timeout,
monitor → alerting: 0.75 s less, alerting → notification: 1.5 s less), so an inner call that times out leaves its
caller time to keep the row pending and answer."""


def bootstrap(settings: Settings) -> ServicesBackend:
    """The api: the three services are remote."""
    timeout = settings.call_timeout_s
    return ServicesBackend(MonitorClient(settings.require("monitor_addr"), timeout),
                           AlertingClient(settings.require("alerting_addr"), timeout),
                           NotificationClient(settings.require("notification_addr"), timeout))


def service(name: str, settings: Settings) -> Flask:
    """The internal app of service ``name`` on its own database, its relay started."""
    engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    allow = settings.outbound_allow
    if name == "monitor":
        db = Database(engine, MONITOR)
        alerting = AlertingClient(settings.require("alerting_addr"), settings.call_timeout_s - HOP_S)
        evaluations = Evaluations(db, alerting)
        evaluations.relay().start()
        return monitor_app(db, MonitorService(db, HttpProber(allow=allow), evaluations))  # type: ignore[arg-type]
    if name == "alerting":
        db = Database(engine, ALERTING)
        notification = NotificationClient(settings.require("notification_addr"), settings.call_timeout_s - 2 * HOP_S)
        alerting_service = SplitAlertingService(db, notification)
        alerting_service.relay().start()
        return alerting_app(db, alerting_service)
    if name == "notification":
        db = Database(engine, NOTIFICATION)
        webhooks = SplitWebhooks(db, HttpWebhookSender(allow=allow))
        Periodic("webhook-sweeper", SWEEP_EVERY_S, webhooks.sweep).start()
        return notification_app(db, SplitNotificationService(db, webhooks))
    raise ConfigError(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
