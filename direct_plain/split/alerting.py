"""Alerting after the move: its own database, the thresholds with each call, its alerts' tenant stored with them,
and an outbox of alert changes for the notification service (the monolith's ``notify`` call inside the transaction).

``evaluate`` is idempotent by result id (the ``evaluated_results`` ledger, in the same transaction as the effect):
the monitor hands a result over again when it did not hear the answer.
"""
from __future__ import annotations

import json

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from direct_plain.monolith.alerting import ALERT_COLUMNS, AlertingService
from direct_plain.monolith.background import Periodic
from direct_plain.monolith.database import Database
from shared.domain import Alert, AlertEvent, CheckResult, Conflict, RuleParams, utcnow
from shared.storage.database import to_domain_list

from .clients import NotificationClient
from .codec import from_json, to_json
from .handover import hand_over, relay
from .tables import alerts, evaluated_results, notification_outbox, rule_states

NAMESPACE = "plain.alerting.notifications"
COLUMNS = [alerts.c[column.name] for column in ALERT_COLUMNS]
"""The monolith's alert columns, of this database's alerts table."""


class SplitAlertingService(AlertingService):
    alerts = alerts

    def __init__(self, db: Database, notification: NotificationClient):
        super().__init__(db, notification)  # type: ignore[arg-type]  # a client with the calls it needs
        self._client = notification

    def evaluate(self, result: CheckResult, params: RuleParams) -> list[tuple[Alert, AlertEvent]]:  # type: ignore[override]
        """Apply ``result`` once, under the target's rule state locked; its alert changes wait for notification, which
        they are handed to after the commit. A result applied before changes nothing (``[]``)."""
        connection = self._db.connection()
        connection.execute(select(rule_states.c.target_id).where(rule_states.c.target_id == result.target_id)
                           .with_for_update())
        if self.evaluated(result.id):
            return []
        try:
            connection.execute(insert(evaluated_results), {"result_id": result.id, "target_id": result.target_id})
        except IntegrityError:
            raise Conflict(f"result {result.id} is being evaluated by another call") from None
        changes = self._apply(result, params)
        for alert, event in changes:
            connection.execute(insert(notification_outbox), {
                "alert_id": alert.id, "target_id": alert.target_id, "event": event,
                "alert": json.dumps(to_json(alert)), "webhook_url": params.webhook_url,
                "created_at": utcnow()})
        self._db.on_commit(lambda: self.hand_over(result.target_id))
        return changes

    def evaluated(self, result_id: str) -> bool:
        """Whether ``result_id`` was applied (its ledger row committed, or written in the transaction under way)."""
        return self._db.connection().scalar(
            select(evaluated_results.c.result_id).where(evaluated_results.c.result_id == result_id)) is not None

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        """The tenant's alerts (stored with each: no targets table to join), newest first."""
        query = select(*COLUMNS, alerts.c.tenant).where(alerts.c.tenant == tenant).order_by(alerts.c.seq.desc())
        if target_id is not None:
            query = query.where(alerts.c.target_id == target_id)
        if state is not None:
            query = query.where(alerts.c.state == state)
        return to_domain_list(Alert, self._db.connection().execute(query))

    def hand_over(self, target_id: str) -> bool:
        """The target's alert changes still waiting, oldest first, to the notification service."""
        def waiting() -> list:
            return list(self._db.connection().execute(
                select(notification_outbox).where(notification_outbox.c.target_id == target_id)
                .order_by(notification_outbox.c.seq)))

        def send(row) -> None:  # type: ignore[no-untyped-def]
            self._client.notify(from_json(json.loads(row.alert), Alert), row.event, row.webhook_url)

        def settle(row) -> None:  # type: ignore[no-untyped-def]
            self._db.connection().execute(delete(notification_outbox).where(notification_outbox.c.seq == row.seq))

        return hand_over(self._db, NAMESPACE, target_id, waiting, send, settle)

    def relay(self) -> Periodic:
        """This process's relay: the targets whose rows have waited 2 s or more."""
        return relay("notification-relay", self._db, notification_outbox, self.hand_over)
