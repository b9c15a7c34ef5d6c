"""The composition root of the direct-calls monolith: wiring only."""
from __future__ import annotations

from shared.config import Settings
from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.outbound import HttpProber, HttpWebhookSender
from shared.storage import SqlAlertingStore, SqlMonitorStore, SqlNotificationStore, make_engine

from .backend import DirectBackend
from .services import AlertingService, MonitorService, NotificationService


def bootstrap(settings: Settings) -> DirectBackend:
    """All three services in this process, on one database (each owning its own tables)."""
    engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    allow = settings.outbound_allow  # the non-public networks probes and webhooks may reach
    notification = NotificationService(NotificationCore(SqlNotificationStore(engine), HttpWebhookSender(allow=allow)))
    alerting = AlertingService(AlertingCore(SqlAlertingStore(engine)), notification)
    monitor = MonitorService(MonitorCore(SqlMonitorStore(engine), HttpProber(allow=allow)), alerting)
    return DirectBackend(monitor, alerting, notification)
