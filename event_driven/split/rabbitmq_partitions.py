"""How the processes that subscribe a partitioned group share its partitions on RabbitMQ.

Every such process consumes every partition queue, and each queue has a single active consumer: the
broker delivers a partition's messages to one process at a time, in order, and when that process's
connection drops (it died, or lost the broker) the broker returns what it held to the head of the queue
and makes the next consumer in line active. Fail-over is therefore the broker's.

But RabbitMQ 3.10 makes the *first* registered consumer active and never moves it by itself, so the
process that started first would be active on every partition and the others would only stand by.
Balancing is this module's: every ``tick`` (the connection's, on its I/O thread) each process

- counts the processes that share the group: the consumers of the group's members queue (one per
  process; a partition queue's count does not help, it shows only the active one);
- takes its share, ``ceil(P / processes)``, and releases each partition beyond it on which it is known
  to be active (a delivery came since it last registered there): once the message in hand is acked
  (a keyed group's lane: once those it started are acked; those it took but had not started go back to
  the queue), it re-registers at the back of that partition's line, and the next process in line becomes
  active (:meth:`.rabbitmq_consumer.Consumption.release`).

A process does not know which idle partitions it is active on (nothing arrived there), so a balanced
state is one where the partitions that carry messages are spread; idle ones may stay where they are.
A release costs no order (the next consumer starts after the last acked message, of each key for a keyed
group) and no message; a delivery the broker had already sent to the releasing process and that it had
not started returns to the head of the queue and counts as one delivery against the queue's delivery
limit (a quorum queue's; on a transient group's classic queue, nothing counts it: see
:mod:`.rabbitmq_consumer`).
"""
from __future__ import annotations

import logging
import math

from .rabbitmq_connection import BrokerConnection
from .rabbitmq_consumer import Consumption, Partitioned

log = logging.getLogger("event_driven.bus")


class Balancer:
    """Releases, on each :meth:`tick`, the partitions this process holds beyond its share; see the module."""

    def __init__(self, connection: BrokerConnection, consumption: Consumption):
        self._connection = connection
        self._consumption = consumption

    def tick(self) -> None:
        """(I/O thread) Ask how many processes share each partitioned group, then balance it."""
        for partitioned in self._consumption.partitioned:
            self._connection.consumer_count(partitioned.members, lambda count, p=partitioned: self._balance(p, count))

    def _balance(self, partitioned: Partitioned, processes: int) -> None:
        share = math.ceil(len(partitioned.lanes) / max(1, processes))
        active = [lane for lane in partitioned.lanes if lane.active and not lane.releasing]
        for lane in active[share:]:
            log.info("event bus: handing partition %s to the next of %d processes (this one holds %d, its share is %d)",
                     lane.queue_name, processes, len(active), share)
            self._consumption.release(lane)
