"""Webhooks over real HTTP: the sender's retries and budget, and one POST per alert change when deliveries of
it overlap, through the notification service's internal gRPC and HTTP routes on a real database."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from direct_calls.monolith.services import NotificationService
from direct_calls.split import grpc_transport, http_transport
from shared.config import Settings
from shared.core import NotificationCore
from shared.domain import Alert, AlertChange, derived_id, new_id, utcnow
from shared.outbound import IDEMPOTENCY_HEADER, WEBHOOK_BUDGET_S, WEBHOOK_MAX_ATTEMPTS, HttpWebhookSender
from shared.storage import SqlNotificationStore, make_engine
from tests.support.http_sinks import HttpSink, closed_port_url

LOCAL_SINKS = ("127.0.0.1/32",)
"""The sinks listen on loopback, which the outbound guard refuses unless allowed."""

DELIVERIES = 10


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpSink]:
    with HttpSink() as server:
        yield server


def test_the_webhook_budget_fits_well_inside_a_call_deadline():
    assert WEBHOOK_BUDGET_S <= Settings.from_env({}).call_timeout_s * 0.6


def test_a_webhook_failing_twice_then_answering_is_delivered_on_the_third_attempt_with_one_key(sink):
    path = sink.new_path("hooks")
    sink.respond_first(path, [500, 503])
    outcome = HttpWebhookSender(allow=LOCAL_SINKS).deliver(sink.url(path), {"n": 1}, idempotency_key="key-1")
    assert (outcome.delivered, outcome.attempts) == (True, 3)
    posts = sink.posts(path)
    assert [post.json for post in posts] == [{"n": 1}] * 3
    assert {post.headers.get(IDEMPOTENCY_HEADER) for post in posts} == {"key-1"}


@pytest.mark.parametrize("status", [500, 429])
def test_a_webhook_that_keeps_failing_is_tried_the_maximum_number_of_times(sink, status):
    path = sink.new_path("hooks")
    sink.respond(path, status)
    outcome = HttpWebhookSender(allow=LOCAL_SINKS).deliver(sink.url(path), {}, idempotency_key="k")
    assert (outcome.delivered, outcome.attempts) == (False, WEBHOOK_MAX_ATTEMPTS)
    assert len(sink.posts(path)) == WEBHOOK_MAX_ATTEMPTS


def test_a_refused_connection_is_retried_too():
    outcome = HttpWebhookSender(allow=LOCAL_SINKS).deliver(closed_port_url("/hook"), {}, idempotency_key="k")
    assert (outcome.delivered, outcome.attempts) == (False, WEBHOOK_MAX_ATTEMPTS)


def test_an_answer_that_a_retry_cannot_change_is_final(sink):
    path = sink.new_path("hooks")
    sink.respond(path, 404)
    outcome = HttpWebhookSender(allow=LOCAL_SINKS).deliver(sink.url(path), {}, idempotency_key="k")
    assert (outcome.delivered, outcome.attempts) == (False, 1)


def test_a_receiver_that_does_not_answer_is_given_up_within_the_budget(sink):
    sender = HttpWebhookSender(timeout_s=0.4, budget_s=0.6, allow=LOCAL_SINKS)
    started = time.monotonic()
    outcome = sender.deliver(sink.url("/slow?ms=3000"), {}, idempotency_key="k")
    elapsed = time.monotonic() - started
    assert not outcome.delivered and outcome.attempts == 2  # 0.4 s, then the 0.2 s left
    assert elapsed < 0.6 + 0.3, elapsed
    assert len(sink.requests("/slow", "POST")) >= 2


# --------------------------------------------------------------------------- overlapping deliveries


TOKEN = "notification-token-of-this-test"


def _serve(transport: str, service: NotificationService) -> tuple[str, object]:
    if transport == "grpc":
        server, _, port = grpc_transport.build_server("notification", service, "127.0.0.1:0", TOKEN)
        return f"127.0.0.1:{port}", lambda: server.stop(0).wait()
    http_server = make_server("127.0.0.1", 0, http_transport.create_service_app("notification", service, TOKEN), threaded=True)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    return f"127.0.0.1:{http_server.server_port}", lambda: (http_server.shutdown(), http_server.server_close())


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_concurrent_identical_notify_calls_post_the_webhook_once(transport: str, sink: HttpSink, tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'notification.db'}")
    service = NotificationService(NotificationCore(SqlNotificationStore(engine), HttpWebhookSender(allow=LOCAL_SINKS)))
    address, stop = _serve(transport, service)
    module = {"grpc": grpc_transport, "http": http_transport}[transport]
    client = module.NotificationClient(address, 5.0, TOKEN)
    path = sink.new_path("hooks")
    sink.respond_first(path, [500])  # the first attempt fails: the send lasts long enough to overlap
    alert = Alert(new_id(), new_id(), "down", "open", utcnow(), None, new_id())
    change = AlertChange(alert, "alert_opened", sink.url(path))
    barrier = threading.Barrier(DELIVERIES, timeout=10)

    def notify(_: int) -> list:
        barrier.wait()
        return client.notify(change)

    try:
        with ThreadPoolExecutor(max_workers=DELIVERIES) as pool:
            answers = list(pool.map(notify, range(DELIVERIES)))
    finally:
        client.close()
        stop()  # type: ignore[operator]
        engine.dispose()
    posts = sink.posts(path)
    assert len(posts) == 2, [post.headers for post in posts]  # one delivery: a failed attempt and its retry
    assert {post.headers.get(IDEMPOTENCY_HEADER) for post in posts} == {derived_id(alert.id, "alert_opened", "webhook")}
    assert all(answer == answers[0] for answer in answers)
    assert [(n.channel, n.status, n.attempts) for n in answers[0]] == [("log", "sent", 1), ("webhook", "sent", 2)]
