"""Each service's own database: the monolith's tables it owns, the copies it keeps of other services' tables (fed
by their events), its outbox and its ledger of the messages it has handled.

The copies are the monolith's table definitions, so the monolith's handlers and reads (which join targets,
alerts and notifications) run unchanged on each service's database.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

from event_plain.monolith import tables as monolith
from shared.storage.tables import UTCDateTime


def _schema(*owned: Table) -> MetaData:
    metadata = MetaData(naming_convention=monolith.METADATA.naming_convention)
    for table in owned:
        table.to_metadata(metadata)
    Table(
        # Events to publish, in the order they were committed; a row goes once the broker confirmed it.
        "outbox", metadata,
        Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("id", String, nullable=False, unique=True),  # the message id: consumers' idempotency key
        Column("routing_key", String, nullable=False),
        Column("body", Text, nullable=False),
        Column("trace", Text, nullable=True),  # the trace of the transaction that stored it (W3C headers, JSON)
    )
    Table(
        # Messages handled, recorded in the transaction of their effect: a redelivery changes nothing.
        "processed_messages", metadata,
        Column("id", String, primary_key=True),
        Column("processed_at", UTCDateTime, nullable=False),
    )
    return metadata


MONITOR = _schema(monolith.targets, monolith.results)
ALERTING = _schema(monolith.targets, monolith.rule_states, monolith.alerts)
"""``targets``: a copy (fed by ``TargetCreated``/``TargetDeleted``), read for the thresholds and the tenant."""
NOTIFICATION = _schema(monolith.targets, monolith.alerts, monolith.notifications, monolith.webhook_sends)
"""``targets`` and ``alerts``: copies (fed by the monitor's and alerting's events), read for the webhook URL, the
tenant and the alert a notification is about."""

SCHEMAS = {"monitor": MONITOR, "alerting": ALERTING, "notification": NOTIFICATION}
outbox = MONITOR.tables["outbox"]  # the same columns in every service's schema
processed_messages = MONITOR.tables["processed_messages"]
