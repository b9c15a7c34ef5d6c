"""What the move added to the monolith's messages: the events that feed other services' copies of targets and
alerts, and the command a process runs for each message it receives from the broker."""
from __future__ import annotations

from dataclasses import dataclass

from event_plain.monolith.messages import Command, Event
from shared.domain import Alert, AlertEvent, Target


@dataclass(frozen=True)
class TargetCreated(Event):
    target: Target


@dataclass(frozen=True)
class TargetDeleted(Event):
    target_id: str


@dataclass(frozen=True)
class AlertChanged(Event):
    """An alert as alerting just stored it (opened or resolved), for notification's copy."""

    alert: Alert
    event: AlertEvent


@dataclass(frozen=True)
class Receive(Command):
    """Handle ``event``, delivered by the broker as message ``message_id``, unless it was handled before."""

    message_id: str
    event: Event
