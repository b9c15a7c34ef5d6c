"""The plain monolith's message bus: one unit of work for a command and every event it causes."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, select

from event_plain.monolith.messagebus import MessageBus
from event_plain.monolith.messages import Command, Event
from event_plain.monolith.unit_of_work import UnitOfWork
from shared.storage.database import create_tables, make_engine, read_transaction

_METADATA = MetaData()
_rows = Table("rows", _METADATA, Column("name", String, primary_key=True))


@dataclass(frozen=True)
class _Write(Command):
    name: str


@dataclass(frozen=True)
class _Written(Event):
    name: str


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'bus.db'}")
    create_tables(engine, _METADATA)
    return engine


def _names(engine) -> list[str]:
    with read_transaction(engine) as connection:
        return sorted(connection.execute(select(_rows.c.name)).scalars())


def _write(command: _Write, uow: UnitOfWork) -> str:
    uow.connection.execute(insert(_rows).values(name=command.name))
    uow.publish(_Written(command.name))
    return command.name


def test_an_event_handler_writes_in_the_commands_transaction_and_after_commit_callbacks_run_after_it(engine):
    seen_after_commit: list[list[str]] = []

    def follow(event: _Written, uow: UnitOfWork) -> None:
        uow.connection.execute(insert(_rows).values(name=f"{event.name}-followed"))
        uow.after_commit(lambda: seen_after_commit.append(_names(engine)))

    bus = MessageBus(engine, commands={_Write: _write}, events={_Written: [follow]})
    assert bus.handle(_Write("a")) == "a"
    assert _names(engine) == ["a", "a-followed"]
    assert seen_after_commit == [["a", "a-followed"]]  # the callback saw the committed rows


def test_an_event_handler_that_fails_rolls_the_whole_command_back_and_runs_no_after_commit_callback(engine):
    called: list[str] = []

    def register(event: _Written, uow: UnitOfWork) -> None:
        uow.after_commit(lambda: called.append(event.name))

    def fail(event: _Written, uow: UnitOfWork) -> None:
        raise RuntimeError("alerting broke")

    bus = MessageBus(engine, commands={_Write: _write}, events={_Written: [register, fail]})
    with pytest.raises(RuntimeError, match="alerting broke"):
        bus.handle(_Write("b"))
    assert _names(engine) == []
    assert called == []
