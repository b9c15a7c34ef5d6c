"""The notification service's own work: deliver an alert change on its channels and record it."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from ..domain import AlertChange, Notification, Unavailable, derived_id, new_id, utcnow
from ..ports import NotificationStore, WebhookSender
from ..serialize import alert_json  # the public shape of an alert, defined once
from ..telemetry.metrics import count_notifications

log = logging.getLogger("notification")

CLAIM_LEASE_S = 10.0
"""How long a claim on a send protects it: a claimant still sending after that is presumed dead and its send
may be taken over. Well above a webhook sender's whole budget (``shared.outbound.WEBHOOK_BUDGET_S``, 3 s),
so a live claimant is not overtaken unless it stalls (a paused process) for several seconds."""
WAIT_POLL_S = (0.02, 0.25)
"""First and longest pause between two looks at a send another delivery holds."""


def alert_payload(change: AlertChange) -> dict:
    """The JSON a webhook receives: the alert as the public API shows it, plus the event."""
    return {"event": change.event, "alert": alert_json(change.alert)}


def describe(change: AlertChange) -> str:
    alert = change.alert
    verb = "opened" if change.event == "alert_opened" else "resolved"
    return f"{alert.kind} alert {verb} for target {alert.target_id}"


class NotificationCore:
    def __init__(self, store: NotificationStore, webhook: WebhookSender, clock: Callable[[], datetime] = utcnow,
                 lease_s: float = CLAIM_LEASE_S):
        self._store = store
        self._webhook = webhook
        self._clock = clock
        self._lease_s = lease_s

    def deliver(self, change: AlertChange) -> list[Notification]:
        """Deliver ``change`` once: a ``log`` notification, and a ``webhook`` one when it has a URL.

        Idempotent by (alert id, event): a repeat returns what was recorded and sends nothing. A webhook
        failure (after the sender's retries) is recorded with status ``failed``, not raised.

        The webhook is sent once however many deliveries of one change run at once, in any process sharing
        the store: before sending, a delivery claims the send (committed, under the unique (alert, event,
        ``webhook``) key); only the claimant sends and records. Any other delivery waits until the record
        exists and returns it, so one target's notifications stay in the order their deliveries were asked
        for. A claim older than the lease (:data:`CLAIM_LEASE_S`) whose send was never recorded (its claimant
        crashed or stalled) is taken over, and the webhook is sent again: at least once across crashes. The
        header ``Idempotency-Key`` (the webhook notification's id, the same on every attempt and takeover)
        lets the receiver drop such a repeat. A claimant whose recording fails releases its claim before the
        error propagates, so a retry need not wait for the lease. A delivery that has waited twice the lease without seeing the
        record or the lease run out raises ``Unavailable``. Without a webhook nothing is claimed: the log
        line of a change delivered twice at once may be written twice; it is recorded once.
        """
        recorded = self._store.find(change.alert.id, change.event)
        if recorded:
            return recorded
        if not change.webhook_url:
            return count_notifications(self._store.add_all([self._log(change)]))
        token = new_id()
        give_up = time.monotonic() + 2 * self._lease_s
        while True:
            claim = self._store.claim(change.alert.id, change.event, "webhook", token, self._clock(), self._lease_s)
            if claim.token == token:
                return self._send(change, change.webhook_url, token)
            recorded = self._wait_for_record(change, claim.claimed_at + timedelta(seconds=self._lease_s), give_up)
            if recorded:
                return recorded

    def _wait_for_record(self, change: AlertChange, stale_at: datetime, give_up: float) -> list[Notification]:
        """What the claimant recorded, or ``[]`` once its claim is stale; ``Unavailable`` past ``give_up``."""
        pause = WAIT_POLL_S[0]
        while True:
            recorded = self._store.find(change.alert.id, change.event)
            if recorded or self._clock() >= stale_at:
                return recorded
            if time.monotonic() + pause > give_up:
                raise Unavailable(f"the {change.event} notification of alert {change.alert.id} is being sent "
                                  "by another delivery that has not finished")
            time.sleep(pause)  # another delivery is sending: look again shortly
            pause = min(pause * 2, WAIT_POLL_S[1])

    def _log(self, change: AlertChange) -> Notification:
        message = describe(change)
        log.info("notification: %s", message)
        return self._notification(change, "log", "sent", message, attempts=1)

    def _send(self, change: AlertChange, url: str, token: str) -> list[Notification]:
        """Send and record as the claimant; if that raises (the store failed), give the claim up first."""
        try:
            logged = self._log(change)
            key = derived_id(change.alert.id, change.event, "webhook")  # the webhook notification's id
            outcome = self._webhook.deliver(url, alert_payload(change), idempotency_key=key)
            status = "sent" if outcome.delivered else "failed"
            webhook = self._notification(change, "webhook", status, logged.message, attempts=outcome.attempts)
            return count_notifications(self._store.add_all([logged, webhook]))
        except BaseException:
            try:
                self._store.release(change.alert.id, change.event, "webhook", token)
            except Exception:  # noqa: BLE001 - the first error is the one to report; the lease frees the claim
                log.warning("could not release the claim on %s of alert %s", change.event, change.alert.id)
            raise

    def _notification(self, change: AlertChange, channel: str, status: str, message: str, attempts: int) -> Notification:
        return Notification(
            id=derived_id(change.alert.id, change.event, channel),
            alert_id=change.alert.id,
            target_id=change.alert.target_id,
            event=change.event,
            channel=channel,  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            message=message,
            created_at=self._clock(),
            attempts=attempts,
            tenant=change.alert.tenant,
        )

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        return self._store.list_notifications(tenant, target_id, alert_id)

    def ping(self) -> None:
        self._store.ping()
