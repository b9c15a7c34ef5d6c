"""What replaced the cross-service transaction: a service writes what its peer must hear (an outbox row) in its own
transaction, and hands it over after the commit, in order, one target at a time.

The request that committed hands its target's pending rows over at once (the call chain stays synchronous when
every service is up); a :class:`~direct_plain.monolith.background.Periodic` relay in each process hands over what
is left (the peer was down, or this process died after the commit). A target is held during a handover
(``shared.storage.key_locks.hold_key``: an in-process lock, and a PostgreSQL advisory lock across the service's
replicas), so its rows reach the peer in the order they were committed. The peer applies a row once, by its id, so
handing one over again after a lost answer changes nothing.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Table, distinct, select

from direct_plain.monolith.background import Periodic
from direct_plain.monolith.database import Database
from shared.domain import DomainError, utcnow
from shared.storage.key_locks import hold_key

log = logging.getLogger(__name__)

T = TypeVar("T")

RELAY_EVERY_S = 2.0
"""How often each process hands over what requests left pending."""


def hand_over(db: Database, namespace: str, target_id: str, pending: Callable[[], Sequence[T]],
              send: Callable[[T], None], settle: Callable[[T], None]) -> bool:
    """Hold the target, then ``send`` each of its ``pending()`` rows, oldest first, and ``settle`` it (in a
    transaction of its own) once the peer has it. A row the peer did not take (a domain error: down, timed out,
    refused) stops the handover, keeping it and every later row pending; returns False then, True when none is
    left."""
    with hold_key(db.engine, namespace, target_id):
        with db.reading():
            rows = pending()
        for row in rows:
            try:
                send(row)
            except DomainError as error:
                log.warning("%s: target %s kept %d row(s) pending: %s", namespace, target_id, len(rows), error.message)
                return False
            with db.transaction():
                settle(row)
    return True


def relay(name: str, db: Database, outbox: Table, hand_over_target: Callable[[str], object]) -> Periodic:
    """This process's relay of ``outbox`` (a table with ``target_id`` and ``created_at``): every 2 s, each target
    with a row that has waited 2 s or more is handed over."""
    def round_() -> None:
        with db.reading() as connection:
            waiting = connection.scalars(select(distinct(outbox.c.target_id)).where(
                outbox.c.created_at < utcnow() - timedelta(seconds=RELAY_EVERY_S))).all()
        for target_id in waiting:
            hand_over_target(target_id)

    return Periodic(name, RELAY_EVERY_S, round_)
