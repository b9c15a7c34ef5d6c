"""The tables, one ``MetaData`` per service: a service's tables live only in its own.

Strings are unbounded (validation happens at the edge), so SQLite and PostgreSQL accept the same
values. ``seq`` columns are autoincrement primary keys that record insertion order; domain ids are
unique strings beside them. Datetimes are stored as UTC and read back as aware UTC datetimes.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

__all__ = ["UTCDateTime", "MONITOR", "ALERTING", "NOTIFICATION", "targets", "results", "rule_states",
           "unannounced", "alerts", "processed", "notifications", "notification_claims"]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored as UTC.

    Binding a naive datetime raises ``ValueError`` (the domain only has aware ones). Values read back
    are aware, in UTC, on every database (SQLite keeps no offset: its values are stored as UTC).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the storage only accepts timezone-aware datetimes")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _seq() -> Column[Any]:
    """Autoincrement primary key recording insertion order (SQLite needs exactly INTEGER for that)."""
    return Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)


# --------------------------------------------------------------------------- monitor

MONITOR = MetaData(naming_convention=_NAMING)

targets = Table(
    "targets",
    MONITOR,
    Column("id", String, primary_key=True),
    Column("tenant", String, nullable=False),
    Column("name", String, nullable=False),
    Column("url", String, nullable=False),
    Column("interval_s", Integer, nullable=False),
    Column("failure_threshold", Integer, nullable=False),
    Column("latency_threshold_ms", Integer, nullable=True),
    Column("webhook_url", String, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant", "name"),  # names are unique per tenant; it also serves a tenant's listing and count
    Index(None, "tenant", "created_at", "id"),
)

results = Table(
    "results",
    MONITOR,
    _seq(),
    Column("id", String, nullable=False, unique=True),
    Column("target_id", String, ForeignKey("targets.id", ondelete="CASCADE"), nullable=False),
    Column("key", String, nullable=True),  # the client's idempotency key, if any
    Column("ok", Boolean, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("checked_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index(None, "target_id", "seq"),
)

unannounced = Table(
    # The outbox of the direct app's monitor: results stored but not yet known to have reached alerting.
    "unannounced",
    MONITOR,
    Column("result_id", String, ForeignKey("results.id", ondelete="CASCADE"), primary_key=True),
    Column("target_id", String, nullable=False, index=True),
)

# --------------------------------------------------------------------------- alerting

ALERTING = MetaData(naming_convention=_NAMING)

rule_states = Table(
    "rule_states",
    ALERTING,
    Column("target_id", String, primary_key=True),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("down_open", Boolean, nullable=False, default=False),
    Column("slow_open", Boolean, nullable=False, default=False),
)

alerts = Table(
    "alerts",
    ALERTING,
    _seq(),
    Column("id", String, nullable=False, unique=True),
    Column("target_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("state", String, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("opened_by_result_id", String, nullable=False),  # the processed key that opened it
    Column("resolved_by_key", String, nullable=True),  # the processed key that resolved it
    Column("tenant", String, nullable=False),  # the target's, as the result's rule parameters said
    Index(None, "tenant", "seq"),
    Index(None, "target_id", "kind", "state"),
    Index(None, "target_id", "opened_by_result_id"),
    Index(None, "target_id", "resolved_by_key"),
)

# Keys applied per target, with the rule state as it was before (to revert them).
processed = Table(
    "processed",
    ALERTING,
    Column("target_id", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("prev_consecutive_failures", Integer, nullable=False),
    Column("prev_down_open", Boolean, nullable=False),
    Column("prev_slow_open", Boolean, nullable=False),
    Column("processed_at", UTCDateTime, nullable=False),
)

# --------------------------------------------------------------------------- notification

NOTIFICATION = MetaData(naming_convention=_NAMING)

notifications = Table(
    "notifications",
    NOTIFICATION,
    _seq(),
    Column("id", String, nullable=False, unique=True),
    Column("alert_id", String, nullable=False),
    Column("target_id", String, nullable=False),
    Column("event", String, nullable=False),
    Column("channel", String, nullable=False),
    Column("status", String, nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("tenant", String, nullable=False),  # the alert's
    UniqueConstraint("alert_id", "event", "channel"),
    Index(None, "tenant", "seq"),
    Index(None, "target_id", "seq"),
)

# Who is sending an (alert, event, channel) now: taken before the send, kept after it (never deleted).
notification_claims = Table(
    "notification_claims",
    NOTIFICATION,
    Column("alert_id", String, primary_key=True),
    Column("event", String, primary_key=True),
    Column("channel", String, primary_key=True),
    Column("token", String, nullable=False),  # the claimant (one delivery attempt)
    Column("claimed_at", UTCDateTime, nullable=False),
)
