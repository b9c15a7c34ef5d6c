"""The alerting service's store: the rule state per target, the processed keys and the alerts."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from ..domain import Alert, AlertEvent, AlertKind, utcnow
from ..ports import AlertingStore, AlertingUnitOfWork
from ..rules import RuleState
from .database import (
    create_tables,
    domain_columns,
    insert_ignoring_conflicts,
    ping,
    read_transaction,
    to_domain,
    to_domain_list,
    write_transaction,
)
from .tables import ALERTING, alerts, processed, rule_states

__all__ = ["SqlAlertingStore", "SqlAlertingUnitOfWork"]

_ALERT_COLUMNS = domain_columns(alerts, Alert)

# Statements built once (SQLAlchemy then compiles each once per dialect); values travel as parameters.
_TARGET = bindparam("target_id")
_KEY = bindparam("key")
_PROCESSED_KEY = (processed.c.target_id == _TARGET) & (processed.c.key == _KEY)
_STATE_FOR_UPDATE = (
    select(rule_states.c.consecutive_failures, rule_states.c.down_open, rule_states.c.slow_open)
    .where(rule_states.c.target_id == _TARGET)
    .with_for_update()
)
# An UPDATE may not name a bind parameter after one of its table's columns.
_UPDATED_TARGET = bindparam("updated_target_id")
_SAVE_STATE = update(rule_states).where(rule_states.c.target_id == _UPDATED_TARGET).values(
    consecutive_failures=bindparam("consecutive_failures"),
    down_open=bindparam("down_open"),
    slow_open=bindparam("slow_open"),
)
_IS_PROCESSED = select(processed.c.key).where(_PROCESSED_KEY)
_SNAPSHOT = select(processed.c.prev_consecutive_failures, processed.c.prev_down_open, processed.c.prev_slow_open).where(
    _PROCESSED_KEY
)
_UNMARK = delete(processed).where(_PROCESSED_KEY)
_CHANGES_BY = (
    select(*_ALERT_COLUMNS, alerts.c.resolved_by_key)
    .where(alerts.c.target_id == _TARGET)
    .where((alerts.c.opened_by_result_id == _KEY) | (alerts.c.resolved_by_key == _KEY))
    .order_by(alerts.c.seq)
)
_ADD_ALERT = insert(alerts)
_NEWEST_OPEN = (
    select(alerts.c.id)
    .where(alerts.c.target_id == _TARGET, alerts.c.kind == bindparam("kind"), alerts.c.state == "open")
    .order_by(alerts.c.seq.desc())
    .limit(1)
)
_RESOLVE = update(alerts).where(alerts.c.id == bindparam("alert_id")).values(
    state="resolved", resolved_at=bindparam("resolved_time"), resolved_by_key=_KEY
)
_ALERT = select(*_ALERT_COLUMNS).where(alerts.c.id == bindparam("alert_id"))
_REMOVE_OPENED_BY = delete(alerts).where(alerts.c.target_id == _TARGET, alerts.c.opened_by_result_id == _KEY)
_REOPEN_RESOLVED_BY = update(alerts).where(alerts.c.target_id == _UPDATED_TARGET, alerts.c.resolved_by_key == _KEY).values(
    state="open", resolved_at=None, resolved_by_key=None
)


class SqlAlertingUnitOfWork(AlertingUnitOfWork):
    """The statements of one unit of work, on the connection whose transaction holds the target locked.

    Every method reads and writes only this target's rows. Processed keys are scoped to the target.
    Only valid inside the ``with`` block of :meth:`SqlAlertingStore.unit_of_work`. ``state`` is the
    target's rule state as read when the row was locked: as nobody else can change it before the unit
    ends, :meth:`load_state` answers from it and :meth:`save_state` skips an update that would change
    nothing.
    """

    def __init__(self, connection: Connection, target_id: str, state: RuleState) -> None:
        self._connection = connection
        self._target_id = target_id
        self._state = state

    def is_processed(self, key: str) -> bool:
        return self._connection.scalar(_IS_PROCESSED, {"target_id": self._target_id, "key": key}) is not None

    def load_state(self) -> RuleState:
        return self._state

    def save_state(self, state: RuleState) -> None:
        if state == self._state:
            return
        self._connection.execute(_SAVE_STATE, {
            "updated_target_id": self._target_id,
            "consecutive_failures": state.consecutive_failures,
            "down_open": state.down_open,
            "slow_open": state.slow_open,
        })
        self._state = state

    def mark_processed(self, key: str, previous: RuleState) -> None:
        """Record ``key`` with ``previous``; marking a key again keeps its first snapshot."""
        row = {
            "target_id": self._target_id,
            "key": key,
            "prev_consecutive_failures": previous.consecutive_failures,
            "prev_down_open": previous.down_open,
            "prev_slow_open": previous.slow_open,
            "processed_at": utcnow(),
        }
        insert_ignoring_conflicts(self._connection, processed, [row], ["target_id", "key"])

    def processed_snapshot(self, key: str) -> RuleState | None:
        row = self._connection.execute(_SNAPSHOT, {"target_id": self._target_id, "key": key}).first()
        return None if row is None else RuleState(*row)

    def unmark_processed(self, key: str) -> None:
        self._connection.execute(_UNMARK, {"target_id": self._target_id, "key": key})

    def changes_by(self, key: str) -> list[tuple[Alert, AlertEvent]]:
        rows = self._connection.execute(_CHANGES_BY, {"target_id": self._target_id, "key": key}).all()
        changes: list[tuple[Alert, AlertEvent]] = []
        for row in rows:
            *fields, resolved_by_key = row
            alert = Alert(*fields)
            if alert.opened_by_result_id == key:
                changes.append((alert, "alert_opened"))
            if resolved_by_key == key:
                changes.append((alert, "alert_resolved"))
        return changes

    def add_alert(self, alert: Alert) -> None:
        """Insert ``alert`` (its ``target_id`` should be this unit's target). A duplicate id raises
        ``IntegrityError``."""
        self._connection.execute(_ADD_ALERT, {
            "id": alert.id,
            "target_id": alert.target_id,
            "kind": alert.kind,
            "state": alert.state,
            "opened_at": alert.opened_at,
            "resolved_at": alert.resolved_at,
            "opened_by_result_id": alert.opened_by_result_id,
            "tenant": alert.tenant,
        })

    def resolve_alert(self, kind: AlertKind, resolved_at: datetime, by_key: str) -> Alert | None:
        """Resolve the newest open alert of ``kind`` and return it as stored, or None if none is open."""
        alert_id = self._connection.scalar(_NEWEST_OPEN, {"target_id": self._target_id, "kind": kind})
        if alert_id is None:
            return None
        self._connection.execute(_RESOLVE, {"alert_id": alert_id, "resolved_time": resolved_at, "key": by_key})
        return to_domain(Alert, self._connection.execute(_ALERT, {"alert_id": alert_id}).one())

    def remove_alerts_opened_by(self, key: str) -> None:
        self._connection.execute(_REMOVE_OPENED_BY, {"target_id": self._target_id, "key": key})

    def reopen_alerts_resolved_by(self, key: str) -> None:
        self._connection.execute(_REOPEN_RESOLVED_BY, {"updated_target_id": self._target_id, "key": key})


class SqlAlertingStore(AlertingStore):
    """:class:`AlertingStore` on SQLAlchemy Core; creates its tables (if missing) when constructed.

    Guarantee: units of work on the same target run one after the other, whatever the number of
    threads or processes. Each holds one transaction that first locks the target's ``rule_states``
    row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the transaction's ``BEGIN IMMEDIATE``
    already excludes every other writer), creating it first when missing (``INSERT ... ON CONFLICT
    DO NOTHING``, then the locking select again). Units of work on different targets run in parallel on PostgreSQL.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(engine, ALERTING)

    @contextmanager
    def unit_of_work(self, target_id: str) -> Iterator[AlertingUnitOfWork]:
        """Commits when the block ends normally; rolls back (and re-raises) on an exception."""
        with write_transaction(self._engine) as connection:
            yield SqlAlertingUnitOfWork(connection, target_id, _lock_rule_state(connection, target_id))

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        statement = select(*_ALERT_COLUMNS).where(alerts.c.tenant == tenant).order_by(alerts.c.seq.desc())
        if target_id is not None:
            statement = statement.where(alerts.c.target_id == target_id)
        if state is not None:
            statement = statement.where(alerts.c.state == state)
        with read_transaction(self._engine) as connection:
            return to_domain_list(Alert, connection.execute(statement))

    def ping(self) -> None:
        ping(self._engine)


def _lock_rule_state(connection: Connection, target_id: str) -> RuleState:
    """Lock the target's ``rule_states`` row (creating it first if missing) and return the state it holds.

    ``SELECT ... FOR UPDATE`` (on SQLite plain: ``BEGIN IMMEDIATE`` already excludes every other writer);
    only when no row exists, ``INSERT ... ON CONFLICT DO NOTHING`` (a concurrent creator waits for the
    other's commit, then skips) and the locking select again.
    """
    parameters = {"target_id": target_id}
    row = connection.execute(_STATE_FOR_UPDATE, parameters).first()
    if row is None:
        initial = RuleState()
        insert_ignoring_conflicts(connection, rule_states, [{
            "target_id": target_id,
            "consecutive_failures": initial.consecutive_failures,
            "down_open": initial.down_open,
            "slow_open": initial.slow_open,
        }], ["target_id"])
        row = connection.execute(_STATE_FOR_UPDATE, parameters).one()
    return RuleState(*row)
