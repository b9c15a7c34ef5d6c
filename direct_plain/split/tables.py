"""The split's schemas, one ``MetaData`` per service's database: no foreign key crosses a service any more.

The monitor keeps the monolith's targets and results and adds its outbox of results not yet evaluated. Alerting and
notification keep their tables without the references to targets, and store what they used to join for: the
tenant of each alert and notification (it travels with the call). Alerting adds the ledger of results it evaluated
(a retried call applies a result once) and its outbox of alert changes not yet notified.
"""
from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from direct_plain.monolith import tables as monolith
from shared.storage import UTCDateTime


def _schema() -> MetaData:
    return MetaData(naming_convention=monolith.SCHEMA.naming_convention)


def _without_references(table: Table, schema: MetaData, *extra: Column | Index) -> Table:
    """``table``'s columns in ``schema`` without its foreign keys, its unique constraints and indexes kept, plus
    ``extra``."""
    columns = [Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable,
                      autoincrement=c.autoincrement) for c in table.columns]
    constraints = [UniqueConstraint(*[c.name for c in u.columns]) for u in list(table.constraints)
                   if isinstance(u, UniqueConstraint)]
    indexes = [Index(None, *[c.name for c in index.columns]) for index in table.indexes]
    return Table(table.name, schema, *columns, *constraints, *indexes, *extra)


# --------------------------------------------------------------------------- monitor

MONITOR = _schema()
targets = monolith.targets.to_metadata(MONITOR)
results = monolith.results.to_metadata(MONITOR)

evaluation_outbox = Table(
    # Results stored but not yet known to be evaluated by alerting, handed over in order, per target.
    "evaluation_outbox",
    MONITOR,
    Column("result_id", String, ForeignKey("results.id", ondelete="CASCADE"), primary_key=True),
    Column("target_id", String, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# --------------------------------------------------------------------------- alerting

ALERTING = _schema()
rule_states = _without_references(monolith.rule_states, ALERTING)
alerts = _without_references(monolith.alerts, ALERTING, Column("tenant", String, nullable=False),
                             Index(None, "tenant", "seq"))

evaluated_results = Table(
    # The results alerting has applied: a repeat of ``evaluate`` for one of them changes nothing.
    "evaluated_results",
    ALERTING,
    Column("result_id", String, primary_key=True),
    Column("target_id", String, nullable=False),
)

notification_outbox = Table(
    # Alert changes committed but not yet known to be notified, handed over in order, per target.
    "notification_outbox",
    ALERTING,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String, nullable=False),
    Column("target_id", String, nullable=False, index=True),
    Column("event", String, nullable=False),
    Column("alert", Text, nullable=False),  # the alert as it was changed, as JSON
    Column("webhook_url", String, nullable=True),  # the target's, as the monitor sent it
    Column("created_at", UTCDateTime, nullable=False),
)

# --------------------------------------------------------------------------- notification

NOTIFICATION = _schema()
notifications = _without_references(monolith.notifications, NOTIFICATION, Column("tenant", String, nullable=False),
                                    Index(None, "tenant", "seq"))
webhook_outbox = _without_references(monolith.webhook_outbox, NOTIFICATION)
