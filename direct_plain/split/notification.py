"""Notification after the move: its own database, the webhook URL and the tenant with each call (no targets table
to read them from), and ``notify`` idempotent by (alert, event), since alerting hands a change over again when it
did not hear the answer. Webhooks still leave after the commit (the monolith's ``Webhooks``, on this database)."""
from __future__ import annotations

from sqlalchemy import select

from direct_plain.monolith.notification import NOTIFICATION_COLUMNS, NotificationService
from direct_plain.monolith.webhooks import Webhooks
from shared.domain import Alert, AlertEvent, Notification
from shared.storage.database import to_domain_list

from .tables import notifications, webhook_outbox

COLUMNS = [notifications.c[column.name] for column in NOTIFICATION_COLUMNS]
"""The monolith's notification columns, of this database's notifications table."""


class SplitWebhooks(Webhooks):
    outbox = webhook_outbox
    notifications = notifications


class SplitNotificationService(NotificationService):
    notifications = notifications

    def notify(self, alert: Alert, event: AlertEvent, webhook_url: str | None) -> None:  # type: ignore[override]
        """In this service's transaction: the ``log`` notification and the webhook queued, unless the change was
        notified before (then nothing). Two concurrent calls for one change: the unique (alert, event, channel) key
        lets one commit; the other fails (``IntegrityError``, which the route answers with what is recorded)."""
        if self.notified(alert.id, event):
            return
        message = self._log(alert, event)
        if webhook_url:
            self._webhooks.queue(alert, event, webhook_url, message)

    def notified(self, alert_id: str, event: str) -> bool:
        return self._db.connection().scalar(select(notifications.c.id).where(
            notifications.c.alert_id == alert_id, notifications.c.event == event, notifications.c.channel == "log",
        )) is not None

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        """The tenant's notifications (stored with each: no targets table to join), newest first."""
        query = (select(*COLUMNS, notifications.c.tenant).where(notifications.c.tenant == tenant)
                 .order_by(notifications.c.seq.desc()))
        if target_id is not None:
            query = query.where(notifications.c.target_id == target_id)
        if alert_id is not None:
            query = query.where(notifications.c.alert_id == alert_id)
        return to_domain_list(Notification, self._db.connection().execute(query))
