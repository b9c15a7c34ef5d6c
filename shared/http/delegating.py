"""A backend that hands each public operation to the service that owns it: the monitor's targets and results,
alerting's alerts, notification's notifications. Both direct-calls apps' edges use it, over services in-process or
over their clients; it adds nothing of its own (no transaction, no retry), so what a call guarantees is what the
service or client behind it guarantees."""
from __future__ import annotations

from typing import Protocol

from ..domain import Alert, CheckResult, NewResult, NewTarget, Notification, Target, TargetPage


class Pingable(Protocol):
    def ping(self) -> None:
        """Raise when the service (or the connection to it) cannot serve."""


class Monitor(Pingable, Protocol):
    def create_target(self, tenant: str, new: NewTarget) -> Target: ...

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage: ...

    def get_target(self, tenant: str, target_id: str) -> Target: ...

    def delete_target(self, tenant: str, target_id: str) -> None: ...

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult: ...

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]: ...

    def check_target(self, tenant: str, target_id: str) -> CheckResult: ...


class Alerting(Pingable, Protocol):
    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]: ...


class Notifications(Pingable, Protocol):
    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]: ...


class DelegatingBackend:
    """Implements ``shared.http.backend.Backend`` over the three services (or their clients)."""

    def __init__(self, monitor: Monitor, alerting: Alerting, notification: Notifications):
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
        """Why a service cannot serve now, one reason per service that did not answer its ping."""
        reasons = []
        for name, service in (("monitor", self._monitor), ("alerting", self._alerting), ("notification", self._notification)):
            try:
                service.ping()
            except Exception as error:  # noqa: BLE001 - any failure means not ready; the reason says which
                reasons.append(f"{name}: {type(error).__name__}: {error}")
        return reasons
