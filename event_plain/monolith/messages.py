"""The commands the api asks for and the events the handlers raise, as frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass

from shared.domain import CheckResult, NewResult, NewTarget


class Command:
    """Something a client asks for: exactly one handler, whose return value is the answer."""


class Event:
    """Something that happened: any number of handlers, run in the same unit of work."""


@dataclass(frozen=True)
class CreateTarget(Command):
    tenant: str
    new: NewTarget


@dataclass(frozen=True)
class DeleteTarget(Command):
    tenant: str
    target_id: str


@dataclass(frozen=True)
class RecordResult(Command):
    tenant: str
    target_id: str
    new: NewResult


@dataclass(frozen=True)
class ResultRecorded(Event):
    result: CheckResult


@dataclass(frozen=True)
class AlertOpened(Event):
    alert_id: str
    target_id: str


@dataclass(frozen=True)
class AlertResolved(Event):
    alert_id: str
    target_id: str
