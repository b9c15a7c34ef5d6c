"""Webhooks, POSTed after the commit of the transaction that caused them, never inside it.

The transaction writes the webhook to ``webhook_outbox``, claimed by itself; once it has committed, the same
request POSTs it (``shared.outbound``: the SSRF guard, retries within 3 s, ``Idempotency-Key``) and, in a short
transaction of its own, records the ``webhook`` notification (``sent`` or ``failed``, with its attempts) and
deletes the outbox row, if its claim still holds. A row whose claim is older than the lease belongs to a process
that died (or lost its database) between the commit and the record: :meth:`Webhooks.sweep`, run every few seconds
in each process, takes it over and sends it again with the same key. So each alert change is POSTed once while
processes live, and at least once across crashes.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Table, delete, insert, select, update

from shared.domain import Alert, AlertEvent, Notification, new_id, utcnow
from shared.outbound import HttpWebhookSender
from shared.serialize import alert_json

from .database import Database
from .tables import notifications, row_of, webhook_outbox

log = logging.getLogger(__name__)

LEASE_S = 10.0
"""How long a claim on a pending webhook protects it: well above the sender's 3 s budget."""
SWEEP_EVERY_S = 5.0


@dataclass(frozen=True)
class PendingWebhook:
    notification_id: str  # the webhook notification's id, sent as its Idempotency-Key
    alert_id: str
    target_id: str
    event: AlertEvent
    url: str
    payload: str
    message: str
    tenant: str
    claim: str


class Webhooks:
    """The webhooks of one database: ``outbox`` and ``notifications`` are its tables."""

    outbox: Table = webhook_outbox
    notifications: Table = notifications

    def __init__(self, db: Database, sender: HttpWebhookSender, lease_s: float = LEASE_S):
        self._db = db
        self._sender = sender
        self._lease_s = lease_s

    def queue(self, alert: Alert, event: AlertEvent, url: str, message: str) -> None:
        """Write the webhook in the transaction under way; POST it once that transaction has committed."""
        pending = PendingWebhook(notification_id=new_id(), alert_id=alert.id, target_id=alert.target_id, event=event,
                                 url=url, payload=json.dumps({"event": event, "alert": alert_json(alert)}),
                                 message=message, tenant=alert.tenant, claim=new_id())
        self._db.connection().execute(insert(self.outbox), {**dataclasses.asdict(pending), "claimed_at": utcnow()})
        self._db.on_commit(lambda: self.send(pending))

    def send(self, pending: PendingWebhook) -> None:
        """POST it, then record its notification if the claim still holds (the target may be gone meanwhile)."""
        outcome = self._sender.deliver(pending.url, json.loads(pending.payload), idempotency_key=pending.notification_id)
        notification = Notification(
            id=pending.notification_id, alert_id=pending.alert_id, target_id=pending.target_id, event=pending.event,
            channel="webhook", status="sent" if outcome.delivered else "failed", message=pending.message,
            created_at=utcnow(), attempts=outcome.attempts, tenant=pending.tenant,
        )
        with self._db.transaction() as connection:
            released = connection.execute(delete(self.outbox).where(
                self.outbox.c.notification_id == pending.notification_id, self.outbox.c.claim == pending.claim))
            if released.rowcount == 1:
                connection.execute(insert(self.notifications), row_of(self.notifications, notification))

    def sweep(self) -> int:
        """Send again every webhook whose claim is older than the lease; return how many this process took over."""
        columns = [self.outbox.c[field.name] for field in dataclasses.fields(PendingWebhook)]
        with self._db.reading() as connection:
            stale = connection.execute(select(*columns).where(
                self.outbox.c.claimed_at < utcnow() - timedelta(seconds=self._lease_s))).all()
        taken = 0
        for row in stale:
            pending = self._take_over(PendingWebhook(*row))
            if pending is not None:
                taken += 1
                self.send(pending)
        return taken

    def _take_over(self, stale: PendingWebhook) -> PendingWebhook | None:
        claim = new_id()
        with self._db.transaction() as connection:
            taken = connection.execute(update(self.outbox).where(
                self.outbox.c.notification_id == stale.notification_id, self.outbox.c.claim == stale.claim,
            ).values(claim=claim, claimed_at=utcnow())).rowcount
        if not taken:
            return None  # another process took it first
        log.warning("webhook %s of alert %s taken over after its claim lapsed", stale.notification_id, stale.alert_id)
        return dataclasses.replace(stale, claim=claim)
