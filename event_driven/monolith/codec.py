"""Events as JSON and back, so the same objects cross a broker unchanged.

The envelope is ``{"type": <wire name>, "data": {<field>: <value>}}``. Values are encoded generically
from the dataclasses' type hints: nested dataclasses as objects, lists as arrays, datetimes as ISO 8601
strings with their UTC offset (exact to the microsecond). Decoding is strict about types and tolerant
of evolution: unknown fields are ignored and a missing field takes its default, so an older or newer
publisher's messages still decode. ``decode(encode(event)) == event`` for every registered event.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, Literal, Union

from .events import Event, event_class, is_event


class CodecError(ValueError):
    """A message that is not a valid encoding of a registered event."""


def encode(event: Event) -> bytes:
    """The JSON envelope of ``event`` as UTF-8 bytes."""
    if not is_event(event):
        raise CodecError(f"not a registered event: {event!r}")
    envelope = {"type": event.wire_name, "data": _to_json(event)}
    return json.dumps(envelope, separators=(",", ":"), allow_nan=False).encode()


def decode(body: bytes | str, event_types: Mapping[str, type[Event]] | None = None) -> Event:
    """The event encoded in ``body``; ``CodecError`` says what is wrong with a malformed one.

    ``event_types`` maps wire names to the classes to build (a bus passes the classes its handlers
    subscribed with); other wire names are looked up in the registry.
    """
    try:
        envelope = json.loads(body)
        name = envelope["type"]
        cls = (event_types or {}).get(name) or event_class(name)
        event = _from_json(cls, envelope["data"], name)
    except CodecError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise CodecError(f"cannot decode event: {error}") from None
    return event  # type: ignore[return-value]


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise CodecError(f"cannot encode {type(value).__name__} value {value!r}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_json(tp: Any, data: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if data is None and len(options) < len(typing.get_args(tp)):
            return None
        if len(options) != 1:
            raise CodecError(f"{path}: unsupported union {tp}")
        return _from_json(options[0], data, path)
    if origin is list:
        (item_type,) = typing.get_args(tp)
        _expect(isinstance(data, list), path, "an array", data)
        return [_from_json(item_type, item, f"{path}[{i}]") for i, item in enumerate(data)]
    if origin is Literal:
        _expect(data in typing.get_args(tp), path, f"one of {typing.get_args(tp)}", data)
        return data
    if dataclasses.is_dataclass(tp):
        _expect(isinstance(data, dict), path, "an object", data)
        hints = _hints(tp)
        kwargs = {
            f.name: _from_json(hints[f.name], data[f.name], f"{path}.{f.name}")
            for f in dataclasses.fields(tp)
            if f.init and f.name in data
        }
        try:
            return tp(**kwargs)
        except TypeError as error:  # a required field is missing
            raise CodecError(f"{path}: {error}") from None
    if tp is datetime:
        _expect(isinstance(data, str), path, "an ISO 8601 time", data)
        return datetime.fromisoformat(data)
    if tp is float:
        _expect(isinstance(data, int | float) and not isinstance(data, bool), path, "a number", data)
        return float(data)
    if tp is int:
        _expect(isinstance(data, int) and not isinstance(data, bool), path, "an integer", data)
        return data
    if tp in (str, bool):
        _expect(isinstance(data, tp), path, f"a {tp.__name__}", data)
        return data
    raise CodecError(f"{path}: unsupported type {tp}")


def _expect(condition: bool, path: str, what: str, data: Any) -> None:
    if not condition:
        raise CodecError(f"{path}: expected {what}, got {type(data).__name__}")
