"""Events as JSON and back, so the same objects cross a broker unchanged.

The envelope is ``{"type": <wire name>, "data": {<field>: <value>}}``. Fields are encoded from the event
classes' type hints: nested dataclasses as objects, lists as arrays, datetimes as ISO 8601 strings with
their UTC offset (exact to the microsecond). A field typed ``Any`` (a call's arguments and its value)
holds a domain value, encoded with its type: ``{"$type": "Target", <field>: ...}``, ``{"$type":
"datetime", "value": ...}``, primitives and lists as themselves. ``$type`` is checked against an explicit
allowlist of ``shared.domain`` classes (:data:`VALUE_TYPES`): nothing is imported or evaluated by a name
that came off the wire.

Decoding is strict about types and tolerant of evolution: unknown fields are ignored and a missing field
takes its default, so an older or newer publisher's messages still decode. ``decode(encode(event)) ==
event`` for every registered event, and ``decode_value(encode_value(v)) == v`` for every domain value.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from functools import cache
from typing import Any, Literal, Union

from event_driven.monolith.events import REGISTRY, Event, event_class
from shared.domain import (
    Alert,
    AlertChange,
    CheckResult,
    InvalidArgument,
    NewResult,
    NewTarget,
    Notification,
    RuleParams,
    Target,
    TargetPage,
)
from shared.http.schemas import check_decoded

VALUE_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (NewTarget, Target, TargetPage, NewResult, CheckResult, RuleParams, Alert, AlertChange, Notification)
}
"""The domain classes a call's arguments and values may hold, by the ``$type`` that names them on the wire."""

_TAG = "$type"


class CodecError(ValueError):
    """A message that is not a valid encoding of a registered event, or a value the codec does not carry."""


def encode(event: Event) -> bytes:
    """The JSON envelope of ``event`` as UTF-8 bytes."""
    if not isinstance(event, Event) or REGISTRY.get(getattr(type(event), "wire_name", "")) is not type(event):
        raise CodecError(f"not a registered event: {event!r}")
    envelope = {"type": event.wire_name, "data": _to_json(type(event), event, event.wire_name)}
    return json.dumps(envelope, separators=(",", ":"), allow_nan=False).encode()


def decode(body: bytes | str) -> Event:
    """The event encoded in ``body``; ``CodecError`` says what is wrong with a malformed one."""
    try:
        envelope = json.loads(body)
        name = envelope["type"]
        event = _from_json(event_class(name), envelope["data"], name)
    except CodecError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise CodecError(f"cannot decode event: {error}") from None
    return event  # type: ignore[return-value]


def encode_value(value: Any) -> Any:
    """A domain value as JSON-compatible data, tagged with its type (see the module's documentation)."""
    return _to_json(Any, value, "value")


def decode_value(data: Any) -> Any:
    """The domain value encoded by :func:`encode_value`; ``CodecError`` for anything else."""
    try:
        return _from_json(Any, data, "value")
    except CodecError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise CodecError(f"cannot decode value: {error}") from None


# --------------------------------------------------------------------------- encoding

def _to_json(tp: Any, value: Any, path: str) -> Any:
    if tp is Any:
        return _tagged(value, path)
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        options = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _to_json(options[0] if len(options) == 1 else Any, value, path)
    if origin is list:
        _expect(isinstance(value, list | tuple), path, "a list", value)
        (item_type,) = typing.get_args(tp)
        return [_to_json(item_type, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        _expect(isinstance(value, dict) and all(isinstance(k, str) for k in value), path, "a dict with str keys", value)
        item_type = typing.get_args(tp)[1]
        return {key: _to_json(item_type, item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        _expect(isinstance(value, tp), path, tp.__name__, value)
        return _fields(value, path)
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise CodecError(f"{path}: cannot encode {type(value).__name__} value {value!r}")


def _fields(value: Any, path: str) -> dict[str, Any]:
    hints = _hints(type(value))
    return {f.name: _to_json(hints[f.name], getattr(value, f.name), f"{path}.{f.name}") for f in dataclasses.fields(value)}


def _tagged(value: Any, path: str) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_tagged(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, datetime):
        return {_TAG: "datetime", "value": value.isoformat()}
    name = type(value).__name__
    if VALUE_TYPES.get(name) is type(value):
        return {_TAG: name, **_fields(value, path)}
    raise CodecError(f"{path}: cannot encode {name} value {value!r}: not a domain value")


# --------------------------------------------------------------------------- decoding

@cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_json(tp: Any, data: Any, path: str) -> Any:
    if tp is Any:
        return _untagged(data, path)
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if data is None and len(options) < len(typing.get_args(tp)):
            return None
        return _from_json(options[0] if len(options) == 1 else Any, data, path)
    if origin is list:
        (item_type,) = typing.get_args(tp)
        _expect(isinstance(data, list), path, "an array", data)
        return [_from_json(item_type, item, f"{path}[{i}]") for i, item in enumerate(data)]
    if origin is dict:
        _expect(isinstance(data, dict), path, "an object", data)
        item_type = typing.get_args(tp)[1]
        return {key: _from_json(item_type, item, f"{path}.{key}") for key, item in data.items()}
    if origin is Literal:
        _expect(data in typing.get_args(tp), path, f"one of {typing.get_args(tp)}", data)
        return data
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        _expect(isinstance(data, dict), path, "an object", data)
        hints = _hints(tp)
        kwargs = {
            f.name: _from_json(hints[f.name], data[f.name], f"{path}.{f.name}")
            for f in dataclasses.fields(tp)
            if f.init and f.name in data
        }
        try:
            value = tp(**kwargs)
        except TypeError as error:  # a required field is missing
            raise CodecError(f"{path}: {error}") from None
        try:
            check_decoded(value)  # as the public api checks it: a message cannot store what the api refuses
        except InvalidArgument as error:
            raise CodecError(f"{path}: {error.message}") from None
        return value
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


def _untagged(data: Any, path: str) -> Any:
    if data is None or isinstance(data, str | int | float | bool):
        return data
    if isinstance(data, list):
        return [_untagged(item, f"{path}[{i}]") for i, item in enumerate(data)]
    _expect(isinstance(data, dict) and isinstance(data.get(_TAG), str), path, f"a value tagged with {_TAG}", data)
    name = data[_TAG]
    if name == "datetime":
        return _from_json(datetime, data.get("value"), path)
    cls = VALUE_TYPES.get(name)
    if cls is None:
        raise CodecError(f"{path}: {name!r} is not a domain value type")
    return _from_json(cls, {key: item for key, item in data.items() if key != _TAG}, f"{path}<{name}>")


def _expect(condition: bool, path: str, what: str, data: Any) -> None:
    if not condition:
        raise CodecError(f"{path}: expected {what}, got {type(data).__name__}")
