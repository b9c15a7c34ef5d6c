"""Request/response over the event bus: a request event, then a success or failure reply correlated by id.

The requester side is :class:`EventRPC` (the seed's ``request(REQUESTED, SUCCEEDED, FAILED, data)``); the
responder side is :func:`responder`, which turns "request in, success reply out" into a bus handler that
publishes the reply and turns a domain error into the failure reply.

Guarantees:
- ``request`` returns the success reply, or raises the domain error the responder raised (its code and
  message cross the bus, so ``NotFound`` stays a 404), or ``DeadlineExceeded`` (504 ``timeout``) when no
  reply arrived within the deadline. It never waits longer than the deadline.
- A timed-out request may still be carried out: a timeout says nothing about the outcome. A responder
  drops a request whose deadline passed before it got to it, so an overloaded service does not work
  for requesters that left.
- Replies that arrive after their deadline, or that belong to another requester, are dropped and logged.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TypeVar

from shared.domain import DeadlineExceeded, DomainError, error_from_code, utcnow

from .bus import EventBus, Group, Publish
from .events import Failed, Reply, Request

log = logging.getLogger("event_driven.rpc")

REPLIES = Group("api-replies", exclusive=True)
"""Where a requester receives replies: its own group, one per process."""

S = TypeVar("S", bound=Reply)
R = TypeVar("R", bound=Request)

_REMEMBERED_TIMEOUTS = 4096


class _Pending:
    __slots__ = ("done", "reply")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: Reply | None = None


class EventRPC:
    """Sends requests on ``bus`` and waits for their replies, at most ``timeout_s`` by default. Thread-safe."""

    def __init__(self, bus: EventBus, *, timeout_s: float = 5.0, group: Group = REPLIES):
        self._bus = bus
        self._timeout_s = timeout_s
        self._group = group
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._timed_out: OrderedDict[str, None] = OrderedDict()
        self._listening: set[type[Reply]] = set()

    def listen(self, reply_types: Iterable[type[Reply]]) -> None:
        """Subscribe to these reply types (at wiring time, before the bus starts)."""
        for reply_type in reply_types:
            if reply_type not in self._listening:
                self._bus.subscribe(self._group, reply_type, self._on_reply)
                self._listening.add(reply_type)

    def request(self, requested: Request, succeeded: type[S], failed: type[Failed], *, timeout_s: float | None = None) -> S:
        """Publish ``requested`` with a deadline and return its ``succeeded`` reply; see the module's guarantees.

        Raises the domain error of a ``failed`` reply, ``DeadlineExceeded`` after the deadline, and
        ``Unavailable`` when the bus refuses the request.
        """
        missing = [t.__name__ for t in (succeeded, failed) if t not in self._listening]
        if missing:
            raise RuntimeError(f"not listening to {', '.join(missing)}: declare it with listen() at wiring time")
        timeout = self._timeout_s if timeout_s is None else timeout_s
        request = dataclasses.replace(requested, deadline=utcnow() + timedelta(seconds=timeout))
        pending = _Pending()
        with self._lock:
            self._pending[request.event_id] = pending
        try:
            self._bus.publish(request)
            if not pending.done.wait(timeout):
                self._remember_timeout(request.event_id)
                raise DeadlineExceeded(f"no reply to {request.wire_name} within {timeout:g}s")
        finally:
            with self._lock:
                self._pending.pop(request.event_id, None)
        reply = pending.reply
        if isinstance(reply, Failed) or reply.wire_name == failed.wire_name:  # wire names: see events.is_event
            raise error_from_code(reply.code, reply.message)  # type: ignore[union-attr]
        if reply.wire_name != succeeded.wire_name:
            raise DomainError(f"unexpected reply {reply.wire_name} to {request.wire_name}")
        return reply  # type: ignore[return-value]

    def _on_reply(self, reply: Reply) -> None:
        with self._lock:
            pending = self._pending.get(reply.correlation_id)
            late = reply.correlation_id in self._timed_out
        if pending is None or pending.done.is_set():
            if late:
                log.warning("dropped late reply %s to request %s: its deadline had passed", reply.wire_name, reply.correlation_id)
            else:
                log.debug("dropped reply %s to request %s, which is not ours", reply.wire_name, reply.correlation_id)
            return
        pending.reply = reply
        pending.done.set()

    def _remember_timeout(self, request_id: str) -> None:
        with self._lock:
            self._timed_out[request_id] = None
            while len(self._timed_out) > _REMEMBERED_TIMEOUTS:
                self._timed_out.popitem(last=False)


def responder(handler: Callable[[R], Reply], failed: type[Failed], publish: Publish) -> Callable[[R], None]:
    """A bus handler that answers each request with ``handler``'s reply, or ``failed`` on an error.

    A ``DomainError`` becomes a failure reply with its code and message; any other exception is logged
    and answered as ``internal``, like the HTTP edge does. A request whose deadline has passed is
    dropped unanswered. If the reply cannot be published, that is logged and the requester times out.
    """

    @functools.wraps(handler)
    def respond(request: R) -> None:
        if request.deadline is not None and utcnow() > request.deadline:
            log.warning("dropped %s %s: its requester stopped waiting", request.wire_name, request.event_id)
            return
        try:
            reply = handler(request)
        except DomainError as error:
            reply = failed(correlation_id=request.event_id, code=error.code, message=error.message)
        except Exception:
            log.exception("%s failed on %s %s", getattr(handler, "__qualname__", handler), request.wire_name, request.event_id)
            reply = failed(correlation_id=request.event_id, code=DomainError.code, message="internal error")
        try:
            publish(reply)
        except Exception:
            log.exception("could not publish %s to request %s; the requester will time out", reply.wire_name, request.event_id)

    return respond
