"""The three services. Each receives its collaborators in its constructor and calls them directly.

In the monolith a collaborator is the other service object; after the move it is a client with the
same methods. The call sites here do not change.
"""
from __future__ import annotations

from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.domain import (
    Alert,
    AlertChange,
    CheckResult,
    DeadlineExceeded,
    DomainError,
    NewResult,
    NewTarget,
    Notification,
    RuleParams,
    Target,
    TargetPage,
    Unavailable,
)


class NotificationService:
    def __init__(self, core: NotificationCore):
        self._core = core

    def notify(self, change: AlertChange) -> list[Notification]:
        """Deliver and record ``change``; idempotent, so a retried call sends nothing twice."""
        return self._core.deliver(change)

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        return self._core.list_notifications(tenant, target_id, alert_id)

    def ping(self) -> None:
        self._core.ping()


class AlertingService:
    def __init__(self, core: AlertingCore, notification: NotificationService):
        self._core = core
        self._notification = notification

    def evaluate(self, result: CheckResult, params: RuleParams) -> list[AlertChange]:
        """Apply ``result`` and notify each alert it opens or resolves, all or nothing.

        Idempotent by result id. If a notification cannot be delivered, the alert changes are
        reverted and the error propagates, so the caller can undo its part too and retry later.
        """
        changes = self._core.apply(result, params)
        try:
            for change in changes:
                self._notification.notify(change)
        except Exception:
            self._core.revert(result.target_id, result.id)
            raise
        return changes

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        return self._core.list_alerts(tenant, target_id, state)

    def ping(self) -> None:
        self._core.ping()


class MonitorService:
    def __init__(self, core: MonitorCore, alerting: AlertingService):
        self._core = core
        self._alerting = alerting

    def create_target(self, tenant: str, new: NewTarget) -> Target:
        return self._core.create_target(tenant, new)

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        return self._core.list_targets(tenant, limit, offset)

    def get_target(self, tenant: str, target_id: str) -> Target:
        return self._core.get_target(tenant, target_id)

    def delete_target(self, tenant: str, target_id: str) -> None:
        self._core.delete_target(tenant, target_id)

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        """Record a result and have alerting evaluate it, one target's results at a time, in order.

        The target is held (``MonitorCore.target_lock``: in the database, so across every process of
        this service) from recording until alerting has answered, so results of one target are
        evaluated in the order they were accepted and concurrent results give exactly one alert per
        transition, with one process or several. When alerting is remote, the hold lasts as long as
        that call, which its deadline bounds.

        Crash-safe across the two services: the result is stored with an outbox mark in one transaction,
        and the mark goes only once alerting has answered. Whoever holds the target next (a later result,
        or the client's retry with the same idempotency key) first hands alerting every marked result of
        the target, oldest first; alerting applies a result once, by its id. So a process of either
        service may die at any point and every stored result is applied exactly once, in order. If alerting
        refuses a result for sure (a domain error that is not ``Unavailable`` or ``DeadlineExceeded``),
        the result is removed again; if the outcome is unknown, it stays, and the error propagates (the
        client may retry; with an idempotency key the retry is applied exactly once). A target of another tenant
        than ``tenant`` is ``NotFound``, and nothing is stored.
        """
        with self._core.target_lock(target_id):
            result, target, _, pending = self._core.record_unannounced(tenant, target_id, new)
            for earlier in pending:
                try:
                    self._alerting.evaluate(earlier, target.rule_params)
                except DomainError as error:
                    if not isinstance(error, (Unavailable, DeadlineExceeded)):
                        self._core.forget_result(earlier.id)
                    raise
                self._core.announced(earlier.id)
            return result

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        return self._core.list_results(tenant, target_id, limit)

    def check_target(self, tenant: str, target_id: str) -> CheckResult:
        """Probe the target now and ingest the outcome like any other result."""
        _, outcome = self._core.probe(tenant, target_id)
        return self.ingest_result(tenant, target_id, outcome)

    def ping(self) -> None:
        self._core.ping()
