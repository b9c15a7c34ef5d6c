"""What the HTTP edge needs from a variant. Each variant's composition root supplies one.

Methods raise the errors of ``shared.domain`` (``NotFound``, ``Conflict``, ``Unavailable``,
``DeadlineExceeded``...); the edge maps them to the public error body. Arguments arrive validated.
``tenant`` is the caller's (its API key's): a method sees and changes only that tenant's data, and answers
``NotFound`` for a target of another tenant exactly as for one that does not exist.
"""
from __future__ import annotations

from typing import Protocol

from ..domain import Alert, CheckResult, NewResult, NewTarget, Notification, Target, TargetPage


class Backend(Protocol):
    def create_target(self, tenant: str, new: NewTarget) -> Target: ...

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage: ...

    def get_target(self, tenant: str, target_id: str) -> Target: ...

    def delete_target(self, tenant: str, target_id: str) -> None: ...

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult: ...

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]: ...

    def check_target(self, tenant: str, target_id: str) -> CheckResult: ...

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]: ...

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]: ...

    def readiness(self) -> list[str]:
        """Reasons the variant cannot serve now (database, peer or broker unreachable); empty when ready."""
        ...
