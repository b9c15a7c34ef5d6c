"""The monolith's one schema: every service's tables in one ``MetaData``, tied together by foreign keys.

A target owns its results, rule state and alerts; an alert owns its notifications and pending webhook sends:
deleting a target deletes all of them (``ON DELETE CASCADE``). Listings join across these tables.
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

from shared.storage.tables import UTCDateTime

METADATA = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


def _seq() -> Column[Any]:
    """Autoincrement primary key recording insertion order (SQLite needs exactly INTEGER for that)."""
    return Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)


def _target_fk() -> Column[Any]:
    return Column("target_id", String, ForeignKey("targets.id", ondelete="CASCADE"), nullable=False)


targets = Table(
    "targets",
    METADATA,
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
    METADATA,
    _seq(),
    Column("id", String, nullable=False, unique=True),
    _target_fk(),
    Column("key", String, nullable=True),  # the client's idempotency key, if any
    Column("ok", Boolean, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("checked_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("target_id", "key"),  # a key is stored once per target (NULLs never collide)
    Index(None, "target_id", "seq"),
)

rule_states = Table(
    "rule_states",
    METADATA,
    Column("target_id", String, ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True),
    Column("consecutive_failures", Integer, nullable=False),
    Column("down_open", Boolean, nullable=False),
    Column("slow_open", Boolean, nullable=False),
)

alerts = Table(
    "alerts",
    METADATA,
    _seq(),
    Column("id", String, nullable=False, unique=True),
    _target_fk(),
    Column("kind", String, nullable=False),
    Column("state", String, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("opened_by_result_id", String, nullable=False),
    Index(None, "target_id", "kind", "state"),
)

notifications = Table(
    "notifications",
    METADATA,
    _seq(),
    Column("id", String, nullable=False, unique=True),
    Column("alert_id", String, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("event", String, nullable=False),
    Column("channel", String, nullable=False),
    Column("status", String, nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    UniqueConstraint("alert_id", "event", "channel"),
    Index(None, "alert_id", "seq"),
)

webhook_sends = Table(
    # Webhooks to POST once the transaction that decided them has committed; a row goes when its notification is
    # recorded. ``claimed_at``/``token``: who is sending it now (a claim older than the lease may be taken over).
    # ``trace``: the trace of the request that decided it (W3C headers as JSON), when tracing is on.
    "webhook_sends",
    METADATA,
    _seq(),
    Column("id", String, nullable=False, unique=True),  # the webhook notification's id, also its Idempotency-Key
    Column("alert_id", String, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("target_id", String, nullable=False, index=True),
    Column("event", String, nullable=False),
    Column("url", String, nullable=False),
    Column("payload", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("token", String, nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("trace", Text, nullable=True),
)
