"""The monitor's command handlers: targets and result recording."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Row, delete, insert, select
from sqlalchemy.exc import IntegrityError

from shared.domain import CheckResult, Conflict, NotFound, Target, new_id
from shared.storage.database import domain_columns, domain_row, ignoring_conflicts, to_domain

from .messages import CreateTarget, DeleteTarget, RecordResult, ResultRecorded
from .tables import results, targets
from .unit_of_work import UnitOfWork

TARGET_COLUMNS = domain_columns(targets, Target)
RESULT_COLUMNS = domain_columns(results, CheckResult)

Clock = Callable[[], datetime]


def create_target(command: CreateTarget, uow: UnitOfWork, clock: Clock) -> Target:
    """Store a new target of the command's tenant; ``Conflict`` when the tenant has one of that name."""
    new = command.new
    target = Target(id=new_id(), name=new.name, url=new.url, interval_s=new.interval_s,
                    failure_threshold=new.failure_threshold, latency_threshold_ms=new.latency_threshold_ms,
                    webhook_url=new.webhook_url, created_at=clock(), tenant=command.tenant)
    try:
        uow.connection.execute(insert(targets), domain_row(target))
    except IntegrityError:  # the unit of work rolls back with the Conflict
        raise Conflict(f"a target named {new.name!r} exists") from None
    return target


def delete_target(command: DeleteTarget, uow: UnitOfWork) -> None:
    """Delete the target with everything that hangs on it (results, rule state, alerts, notifications)."""
    removed = uow.connection.execute(
        delete(targets).where(targets.c.id == command.target_id, targets.c.tenant == command.tenant)).rowcount
    if not removed:
        raise NotFound(f"target {command.target_id} not found")


def lock_target(uow: UnitOfWork, tenant: str, target_id: str) -> Row:
    """The target's row, locked until the unit of work ends (``SELECT ... FOR UPDATE``; on SQLite the write
    transaction already excludes every other writer). ``NotFound`` for a missing target or another tenant's."""
    row = uow.connection.execute(
        select(*TARGET_COLUMNS).where(targets.c.id == target_id).with_for_update()).first()
    if row is None or row.tenant != tenant:
        raise NotFound(f"target {target_id} not found")
    return row


def record_result(command: RecordResult, uow: UnitOfWork, clock: Clock) -> CheckResult:
    """Store a result and raise ``ResultRecorded``; a repeated idempotency key returns the stored result and raises
    nothing. The target stays locked until the unit of work commits, so the results of one target are recorded and
    evaluated one at a time, in the order they were accepted."""
    lock_target(uow, command.tenant, command.target_id)
    new, received_at = command.new, clock()
    result = CheckResult(id=new_id(), target_id=command.target_id, ok=new.ok, latency_ms=float(new.latency_ms),
                         status_code=new.status_code, checked_at=new.checked_at or received_at,
                         received_at=received_at)
    statement = ignoring_conflicts(uow.connection.dialect.name, results, ("target_id", "key"))
    inserted = uow.connection.execute(statement, {**domain_row(result), "key": new.key},
                                      execution_options={"preserve_rowcount": True}).rowcount
    if inserted:
        uow.publish(ResultRecorded(result))
        return result
    row = uow.connection.execute(
        select(*RESULT_COLUMNS).where(results.c.target_id == command.target_id, results.c.key == new.key)).one()
    return to_domain(CheckResult, row)
