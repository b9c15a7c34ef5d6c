"""The direct-calls split's transports in one process: real services on in-memory stores behind real gRPC and
HTTP servers, reached through the clients. Both transports must behave the same."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from direct_calls.monolith.backend import DirectBackend
from direct_calls.monolith.services import AlertingService, MonitorService, NotificationService
from direct_calls.split import http_transport
from direct_calls.split.deadlines import HOP_MARGIN_S
from shared.core import AlertingCore, MonitorCore, NotificationCore
from shared.domain import (
    CheckResult,
    Conflict,
    DeadlineExceeded,
    DomainError,
    InvalidArgument,
    NewResult,
    NewTarget,
    NotFound,
    RuleParams,
    Unavailable,
    new_id,
    utcnow,
)
from shared.ports import ProbeOutcome, Prober, WebhookSender
from tests.support.fakes import InMemoryAlertingStore, InMemoryMonitorStore, InMemoryNotificationStore
from tests.support.transports import TIMEOUT_S, InProcessServers


class FakeProber(Prober):
    def probe(self, url: str) -> ProbeOutcome:
        return ProbeOutcome(ok=False, latency_ms=1.5, status_code=503)


class FakeWebhook(WebhookSender):
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []

    def post(self, url: str, payload: dict) -> bool:
        self.posts.append((url, payload))
        return True


@pytest.fixture(params=["grpc", "http"])
def transport(request: pytest.FixtureRequest) -> Iterator[InProcessServers]:
    wiring = InProcessServers(request.param)
    try:
        yield wiring
    finally:
        wiring.close()


class Split:
    """The three services, each behind its own server, wired as the split variants wire them."""

    def __init__(self, transport: InProcessServers):
        self.monitor_store = InMemoryMonitorStore()
        self.alerting_store = InMemoryAlertingStore()
        self.notification_store = InMemoryNotificationStore()
        self.webhook = FakeWebhook()
        notification = NotificationService(NotificationCore(self.notification_store, self.webhook))
        self.notification_addr = transport.serve("notification", notification)
        alerting = AlertingService(AlertingCore(self.alerting_store), transport.client("notification", self.notification_addr))
        self.alerting_addr = transport.serve("alerting", alerting)
        monitor = MonitorService(MonitorCore(self.monitor_store, FakeProber()), transport.client("alerting", self.alerting_addr))
        self.monitor_addr = transport.serve("monitor", monitor)
        self.backend = DirectBackend(
            transport.client("monitor", self.monitor_addr),
            transport.client("alerting", self.alerting_addr),
            transport.client("notification", self.notification_addr),
        )


def closed_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def failed_result(target_id: str) -> CheckResult:
    now = utcnow()
    return CheckResult(new_id(), target_id, False, 12.0, None, now, now)


class StubAlerting:
    """An alerting service whose ``list_alerts`` does what the test says, counting the calls it gets."""

    def __init__(self, behaviour: Callable[[], Any]):
        self.behaviour = behaviour
        self.calls = 0

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> Any:
        self.calls += 1
        return self.behaviour()

    def evaluate(self, result: CheckResult, params: RuleParams) -> Any:
        return []

    def ping(self) -> None:
        pass


def _raise(error: Exception) -> Callable[[], Any]:
    def behaviour() -> Any:
        raise error

    return behaviour


# --------------------------------------------------------------------------- the calls


def test_a_result_travels_from_monitor_to_alerting_to_notification_and_back(transport):
    split = Split(transport)
    backend = split.backend
    target = backend.create_target("dev", NewTarget("api", "http://example.test/", failure_threshold=1, webhook_url="http://hook.test/"))
    assert backend.get_target("dev", target.id) == target
    assert backend.list_targets("dev", 10, 0).items == [target]

    accepted = backend.ingest_result("dev", target.id, NewResult(ok=False, latency_ms=7.0, key="k-1"))
    again = backend.ingest_result("dev", target.id, NewResult(ok=False, latency_ms=7.0, key="k-1"))
    assert again == accepted
    assert backend.list_results("dev", target.id, 10) == [accepted]
    (alert,) = backend.list_alerts("dev", target.id, "open")
    assert (alert.kind, alert.opened_by_result_id) == ("down", accepted.id)
    notifications = backend.list_notifications("dev", None, alert.id)
    assert sorted(n.channel for n in notifications) == ["log", "webhook"]
    assert len(split.webhook.posts) == 1

    checked = backend.check_target("dev", target.id)
    assert (checked.ok, checked.status_code) == (False, 503)
    assert backend.readiness() == []
    backend.delete_target("dev", target.id)
    with pytest.raises(NotFound, match=f"target {target.id} not found"):
        backend.get_target("dev", target.id)


def test_domain_errors_cross_with_their_type_and_message(transport):
    backend = Split(transport).backend
    backend.create_target("dev", NewTarget("dup", "http://example.test/"))
    with pytest.raises(Conflict) as conflict:
        backend.create_target("dev", NewTarget("dup", "http://example.test/"))
    assert conflict.value.message == "a target named 'dup' exists already"
    with pytest.raises(NotFound) as not_found:
        backend.ingest_result("dev", "no-such-target", NewResult(ok=True, latency_ms=1.0))
    assert not_found.value.message == "target no-such-target not found"

    stub = StubAlerting(_raise(InvalidArgument("state must be open or resolved")))
    client = transport.client("alerting", transport.serve("alerting", stub))
    with pytest.raises(InvalidArgument, match="^state must be open or resolved$"):
        client.list_alerts("dev", None, "bogus")


def test_an_unexpected_error_in_a_service_is_internal_without_its_details(transport):
    client = transport.client("alerting", transport.serve("alerting", StubAlerting(_raise(RuntimeError("secret detail")))))
    with pytest.raises(DomainError) as raised:
        client.list_alerts("dev", None, None)
    assert type(raised.value) is DomainError and raised.value.code == "internal"
    assert "secret" not in raised.value.message


def test_an_error_the_peer_answered_is_not_retried(transport):
    stub = StubAlerting(_raise(Unavailable("the notification service is unavailable")))
    client = transport.client("alerting", transport.serve("alerting", stub))
    with pytest.raises(Unavailable, match="notification"):
        client.list_alerts("dev", None, None)
    assert stub.calls == 1


def test_a_peer_that_is_down_gives_unavailable_at_once(transport):
    address = closed_address()
    monitor, alerting = transport.client("monitor", address), transport.client("alerting", address)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="the monitor service is unavailable"):
        monitor.list_targets("dev", 10, 0)
    with pytest.raises(Unavailable):
        monitor.create_target("dev", NewTarget("x", "http://example.test/"))
    with pytest.raises(Unavailable):
        alerting.evaluate(failed_result(new_id()), RuleParams(1, None, None))
    with pytest.raises(Unavailable):
        alerting.ping()
    assert time.monotonic() - started < TIMEOUT_S


def test_a_peer_that_does_not_answer_in_time_gives_deadline_exceeded(transport):
    release = threading.Event()
    address = transport.serve("alerting", StubAlerting(lambda: release.wait(10) and []))
    client = transport.client("alerting", address, timeout_s=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(DeadlineExceeded, match="the alerting service did not answer within 0.50s"):
            client.list_alerts("dev", None, None)
        assert 0.5 <= time.monotonic() - started < 1.5
    finally:
        release.set()


def test_the_deadline_travels_so_the_inner_timeout_is_compensated_before_the_outer_answer(transport):
    """Alerting's call to a hung notification service gets what is left of alerting's own deadline: it
    times out first, alerting reverts the alert it opened, and answers the timeout before its caller gives up."""
    release = threading.Event()

    class HungNotification:
        def notify(self, change: Any) -> Any:
            release.wait(10)
            return []

        def ping(self) -> None:
            pass

    store = InMemoryAlertingStore()
    notification_client = transport.client("notification", transport.serve("notification", HungNotification()))
    alerting_addr = transport.serve("alerting", AlertingService(AlertingCore(store), notification_client))
    client = transport.client("alerting", alerting_addr, timeout_s=1.0)
    result = failed_result(new_id())
    started = time.monotonic()
    try:
        with pytest.raises(DeadlineExceeded, match="the notification service did not answer"):
            client.evaluate(result, RuleParams(1, None, None))
        elapsed = time.monotonic() - started
        assert 1.0 - HOP_MARGIN_S <= elapsed < 1.0, elapsed
        assert store.list_alerts("dev", result.target_id, None) == []  # reverted before the answer
    finally:
        release.set()


def test_readiness_asks_each_peer_whether_it_and_its_database_serve(transport):
    split = Split(transport)
    assert split.backend.readiness() == []
    split.alerting_store.reachable = False
    (reason,) = split.backend.readiness()
    assert reason.startswith("alerting: Unavailable: the alerting service is not")


def test_http_retries_a_dropped_connection_for_idempotent_methods_only():
    """A peer that accepts and drops every connection: a GET is tried again, a POST exactly once."""
    accepted = []
    listener = socket.create_server(("127.0.0.1", 0))

    def drop_connections() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(connection)
            connection.close()

    threading.Thread(target=drop_connections, daemon=True).start()
    client = http_transport.MonitorClient(f"127.0.0.1:{listener.getsockname()[1]}", TIMEOUT_S, "monitor-token-of-this-test")
    try:
        with pytest.raises(Unavailable):
            client.list_targets("dev", 10, 0)
        gets = len(accepted)
        with pytest.raises(Unavailable):
            client.create_target("dev", NewTarget("x", "http://example.test/"))
        posts = len(accepted) - gets
    finally:
        client.close()
        listener.close()
    assert gets == 2  # one retry on a read error (http_transport.RETRY: read=1)
    assert posts == 1
