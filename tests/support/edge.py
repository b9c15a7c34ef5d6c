"""The public HTTP edge's tests: a fake backend that records what the edge asks of it, and request helpers."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient

from shared.auth import DEFAULT_TENANT, KeyRing, entry
from shared.domain import (
    Alert,
    CheckResult,
    Conflict,
    NewResult,
    NewTarget,
    NotFound,
    Notification,
    Target,
    TargetPage,
    derived_id,
    new_id,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
FULL_KEY = "mk_edge-tests-full-key"
READ_KEY = "mk_edge-tests-read-only-key"
OTHER_KEY = "mk_edge-tests-other-tenant-key"
KEYS = KeyRing.parse(",".join([
    entry(FULL_KEY, DEFAULT_TENANT), entry(READ_KEY, DEFAULT_TENANT, ("read",)), entry(OTHER_KEY, "other"),
]))
"""The edge tests' keys: a full one and a read-only one of tenant ``dev``, a full one of tenant ``other``."""
MUTATING = {"create_target", "delete_target", "ingest_result", "check_target"}


@dataclass
class FakeBackend:
    """Dict-backed :class:`Backend`; records every call; ``fail_with`` makes every call raise it."""

    targets: dict[str, Target] = field(default_factory=dict)
    results: dict[str, list[CheckResult]] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    not_ready: list[str] = field(default_factory=list)
    fail_with: Exception | None = None
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    """Each call's name and arguments, the tenant left out (it is in ``tenants``)."""
    tenants: list[str] = field(default_factory=list)
    """The tenant each call but ``readiness`` was made for, in call order."""

    def _called(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if self.fail_with is not None:
            raise self.fail_with

    def mutations(self) -> list[str]:
        return [name for name, _ in self.calls if name in MUTATING]

    def _target(self, target_id: str) -> Target:
        if target_id not in self.targets:
            raise NotFound(f"target {target_id} not found")
        return self.targets[target_id]

    def create_target(self, tenant: str, new: NewTarget) -> Target:
        self._called("create_target", new)
        self.tenants.append(tenant)
        if any(target.name == new.name for target in self.targets.values()):
            raise Conflict(f"a target named {new.name!r} exists")
        target = Target(id=new_id(), created_at=T0, tenant=tenant, **vars(new))
        self.targets[target.id] = target
        self.results[target.id] = []
        return target

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        self._called("list_targets", limit, offset)
        self.tenants.append(tenant)
        items = list(self.targets.values())
        return TargetPage(items=items[offset:offset + limit], total=len(items))

    def get_target(self, tenant: str, target_id: str) -> Target:
        self._called("get_target", target_id)
        self.tenants.append(tenant)
        return self._target(target_id)

    def delete_target(self, tenant: str, target_id: str) -> None:
        self._called("delete_target", target_id)
        self.tenants.append(tenant)
        self._target(target_id)
        del self.targets[target_id]
        del self.results[target_id]

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        self._called("ingest_result", target_id, new)
        self.tenants.append(tenant)
        self._target(target_id)
        result_id = derived_id(target_id, new.key) if new.key else new_id()
        existing = [result for result in self.results[target_id] if result.id == result_id]
        if existing:
            return existing[0]
        result = CheckResult(
            id=result_id, target_id=target_id, ok=new.ok, latency_ms=new.latency_ms, status_code=new.status_code,
            checked_at=new.checked_at or T0, received_at=T0,
        )
        self.results[target_id].insert(0, result)
        return result

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        self._called("list_results", target_id, limit)
        self.tenants.append(tenant)
        self._target(target_id)
        return self.results[target_id][:limit]

    def check_target(self, tenant: str, target_id: str) -> CheckResult:
        self._called("check_target", target_id)
        self.tenants.append(tenant)
        return self.ingest_result(tenant, target_id, NewResult(ok=True, latency_ms=12, status_code=200))

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        self._called("list_alerts", target_id, state)
        self.tenants.append(tenant)
        return [a for a in self.alerts if target_id in (None, a.target_id) and state in (None, a.state)]

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        self._called("list_notifications", target_id, alert_id)
        self.tenants.append(tenant)
        return [n for n in self.notifications if target_id in (None, n.target_id) and alert_id in (None, n.alert_id)]

    def readiness(self) -> list[str]:
        self._called("readiness")
        return list(self.not_ready)


def valid_target(**overrides: Any) -> dict[str, Any]:
    return {"name": "shop", "url": "https://shop.example.com/health", **overrides}


def create(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/targets", json=valid_target(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def error_of(response: Any) -> tuple[int, str, str]:
    body = response.get_json()
    assert response.mimetype == "application/json"
    assert set(body) >= {"error"} and set(body["error"]) == {"code", "message"}
    return response.status_code, body["error"]["code"], body["error"]["message"]


def post_result(client: FlaskClient, target_id: str, **body: Any) -> Any:
    return client.post(f"/targets/{target_id}/results", json={"ok": True, "latency_ms": 12.5, **body})


ALERT = Alert(
    id=str(uuid.uuid4()), target_id=str(uuid.uuid4()), kind="down", state="open", opened_at=T0, resolved_at=None,
    opened_by_result_id=str(uuid.uuid4()),
)
NOTIFICATION = Notification(
    id=str(uuid.uuid4()), alert_id=ALERT.id, target_id=ALERT.target_id, event="alert_opened", channel="log",
    status="sent", message="shop is down", created_at=T0,
)
