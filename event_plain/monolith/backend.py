"""The HTTP edge's backend: commands go through the message bus, reads straight to the database."""
from __future__ import annotations

from sqlalchemy import Engine

from shared.domain import Alert, CheckResult, NewResult, NewTarget, Notification, Target, TargetPage, utcnow
from shared.outbound import HttpProber
from shared.storage.database import ping

from . import views
from .messagebus import MessageBus
from .messages import CreateTarget, DeleteTarget, RecordResult


class PlainEventBackend:
    """Implements ``shared.http.backend.Backend``: each change is one command handled in one transaction."""

    def __init__(self, bus: MessageBus, engine: Engine, prober: HttpProber):
        self._bus = bus
        self._engine = engine
        self._prober = prober

    def create_target(self, tenant: str, new: NewTarget) -> Target:
        return self._bus.handle(CreateTarget(tenant, new))

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        return views.list_targets(self._engine, tenant, limit, offset)

    def get_target(self, tenant: str, target_id: str) -> Target:
        return views.get_target(self._engine, tenant, target_id)

    def delete_target(self, tenant: str, target_id: str) -> None:
        self._bus.handle(DeleteTarget(tenant, target_id))

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        return self._bus.handle(RecordResult(tenant, target_id, new))

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        return views.list_results(self._engine, tenant, target_id, limit)

    def check_target(self, tenant: str, target_id: str) -> CheckResult:
        """Probe the target's URL (outside any transaction: a probe takes up to 5 s), then record the outcome."""
        target = views.get_target(self._engine, tenant, target_id)
        outcome = self._prober.probe(target.url)
        new = NewResult(ok=outcome.ok, latency_ms=outcome.latency_ms, status_code=outcome.status_code,
                        checked_at=utcnow())
        return self._bus.handle(RecordResult(tenant, target_id, new))

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        return views.list_alerts(self._engine, tenant, target_id, state)

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        return views.list_notifications(self._engine, tenant, target_id, alert_id)

    def readiness(self) -> list[str]:
        try:
            ping(self._engine)
        except Exception as error:  # noqa: BLE001 - any failure means not ready; the reason says which
            return [f"database: {type(error).__name__}: {error}"]
        return []
