"""The in-memory message bus: a command and the events it causes are handled synchronously, in one unit of work.

As in cosmicpython's ``messagebus.py``, a queue starts with the command; each handler's new events join the queue
and are handled in order, each by every handler subscribed to its type. Unlike it, every handler shares the
command's unit of work, so the whole chain (result, rule state, alerts, notifications) commits or rolls back as
one, and an event handler's error is not swallowed: it fails the command.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

from .messages import Command, Event
from .unit_of_work import UnitOfWork

CommandHandler = Callable[[Any, UnitOfWork], Any]
EventHandler = Callable[[Any, UnitOfWork], None]


class MessageBus:
    def __init__(self, engine: Engine, commands: Mapping[type[Command], CommandHandler],
                 events: Mapping[type[Event], Sequence[EventHandler]]):
        self._engine = engine
        self._commands = commands
        self._events = events

    def handle(self, command: Command) -> Any:
        """Run ``command``'s handler and every handler of the events that follow, in one transaction; return the
        command handler's value once committed. Raises what a handler raised (nothing is then committed)."""
        handler = self._commands[type(command)]
        with UnitOfWork(self._engine) as uow:
            answer = handler(command, uow)
            queue = uow.collect_new_events()
            while queue:
                event = queue.pop(0)
                for subscriber in self._events.get(type(event), ()):
                    subscriber(event, uow)
                    queue.extend(uow.collect_new_events())
        return answer
