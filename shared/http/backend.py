"""What the HTTP edge needs from a variant. Each variant's composition root supplies one.

Methods raise the errors of ``shared.domain`` (``NotFound``, ``Conflict``, ``Unavailable``,
``DeadlineExceeded``...); the edge maps them to the public error body. Arguments arrive validated.
"""
from __future__ import annotations

from typing import Protocol

from ..domain import Alert, CheckResult, NewResult, NewTarget, Notification, Target, TargetPage


class Backend(Protocol):
    def create_target(self, new: NewTarget) -> Target: ...

    def list_targets(self, limit: int, offset: int) -> TargetPage: ...

    def get_target(self, target_id: str) -> Target: ...

    def delete_target(self, target_id: str) -> None: ...

    def ingest_result(self, target_id: str, new: NewResult) -> CheckResult: ...

    def list_results(self, target_id: str, limit: int) -> list[CheckResult]: ...

    def check_target(self, target_id: str) -> CheckResult: ...

    def list_alerts(self, target_id: str | None, state: str | None) -> list[Alert]: ...

    def list_notifications(self, target_id: str | None, alert_id: str | None) -> list[Notification]: ...

    def readiness(self) -> list[str]:
        """Reasons the variant cannot serve now (database, peer or broker unreachable); empty when ready."""
        ...
