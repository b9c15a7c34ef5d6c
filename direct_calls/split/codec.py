"""Domain values on the wire, written once per format: JSON objects (HTTP) and protobuf messages (gRPC).

Both formats carry a domain dataclass of ``shared.domain`` field by field, under the field's own name
(``proto/monitoring.proto`` names its message fields so): times as ISO 8601 strings
(:func:`shared.domain.iso` / :func:`~shared.domain.parse_iso`), nested values as nested objects or
messages, lists as arrays or repeated fields, and ``None`` as JSON ``null`` or an unset ``optional``
field. Decoding is strict: a missing JSON key is an error, never a silent default.
"""
from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from shared.domain import iso, parse_iso
from shared.http.schemas import check_decoded

if TYPE_CHECKING:  # protobuf is only needed by the gRPC transport
    from google.protobuf.message import Message

D = TypeVar("D")
M = TypeVar("M", bound="Message")


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """``(name, type)`` of each field of the dataclass ``cls``, with ``X | None`` reduced to ``X``."""
    hints = typing.get_type_hints(cls)
    fields = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        fields.append((field.name, hint))
    return tuple(fields)


def _item_type(hint: Any) -> type | None:
    """``X`` for ``list[X]``, else None."""
    return typing.get_args(hint)[0] if typing.get_origin(hint) is list else None


# --------------------------------------------------------------------------- JSON


def to_json(value: Any) -> dict[str, Any]:
    """The dataclass ``value`` as a JSON object."""
    return {name: _to_plain(getattr(value, name)) for name, _ in _fields(type(value))}


def _to_plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, list):
        return [_to_plain(item) for item in value]
    if dataclasses.is_dataclass(value):
        return to_json(value)
    return value


def from_json(data: Mapping[str, Any], cls: type[D]) -> D:
    """The dataclass ``cls`` from the JSON object ``data`` made by :func:`to_json`, checked like the public api checks
    it (``InvalidArgument``: an internal call cannot store what the api refuses)."""
    value = cls(**{name: _from_plain(data[name], hint) for name, hint in _fields(cls)})
    check_decoded(value)
    return value


def _from_plain(value: Any, hint: Any) -> Any:
    if value is None:
        return None
    if hint is datetime:
        return parse_iso(value)
    if dataclasses.is_dataclass(hint):
        return from_json(value, hint)
    item = _item_type(hint)
    if item is not None:
        return [_from_plain(element, item) for element in value]
    return value


# --------------------------------------------------------------------------- protobuf


def to_proto(value: Any, message: M) -> M:
    """Fill ``message`` (a new message of the matching type) from the dataclass ``value``; return it."""
    for name, hint in _fields(type(value)):
        field = getattr(value, name)
        if field is None:
            continue  # an unset optional field
        if dataclasses.is_dataclass(hint):
            getattr(message, name).SetInParent()
            to_proto(field, getattr(message, name))
        elif _item_type(hint) is not None:
            repeated = getattr(message, name)
            for element in field:
                to_proto(element, repeated.add())
        elif hint is datetime:
            setattr(message, name, iso(field))
        else:
            setattr(message, name, field)
    return message


def from_proto(message: Message, cls: type[D]) -> D:
    """The dataclass ``cls`` from a message filled by :func:`to_proto`, checked as :func:`from_json` checks it."""
    by_name = message.DESCRIPTOR.fields_by_name
    values: dict[str, Any] = {}
    for name, hint in _fields(cls):
        if by_name[name].has_presence and not message.HasField(name):
            values[name] = None
            continue
        field = getattr(message, name)
        item = _item_type(hint)
        if dataclasses.is_dataclass(hint):
            values[name] = from_proto(field, hint)
        elif item is not None:
            values[name] = [from_proto(element, item) for element in field]
        elif hint is datetime:
            values[name] = parse_iso(field)
        else:
            values[name] = field
    value = cls(**values)
    check_decoded(value)  # as from_json
    return value
