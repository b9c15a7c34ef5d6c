"""Each variant traced end to end (``TRACING=1``) and measured: one request's trace crosses every process on its
path, the notification's webhook included, and every process answers ``/metrics`` with its families."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from harness.launcher import RunningVariant, start
from harness.topology import variant
from harness.traces import Span, by_trace, read_spans
from tests.support.broker import require_broker
from tests.support.http_sinks import HttpSink
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

VARIANTS = ("direct-monolith", "direct-split-grpc", "direct-split-http", "event-monolith",
            pytest.param("event-split", marks=pytest.mark.broker),
            "direct-plain-monolith", "direct-plain-split-http", "event-plain-monolith",
            pytest.param("event-plain-split", marks=pytest.mark.broker))

EXPECTED_METRICS = {
    "api": {"http_server_requests_total"},
    "monitor": set(),
    "alerting": set(),
    "notification": {"notifications_total"},
}
"""Families with samples after a failing result opened an alert, by process, besides those of its transport."""
BY_TRANSPORT = {
    "direct-monolith": {"api": {"notifications_total"}},
    "direct-split-grpc": {"api": {"grpc_client_handled_total"}, "monitor": {"grpc_server_handled_total",
                          "grpc_client_handled_total"}, "alerting": {"grpc_server_handled_total",
                          "grpc_client_handled_total"}, "notification": {"grpc_server_handled_total"}},
    "direct-split-http": {"api": {"http_client_requests_total"}, "monitor": {"http_server_requests_total",
                          "http_client_requests_total"}, "alerting": {"http_server_requests_total",
                          "http_client_requests_total"}, "notification": {"http_server_requests_total"}},
    "event-monolith": {"api": {"notifications_total", "bus_handled_total", "bus_queue_depth"}},
    "event-split": {name: {"bus_handled_total", "bus_messages_in_flight", "bus_queue_depth"}
                    for name in ("monitor", "alerting", "notification")},
}
PLAIN = {
    "direct-plain-monolith": {"api": {"http_server_requests_total"}},
    "direct-plain-split-http": {name: {"http_server_requests_total"} for name in ("api", "monitor", "alerting",
                                                                                   "notification")},
    "event-plain-monolith": {"api": {"http_server_requests_total"}},
    "event-plain-split": {"api": {"http_server_requests_total"}},
}
"""The plain apps count the public (and the plain direct split's internal) HTTP requests; they do not use the
disciplined apps' cores, transports or buses, whose families the others have."""


class Traced:
    def __init__(self, running: RunningVariant, sink: HttpSink, hook: str):
        self.running, self.sink, self.hook = running, sink, hook


@pytest.fixture(scope="module", params=VARIANTS)
def traced(request: pytest.FixtureRequest) -> Iterator[Traced]:
    """A variant with tracing on whose target has opened an alert, and its webhook POSTed."""
    if variant(request.param).needs_broker:
        require_broker()
    with HttpSink() as sink, start(request.param, extra_env={"TRACING": "1"}) as running:
        hook = sink.new_path("hooks")
        target = requests.post(f"{running.base_url}/targets", headers=running.auth_headers, timeout=10, json={
            "name": "traced", "url": "https://example.org", "failure_threshold": 2, "webhook_url": sink.url(hook)})
        assert target.status_code == 201, target.text
        for _ in range(2):
            posted = requests.post(f"{running.base_url}/targets/{target.json()['id']}/results", timeout=10,
                                   headers=running.auth_headers, json={"ok": False, "latency_ms": 3})
            assert posted.status_code == 202, posted.text
        sink.wait_for_posts(hook, 1)
        yield Traced(running, sink, hook)


def _trace_of_webhook(traced: Traced) -> str:
    """The trace id the webhook's POST carried (its ``traceparent`` header)."""
    (post,) = traced.sink.posts(traced.hook)
    header = next((v for k, v in post.headers.items() if k.lower() == "traceparent"), None)
    assert header, f"the webhook carried no trace: {post.headers}"
    return header.split("-")[1]


def _services(spans: list[Span]) -> set[str]:
    return {span.service for span in spans}


def test_one_trace_runs_from_the_api_to_the_notifications_webhook(traced: Traced) -> None:
    spec = traced.running.variant
    trace_id = _trace_of_webhook(traced)
    expected = {p.name for p in spec.processes} if spec.is_split else {spec.name}

    def the_trace() -> list[Span]:
        spans = by_trace(read_spans(traced.running.data_dir / "traces")).get(trace_id, [])
        return spans if _services(spans) >= expected and any(s.kind == "server" and s.parent_id is None
                                                              for s in spans) else []

    spans = wait_until(the_trace, timeout=5, message=lambda: f"trace {trace_id} of {spec.name} lacks a process")
    root = next(s for s in spans if s.parent_id is None)
    assert root.service == (spec.name if not spec.is_split else "api") and root.name.startswith("POST /targets/")
    webhook = [s for s in spans if s.kind == "client" and s.name == "POST" and s.attributes.get("url.full",
               s.attributes.get("http.url", "")).startswith(traced.sink.base_url)]
    assert webhook, [s.name for s in spans]
    assert webhook[0].service == ("notification" if spec.is_split else spec.name)
    if spec.app == "event_driven":  # the async hops are children, queue wait between publish and process
        names = [s.name for s in spans]
        assert any(n.startswith("process check.completed") for n in names), names
        assert any(n.startswith("process alert.opened") for n in names), names


def _families(text: str) -> set[str]:
    """The metric names with at least one sample (``_total``, ``_bucket`` ... as written)."""
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_every_process_serves_its_metrics(traced: Traced) -> None:
    spec = traced.running.variant
    for instance, port in traced.running.metrics_ports.items():
        name = traced.running.processes[instance].spec.name
        if spec.is_plain:
            expected = PLAIN[spec.name].get(name, set())
        elif spec.is_split:
            expected = EXPECTED_METRICS[name] | BY_TRANSPORT[spec.name].get(name, set())
        else:
            expected = BY_TRANSPORT[spec.name]["api"] | EXPECTED_METRICS["api"]

        def missing(port: int = port, expected: set[str] = expected, instance: str = instance) -> set[str]:
            answer = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            assert answer.status_code == 200, instance
            return expected - _families(answer.text)

        # a gauge the broker answers (bus_queue_depth) has samples from the first tick after the bus is ready
        wait_until(lambda m=missing: not m(), timeout=5, message=lambda m=missing, i=instance: f"{i} lacks {sorted(m())}")


def test_the_public_port_does_not_serve_metrics(traced: Traced) -> None:
    answer = requests.get(f"{traced.running.base_url}/metrics", timeout=5)
    assert answer.status_code in (401, 404)
