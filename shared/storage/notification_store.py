"""The notification service's store: one row per (alert, event, channel), and the claims on their sends."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, delete, exists, or_, select, update

from ..domain import Notification
from ..ports import Claim, NotificationStore
from .database import (
    create_tables,
    domain_columns,
    domain_row,
    insert_ignoring_conflicts,
    ping,
    read_transaction,
    to_domain_list,
    write_transaction,
)
from .tables import NOTIFICATION
from .tables import notification_claims as _claims
from .tables import notifications as _table

__all__ = ["SqlNotificationStore"]

_COLUMNS = domain_columns(_table, Notification)
_UNIQUE = ("alert_id", "event", "channel")


class SqlNotificationStore(NotificationStore):
    """:class:`NotificationStore` on SQLAlchemy Core; creates its tables (if missing) when constructed.

    Guarantees: at most one notification per (alert_id, event, channel), also when several processes
    record the same alert event at once; each call to :meth:`add_all` is all-or-nothing; at most one
    holder of a claim at a time (:meth:`claim`), however many processes ask for it at once.
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
            rows.setdefault((item.alert_id, item.event, item.channel), domain_row(item))
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

    def claim(self, alert_id: str, event: str, channel: str, token: str, now: datetime, lease_s: float) -> Claim:
        """One transaction: insert the claim unless the key has one (``ON CONFLICT DO NOTHING``: a concurrent
        claimant waits for the other's commit, then finds its claim), else take a claim older than the lease
        over if no notification is recorded for the key (an ``UPDATE`` whose condition PostgreSQL checks
        again on the row a concurrent taker committed), then read the claim back."""
        key = (_claims.c.alert_id == alert_id, _claims.c.event == event, _claims.c.channel == channel)
        row = {"alert_id": alert_id, "event": event, "channel": channel, "token": token, "claimed_at": now}
        recorded = exists().where(_table.c.alert_id == alert_id, _table.c.event == event, _table.c.channel == channel)
        with write_transaction(self._engine) as connection:
            if not insert_ignoring_conflicts(connection, _claims, [row], ("alert_id", "event", "channel")):
                connection.execute(
                    update(_claims)
                    .where(*key, _claims.c.claimed_at < now - timedelta(seconds=lease_s), ~recorded)
                    .values(token=token, claimed_at=now)
                )
            holder = connection.execute(select(_claims.c.token, _claims.c.claimed_at).where(*key)).one()
            return Claim(token=holder.token, claimed_at=holder.claimed_at)

    def release(self, alert_id: str, event: str, channel: str, token: str) -> None:
        with write_transaction(self._engine) as connection:
            connection.execute(delete(_claims).where(
                _claims.c.alert_id == alert_id, _claims.c.event == event, _claims.c.channel == channel,
                _claims.c.token == token,
            ))

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        statement = select(*_COLUMNS).where(_table.c.tenant == tenant).order_by(_table.c.seq.desc())
        if target_id is not None:
            statement = statement.where(_table.c.target_id == target_id)
        if alert_id is not None:
            statement = statement.where(_table.c.alert_id == alert_id)
        with read_transaction(self._engine) as connection:
            return to_domain_list(Notification, connection.execute(statement))

    def ping(self) -> None:
        ping(self._engine)
