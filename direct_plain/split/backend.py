"""The api's backend after the move: each operation is a call to the service that owns it (the api has no
database, so no transaction: each service opens its own)."""
from __future__ import annotations

from shared.domain import Alert, CheckResult, NewResult, NewTarget, Notification, Target, TargetPage

from .clients import AlertingClient, MonitorClient, NotificationClient


class ServicesBackend:
    """Implements ``shared.http.backend.Backend`` over the three services' clients."""

    def __init__(self, monitor: MonitorClient, alerting: AlertingClient, notification: NotificationClient):
        self._monitor = monitor
        self._alerting = alerting
        self._notification = notification

    def create_target(self, tenant: str, new: NewTarget) -> Target:
        return self._monitor.create_target(tenant, new)

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        return self._monitor.list_targets(tenant, limit, offset)

    def get_target(self, tenant: str, target_id: str) -> Target:
        return self._monitor.get_target(tenant, target_id)

    def delete_target(self, tenant: str, target_id: str) -> None:
        self._monitor.delete_target(tenant, target_id)

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        return self._monitor.ingest_result(tenant, target_id, new)

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        return self._monitor.list_results(tenant, target_id, limit)

    def check_target(self, tenant: str, target_id: str) -> CheckResult:
        return self._monitor.check_target(tenant, target_id)

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        return self._alerting.list_alerts(tenant, target_id, state)

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        return self._notification.list_notifications(tenant, target_id, alert_id)

    def readiness(self) -> list[str]:
        reasons = []
        for client in (self._monitor, self._alerting, self._notification):
            try:
                client.ping()
            except Exception as error:  # noqa: BLE001 - any failure means not ready; the reason says which
                reasons.append(f"{client.peer}: {type(error).__name__}: {error}")
        return reasons
