"""The handlers the move added: the monitor's commands that now also announce targets, what each service does
with a message from the broker (the ledger, the copies of other services' data), and what leaves by the outbox."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, insert, select, update

from event_plain.monolith import monitor
from event_plain.monolith.messages import AlertOpened, AlertResolved, CreateTarget, DeleteTarget, Event
from event_plain.monolith.tables import alerts, targets
from event_plain.monolith.unit_of_work import UnitOfWork
from event_plain.monolith.views import alert_of, alerts_with_targets
from shared.domain import Target
from shared.storage.database import domain_row, ignoring_conflicts

from .codec import target_of
from .messages import AlertChanged, Receive, TargetCreated, TargetDeleted
from .tables import processed_messages

Clock = Callable[[], datetime]
Store = Callable[[Event, UnitOfWork], None]
"""``Relay.store``: keep an event in the unit of work's outbox, to publish after the commit."""


# --------------------------------------------------------------------------- monitor

def create_target(command: CreateTarget, uow: UnitOfWork, clock: Clock, store: Store) -> Target:
    """The monolith's ``create_target``, announced: alerting and notification keep a copy of each target."""
    target = monitor.create_target(command, uow, clock)
    store(TargetCreated(target), uow)
    return target


def delete_target(command: DeleteTarget, uow: UnitOfWork, store: Store) -> None:
    """The monolith's ``delete_target``, announced: the copies (and what hangs on them) go too."""
    monitor.delete_target(command, uow)
    store(TargetDeleted(command.target_id), uow)


# --------------------------------------------------------------------------- received from the broker

def receive(command: Receive, uow: UnitOfWork, clock: Clock) -> None:
    """Raise ``command.event`` in this unit of work unless its message was handled before (the ledger row is
    written in the same transaction as the handlers' effects) or its target is gone (deleted since: the copy and
    everything that hung on it went, as the monolith's cascade does)."""
    event = command.event
    if not isinstance(event, TargetCreated):
        known = uow.connection.execute(select(targets.c.id).where(targets.c.id == target_of(event))).first()
        if known is None:
            return
    statement = ignoring_conflicts(uow.connection.dialect.name, processed_messages, ("id",))
    first = uow.connection.execute(statement, {"id": command.message_id, "processed_at": clock()},
                                   execution_options={"preserve_rowcount": True}).rowcount
    if first:
        uow.publish(event)


def copy_target(event: TargetCreated, uow: UnitOfWork) -> None:
    uow.connection.execute(ignoring_conflicts(uow.connection.dialect.name, targets, ("id",)), domain_row(event.target))


def drop_target(event: TargetDeleted, uow: UnitOfWork) -> None:
    uow.connection.execute(delete(targets).where(targets.c.id == event.target_id))


def copy_alert(event: AlertChanged, uow: UnitOfWork) -> None:
    """Notification's copy of the alert as alerting stored it, then the monolith's event for its handler."""
    alert = event.alert
    fields = {"state": alert.state, "resolved_at": alert.resolved_at}
    changed = uow.connection.execute(update(alerts).where(alerts.c.id == alert.id).values(fields)).rowcount
    if not changed:
        uow.connection.execute(insert(alerts).values(
            id=alert.id, target_id=alert.target_id, kind=alert.kind, opened_at=alert.opened_at,
            opened_by_result_id=alert.opened_by_result_id, **fields))
    kind = AlertOpened if event.event == "alert_opened" else AlertResolved
    uow.publish(kind(alert.id, alert.target_id))


# --------------------------------------------------------------------------- alerting's announcements

def announce_alert(event: AlertOpened | AlertResolved, uow: UnitOfWork, store: Store) -> None:
    """Alerting's monolith events leave as ``AlertChanged``, with the alert as it is now stored."""
    row = uow.connection.execute(alerts_with_targets().where(alerts.c.id == event.alert_id)).one()
    store(AlertChanged(alert_of(row), "alert_opened" if isinstance(event, AlertOpened) else "alert_resolved"), uow)
