"""The notification service: records a ``log`` notification for each alert change and, when the target has a
webhook URL (read from the targets table), a webhook to POST once the request's transaction has committed."""
from __future__ import annotations

import dataclasses
import logging

from sqlalchemy import Table, insert, select

from shared.domain import Alert, AlertEvent, Notification, new_id, utcnow
from shared.storage.database import to_domain_list

from .database import Database
from .tables import notifications, row_of, targets
from .webhooks import Webhooks

log = logging.getLogger("notification")

NOTIFICATION_COLUMNS = [notifications.c[f.name] for f in dataclasses.fields(Notification) if f.name != "tenant"]
"""A notification's columns in field order; its tenant is its target's (a join)."""


def describe(alert: Alert, event: AlertEvent) -> str:
    verb = "opened" if event == "alert_opened" else "resolved"
    return f"{alert.kind} alert {verb} for target {alert.target_id}"


class NotificationService:
    notifications: Table = notifications

    def __init__(self, db: Database, webhooks: Webhooks):
        self._db = db
        self._webhooks = webhooks

    def notify(self, alert: Alert, event: AlertEvent) -> None:
        """In the request's transaction: the ``log`` notification, and the webhook queued for after the commit."""
        message = self._log(alert, event)
        url = self._db.connection().scalar(select(targets.c.webhook_url).where(targets.c.id == alert.target_id))
        if url:
            self._webhooks.queue(alert, event, url, message)

    def _log(self, alert: Alert, event: AlertEvent) -> str:
        """Log the change and record its ``log`` notification; return the message."""
        message = describe(alert, event)
        log.info("notification: %s", message)
        logged = Notification(id=new_id(), alert_id=alert.id, target_id=alert.target_id, event=event, channel="log",
                              status="sent", message=message, created_at=utcnow(), attempts=1, tenant=alert.tenant)
        self._db.connection().execute(insert(self.notifications), row_of(self.notifications, logged))
        return message

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        """The tenant's notifications (through their targets), newest first."""
        query = (select(*NOTIFICATION_COLUMNS, targets.c.tenant).join(targets, targets.c.id == notifications.c.target_id)
                 .where(targets.c.tenant == tenant).order_by(notifications.c.seq.desc()))
        if target_id is not None:
            query = query.where(notifications.c.target_id == target_id)
        if alert_id is not None:
            query = query.where(notifications.c.alert_id == alert_id)
        return to_domain_list(Notification, self._db.connection().execute(query))
