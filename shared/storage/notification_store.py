"""The notification service's store: one row per (alert, event, channel)."""
from __future__ import annotations

import dataclasses

from sqlalchemy import Engine, and_, or_, select

from ..domain import Notification
from ..ports import NotificationStore
from .database import (
    create_tables,
    domain_columns,
    insert_ignoring_conflicts,
    ping,
    read_transaction,
    to_domain_list,
    write_transaction,
)
from .tables import NOTIFICATION
from .tables import notifications as _table

__all__ = ["SqlNotificationStore"]

_COLUMNS = domain_columns(_table, Notification)
_UNIQUE = ("alert_id", "event", "channel")


class SqlNotificationStore(NotificationStore):
    """:class:`NotificationStore` on SQLAlchemy Core; creates its table (if missing) when constructed.

    Guarantee: at most one notification per (alert_id, event, channel), also when several processes
    record the same alert event at once; each call to :meth:`add_all` is all-or-nothing.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(engine, NOTIFICATION)

    def find(self, alert_id: str, event: str) -> list[Notification]:
        """In insertion order."""
        statement = (
            select(*_COLUMNS)
            .where(_table.c.alert_id == alert_id, _table.c.event == event)
            .order_by(_table.c.seq)
        )
        with read_transaction(self._engine) as connection:
            return to_domain_list(Notification, connection.execute(statement))

    def add_all(self, notifications: list[Notification]) -> list[Notification]:
        """Insert the notifications whose (alert_id, event, channel) is new, in one statement; return
        every notification stored for the alert events of ``notifications`` (in insertion order), whether
        inserted now or before. Among ``notifications``, the first of duplicates wins."""
        if not notifications:
            return []
        rows: dict[tuple[str, str, str], dict[str, object]] = {}
        for item in notifications:
            rows.setdefault((item.alert_id, item.event, item.channel), dataclasses.asdict(item))
        # One lock order for every writer, so concurrent duplicate inserts on PostgreSQL cannot deadlock.
        ordered = [rows[unique] for unique in sorted(rows)]
        events = sorted({(item.alert_id, item.event) for item in notifications})
        with write_transaction(self._engine) as connection:
            insert_ignoring_conflicts(connection, _table, ordered, _UNIQUE)
            stored = connection.execute(
                select(*_COLUMNS)
                .where(or_(*(and_(_table.c.alert_id == a, _table.c.event == e) for a, e in events)))
                .order_by(_table.c.seq)
            )
            return to_domain_list(Notification, stored)

    def list_notifications(self, target_id: str | None, alert_id: str | None) -> list[Notification]:
        statement = select(*_COLUMNS).order_by(_table.c.seq.desc())
        if target_id is not None:
            statement = statement.where(_table.c.target_id == target_id)
        if alert_id is not None:
            statement = statement.where(_table.c.alert_id == alert_id)
        with read_transaction(self._engine) as connection:
            return to_domain_list(Notification, connection.execute(statement))

    def ping(self) -> None:
        ping(self._engine)
