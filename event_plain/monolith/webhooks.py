"""Webhook POSTs made after the commit that decided them, from the ``webhook_sends`` table.

``wake(target_id)`` (an after-commit callback) has a worker thread send the target's pending webhooks oldest
first, one at a time, so one target's webhooks keep the order of its alert changes while other targets' are
sent at the same time (a pool of workers). Each send is claimed in the database first (a conditional update), so
copies of the process sharing a database never send one twice at once; a claim older than the lease belongs to a
process that died mid-send and is taken over. A sweeper looks for sends nobody woke (the process died between
commit and send) every few seconds: webhooks are sent at least once, exactly once while processes live, and each
POST carries ``Idempotency-Key`` (the webhook notification's id) for the receiver to drop a repeat.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import Engine, Row, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from shared.domain import new_id, utcnow
from shared.outbound import HttpWebhookSender
from shared.storage.database import ignoring_conflicts, read_transaction, write_transaction
from shared.telemetry import propagation

from .tables import notifications, webhook_sends

log = logging.getLogger(__name__)

LEASE_S = 10.0
"""A claim older than this was left by a sender that died or stalled (the sender's whole budget is 3 s)."""
SWEEP_EVERY_S = 5.0


class WebhookDeliveries:
    def __init__(self, engine: Engine, sender: HttpWebhookSender, workers: int = 8,
                 clock: Callable[[], datetime] = utcnow):
        self._engine = engine
        self._sender = sender
        self._clock = clock
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="webhooks")
        self._guard = threading.Lock()
        self._draining: dict[str, bool] = {}  # target id -> woken again while being drained
        self._stopped = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="webhook-sweeper", daemon=True)

    def start(self) -> None:
        self._sweeper.start()

    def close(self) -> None:
        """Stop the sweeper; wait for the sends already asked for (each within the sender's 3 s budget)."""
        self._stopped.set()
        self._pool.shutdown(wait=True)

    def wake(self, target_id: str) -> None:
        """Send ``target_id``'s pending webhooks soon, on a worker; returns at once."""
        with self._guard:
            if target_id in self._draining:
                self._draining[target_id] = True
                return
            self._draining[target_id] = False
        self._pool.submit(self._drain, target_id)

    def _drain(self, target_id: str) -> None:
        while True:
            try:
                while self._send_next(target_id):
                    pass
            except Exception:  # noqa: BLE001 - the sweeper tries again
                log.exception("sending the webhooks of target %s failed", target_id)
            with self._guard:
                if not self._draining[target_id]:
                    del self._draining[target_id]
                    return
                self._draining[target_id] = False

    def _send_next(self, target_id: str) -> bool:
        """Claim, send and record the target's oldest pending webhook; False when there is none this process may
        send now (none left, or the oldest is claimed by a live sender: the order is kept by waiting for it)."""
        token, now = new_id(), self._clock()
        with write_transaction(self._engine) as connection:
            row = connection.execute(select(webhook_sends).where(webhook_sends.c.target_id == target_id)
                                     .order_by(webhook_sends.c.seq).limit(1)).first()
            if row is None or (row.claimed_at is not None and row.claimed_at > now - timedelta(seconds=LEASE_S)):
                return False
            claimed = connection.execute(update(webhook_sends).where(
                webhook_sends.c.id == row.id,
                or_(webhook_sends.c.token.is_(None), webhook_sends.c.token == row.token),
            ).values(token=token, claimed_at=now)).rowcount
        if not claimed:
            return False
        # each send continues the trace of the request that decided it (one drain may send several requests' rows)
        with propagation.handling(propagation.extract(json.loads(row.trace) if row.trace else None), "webhook"):
            self._send(row, token)
        return True

    def _send(self, row: Row, token: str) -> None:
        """POST a claimed row's webhook, record its notification and delete the row."""
        outcome = self._sender.deliver(row.url, json.loads(row.payload), idempotency_key=row.id)
        with write_transaction(self._engine) as connection:
            try:
                with connection.begin_nested():  # a savepoint: the delete below still runs after a refusal
                    connection.execute(ignoring_conflicts(connection.dialect.name, notifications, ("id",)), {
                        "id": row.id, "alert_id": row.alert_id, "event": row.event, "channel": "webhook",
                        "status": "sent" if outcome.delivered else "failed", "message": row.message,
                        "created_at": self._clock(), "attempts": outcome.attempts})
            except IntegrityError:  # the alert went with its target meanwhile: nothing left to record
                log.info("webhook %s sent for an alert deleted since", row.id)
            connection.execute(delete(webhook_sends).where(webhook_sends.c.id == row.id, webhook_sends.c.token == token))

    def _sweep(self) -> None:
        while not self._stopped.is_set():
            try:
                stale = self._clock() - timedelta(seconds=LEASE_S)
                with read_transaction(self._engine) as connection:
                    pending = connection.execute(select(webhook_sends.c.target_id).distinct().where(
                        or_(webhook_sends.c.claimed_at.is_(None), webhook_sends.c.claimed_at < stale))).scalars().all()
                for target_id in pending:
                    self.wake(target_id)
            except Exception:  # noqa: BLE001 - the next sweep tries again
                log.exception("looking for pending webhooks failed")
            self._stopped.wait(SWEEP_EVERY_S)
