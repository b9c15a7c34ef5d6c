"""The monitor service's store: targets and their check results."""
from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache
from typing import Any, TypeGuard

from sqlalchemy import Engine, Row, bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import BindParameter

from ..domain import CheckResult, Conflict, NotFound, Target, TargetPage
from ..ports import MonitorStore
from .database import (
    create_tables,
    domain_columns,
    domain_row,
    ignoring_conflicts,
    ping,
    read_transaction,
    to_domain,
    to_domain_list,
    write_transaction,
)
from .key_locks import hold_key
from .tables import MONITOR, results, targets, unannounced

__all__ = ["SqlMonitorStore"]

_TARGET_COLUMNS = domain_columns(targets, Target)
_RESULT_COLUMNS = domain_columns(results, CheckResult)

# Statements built once (SQLAlchemy then compiles each once per dialect); values travel as parameters.
_ADD_TARGET = insert(targets)
_TENANT: BindParameter[str] = bindparam("tenant")
_COUNT_TARGETS = select(func.count()).select_from(targets).where(targets.c.tenant == _TENANT)
_COUNT_NAMED = select(func.count()).select_from(targets).where(targets.c.tenant == _TENANT, targets.c.name == bindparam("name"))
_TARGET_PAGE = (
    select(*_TARGET_COLUMNS).where(targets.c.tenant == _TENANT).order_by(targets.c.created_at, targets.c.id)
    .limit(bindparam("limit")).offset(bindparam("offset"))
)
_TARGET = select(*_TARGET_COLUMNS).where(targets.c.id == bindparam("target_id"))
_REMOVE_RESULTS_OF = delete(results).where(results.c.target_id == bindparam("target_id"))
_REMOVE_TARGET = delete(targets).where(targets.c.id == bindparam("target_id"))
_TENANT_OF = select(targets.c.tenant).where(targets.c.id == bindparam("target_id"))
_RESULT = select(*_RESULT_COLUMNS).where(results.c.id == bindparam("result_id"))
_REMOVE_RESULT = delete(results).where(results.c.id == bindparam("result_id"))
_MARK = insert(unannounced)
_UNMARK = delete(unannounced).where(unannounced.c.result_id == bindparam("result_id"))
_UNMARK_TARGET = delete(unannounced).where(unannounced.c.target_id == bindparam("target_id"))
_MARKED_OF = (
    select(*_RESULT_COLUMNS).join(unannounced, unannounced.c.result_id == results.c.id)
    .where(unannounced.c.target_id == bindparam("target_id")).order_by(results.c.seq)
)
_RESULTS_OF = (
    select(*_RESULT_COLUMNS).where(results.c.target_id == bindparam("target_id")).order_by(results.c.seq.desc())
    .limit(bindparam("limit"))
)


def _target_missing(target_id: str) -> NotFound:
    return NotFound(f"target {target_id} not found")


def _found(row: Row[Any] | None, tenant: str | None) -> TypeGuard[Row[Any]]:
    """The target row exists and is ``tenant``'s (any tenant's when None): another tenant's is as good as absent."""
    return row is not None and (tenant is None or row.tenant == tenant)


class SqlMonitorStore(MonitorStore):
    """:class:`MonitorStore` on SQLAlchemy Core; creates its tables (if missing) when constructed.

    Guarantees: target names are unique per tenant (``Conflict``); a target of another tenant than the one asked
    for is ``NotFound``, as one that does not exist, checked in the transaction that reads or changes it;
    a result id is stored at most once, also under
    concurrent inserts; a result never outlives its target (a foreign key with ``ON DELETE CASCADE``
    backs the explicit delete, so a result racing a target removal is either removed with it or
    refused with ``NotFound``); results are listed in acceptance order (``seq``); :meth:`target_lock`
    excludes every other holder of the target in every process on this database.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(engine, MONITOR)

    def target_lock(self, target_id: str) -> AbstractContextManager[None]:
        """Hold the target for the block, across threads and processes (see the port).

        SQLite: an in-process lock per target, shared by every store of this process on the file (one
        process writes a SQLite file). PostgreSQL: the same in-process lock, then
        ``pg_advisory_xact_lock`` on a hash of the target id in a transaction that stays open, on a
        connection of its own, until the block ends; a wait for another process's holder gives up
        after 30 s with ``Unavailable``. Whatever the block calls (a peer over the network included)
        runs with that transaction open: the cost of per-target order across replicas, bounded by the
        deadlines of those calls. Not re-entrant (``RuntimeError``).
        """
        return hold_key(self._engine, "monitor.target", target_id)

    def add_target(self, target: Target) -> None:
        try:
            with write_transaction(self._engine) as connection:
                connection.execute(_ADD_TARGET, domain_row(target))
        except IntegrityError as error:
            with read_transaction(self._engine) as connection:
                taken = connection.scalar(_COUNT_NAMED, {"tenant": target.tenant, "name": target.name})
            if taken:
                raise Conflict(f"a target named {target.name!r} exists already") from error
            raise

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        with read_transaction(self._engine) as connection:
            total = connection.scalar(_COUNT_TARGETS, {"tenant": tenant}) or 0
            rows = connection.execute(_TARGET_PAGE, {"tenant": tenant, "limit": limit, "offset": offset})
            return TargetPage(items=to_domain_list(Target, rows), total=total)

    def get_target(self, target_id: str, tenant: str | None = None) -> Target:
        with read_transaction(self._engine) as connection:
            row = connection.execute(_TARGET, {"target_id": target_id}).first()
        if not _found(row, tenant):
            raise _target_missing(target_id)
        return to_domain(Target, row)

    def remove_target(self, target_id: str, tenant: str) -> None:
        with write_transaction(self._engine) as connection:
            if connection.scalar(_TENANT_OF, {"target_id": target_id}) != tenant:
                raise _target_missing(target_id)
            connection.execute(_UNMARK_TARGET, {"target_id": target_id})
            connection.execute(_REMOVE_RESULTS_OF, {"target_id": target_id})
            if connection.execute(_REMOVE_TARGET, {"target_id": target_id}).rowcount == 0:
                raise _target_missing(target_id)

    def add_result(self, result: CheckResult, key: str | None) -> tuple[CheckResult, bool]:
        stored, _, created = self.add_result_of_target(result, key)
        return stored, created

    def add_result_of_target(self, result: CheckResult, key: str | None, tenant: str | None = None
                             ) -> tuple[CheckResult, Target, bool]:
        """One write transaction: read the target (``NotFound`` if missing or another tenant's), insert the result unless its
        id exists (``ON CONFLICT DO NOTHING ... RETURNING``), else read the stored one back."""
        row = {**domain_row(result), "key": key}
        try:
            with write_transaction(self._engine) as connection:
                found = connection.execute(_TARGET, {"target_id": result.target_id}).first()
                if not _found(found, tenant):
                    raise _target_missing(result.target_id)
                stored = connection.execute(_insert_result(connection.dialect.name), row).first()
                inserted = stored is not None
                if stored is None:
                    stored = connection.execute(_RESULT, {"result_id": result.id}).one()
                return to_domain(CheckResult, stored), to_domain(Target, found), inserted
        except IntegrityError as error:  # the foreign key: the target was removed concurrently
            raise _target_missing(result.target_id) from error

    def add_unannounced_result(self, result: CheckResult, key: str | None, tenant: str | None = None
                               ) -> tuple[CheckResult, Target, bool, list[CheckResult]]:
        """One write transaction: :meth:`add_result_of_target`'s steps, the new result's mark, and the target's
        marked results (see the port)."""
        row = {**domain_row(result), "key": key}
        try:
            with write_transaction(self._engine) as connection:
                found = connection.execute(_TARGET, {"target_id": result.target_id}).first()
                if not _found(found, tenant):
                    raise _target_missing(result.target_id)
                stored = connection.execute(_insert_result(connection.dialect.name), row).first()
                inserted = stored is not None
                if stored is None:
                    stored = connection.execute(_RESULT, {"result_id": result.id}).one()
                else:
                    connection.execute(_MARK, {"result_id": result.id, "target_id": result.target_id})
                marked = to_domain_list(CheckResult, connection.execute(_MARKED_OF, {"target_id": result.target_id}))
                return to_domain(CheckResult, stored), to_domain(Target, found), inserted, marked
        except IntegrityError as error:  # the foreign key: the target was removed concurrently
            raise _target_missing(result.target_id) from error

    def settle(self, result_id: str) -> None:
        with write_transaction(self._engine) as connection:
            connection.execute(_UNMARK, {"result_id": result_id})

    def find_result(self, result_id: str) -> tuple[CheckResult, Target] | None:
        with read_transaction(self._engine) as connection:
            row = connection.execute(_RESULT, {"result_id": result_id}).first()
            if row is None:
                return None
            target = connection.execute(_TARGET, {"target_id": row.target_id}).first()
        if target is None:
            return None
        return to_domain(CheckResult, row), to_domain(Target, target)

    def remove_result(self, result_id: str) -> None:
        with write_transaction(self._engine) as connection:
            connection.execute(_UNMARK, {"result_id": result_id})
            connection.execute(_REMOVE_RESULT, {"result_id": result_id})

    def list_results(self, target_id: str, limit: int) -> list[CheckResult]:
        with read_transaction(self._engine) as connection:
            return to_domain_list(CheckResult, connection.execute(_RESULTS_OF, {"target_id": target_id, "limit": limit}))

    def ping(self) -> None:
        ping(self._engine)




@cache
def _insert_result(dialect: str) -> Any:
    """``INSERT INTO results ... ON CONFLICT (id) DO NOTHING RETURNING`` the result's domain columns."""
    return ignoring_conflicts(dialect, results, ("id",)).returning(*_RESULT_COLUMNS)
