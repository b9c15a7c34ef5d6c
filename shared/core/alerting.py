"""The alerting service's own work: apply a result to the target's rule state, open and resolve alerts."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .. import rules
from ..domain import Alert, AlertChange, CheckResult, RuleParams, derived_id, utcnow
from ..ports import AlertingStore


class AlertingCore:
    def __init__(self, store: AlertingStore, clock: Callable[[], datetime] = utcnow):
        self._store = store
        self._clock = clock

    def apply(self, result: CheckResult, params: RuleParams) -> list[AlertChange]:
        """Apply ``result`` once and return the alert changes it caused.

        The result id is the idempotency key: it is recorded in the same transaction as the effect.
        Applying it again changes nothing and returns the changes recorded the first time, so a caller
        that failed before announcing them can announce them again (notification is idempotent).
        That transaction holds the target's rule state locked, so concurrent results for one target
        give exactly one alert per transition. Alert ids are derived from the result id, so a result
        re-applied after ``revert`` opens the same alert again.
        """
        key = result.id
        changes: list[AlertChange] = []
        with self._store.unit_of_work(result.target_id) as uow:
            if uow.is_processed(key):
                return [AlertChange(alert, event, params.webhook_url) for alert, event in uow.changes_by(key)]
            before = uow.load_state()
            after, transitions = rules.evaluate(before, result.ok, result.latency_ms, params)
            now = self._clock()
            for transition in transitions:
                if transition.action == "open":
                    alert = Alert(
                        id=derived_id(key, transition.kind),
                        target_id=result.target_id,
                        kind=transition.kind,
                        state="open",
                        opened_at=now,
                        resolved_at=None,
                        opened_by_result_id=result.id,
                        tenant=params.tenant,
                    )
                    uow.add_alert(alert)
                    changes.append(AlertChange(alert, "alert_opened", params.webhook_url))
                else:
                    resolved = uow.resolve_alert(transition.kind, now, key)
                    if resolved is not None:
                        changes.append(AlertChange(resolved, "alert_resolved", params.webhook_url))
            uow.save_state(after)
            uow.mark_processed(key, before)
        return changes

    def revert(self, target_id: str, key: str) -> None:
        """Compensation: undo what ``apply`` did for result id ``key`` (no-op if it was not applied)."""
        with self._store.unit_of_work(target_id) as uow:
            before = uow.processed_snapshot(key)
            if before is None:
                return
            uow.remove_alerts_opened_by(key)
            uow.reopen_alerts_resolved_by(key)
            uow.save_state(before)
            uow.unmark_processed(key)

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        return self._store.list_alerts(tenant, target_id, state)

    def ping(self) -> None:
        self._store.ping()
