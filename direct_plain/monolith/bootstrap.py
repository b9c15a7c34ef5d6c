"""The composition root of the plain monolith: wiring only."""
from __future__ import annotations

from shared.config import Settings
from shared.outbound import HttpProber, HttpWebhookSender
from shared.storage import make_engine

from .alerting import AlertingService
from .backend import PlainBackend
from .background import Periodic
from .database import Database
from .monitor import MonitorService
from .notification import NotificationService
from .tables import SCHEMA
from .webhooks import SWEEP_EVERY_S, Webhooks


def bootstrap(settings: Settings) -> PlainBackend:
    """The three services on one database, each constructed with the service it calls; the webhook sweeper
    started (a daemon thread of this process)."""
    db = Database(make_engine(settings.database_url, synchronous=settings.sqlite_synchronous), SCHEMA)
    allow = settings.outbound_allow  # the non-public networks probes and webhooks may reach
    webhooks = Webhooks(db, HttpWebhookSender(allow=allow))
    notification = NotificationService(db, webhooks)
    alerting = AlertingService(db, notification)
    monitor = MonitorService(db, HttpProber(allow=allow), alerting)
    Periodic("webhook-sweeper", SWEEP_EVERY_S, webhooks.sweep).start()
    return PlainBackend(db, monitor, alerting, notification)
