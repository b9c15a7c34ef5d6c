"""What each service does with its own data, without calling any other service.

Both apps wrap these cores: the direct-calls app in service objects that call their collaborators,
the event-driven app in handlers that publish events. How a result travels from monitor to alerting
to notification is the apps' business, not the cores'.
"""
from .alerting import AlertingCore
from .monitor import MonitorCore
from .notification import NotificationCore

__all__ = ["AlertingCore", "MonitorCore", "NotificationCore"]
