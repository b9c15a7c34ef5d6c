"""Domain values as JSON between the services, and back: dataclass fields by name, times as ISO 8601 strings."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, TypeVar

from shared.domain import Target, TargetPage, iso, parse_iso

T = TypeVar("T")

TIME_FIELDS = frozenset({"created_at", "checked_at", "received_at", "opened_at", "resolved_at"})


def to_json(value: Any) -> dict[str, Any]:
    """A domain dataclass as a JSON object (a ``TargetPage`` with its items)."""
    if isinstance(value, TargetPage):
        return {"items": [to_json(item) for item in value.items], "total": value.total}
    out = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        out[field.name] = iso(item) if isinstance(item, datetime) else item
    return out


def from_json(data: dict[str, Any], cls: type[T]) -> T:
    """The dataclass ``cls`` from :func:`to_json`'s object; a missing field takes its default."""
    if cls is TargetPage:
        return TargetPage(items=[from_json(item, Target) for item in data["items"]], total=data["total"])  # type: ignore[return-value]
    names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {name: parse_iso(value) if name in TIME_FIELDS and value is not None else value
              for name, value in data.items() if name in names}
    return cls(**values)
