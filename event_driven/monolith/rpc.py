"""Request/reply over the event bus with one generic envelope, as nameko does over AMQP.

A call names a service, a method and keyword arguments, and gets back a value or an error:
- :class:`CallRequested` (service, method, args, deadline, reply address) is published with the routing
  key ``rpc.<service>.<method>``, so the wiring routes each method to the group that serves it;
- a call that belongs to an ordered stream names its ``key`` (e.g. the target it changes): in a
  partitioned group, the calls of one key are handled one at a time in the order they were made;
- the responder answers with :class:`CallSucceeded` (correlation id, value) or :class:`CallFailed`
  (correlation id, error code, message), sent straight to the requester's inbox (``bus.send``).
Arguments and values are domain values (``shared.domain`` dataclasses, lists of them, primitives).

The requester side is :class:`RpcClient` (the seed's ``EventRPC.request(REQUESTED, SUCCEEDED, FAILED,
data)``); the responder side is :func:`responder` / :func:`serve`, which turn a plain function into a bus
handler that sends its return value, or its domain error, back.

Guarantees:
- ``call`` returns the method's value, or raises the domain error the method raised (its code and
  message cross the bus, so ``NotFound`` stays a 404), or ``DeadlineExceeded`` (504 ``timeout``) when no
  reply arrived within the deadline. It never waits longer than the deadline.
- A timed-out call may still be carried out: a timeout says nothing about the outcome. A responder
  drops a request whose deadline passed before it got to it, so an overloaded service does not work
  for requesters that left.
- Replies that arrive after their deadline, or that belong to another requester, are dropped and logged.
- A request may be delivered twice (see the bus): a method that changes state takes an explicit
  ``request_id`` argument, chosen by the caller, and does what it did the first time when it sees it again.
"""
from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.domain import DeadlineExceeded, DomainError, error_from_code, utcnow

from .bus import EventBus, Group, Send
from .events import Event, wire_name

log = logging.getLogger("event_driven.rpc")

_REMEMBERED_TIMEOUTS = 4096


def routing_key(service: str, method: str) -> str:
    """The routing key of a call to ``service.method`` (what the serving group binds)."""
    return f"rpc.{service}.{method}"


@wire_name("call.requested")
@dataclass(frozen=True, kw_only=True)
class CallRequested(Event):
    """Asks ``service`` to run ``method(**args)``; answered at ``reply_to``, correlated by our ``event_id``.

    ``deadline`` is when the requester stops waiting: a request still queued after it is dropped unanswered.
    Without ``reply_to`` the method runs and nobody is answered. ``key`` is the call's partition key.
    """

    service: str
    method: str
    args: dict[str, Any] = field(default_factory=dict)
    deadline: datetime | None = None
    reply_to: str | None = None
    key: str | None = None

    @property
    def routing_key(self) -> str:
        return routing_key(self.service, self.method)

    @property
    def partition_key(self) -> str | None:
        return self.key


@wire_name("call.succeeded")
@dataclass(frozen=True, kw_only=True)
class CallSucceeded(Event):
    """The call whose ``event_id`` is ``correlation_id`` returned ``value``."""

    correlation_id: str
    value: Any = None


@wire_name("call.failed")
@dataclass(frozen=True, kw_only=True)
class CallFailed(Event):
    """The call failed with the domain error ``code`` (``shared.domain.ERRORS_BY_CODE``) and ``message``."""

    correlation_id: str
    code: str
    message: str


class _Pending:
    __slots__ = ("done", "reply")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: CallSucceeded | CallFailed | None = None


class RpcClient:
    """Calls methods over ``bus`` and waits for their replies, at most ``timeout_s`` by default. Thread-safe.

    Made at wiring time: it declares itself the handler of the bus's inbox (:meth:`receive`).
    """

    def __init__(self, bus: EventBus, *, timeout_s: float = 5.0):
        self._bus = bus
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._timed_out: OrderedDict[str, None] = OrderedDict()
        bus.subscribe_inbox(self.receive)

    def call(self, service: str, method: str, /, *, timeout_s: float | None = None, key: str | None = None,
             **args: Any) -> Any:
        """Run ``service.method(**args)`` and return its value; see the module's guarantees.

        ``key`` orders the call among the calls with the same key when the serving group is partitioned.
        Raises the method's domain error, ``DeadlineExceeded`` after the deadline, and ``Unavailable``
        when the bus refuses the request.
        """
        timeout = self._timeout_s if timeout_s is None else timeout_s
        request = CallRequested(service=service, method=method, args=args,
                                deadline=utcnow() + timedelta(seconds=timeout), reply_to=self._bus.address, key=key)
        pending = _Pending()
        with self._lock:
            self._pending[request.event_id] = pending
        try:
            self._bus.publish(request)
            if not pending.done.wait(timeout):
                self._remember_timeout(request.event_id)
                raise DeadlineExceeded(f"no reply to {service}.{method} within {timeout:g}s")
        finally:
            with self._lock:
                self._pending.pop(request.event_id, None)
        reply = pending.reply
        if isinstance(reply, CallFailed):
            raise error_from_code(reply.code, reply.message)
        assert isinstance(reply, CallSucceeded)
        return reply.value

    def receive(self, reply: Event) -> None:
        """The inbox handler: hand a reply to the call waiting for it. Never blocks."""
        if not isinstance(reply, CallSucceeded | CallFailed):
            log.warning("dropped %s %s: not a reply", reply.wire_name, reply.event_id)
            return
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


def responder(
    method: Callable[..., Any], send: Send, late: Callable[..., Any] | None = None
) -> Callable[[CallRequested], None]:
    """A bus handler that runs ``method(**request.args)`` and sends the outcome to ``request.reply_to``.

    A ``DomainError`` becomes a :class:`CallFailed` with its code and message; any other exception is
    logged and answered as ``internal``, like the HTTP edge does. A request whose deadline has passed is
    not run and not answered (its requester has stopped waiting); ``late(**request.args)`` runs instead when
    given: what a redelivered request must still finish if its first delivery applied it and died before
    passing it on (an exception from it propagates, so the bus delivers the request again). If the reply cannot
    be sent, that is logged and the requester times out.
    """

    @functools.wraps(method)
    def respond(request: CallRequested) -> None:
        name = f"{request.service}.{request.method}"
        if request.deadline is not None and utcnow() > request.deadline:
            log.warning("dropped %s %s: its requester stopped waiting", name, request.event_id)
            if late is not None:
                late(**request.args)
            return
        reply: CallSucceeded | CallFailed
        try:
            reply = CallSucceeded(correlation_id=request.event_id, value=method(**request.args))
        except DomainError as error:
            reply = CallFailed(correlation_id=request.event_id, code=error.code, message=error.message)
        except Exception:
            log.exception("%s failed on request %s", name, request.event_id)
            reply = CallFailed(correlation_id=request.event_id, code=DomainError.code, message="internal error")
        if request.reply_to is None:
            log.debug("%s %s has no reply address; not answered", name, request.event_id)
            return
        try:
            send(request.reply_to, reply)
        except Exception:
            log.exception("could not send %s to request %s; the requester will time out", reply.wire_name, request.event_id)

    return respond


def serve(
    bus: EventBus, group: Group, service: str, name: str, method: Callable[..., Any], late: Callable[..., Any] | None = None
) -> None:
    """Have ``group`` answer the calls of ``service.name`` with ``method`` (at wiring time); ``late`` finishes an
    expired request's effects (see :func:`responder`)."""
    bus.subscribe(group, CallRequested, responder(method, bus.send, late), routing_key=routing_key(service, name))
