"""Tracing with OpenTelemetry, installed by :func:`shared.telemetry.setup` only when it is on (``TRACING=1``).

This module is the only one that imports the OpenTelemetry SDK and its instrumentations (which import Flask, gRPC,
requests and SQLAlchemy): with tracing off it is never imported. :func:`install` sets up, in this order:

- a tracer provider whose resource names the service; spans go to an OTLP collector over HTTP (batched, flushed at
  exit) when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, else to
  ``DATA_DIR/traces/SERVICE-PID.jsonl``, one span per line, written as each span ends (a simple processor: a test
  or the waterfall reads a finished request's spans at once, and a killed process loses none);
- the maintained instrumentations, before any app, server, channel or engine is made (they patch the classes and
  factories: Flask apps, ``grpc.server``, gRPC channels, ``requests`` sessions, ``create_engine``), which carry the
  trace in HTTP headers and gRPC metadata; health checks and ``/metrics`` are not traced;
- the buses' carrier (:mod:`.propagation`): W3C ``traceparent`` in AMQP message headers, and the context itself
  handed over a queue in memory. The pika instrumentation is not used: the RabbitMQ bus publishes and consumes
  on its connection's I/O thread while the request and the handler run on other threads, where the
  instrumentation would see no trace and replace the message's with a new one.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient, GrpcInstrumentorServer, filters
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind

from . import propagation
from .spanfile import JsonLinesSpanExporter

UNTRACED_URLS = "healthz,readyz,metrics,openapi.json"
"""Paths the Flask instrumentation leaves out (probes and scrapes would bury the requests)."""


def exporter_for(service: str, env: Mapping[str, str]) -> tuple[SpanExporter, bool]:
    """Where spans go, and whether to batch them: OTLP when an endpoint is configured, else a JSON-lines file."""
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(), True  # reads the endpoint and headers from the standard variables
    return JsonLinesSpanExporter(Path(env.get("DATA_DIR", "./var")) / "traces", service), False


def install(service: str, env: Mapping[str, str] = os.environ) -> TracerProvider:
    """Trace this process as ``service``: the provider, the instrumentations and the buses' carrier."""
    resource = Resource.create({"service.name": service, "service.instance.id": f"{service}-{os.getpid()}"})
    provider = TracerProvider(resource=resource)  # shut down (flushed) at interpreter exit
    exporter, batched = exporter_for(service, env)
    provider.add_span_processor(BatchSpanProcessor(exporter) if batched else SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    FlaskInstrumentor().instrument(excluded_urls=UNTRACED_URLS)
    untraced = filters.negate(filters.health_check())
    GrpcInstrumentorServer(filter_=untraced).instrument()
    GrpcInstrumentorClient(filter_=untraced).instrument()
    RequestsInstrumentor().instrument()
    SQLAlchemyInstrumentor().instrument(skip_dep_check=True)  # declares sqlalchemy < 2.1; its engine events work on 2.1
    propagation.install(BusCarrier(trace.get_tracer("event_driven.bus")))
    return provider


class BusCarrier:
    """The trace over the buses' queues (:class:`.propagation.Carrier`): producer spans where an event is
    published, consumer spans, their children, where it is handled."""

    def __init__(self, tracer: trace.Tracer):
        self._tracer = tracer

    def capture(self, name: str) -> object | None:
        if not trace.get_current_span().get_span_context().is_valid:
            return None  # published outside any trace (a redelivery, a timer): nothing to continue
        with self._tracer.start_as_current_span(f"publish {name}", kind=SpanKind.PRODUCER):
            return context.get_current()

    def inject(self, name: str, headers: dict[str, Any] | None) -> dict[str, Any] | None:
        if not trace.get_current_span().get_span_context().is_valid:
            return headers
        carried = dict(headers or {})
        with self._tracer.start_as_current_span(f"publish {name}", kind=SpanKind.PRODUCER):
            propagate.inject(carried)
        return carried

    def extract(self, headers: Mapping[str, Any] | None) -> object | None:
        if not headers or "traceparent" not in headers:
            return None
        return propagate.extract({key: str(value) for key, value in headers.items()})

    @contextmanager
    def handling(self, token: object, name: str) -> Iterator[None]:
        assert isinstance(token, context.Context)
        with self._tracer.start_as_current_span(f"process {name}", context=token, kind=SpanKind.CONSUMER):
            yield
