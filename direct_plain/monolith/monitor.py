"""The monitor service: targets, their check results, probing. It calls alerting directly for each new result."""
from __future__ import annotations

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from shared.domain import CheckResult, Conflict, NewResult, NewTarget, NotFound, Target, TargetPage, new_id, utcnow
from shared.outbound import HttpProber
from shared.storage.database import domain_columns, to_domain, to_domain_list

from .alerting import AlertingService
from .database import Database
from .tables import results, row_of, targets

TARGET_COLUMNS = domain_columns(targets, Target)
RESULT_COLUMNS = domain_columns(results, CheckResult)


def target_missing(target_id: str) -> NotFound:
    return NotFound(f"target {target_id} not found")


class MonitorService:
    """Every method runs in the request's transaction (``Database.connection``); the backend opens it."""

    def __init__(self, db: Database, prober: HttpProber, alerting: AlertingService):
        self._db = db
        self._prober = prober
        self._alerting = alerting

    def create_target(self, tenant: str, new: NewTarget) -> Target:
        """``Conflict`` when the tenant has a target of that name (the unique key decides, also under races)."""
        target = Target(id=new_id(), name=new.name, url=new.url, interval_s=new.interval_s,
                        failure_threshold=new.failure_threshold, latency_threshold_ms=new.latency_threshold_ms,
                        webhook_url=new.webhook_url, created_at=utcnow(), tenant=tenant)
        try:
            self._db.connection().execute(insert(targets), row_of(targets, target))
        except IntegrityError:
            raise Conflict(f"a target named {new.name!r} exists already") from None
        return target

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        connection = self._db.connection()
        total = connection.scalar(select(func.count()).select_from(targets).where(targets.c.tenant == tenant)) or 0
        rows = connection.execute(select(*TARGET_COLUMNS).where(targets.c.tenant == tenant)
                                  .order_by(targets.c.created_at, targets.c.id).limit(limit).offset(offset))
        return TargetPage(items=to_domain_list(Target, rows), total=total)

    def get_target(self, tenant: str, target_id: str, for_update: bool = False) -> Target:
        """The tenant's target (``NotFound`` for another tenant's, as for none); ``for_update`` locks its row until
        the transaction ends (PostgreSQL; on SQLite the write transaction holds the whole file already)."""
        query = select(*TARGET_COLUMNS).where(targets.c.id == target_id, targets.c.tenant == tenant)
        row = self._db.connection().execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise target_missing(target_id)
        return to_domain(Target, row)

    def delete_target(self, tenant: str, target_id: str) -> None:
        """Its results, rule state, alerts and notifications go with it (the schema's cascades)."""
        deleted = self._db.connection().execute(delete(targets).where(targets.c.id == target_id, targets.c.tenant == tenant))
        if deleted.rowcount == 0:
            raise target_missing(target_id)

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        """Record the result and have alerting evaluate it, in the request's transaction.

        The target's row stays locked until the commit, so one target's results are recorded and evaluated one
        at a time, in order, by every thread and every copy of the app: exactly one alert per transition. A key
        seen before for the target returns the result it recorded, evaluated then, and changes nothing.
        """
        self.get_target(tenant, target_id, for_update=True)
        connection = self._db.connection()
        if new.key is not None:
            seen = connection.execute(select(*RESULT_COLUMNS).where(results.c.target_id == target_id,
                                                                    results.c.key == new.key)).first()
            if seen is not None:
                return to_domain(CheckResult, seen)
        received_at = utcnow()
        result = CheckResult(id=new_id(), target_id=target_id, ok=new.ok, latency_ms=float(new.latency_ms),
                             status_code=new.status_code, checked_at=new.checked_at or received_at,
                             received_at=received_at)
        connection.execute(insert(results), {**row_of(results, result), "key": new.key})
        self._alerting.evaluate(result)
        return result

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        """Newest first."""
        self.get_target(tenant, target_id)
        rows = self._db.connection().execute(select(*RESULT_COLUMNS).where(results.c.target_id == target_id)
                                             .order_by(results.c.seq.desc()).limit(limit))
        return to_domain_list(CheckResult, rows)

    def probe(self, target: Target) -> NewResult:
        """GET the target's URL now (5 s timeout, through the outbound guard); call it outside a transaction."""
        outcome = self._prober.probe(target.url)
        return NewResult(ok=outcome.ok, latency_ms=outcome.latency_ms, status_code=outcome.status_code,
                         checked_at=utcnow())
