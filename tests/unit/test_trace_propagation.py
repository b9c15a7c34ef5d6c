"""The in-memory bus carries the publisher's trace to the handler's thread (``shared.telemetry.propagation``), for a
plain group and for a keyed one (whose events go through the pool), and carries nothing when tracing is off."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from event_driven.monolith.bus import Group
from event_driven.monolith.memory_bus import InMemoryEventBus
from shared.telemetry import propagation
from shared.telemetry.tracing import BusCarrier
from tests.bus.samples import Keyed, Pinged
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spans() -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    """A tracer of its own (not the global provider) whose spans are kept in memory, and the bus carrier on it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    propagation.install(BusCarrier(tracer))
    yield tracer, exporter
    propagation.install(None)


@pytest.mark.parametrize("group", [Group("plain"), Group("keyed", partitioned=True, in_flight=4, concurrency=2)],
                         ids=["plain", "keyed"])
def test_a_handler_runs_in_the_trace_of_the_request_that_published_its_event(
        spans: tuple[trace.Tracer, InMemorySpanExporter], group: Group) -> None:
    tracer, exporter = spans
    seen: list[tuple[int, str]] = []
    bus = InMemoryEventBus()
    event_type, event = (Keyed, Keyed(key="k")) if group.keyed else (Pinged, Pinged(target_id="t"))
    bus.subscribe(group, event_type, lambda _e: seen.append(
        (trace.get_current_span().get_span_context().trace_id, threading.current_thread().name)))
    bus.start()
    try:
        with tracer.start_as_current_span("request") as request:
            bus.publish(event)
        wait_until(lambda: seen)
    finally:
        bus.close(5)
    trace_id, thread = seen[0]
    assert trace_id == request.get_span_context().trace_id and thread != threading.current_thread().name
    by_name = {span.name: span for span in exporter.get_finished_spans()}
    publish, process = by_name[f"publish {event.wire_name}"], by_name[f"process {event.wire_name} [{group.name}]"]
    assert publish.parent.span_id == request.get_span_context().span_id
    assert process.parent.span_id == publish.context.span_id  # a child: the gap between them is the queue wait
    assert process.kind is trace.SpanKind.CONSUMER


def test_with_tracing_off_the_bus_hands_no_trace_over() -> None:
    propagation.install(None)
    seen: list[bool] = []
    bus = InMemoryEventBus()
    bus.subscribe(Group("plain"), Pinged, lambda _e: seen.append(trace.get_current_span().get_span_context().is_valid))
    bus.start()
    try:
        bus.publish(Pinged(target_id="t"))
        wait_until(lambda: seen)
    finally:
        bus.close(5)
    assert seen == [False] and propagation.capture("x") is None and propagation.inject("x", {"a": 1}) == {"a": 1}


def test_headers_carry_the_trace_to_a_consumer_on_another_thread(spans: tuple[trace.Tracer, InMemorySpanExporter]) -> None:
    tracer, exporter = spans
    with tracer.start_as_current_span("request") as request:
        headers = propagation.inject("check.completed", {"x-partition": "3"})
    assert headers is not None and headers["x-partition"] == "3" and "traceparent" in headers
    seen = []

    def consume() -> None:
        with propagation.handling(propagation.extract(headers), "check.completed [alerting]"):
            seen.append(trace.get_current_span().get_span_context().trace_id)

    worker = threading.Thread(target=consume)
    worker.start()
    worker.join()
    assert seen == [request.get_span_context().trace_id]
    assert propagation.extract({"x-partition": "3"}) is None  # a message published outside any trace


def test_with_tracing_off_no_entrypoint_imports_opentelemetry() -> None:
    """Off means off: the entrypoints and ``setup`` import nothing of OpenTelemetry (a fresh interpreter)."""
    code = ("import sys; from shared.telemetry import setup; setup('x', {}); "
            "import direct_calls.monolith.wsgi, direct_calls.split.wsgi, direct_calls.split.serve, "
            "event_driven.monolith.wsgi, event_driven.split.wsgi, event_driven.split.serve; "
            "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")
    env = {k: v for k, v in os.environ.items() if k != "TRACING"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
