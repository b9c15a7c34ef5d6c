"""Sample instances of every registered event and of every domain value a call carries, built from the type
hints, so a new event or value type is covered by the codec and bus tests without being listed anywhere.

Also small events of the tests' own (``Pinged``, ``Poked``, and ``Keyed``, which has a partition key) for
exercising a bus without the app's.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Union

import event_driven.monolith.rpc  # noqa: F401 - registers the call envelope's events
from event_driven.monolith.bus import partition_of
from event_driven.monolith.events import REGISTRY, Event, wire_name
from shared.domain import Alert, AlertChange, CheckResult, NewResult, NewTarget, Notification, RuleParams, Target, TargetPage

FULL_TIME = datetime(2024, 5, 1, 12, 30, 45, 123456, tzinfo=UTC)
EDGE_TIME = datetime(1, 1, 1, 0, 0, 0, tzinfo=UTC)

VALUE_TYPES = (NewTarget, Target, TargetPage, NewResult, CheckResult, RuleParams, Alert, AlertChange, Notification)
"""The domain values a call's arguments and result may hold."""


@wire_name("test.pinged")
@dataclass(frozen=True, kw_only=True)
class Pinged(Event):
    """A test event about a target."""

    target_id: str


@wire_name("test.poked")
@dataclass(frozen=True, kw_only=True)
class Poked(Event):
    """Another test event, to check that a group gets only the types it subscribed to."""

    target_id: str


@wire_name("test.keyed")
@dataclass(frozen=True, kw_only=True)
class Keyed(Event):
    """A test event ordered by ``key`` in a partitioned group; ``seq`` numbers the events of one key."""

    key: str
    seq: int = 0

    @property
    def partition_key(self) -> str:
        return self.key


def keys_in_distinct_partitions(count: int, prefix: str = "k") -> list[str]:
    """``count`` keys that fall in ``count`` different partitions (``count`` at most ``PARTITIONS``)."""
    chosen: dict[int, str] = {}
    index = 0
    while len(chosen) < count:
        key = f"{prefix}{index}"
        chosen.setdefault(partition_of(key), key)
        index += 1
    return list(chosen.values())


def keys_in_one_partition(count: int, prefix: str = "k", partition: int | None = None) -> list[str]:
    """``count`` keys that fall in one partition (that of ``prefix + "0"``, or ``partition``): they share a lane."""
    lane = partition_of(f"{prefix}0") if partition is None else partition
    keys = (f"{prefix}{index}" for index in range(10_000))
    return [key for key in keys if partition_of(key) == lane][:count]


SCHEMA_FIELDS: dict[str, tuple[Any, Any]] = {
    "name": ("name-é✓", "n"),
    "url": ("https://example.com/full?q=é", "http://h"),
    "webhook_url": ("https://hooks.example.com/full", "http://h"),
    "interval_s": (60, 5),
    "failure_threshold": (7, 1),
    "latency_threshold_ms": (7, 1),
    "status_code": (200, 100),
    "key": ("key-1_A", "k"),
    "tenant": ("tenant_1-" + "a" * 55, "t"),
}
"""Fields the public schema constrains (and a split's codec checks): (full, edge) values it accepts."""


def sample(tp: Any, full: bool, name: str = "x") -> Any:
    """A value of type ``tp``: ``full`` fills every optional and list; otherwise None, empty and edge values (the
    edge of what the public schema accepts, for the fields it constrains)."""
    if name in SCHEMA_FIELDS and tp in (str, int):
        return SCHEMA_FIELDS[name][0 if full else 1]
    origin = typing.get_origin(tp)
    if tp is Any:  # a domain value: a call's result
        return sample(TargetPage, full, name) if full else None
    if origin is dict:  # a call's arguments
        return {f"arg{i}": sample(value_type, full, name) for i, value_type in enumerate(VALUE_TYPES)} if full else {}
    if origin in (Union, types.UnionType):
        options = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return sample(options[0], full, name) if full or len(options) == len(typing.get_args(tp)) else None
    if origin is list:
        return [sample(typing.get_args(tp)[0], full, name) for _ in range(2 if full else 0)]
    if origin is Literal:
        choices = typing.get_args(tp)
        return choices[0] if full else choices[-1]
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(**{f.name: sample(hints[f.name], full, f.name) for f in dataclasses.fields(tp) if f.init})
    if tp is datetime:
        return FULL_TIME if full else EDGE_TIME
    if tp is bool:
        return full
    if tp is int:
        return 7 if full else 0
    if tp is float:
        return 12.5 if full else 0.0
    if tp is str:
        return f"{name}-é✓" if full else ""
    raise TypeError(f"no sample for {tp!r}")


def sample_event(cls: type[Event], full: bool = True) -> Event:
    event = sample(cls, full)
    return dataclasses.replace(event, event_id=f"{cls.wire_name}-{'full' if full else 'sparse'}")


def all_samples() -> list[Event]:
    """Two samples of every registered event type: every field set, and every optional left out."""
    return [sample_event(cls, full) for cls in REGISTRY.values() for full in (True, False)]


def all_values() -> list[Any]:
    """Every kind of value a call carries: each domain type (full and sparse), lists of them, primitives, times."""
    values: list[Any] = [sample(cls, full) for cls in VALUE_TYPES for full in (True, False)]
    values += [[sample(cls, True) for _ in range(2)] for cls in VALUE_TYPES]
    return values + [None, True, False, 0, 7, 12.5, "", "é✓", [], [1, "two", None], FULL_TIME, [EDGE_TIME]]
