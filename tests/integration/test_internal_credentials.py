"""Calling an internal service without its credential is refused, on both direct transports and on the broker.

Each split variant is started as it runs for real (``harness.launcher.start``); the tests then call its internal
services themselves, as a stranger on the network would: a direct-split service refuses a call without its
token, or with another service's, and serves one with it, while its health check needs none; an event-split
process connects to the broker as its own user, which may do what its service does and nothing more.
"""
from __future__ import annotations

import grpc
import pika
import psutil
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from direct_calls.split.grpc_health import check_serving
from event_driven.monolith.events import AlertOpened, CheckCompleted
from event_driven.split.rabbitmq_topology import exchange_name, partition_queue_name, replies_exchange_name
from harness.launcher import RunningVariant, start
from proto.generated import monitoring_pb2 as pb
from proto.generated import monitoring_pb2_grpc as pb_grpc
from tests.support.broker import require_broker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def grpc_split(tmp_path_factory: pytest.TempPathFactory):
    running = start("direct-split-grpc", data_dir=tmp_path_factory.mktemp("grpc"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def http_split(tmp_path_factory: pytest.TempPathFactory):
    running = start("direct-split-http", data_dir=tmp_path_factory.mktemp("http"))
    yield running
    running.stop()


def _address(running: RunningVariant, name: str) -> str:
    return f"127.0.0.1:{running.instances(name)[0].port}"


# --------------------------------------------------------------------------- gRPC


def _list_targets(running: RunningVariant, metadata: tuple[tuple[str, str], ...] = ()) -> pb.ListTargetsResponse:
    with grpc.insecure_channel(_address(running, "monitor")) as channel:
        return pb_grpc.MonitorServiceStub(channel).ListTargets(
            pb.ListTargetsRequest(tenant="dev", limit=10, offset=0), timeout=5, metadata=metadata)


@pytest.mark.parametrize("metadata", [
    (),
    (("authorization", "Bearer not-the-monitor-token"),),
    (("authorization", "not-a-bearer-credential"),),
], ids=["without", "wrong", "malformed"])
def test_a_grpc_service_refuses_a_call_without_its_token(grpc_split: RunningVariant, metadata) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        _list_targets(grpc_split, metadata)
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_a_grpc_service_refuses_the_token_of_another_service(grpc_split: RunningVariant) -> None:
    tokens = grpc_split.internal_tokens
    assert len(set(tokens.values())) == 3, "each service has a token of its own"
    with pytest.raises(grpc.RpcError) as refused:
        _list_targets(grpc_split, (("authorization", f"Bearer {tokens['alerting']}"),))
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_a_grpc_service_serves_a_call_with_its_token(grpc_split: RunningVariant) -> None:
    reply = _list_targets(grpc_split, (("authorization", f"Bearer {grpc_split.internal_tokens['monitor']}"),))
    assert reply.total == 0


def test_the_grpc_health_service_answers_without_a_token(grpc_split: RunningVariant) -> None:
    for name in ("monitor", "alerting", "notification"):
        assert check_serving(_address(grpc_split, name)), name
    with grpc.insecure_channel(_address(grpc_split, "alerting")) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="monitoring.v1.AlertingService"), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_grpc_service_with_its_token_still_refuses_a_tenant_the_api_refuses(grpc_split: RunningVariant) -> None:
    token = grpc_split.internal_tokens["monitor"]
    with grpc.insecure_channel(_address(grpc_split, "monitor")) as channel:
        stub = pb_grpc.MonitorServiceStub(channel)
        request = pb.CreateTargetRequest(target=pb.NewTarget(name="x", url="http://example.test/", interval_s=60,
                                                             failure_threshold=3), tenant="Not A Tenant")
        with pytest.raises(grpc.RpcError) as refused:
            stub.CreateTarget(request, timeout=5, metadata=(("authorization", f"Bearer {token}"),))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT


# --------------------------------------------------------------------------- HTTP


def _targets_url(running: RunningVariant) -> str:
    return f"http://{_address(running, 'monitor')}/monitor/targets?tenant=dev&limit=10&offset=0"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-monitor-token"}, {"Authorization": "Basic x"}],
                         ids=["without", "wrong", "malformed"])
def test_an_http_service_refuses_a_call_without_its_token(http_split: RunningVariant, headers) -> None:
    answer = requests.get(_targets_url(http_split), headers=headers, timeout=5)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_http_service_refuses_the_token_of_another_service(http_split: RunningVariant) -> None:
    other = http_split.internal_tokens["notification"]
    answer = requests.get(_targets_url(http_split), headers={"Authorization": f"Bearer {other}"}, timeout=5)
    assert answer.status_code == 401


def test_an_http_service_serves_a_call_with_its_token(http_split: RunningVariant) -> None:
    token = http_split.internal_tokens["monitor"]
    answer = requests.get(_targets_url(http_split), headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code == 200 and answer.json()["total"] == 0


def test_the_http_health_checks_answer_without_a_token(http_split: RunningVariant) -> None:
    for name in ("monitor", "alerting", "notification"):
        for path in ("/healthz", "/readyz"):
            assert requests.get(f"http://{_address(http_split, name)}{path}", timeout=5).status_code == 200, (name, path)


def test_an_http_service_with_its_token_still_refuses_a_tenant_the_api_refuses(http_split: RunningVariant) -> None:
    token = http_split.internal_tokens["monitor"]
    answer = requests.post(f"http://{_address(http_split, 'monitor')}/monitor/targets", params={"tenant": ""},
                           json={"name": "x", "url": "http://example.test/", "interval_s": 60, "failure_threshold": 3,
                                 "latency_threshold_ms": None, "webhook_url": None},
                           headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_argument"


def test_the_api_reaches_its_services_with_their_tokens(http_split: RunningVariant, grpc_split: RunningVariant) -> None:
    for running in (http_split, grpc_split):
        created = requests.post(f"{running.base_url}/targets", json={"name": "t", "url": "http://127.0.0.1:9/"},
                                headers=running.auth_headers, timeout=10)
        assert created.status_code == 201, created.text


# --------------------------------------------------------------------------- the broker


@pytest.fixture(scope="module")
def event_split(tmp_path_factory: pytest.TempPathFactory):
    require_broker()
    running = start("event-split", data_dir=tmp_path_factory.mktemp("event"))
    yield running
    running.stop()


def _connect(running: RunningVariant, user: str) -> pika.BlockingConnection:
    assert running.broker_users is not None
    params = pika.URLParameters(running.broker_users.url(user))
    params.connection_attempts = 1
    return pika.BlockingConnection(params)


def _refused(running: RunningVariant, user: str, operation) -> int:
    """The reply code with which the broker closes the channel of ``user`` that tries ``operation(channel)``."""
    connection = _connect(running, user)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
            operation(channel)
        return closed.value.reply_code
    finally:
        connection.close()


def _publish(exchange: str, key: str, body: bytes = b"{}"):
    return lambda channel: channel.basic_publish(exchange, key, body)


ACCESS_REFUSED = 403


def test_the_notification_user_may_not_publish_an_alert_on_the_events_exchange(event_split: RunningVariant) -> None:
    events = exchange_name(event_split.namespace)
    assert _refused(event_split, "notification", _publish(events, AlertOpened.wire_name)) == ACCESS_REFUSED


def test_the_monitor_user_may_publish_its_events_but_no_alert(event_split: RunningVariant) -> None:
    events = exchange_name(event_split.namespace)
    connection = _connect(event_split, "monitor")
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(events, CheckCompleted.wire_name, b"{}")  # confirmed (alerting dead-letters it)
    finally:
        connection.close()
    assert _refused(event_split, "monitor", _publish(events, AlertOpened.wire_name)) == ACCESS_REFUSED
    assert _refused(event_split, "api", _publish(events, CheckCompleted.wire_name)) == ACCESS_REFUSED


def test_no_service_user_may_read_another_services_queue_or_write_to_any_queue_directly(event_split: RunningVariant) -> None:
    alerting_queue = partition_queue_name(event_split.namespace, "alerting", 0)
    assert _refused(event_split, "notification",
                    lambda channel: channel.basic_consume(alerting_queue, lambda *args: None)) == ACCESS_REFUSED
    assert _refused(event_split, "notification", _publish("", alerting_queue)) == ACCESS_REFUSED  # the default exchange
    assert _refused(event_split, "notification", lambda channel: channel.queue_bind(
        partition_queue_name(event_split.namespace, "notification", 0), exchange_name(event_split.namespace),
        routing_key="#")) == ACCESS_REFUSED  # may bind only its own subscriptions' keys


def test_a_service_user_may_reply_through_the_replies_exchange(event_split: RunningVariant) -> None:
    connection = _connect(event_split, "notification")
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(replies_exchange_name(event_split.namespace), "nobody", b"{}")
    finally:
        connection.close()


def test_the_processes_connect_as_their_own_users_never_as_guest(event_split: RunningVariant) -> None:
    assert event_split.broker_users is not None
    for name, proc in event_split.processes.items():
        if name == "balancer":
            continue
        url = psutil.Process(proc.popen.pid).environ()["RABBITMQ_URL"]
        user = pika.URLParameters(url).credentials.username
        assert user == event_split.broker_users.credentials[proc.spec.name][0], (name, user)
        assert user != "guest"


def test_the_run_deletes_its_broker_users_when_it_stops(tmp_path) -> None:
    require_broker()
    running = start("event-split", data_dir=tmp_path)
    users = running.broker_users
    assert users is not None
    _connect(running, "api").close()
    running.stop()
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        _connect(running, "api")
