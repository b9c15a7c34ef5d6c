"""The monitor service's own work: targets, result recording, probing.

Every operation a client asks for names its tenant: a target of another tenant is ``NotFound``, as one that
does not exist (checked by the store, in the transaction that reads or changes the target)."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from ..auth import check_tenant
from ..domain import (
    CheckResult,
    Conflict,
    InvalidArgument,
    NewResult,
    NewTarget,
    NotFound,
    Target,
    TargetPage,
    check_page,
    derived_id,
    new_id,
    utcnow,
)
from ..ports import MonitorStore, Prober


class MonitorCore:
    def __init__(self, store: MonitorStore, prober: Prober, clock: Callable[[], datetime] = utcnow):
        self._store = store
        self._prober = prober
        self._clock = clock

    def create_target(self, tenant: str, new: NewTarget, request_id: str | None = None) -> Target:
        """Create a target of ``tenant``; raises ``Conflict`` when another target of the tenant has the name.

        With ``request_id`` (a redelivered request) the id is derived from it, and a repeat returns the
        target the first delivery created instead of a conflict. A tenant that is not a tenant name (an API key's
        tenant, ``shared.auth.check_tenant``) is ``InvalidArgument``: an internal call stores no target the api
        could never show.
        """
        try:
            check_tenant(tenant)
        except ValueError as error:
            raise InvalidArgument(f"target: {error}") from None
        target = Target(
            id=derived_id("target", request_id) if request_id else new_id(),
            name=new.name,
            url=new.url,
            interval_s=new.interval_s,
            failure_threshold=new.failure_threshold,
            latency_threshold_ms=new.latency_threshold_ms,
            webhook_url=new.webhook_url,
            created_at=self._clock(),
            tenant=tenant,
        )
        try:
            self._store.add_target(target)
        except Conflict:
            if request_id is None:
                raise
            try:
                return self._store.get_target(target.id, tenant)
            except NotFound:
                raise Conflict(f"a target named {new.name!r} exists") from None
        return target

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        """``InvalidArgument`` for a page the edge refuses (an internal call, checked again)."""
        check_page(limit, offset)
        return self._store.list_targets(tenant, limit, offset)

    def get_target(self, tenant: str, target_id: str) -> Target:
        return self._store.get_target(target_id, tenant)

    def delete_target(self, tenant: str, target_id: str) -> None:
        self._store.remove_target(target_id, tenant)

    def target_lock(self, target_id: str) -> AbstractContextManager[None]:
        """Hold ``target_id`` for the ``with`` block against every other holder, in any process on this
        service's database, so results of one target are recorded and passed on one at a time, in the
        order they were accepted. What the block calls runs while the target is held: keep it bounded
        (every remote call has a deadline). Not re-entrant."""
        return self._store.target_lock(target_id)

    def record_result(self, tenant: str, target_id: str, new: NewResult, request_id: str | None = None
                      ) -> tuple[CheckResult, Target, bool]:
        """Store a result; return it, its target (whose rule parameters travel on) and whether it is new.

        The result id is derived from the client's idempotency key, or else from ``request_id`` (a
        redelivered request), so a repeat finds the first result and reports it as not new.
        Raises ``NotFound`` for an unknown target or one of another tenant.
        """
        result_id = _result_id(target_id, new.key, request_id) or new_id()
        return self._store.add_result_of_target(self._new_result(result_id, target_id, new), new.key, tenant)

    def _new_result(self, result_id: str, target_id: str, new: NewResult) -> CheckResult:
        received_at = self._clock()
        return CheckResult(
            id=result_id,
            target_id=target_id,
            ok=new.ok,
            latency_ms=float(new.latency_ms),
            status_code=new.status_code,
            checked_at=new.checked_at or received_at,
            received_at=received_at,
        )

    def record_unannounced(self, tenant: str, target_id: str, new: NewResult
                           ) -> tuple[CheckResult, Target, bool, list[CheckResult]]:
        """:meth:`record_result` with an outbox mark (the store's ``add_unannounced_result``): returns also the
        target's results not yet known to have reached alerting, oldest first, this one included if it is
        new or was never announced. Call :meth:`announced` for each once alerting has it."""
        result_id = _result_id(target_id, new.key, None) or new_id()
        return self._store.add_unannounced_result(self._new_result(result_id, target_id, new), new.key, tenant)

    def announced(self, result_id: str) -> None:
        """Alerting has ``result_id``: its outbox mark goes (a write of its own, made while the target is held,
        so whoever holds the target next, in any process, sees it gone). If this process dies before, the next
        holder announces the result again, which alerting ignores."""
        self._store.settle(result_id)

    def recorded(self, target_id: str, request_id: str | None, key: str | None = None) -> tuple[CheckResult, Target] | None:
        """The result a request (or the client's idempotency ``key``) recorded, with its target; None if none."""
        result_id = _result_id(target_id, key, request_id)
        return self._store.find_result(result_id) if result_id else None

    def forget_result(self, result_id: str) -> None:
        """Compensation: remove a result whose forwarding failed, so nothing stays half-applied."""
        self._store.remove_result(result_id)

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        check_page(limit)
        self._store.get_target(target_id, tenant)
        return self._store.list_results(target_id, limit)

    def probe(self, tenant: str, target_id: str) -> tuple[Target, NewResult]:
        """Probe the target's URL now (HTTP GET, 5 s timeout); the outcome as a result to record. ``NotFound``
        (nothing probed) for a target of another tenant."""
        target = self._store.get_target(target_id, tenant)
        outcome = self._prober.probe(target.url)
        return target, NewResult(
            ok=outcome.ok, latency_ms=outcome.latency_ms, status_code=outcome.status_code, checked_at=self._clock()
        )

    def ping(self) -> None:
        self._store.ping()


def _result_id(target_id: str, key: str | None, request_id: str | None) -> str | None:
    """A result's id derived from the client's idempotency key, or else from the request that carried it."""
    if key is not None:
        return derived_id(target_id, "key", key)
    if request_id is not None:
        return derived_id(target_id, "request", request_id)
    return None
