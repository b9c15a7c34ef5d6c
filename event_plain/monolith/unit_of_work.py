"""One database transaction shared by a command's handler and by every handler of the events it raises."""
from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType

from sqlalchemy import Connection, Engine

from shared.storage.database import write_transaction

from .messages import Event

log = logging.getLogger(__name__)


class UnitOfWork:
    """``with UnitOfWork(engine) as uow:`` opens a write transaction (``uow.connection``); it commits when the block
    ends normally and rolls back on an exception, everything the handlers wrote with it.

    Handlers raise events with :meth:`publish` (the message bus collects them) and register with
    :meth:`after_commit` what must only happen once the transaction is durable (a webhook POST: never inside an
    open transaction). Those callbacks run after the commit, in order; one that fails is logged and does not
    affect the others or the caller (what they do must be safe to do later: see ``webhooks``).
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._stack = ExitStack()
        self._events: list[Event] = []
        self._after: list[Callable[[], None]] = []
        self.connection: Connection

    def __enter__(self) -> UnitOfWork:
        self.connection = self._stack.enter_context(write_transaction(self._engine))
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> bool:
        suppressed = self._stack.__exit__(kind, error, trace)
        if kind is None:
            for callback in self._after:
                try:
                    callback()
                except Exception:  # noqa: BLE001 - the transaction is committed; the callback's work is retried later
                    log.exception("after-commit callback %r failed", callback)
        return bool(suppressed)

    def publish(self, event: Event) -> None:
        self._events.append(event)

    def collect_new_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after.append(callback)
