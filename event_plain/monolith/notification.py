"""Notification's event handler: record each alert change on the log channel, and queue its webhook for after
the commit."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert

from shared.domain import Alert, AlertEvent, derived_id
from shared.serialize import alert_json
from shared.telemetry import propagation

from .messages import AlertOpened, AlertResolved
from .tables import alerts, notifications, targets, webhook_sends
from .unit_of_work import UnitOfWork
from .views import alert_of, alerts_with_targets

log = logging.getLogger("notification")

Clock = Callable[[], datetime]
Wake = Callable[[str], None]


def message_of(alert: Alert, event: AlertEvent) -> str:
    verb = "opened" if event == "alert_opened" else "resolved"
    return f"{alert.kind} alert {verb} for target {alert.target_id}"


def webhook_payload(alert: Alert, event: AlertEvent) -> dict:
    """The JSON a webhook receives: the event and the alert as the public API shows it."""
    return {"event": event, "alert": alert_json(alert)}


def on_alert_changed(event: AlertOpened | AlertResolved, uow: UnitOfWork, clock: Clock, wake: Wake) -> None:
    """Record the ``log`` notification of the change; if the target has a webhook URL (read from the targets table),
    store the webhook to send and have ``wake(target_id)`` called once the unit of work has committed: the POST
    is never made inside the transaction, and a send that does not happen then is retried from the table."""
    name: AlertEvent = "alert_opened" if isinstance(event, AlertOpened) else "alert_resolved"
    row = uow.connection.execute(alerts_with_targets(targets.c.webhook_url).where(alerts.c.id == event.alert_id)).one()
    alert, webhook_url = alert_of(row), row.webhook_url
    message = message_of(alert, name)
    log.info("notification: %s", message)
    uow.connection.execute(insert(notifications).values(
        id=derived_id(alert.id, name, "log"), alert_id=alert.id, event=name, channel="log", status="sent",
        message=message, created_at=clock(), attempts=1))
    if webhook_url:
        trace = propagation.inject("webhook", None)  # None unless tracing is on: the send continues this trace
        uow.connection.execute(insert(webhook_sends).values(
            id=derived_id(alert.id, name, "webhook"), alert_id=alert.id, target_id=alert.target_id, event=name,
            url=webhook_url, payload=json.dumps(webhook_payload(alert, name)), message=message,
            trace=json.dumps(trace) if trace else None))
        uow.after_commit(lambda: wake(alert.target_id))
