"""The alerting service: applies the alert rules to each result, opens and resolves alerts, and calls
notification directly for each change. It reads the target's thresholds from the targets table."""
from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import Table, insert, select, update

from shared import rules
from shared.domain import Alert, AlertEvent, AlertKind, CheckResult, RuleParams, new_id, utcnow
from shared.rules import RuleState
from shared.storage.database import to_domain, to_domain_list

from .database import Database
from .notification import NotificationService
from .tables import alerts, row_of, rule_states, targets

ALERT_COLUMNS = [alerts.c[f.name] for f in dataclasses.fields(Alert) if f.name != "tenant"]
"""An alert's columns in field order; its tenant is its target's (a join)."""


class AlertingService:
    alerts: Table = alerts

    def __init__(self, db: Database, notification: NotificationService):
        self._db = db
        self._notification = notification

    def evaluate(self, result: CheckResult) -> list[tuple[Alert, AlertEvent]]:
        """Apply ``result`` to its target's rule state; notify each alert it opens or resolves.

        Runs in the caller's transaction, which holds the target's row locked (``MonitorService.ingest_result``),
        so the state read here is changed by nobody else before the commit.
        """
        target = self._db.connection().execute(select(targets.c.failure_threshold, targets.c.latency_threshold_ms,
                                                      targets.c.tenant).where(targets.c.id == result.target_id)).one()
        changes = self._apply(result, RuleParams(target.failure_threshold, target.latency_threshold_ms, None, target.tenant))
        for alert, event in changes:
            self._notification.notify(alert, event)
        return changes

    def _apply(self, result: CheckResult, params: RuleParams) -> list[tuple[Alert, AlertEvent]]:
        """The rules on the target's state: the alerts opened (inserted) and resolved, the state saved."""
        connection = self._db.connection()
        before = self._state(result.target_id)
        after, transitions = rules.evaluate(before, result.ok, result.latency_ms, params)
        now = utcnow()
        changes: list[tuple[Alert, AlertEvent]] = []
        for transition in transitions:
            if transition.action == "open":
                alert = Alert(id=new_id(), target_id=result.target_id, kind=transition.kind, state="open", opened_at=now,
                              resolved_at=None, opened_by_result_id=result.id, tenant=params.tenant)
                connection.execute(insert(self.alerts), row_of(self.alerts, alert))
                changes.append((alert, "alert_opened"))
            else:
                resolved = self._resolve(result.target_id, transition.kind, now, params.tenant)
                if resolved is not None:
                    changes.append((resolved, "alert_resolved"))
        if after != before:
            connection.execute(update(rule_states).where(rule_states.c.target_id == result.target_id).values(
                consecutive_failures=after.consecutive_failures, down_open=after.down_open, slow_open=after.slow_open))
        return changes

    def _state(self, target_id: str) -> RuleState:
        """The target's rule state, its row created on its first result."""
        connection = self._db.connection()
        query = select(rule_states.c.consecutive_failures, rule_states.c.down_open, rule_states.c.slow_open)
        row = connection.execute(query.where(rule_states.c.target_id == target_id)).first()
        if row is not None:
            return RuleState(*row)
        state = RuleState()
        connection.execute(insert(rule_states), {"target_id": target_id, **dataclasses.asdict(state)})
        return state

    def _resolve(self, target_id: str, kind: AlertKind, now: datetime, tenant: str) -> Alert | None:
        connection = self._db.connection()
        row = connection.execute(select(*ALERT_COLUMNS).where(
            alerts.c.target_id == target_id, alerts.c.kind == kind, alerts.c.state == "open",
        ).order_by(alerts.c.seq.desc()).limit(1)).first()
        if row is None:
            return None
        connection.execute(update(alerts).where(alerts.c.id == row.id).values(state="resolved", resolved_at=now))
        return dataclasses.replace(to_domain(Alert, row), state="resolved", resolved_at=now, tenant=tenant)

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        """The tenant's alerts (through their targets), newest first."""
        query = (select(*ALERT_COLUMNS, targets.c.tenant).join(targets, targets.c.id == alerts.c.target_id)
                 .where(targets.c.tenant == tenant).order_by(alerts.c.seq.desc()))
        if target_id is not None:
            query = query.where(alerts.c.target_id == target_id)
        if state is not None:
            query = query.where(alerts.c.state == state)
        return to_domain_list(Alert, self._db.connection().execute(query))
