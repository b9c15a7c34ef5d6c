"""The monolith's one schema: every service's tables in one ``MetaData``, with foreign keys between them.

Deleting a target deletes everything that belongs to it (``ON DELETE CASCADE``): its results, its rule state,
its alerts, their notifications and their pending webhook deliveries. ``seq`` columns record insertion order;
domain ids are unique strings beside them. Strings are unbounded (the edge validates), datetimes aware UTC.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
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

from shared.storage import UTCDateTime

SCHEMA = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


def seq_column() -> Column[Any]:
    """An autoincrement primary key recording insertion order (SQLite needs exactly INTEGER for that)."""
    return Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)


def row_of(table: Table, value: object) -> dict[str, Any]:
    """The columns of ``table`` that ``value`` (a domain dataclass) has a field for, as an insert's parameters."""
    return {column.name: getattr(value, column.name) for column in table.columns if hasattr(value, column.name)}


def target_key() -> ForeignKey:
    """A reference to the target that owns the row: the row goes when the target does."""
    return ForeignKey("targets.id", ondelete="CASCADE")


# --------------------------------------------------------------------------- monitor

targets = Table(
    "targets",
    SCHEMA,
    Column("id", String, primary_key=True),
    Column("tenant", String, nullable=False),
    Column("name", String, nullable=False),
    Column("url", String, nullable=False),
    Column("interval_s", Integer, nullable=False),
    Column("failure_threshold", Integer, nullable=False),
    Column("latency_threshold_ms", Integer, nullable=True),
    Column("webhook_url", String, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant", "name"),
    Index(None, "tenant", "created_at", "id"),
)

results = Table(
    "results",
    SCHEMA,
    seq_column(),
    Column("id", String, nullable=False, unique=True),
    Column("target_id", String, target_key(), nullable=False),
    Column("key", String, nullable=True),  # the client's idempotency key, if any
    Column("ok", Boolean, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("checked_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("target_id", "key"),  # a key is a result once per target (NULLs never collide)
    Index(None, "target_id", "seq"),
)

# --------------------------------------------------------------------------- alerting

rule_states = Table(
    "rule_states",
    SCHEMA,
    Column("target_id", String, target_key(), primary_key=True),
    Column("consecutive_failures", Integer, nullable=False),
    Column("down_open", Boolean, nullable=False),
    Column("slow_open", Boolean, nullable=False),
)

alerts = Table(
    "alerts",
    SCHEMA,
    seq_column(),
    Column("id", String, nullable=False, unique=True),
    Column("target_id", String, target_key(), nullable=False),
    Column("kind", String, nullable=False),
    Column("state", String, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("opened_by_result_id", String, nullable=False),
    Index(None, "target_id", "kind", "state"),
    Index(None, "target_id", "seq"),
)

# --------------------------------------------------------------------------- notification

notifications = Table(
    "notifications",
    SCHEMA,
    seq_column(),
    Column("id", String, nullable=False, unique=True),
    Column("alert_id", String, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("target_id", String, target_key(), nullable=False),
    Column("event", String, nullable=False),
    Column("channel", String, nullable=False),
    Column("status", String, nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    UniqueConstraint("alert_id", "event", "channel"),
    Index(None, "target_id", "seq"),
)

# Webhooks to POST once the request's transaction has committed: written in that transaction, claimed by it
# (``claimed_at``), deleted when the webhook's notification is recorded. A row whose claim is older than the
# lease belonged to a process that died between the commit and the record: the sweeper sends it again.
webhook_outbox = Table(
    "webhook_outbox",
    SCHEMA,
    Column("notification_id", String, primary_key=True),  # the webhook notification's id, its Idempotency-Key
    Column("alert_id", String, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("target_id", String, target_key(), nullable=False),
    Column("event", String, nullable=False),
    Column("url", String, nullable=False),
    Column("payload", Text, nullable=False),  # the JSON body, as the alert was when it changed
    Column("message", Text, nullable=False),
    Column("tenant", String, nullable=False),  # the target's, as the change was queued
    Column("claim", String, nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
)
