"""Carry a request's trace across the event buses' queues, the one hop no tracing library sees.

The buses call these functions; what they do is installed by :func:`shared.telemetry.setup` when tracing is on.
Off (the default) nothing is installed and each function is one ``None`` check that imports nothing:
``capture`` returns None, ``inject`` returns the headers it was given, ``handling`` is a null context.

On, an event's trace is continued with child spans, not links: each event has exactly one cause (the request
or handler that published it), and a child span keeps the whole story of one request in one trace, which is
what a waterfall shows. ``capture``/``inject`` end a ``publish NAME`` producer span at once (its end is the
moment the event was queued); ``handling`` runs the handler in a ``process NAME`` consumer span, the child of
that producer span, so the gap between the two is the time the event waited in its queue.
"""
from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol


class Carrier(Protocol):
    """What tracing installs: the current trace captured where an event is published, resumed where it is handled."""

    def capture(self, name: str) -> object | None:
        """(publisher's thread) A token of the current trace, in a ``publish NAME`` span; None outside a trace."""

    def inject(self, name: str, headers: dict[str, Any] | None) -> dict[str, Any] | None:
        """(publisher's thread) ``headers`` with the current trace added, in a ``publish NAME`` span."""

    def extract(self, headers: Mapping[str, Any] | None) -> object | None:
        """(consumer's side) The token carried by ``headers``; None when they carry no trace."""

    def handling(self, token: object, name: str) -> AbstractContextManager[Any]:
        """(handler's thread) A ``process NAME`` span, the child of ``token``'s trace, current while open."""


_carrier: Carrier | None = None
_NULL: AbstractContextManager[None] = nullcontext()


def install(carrier: Carrier | None) -> None:
    """Use ``carrier`` from now on (None: off again)."""
    global _carrier
    _carrier = carrier


def capture(name: str) -> object | None:
    """A token of the current trace to hand with an event to another thread (None when off)."""
    return None if _carrier is None else _carrier.capture(name)


def inject(name: str, headers: dict[str, Any] | None) -> dict[str, Any] | None:
    """The message headers with the current trace added (``headers`` itself when off)."""
    return headers if _carrier is None else _carrier.inject(name, headers)


def extract(headers: Mapping[str, Any] | None) -> object | None:
    """The trace a message's headers carry, as a token for :func:`handling` (None when off or absent)."""
    return None if _carrier is None else _carrier.extract(headers)


def handling(token: object | None, name: str) -> AbstractContextManager[Any]:
    """Where a handler runs: within the trace of ``token`` (a null context when off or without a token)."""
    if _carrier is None or token is None:
        return _NULL
    return _carrier.handling(token, name)
