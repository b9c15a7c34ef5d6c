"""The HTTP edge's backend: one transaction per request, opened here and shared by the services it calls."""
from __future__ import annotations

from shared.domain import Alert, CheckResult, NewResult, NewTarget, Notification, Target, TargetPage

from .alerting import AlertingService
from .database import Database
from .monitor import MonitorService
from .notification import NotificationService


class PlainBackend:
    """Implements ``shared.http.backend.Backend``: each operation in one transaction of the one database."""

    def __init__(self, db: Database, monitor: MonitorService, alerting: AlertingService,
                 notification: NotificationService):
        self._db = db
        self._monitor = monitor
        self._alerting = alerting
        self._notification = notification

    def create_target(self, tenant: str, new: NewTarget) -> Target:
        with self._db.transaction():
            return self._monitor.create_target(tenant, new)

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        with self._db.reading():
            return self._monitor.list_targets(tenant, limit, offset)

    def get_target(self, tenant: str, target_id: str) -> Target:
        with self._db.reading():
            return self._monitor.get_target(tenant, target_id)

    def delete_target(self, tenant: str, target_id: str) -> None:
        with self._db.transaction():
            self._monitor.delete_target(tenant, target_id)

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        """The result, its alerts and their notifications commit together; webhooks are POSTed after the commit,
        before the answer."""
        with self._db.transaction():
            return self._monitor.ingest_result(tenant, target_id, new)

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        with self._db.reading():
            return self._monitor.list_results(tenant, target_id, limit)

    def check_target(self, tenant: str, target_id: str) -> CheckResult:
        """The probe runs between two transactions, so no lock is held while the target's URL answers."""
        with self._db.reading():
            target = self._monitor.get_target(tenant, target_id)
        return self.ingest_result(tenant, target_id, self._monitor.probe(target))

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        with self._db.reading():
            return self._alerting.list_alerts(tenant, target_id, state)

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        with self._db.reading():
            return self._notification.list_notifications(tenant, target_id, alert_id)

    def readiness(self) -> list[str]:
        try:
            self._db.ping()
        except Exception as error:  # noqa: BLE001 - any failure means not ready; the reason says which
            return [f"database: {type(error).__name__}: {error}"]
        return []
