"""Sample instances of every registered event, built from the type hints, so a new event type is covered
by the codec and bus tests without being listed anywhere."""
from __future__ import annotations

import dataclasses
import functools
import importlib.util
import sys
import types
import typing
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Literal, Union

import event_driven.monolith.events as events_module
from event_driven.monolith.events import REGISTRY, Event

FULL_TIME = datetime(2024, 5, 1, 12, 30, 45, 123456, tzinfo=UTC)
EDGE_TIME = datetime(1, 1, 1, 0, 0, 0, tzinfo=UTC)


def sample(tp: Any, full: bool, name: str = "x") -> Any:
    """A value of type ``tp``: ``full`` fills every optional and list; otherwise None, empty and edge values."""
    origin = typing.get_origin(tp)
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


@functools.cache
def load_events_again() -> ModuleType:
    """``events.py`` loaded as a second module with its own classes, as ``event_driven.split.events`` will be."""
    name = "tests.bus.events_loaded_again"
    spec = importlib.util.spec_from_file_location(name, events_module.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the classes are built
    spec.loader.exec_module(module)
    return module
