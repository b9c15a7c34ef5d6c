"""The monitor after the move: the monolith's ``MonitorService`` on the monitor's own database, whose collaborator
``alerting`` is now :class:`Evaluations`, the outbox of results for the alerting service.

The call site in ``MonitorService.ingest_result`` (``self._alerting.evaluate(result)``) stays: inside the request's
transaction, ``Evaluations.evaluate`` records the result as not yet evaluated; after the commit, the handover sends
it to alerting with the target's thresholds, tenant and webhook URL (alerting no longer reads the targets table).
"""
from __future__ import annotations

from sqlalchemy import delete, insert, select

from direct_plain.monolith.background import Periodic
from direct_plain.monolith.database import Database
from direct_plain.monolith.monitor import RESULT_COLUMNS, TARGET_COLUMNS
from direct_plain.monolith.tables import results, targets
from shared.domain import CheckResult, Target, utcnow

from .clients import AlertingClient
from .handover import hand_over, relay
from .tables import evaluation_outbox

NAMESPACE = "plain.monitor.evaluations"


class Evaluations:
    """Results for the alerting service, handed over after the commit that recorded them, in order per target."""

    def __init__(self, db: Database, alerting: AlertingClient):
        self._db = db
        self._alerting = alerting

    def evaluate(self, result: CheckResult) -> None:
        """In the recording transaction: the result waits for alerting; after the commit it is handed over."""
        self._db.connection().execute(insert(evaluation_outbox), {"result_id": result.id, "target_id": result.target_id,
                                                                  "created_at": utcnow()})
        self._db.on_commit(lambda: self.hand_over(result.target_id))

    def hand_over(self, target_id: str) -> bool:
        """Every result of the target still waiting, oldest first; False when alerting did not take them all."""
        return hand_over(self._db, NAMESPACE, target_id, lambda: self._waiting(target_id), self._send, self._settle)

    def _waiting(self, target_id: str) -> list[tuple[CheckResult, Target]]:
        rows = self._db.connection().execute(
            select(*RESULT_COLUMNS, *TARGET_COLUMNS)
            .join(evaluation_outbox, evaluation_outbox.c.result_id == results.c.id)
            .join(targets, targets.c.id == results.c.target_id)
            .where(evaluation_outbox.c.target_id == target_id).order_by(results.c.seq))
        split = len(RESULT_COLUMNS)
        return [(CheckResult(*row[:split]), Target(*row[split:])) for row in rows]

    def _send(self, waiting: tuple[CheckResult, Target]) -> None:
        result, target = waiting
        self._alerting.evaluate(result, target.rule_params)

    def _settle(self, waiting: tuple[CheckResult, Target]) -> None:
        self._db.connection().execute(delete(evaluation_outbox).where(evaluation_outbox.c.result_id == waiting[0].id))

    def relay(self) -> Periodic:
        """This process's relay: the targets whose rows have waited 2 s or more."""
        return relay("evaluation-relay", self._db, evaluation_outbox, self.hand_over)
