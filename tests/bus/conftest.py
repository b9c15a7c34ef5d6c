"""The bus implementations the conformance suite runs against: add a factory to ``BUS_FACTORIES``.

A factory takes a namespace unique to the test (a broker bus prefixes its exchange and queues with it)
and returns a bus that is not started yet. Every bus a test makes is closed after it.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from event_driven.monolith.bus import EventBus
from event_driven.monolith.memory_bus import InMemoryEventBus

BusFactory = Callable[[str], EventBus]


def memory_bus(namespace: str) -> EventBus:
    return InMemoryEventBus(queue_size=256, publish_timeout_s=2.0, retry_delay_s=0.01)


BUS_FACTORIES = [
    pytest.param(memory_bus, id="memory"),
    # The split's broker bus, one line: pytest.param(rabbitmq_bus, id="rabbitmq", marks=pytest.mark.broker),
]


@pytest.fixture(params=BUS_FACTORIES)
def new_bus(request: pytest.FixtureRequest) -> Iterator[Callable[[], EventBus]]:
    """Make a fresh, unstarted bus of the implementation under test (call it once per bus needed)."""
    factory: BusFactory = request.param
    made: list[EventBus] = []

    def make() -> EventBus:
        bus = factory(f"bus-test-{uuid.uuid4().hex[:10]}")
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.close(timeout_s=5.0)
