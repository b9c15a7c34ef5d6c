"""The notification service's own work: deliver an alert change on its channels and record it."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from ..domain import AlertChange, Notification, derived_id, utcnow
from ..ports import NotificationStore, WebhookSender
from ..serialize import alert_json  # the public shape of an alert, defined once

log = logging.getLogger("notification")


def alert_payload(change: AlertChange) -> dict:
    """The JSON a webhook receives: the alert as the public API shows it, plus the event."""
    return {"event": change.event, "alert": alert_json(change.alert)}


def describe(change: AlertChange) -> str:
    alert = change.alert
    verb = "opened" if change.event == "alert_opened" else "resolved"
    return f"{alert.kind} alert {verb} for target {alert.target_id}"


class NotificationCore:
    def __init__(self, store: NotificationStore, webhook: WebhookSender, clock: Callable[[], datetime] = utcnow):
        self._store = store
        self._webhook = webhook
        self._clock = clock

    def deliver(self, change: AlertChange) -> list[Notification]:
        """Deliver ``change`` once: a ``log`` notification, and a ``webhook`` one when it has a URL.

        Idempotent by (alert id, event): a repeat returns what was recorded and sends nothing. A
        webhook failure is recorded with status ``failed``, not raised. Guarantees at-most-once
        sending only per recorded delivery: a crash between the POST and the record may send twice.
        """
        recorded = self._store.find(change.alert.id, change.event)
        if recorded:
            return recorded
        message = describe(change)
        log.info("notification: %s", message)
        notifications = [self._notification(change, "log", "sent", message)]
        if change.webhook_url:
            delivered = self._webhook.post(change.webhook_url, alert_payload(change))
            notifications.append(self._notification(change, "webhook", "sent" if delivered else "failed", message))
        return self._store.add_all(notifications)

    def _notification(self, change: AlertChange, channel: str, status: str, message: str) -> Notification:
        return Notification(
            id=derived_id(change.alert.id, change.event, channel),
            alert_id=change.alert.id,
            target_id=change.alert.target_id,
            event=change.event,
            channel=channel,  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            message=message,
            created_at=self._clock(),
        )

    def list_notifications(self, target_id: str | None, alert_id: str | None) -> list[Notification]:
        return self._store.list_notifications(target_id, alert_id)

    def ping(self) -> None:
        self._store.ping()
