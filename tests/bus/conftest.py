"""The bus implementations the conformance suite runs against: add a factory to ``BUS_FACTORIES``.

A factory takes a namespace unique to the test (a broker bus prefixes its exchange and queues with it)
and returns a bus that is not started yet. Every bus a test makes is closed after it, and what a
broker bus declared is deleted. The RabbitMQ bus needs the broker at ``RABBITMQ_URL``: without it its
tests are skipped, or fail when ``CI=true``.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from event_driven.monolith.bus import EventBus
from event_driven.monolith.memory_bus import InMemoryEventBus
from shared.config import DEFAULT_RABBITMQ_URL

BusFactory = Callable[[str], EventBus]


def memory_bus(namespace: str) -> EventBus:
    return InMemoryEventBus(queue_size=256, publish_timeout_s=2.0, retry_delay_s=0.01)


def rabbitmq_bus(namespace: str) -> EventBus:
    from event_driven.split.rabbitmq_bus import RabbitMQEventBus

    return RabbitMQEventBus(os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL), namespace, retry_delay_s=0.01)


BUS_FACTORIES = [
    pytest.param(memory_bus, id="memory"),
    pytest.param(rabbitmq_bus, id="rabbitmq", marks=pytest.mark.broker),
]


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """The broker's URL, once it answers; skips (fails with ``CI=true``) when it does not."""
    from tests.support.broker import require_broker

    return require_broker()


@pytest.fixture(params=BUS_FACTORIES)
def new_bus(request: pytest.FixtureRequest) -> Iterator[Callable[[], EventBus]]:
    """Make a fresh, unstarted bus of the implementation under test (call it once per bus needed)."""
    factory: BusFactory = request.param
    if factory is rabbitmq_bus:
        request.getfixturevalue("rabbitmq_url")
    made: list[EventBus] = []

    def make() -> EventBus:
        bus = factory(f"bus-test-{uuid.uuid4().hex[:10]}")
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.close(timeout_s=5.0)
    if factory is rabbitmq_bus:
        from tests.support.broker import delete_namespace

        for bus in made:
            delete_namespace(bus.namespace, [group.name for group in bus.groups])
