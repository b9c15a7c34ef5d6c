"""Domain values and events as JSON on the broker and back: every field by name, times as ISO 8601 strings."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, TypeVar

from event_plain.monolith.messages import Event, ResultRecorded
from shared.domain import Alert, CheckResult, Target, iso, parse_iso

from .messages import AlertChanged, TargetCreated, TargetDeleted

T = TypeVar("T")


def to_wire(value: Any) -> Any:
    """A dataclass (nested ones and lists included) as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_wire(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, list):
        return [to_wire(item) for item in value]
    if isinstance(value, datetime):
        return iso(value)
    return value


def from_wire(cls: type[T], data: dict[str, Any]) -> T:
    """The dataclass ``cls`` from :func:`to_wire`'s form (flat dataclasses: times parsed back, the rest as is).
    A missing or unknown field is a ``TypeError``/``KeyError``."""
    values = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name not in data and field.default is not dataclasses.MISSING:
            continue
        raw = data[field.name]
        values[field.name] = parse_iso(raw) if raw is not None and "datetime" in str(field.type) else raw
    return cls(**values)


# --------------------------------------------------------------------------- events on the broker

def encode_event(event: Event) -> tuple[str, dict[str, Any]]:
    """The routing key and JSON body of an event that leaves its service."""
    if isinstance(event, TargetCreated):
        return "target.created", {"target": to_wire(event.target)}
    if isinstance(event, TargetDeleted):
        return "target.deleted", {"target_id": event.target_id}
    if isinstance(event, ResultRecorded):
        return "result.recorded", {"result": to_wire(event.result)}
    if isinstance(event, AlertChanged):
        return event.event.replace("_", "."), {"alert": to_wire(event.alert)}
    raise TypeError(f"{type(event).__name__} does not leave its service")


def decode_event(routing_key: str, body: dict[str, Any]) -> Event:
    """The event of a message; ``ValueError`` for a routing key nobody publishes."""
    if routing_key == "target.created":
        return TargetCreated(from_wire(Target, body["target"]))
    if routing_key == "target.deleted":
        return TargetDeleted(str(body["target_id"]))
    if routing_key == "result.recorded":
        return ResultRecorded(from_wire(CheckResult, body["result"]))
    if routing_key in ("alert.opened", "alert.resolved"):
        return AlertChanged(from_wire(Alert, body["alert"]), routing_key.replace(".", "_"))  # type: ignore[arg-type]
    raise ValueError(f"no event is published as {routing_key!r}")


def target_of(event: Event) -> str:
    """The id of the target an event is about."""
    if isinstance(event, TargetCreated):
        return event.target.id
    if isinstance(event, TargetDeleted):
        return event.target_id
    if isinstance(event, ResultRecorded):
        return event.result.target_id
    if isinstance(event, AlertChanged):
        return event.alert.target_id
    raise TypeError(f"{type(event).__name__} is about no target")
