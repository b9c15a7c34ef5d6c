"""The outbox: events stored in the transaction that caused them, published to RabbitMQ after the commit.

An event is not lost when the process dies between commit and publish (the row stays and is published on the
next pass), and it is never published for a transaction that rolled back. The relay publishes rows in the order
they were stored, one at a time with publisher confirms, and deletes a row once the broker confirmed it: a
process that dies in between publishes it again, which the consumers' ledger drops (the row's id is the
message id).
"""
from __future__ import annotations

import json
import logging
import threading

import pika
from pika.exceptions import AMQPError
from sqlalchemy import Engine, delete, insert, select

from event_plain.monolith.messages import Event
from event_plain.monolith.unit_of_work import UnitOfWork
from shared.domain import new_id
from shared.storage.database import read_transaction, write_transaction
from shared.telemetry import propagation

from . import broker
from .codec import encode_event
from .tables import outbox

log = logging.getLogger(__name__)

BATCH = 100
POLL_S = 1.0


class Relay:
    """Publishes the outbox of ``engine`` on a thread of its own: at once when woken, else every second."""

    def __init__(self, engine: Engine, url: str, namespace: str):
        self._engine = engine
        self._url = url
        self._namespace = namespace
        self._woken = threading.Event()
        self._stopped = threading.Event()
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopped.set()
        self._woken.set()
        self._thread.join(timeout_s)

    def wake(self) -> None:
        self._woken.set()

    def store(self, event: Event, uow: UnitOfWork) -> None:
        """Store ``event`` in ``uow``'s transaction; publish it once that commits (an event handler)."""
        routing_key, body = encode_event(event)
        trace = propagation.inject(routing_key, None)  # None unless tracing is on
        uow.connection.execute(insert(outbox).values(id=new_id(), routing_key=routing_key, body=json.dumps(body),
                                                     trace=json.dumps(trace) if trace else None))
        uow.after_commit(self.wake)

    def _run(self) -> None:
        connection = None
        while not self._stopped.is_set():
            try:
                if connection is None or not connection.is_open:
                    connection = broker.connect(self._url, self._namespace, "outbox relay")
                    channel = connection.channel()
                    broker.declare(channel, self._namespace)
                    channel.confirm_delivery()
                    self.connected.set()
                while self._publish_batch(channel):
                    pass
                connection.process_data_events(time_limit=0)  # heartbeats
            except AMQPError as error:
                log.warning("publishing the outbox: %s: %s; reconnecting", type(error).__name__, error)
                self.connected.clear()
                connection = None
            except Exception:  # noqa: BLE001 - the database is down: the rows wait
                log.exception("reading the outbox failed")
            self._woken.wait(POLL_S)
            self._woken.clear()
        if connection is not None and connection.is_open:
            connection.close()

    def _publish_batch(self, channel) -> bool:
        with read_transaction(self._engine) as db:
            rows = db.execute(select(outbox.c.seq, outbox.c.id, outbox.c.routing_key, outbox.c.body, outbox.c.trace)
                              .order_by(outbox.c.seq).limit(BATCH)).all()
        for row in rows:  # each confirmed before the next is sent: basic_publish raises on a nack
            channel.basic_publish(broker.exchange(self._namespace), row.routing_key, row.body.encode(),
                                  pika.BasicProperties(message_id=row.id, delivery_mode=2,
                                                       content_type="application/json",
                                                       headers=json.loads(row.trace) if row.trace else None))
        if rows:
            with write_transaction(self._engine) as db:
                db.execute(delete(outbox).where(outbox.c.seq.in_([row.seq for row in rows])))
        return len(rows) == BATCH
