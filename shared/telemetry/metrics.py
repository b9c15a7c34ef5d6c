"""The Prometheus metrics every process keeps (always on: a label lookup and an observation per request).

One registry per process (``prometheus_client``'s default: each process serves one gunicorn worker, or none,
so no multiprocess mode is needed), served on its own internal port by :func:`serve` (``METRICS_PORT``),
never on the public api port. The families, with their labels:

- ``http_server_requests_total`` / ``http_server_request_duration_seconds``: ``server`` (``api`` or a service's
  internal API), ``method``, ``endpoint`` (the route's rule), ``status`` (count only; 5xx are the errors);
- ``http_client_requests_total`` / ``http_client_request_duration_seconds``: calls to a peer over HTTP, ``peer``,
  ``method``, ``status`` (``none``: no answer at all);
- ``grpc_server_handled_total`` / ``grpc_server_handling_seconds`` and ``grpc_client_handled_total`` /
  ``grpc_client_handling_seconds``: ``method`` (``/Service/Method``), ``code`` (the gRPC status, count only);
- ``bus_handled_total`` (``group``, ``outcome`` ok or error) / ``bus_handling_seconds`` (``group``): each delivery
  of an event to a group's handlers; ``bus_messages_in_flight`` (``group``): taken from the queue, not yet done
  (RabbitMQ: delivered to this process and not acknowledged, the consumer's lag); ``bus_queue_depth`` (``queue``):
  waiting in an in-memory queue;
- ``notifications_total``: ``channel`` (``log``, ``webhook``), ``status`` (``sent``, ``failed``).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: from a method call in a monolith to a call that times out."""

HTTP_SERVER_REQUESTS = Counter("http_server_requests", "HTTP requests served", ("server", "method", "endpoint", "status"))
HTTP_SERVER_DURATION = Histogram("http_server_request_duration_seconds", "Time to serve an HTTP request",
                                 ("server", "method", "endpoint"), buckets=BUCKETS)
HTTP_CLIENT_REQUESTS = Counter("http_client_requests", "HTTP calls to a peer", ("peer", "method", "status"))
HTTP_CLIENT_DURATION = Histogram("http_client_request_duration_seconds", "Time of an HTTP call to a peer",
                                 ("peer", "method"), buckets=BUCKETS)
GRPC_SERVER_HANDLED = Counter("grpc_server_handled", "gRPC calls served", ("method", "code"))
GRPC_SERVER_DURATION = Histogram("grpc_server_handling_seconds", "Time to serve a gRPC call", ("method",),
                                 buckets=BUCKETS)
GRPC_CLIENT_HANDLED = Counter("grpc_client_handled", "gRPC calls to a peer", ("method", "code"))
GRPC_CLIENT_DURATION = Histogram("grpc_client_handling_seconds", "Time of a gRPC call to a peer", ("method",),
                                 buckets=BUCKETS)
BUS_HANDLED = Counter("bus_handled", "Events delivered to a group's handlers", ("group", "outcome"))
BUS_DURATION = Histogram("bus_handling_seconds", "Time a group's handlers took with an event", ("group",),
                         buckets=BUCKETS)
NOTIFICATIONS = Counter("notifications", "Notifications recorded", ("channel", "status"))

N = TypeVar("N")


def count_notifications(recorded: list[N]) -> list[N]:
    """Count each notification just recorded by its channel and status; returns ``recorded``."""
    for notification in recorded:
        NOTIFICATIONS.labels(getattr(notification, "channel", "?"), getattr(notification, "status", "?")).inc()
    return recorded


@contextmanager
def handled(group: str) -> Iterator[None]:
    """Count and time one delivery of an event to ``group``'s handlers (outcome ``error`` if it raises)."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        BUS_HANDLED.labels(group, outcome).inc()
        BUS_DURATION.labels(group).observe(time.perf_counter() - started)


def count_http_client_failure(peer: str, method: str) -> None:
    """Count a call to ``peer`` that got no answer at all (refused, reset, timed out): ``status="none"``."""
    HTTP_CLIENT_REQUESTS.labels(peer, method, "none").inc()


def observe_http_client(peer: str) -> Callable[..., Any]:
    """A ``requests`` response hook (``session.hooks["response"]``) that times each call to ``peer``."""
    def hook(response: Any, *args: Any, **kwargs: Any) -> Any:
        method = response.request.method or "?"
        HTTP_CLIENT_REQUESTS.labels(peer, method, str(response.status_code)).inc()
        HTTP_CLIENT_DURATION.labels(peer, method).observe(response.elapsed.total_seconds())
        return response
    return hook


class GaugeCollector(Collector):
    """A gauge family read at scrape time: ``read()`` gives the value of each label value."""

    def __init__(self, name: str, documentation: str, label: str, read: Callable[[], Mapping[str, float]]):
        self._name, self._documentation, self._label, self._read = name, documentation, label, read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(self._name, self._documentation, labels=[self._label])
        for value, number in self._read().items():
            family.add_metric([value], number)
        yield family

    def describe(self) -> Iterable[GaugeMetricFamily]:
        yield GaugeMetricFamily(self._name, self._documentation, labels=[self._label])


_gauges: dict[str, GaugeCollector] = {}
_gauges_lock = threading.Lock()


def register_gauge(name: str, documentation: str, label: str, read: Callable[[], Mapping[str, float]]) -> None:
    """Serve a gauge read at scrape time (a bus's queue depth, its messages in flight); a later registration of
    the same name (a bus made again in one process, as tests do) replaces the earlier one."""
    collector = GaugeCollector(name, documentation, label, read)
    with _gauges_lock:
        earlier = _gauges.pop(name, None)
        if earlier is not None:
            REGISTRY.unregister(earlier)
        REGISTRY.register(collector)
        _gauges[name] = collector


def serve(env: Mapping[str, str] = os.environ) -> int | None:
    """Serve ``/metrics`` on ``METRICS_HOST:METRICS_PORT`` (default host 0.0.0.0) on a daemon thread; the port, or
    None without ``METRICS_PORT``."""
    port = env.get("METRICS_PORT")
    if not port:
        return None
    start_http_server(int(port), addr=env.get("METRICS_HOST", "0.0.0.0"))
    return int(port)
