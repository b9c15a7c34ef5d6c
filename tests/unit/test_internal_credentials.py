"""The checks in front of the internal services: the token comparison, the gRPC interceptor, the HTTP check, the
token settings, and the broker users' permission expressions (RabbitMQ's regular expressions are PCRE, which
Python's ``re`` reads the same for these)."""
from __future__ import annotations

import re
from collections import namedtuple
from typing import Any

import grpc
import pytest

from direct_calls.split import grpc_transport, http_transport
from direct_calls.split.credentials import Verifier
from event_driven.monolith.bus import PARTITIONS
from event_driven.split import rabbitmq_topology as topology
from event_driven.split.rabbitmq_permissions import USERS, definitions, permissions
from shared.config import ConfigError, Settings
from shared.core import MonitorCore
from shared.domain import InvalidArgument, NewTarget, TargetPage
from tests.support.fakes import InMemoryMonitorStore

TOKEN = "monitor-token-0123456789abcdef"

Details = namedtuple("Details", "method invocation_metadata")


def test_the_verifier_accepts_exactly_the_bearer_credential_of_its_token() -> None:
    verifier = Verifier(TOKEN)
    assert verifier.accepts(f"Bearer {TOKEN}") and verifier.accepts(f"Bearer {TOKEN}".encode())
    for wrong in (None, "", TOKEN, f"bearer {TOKEN}", f"Bearer {TOKEN} ", f"Bearer {TOKEN[:-1]}", "Bearer ünïcode\udc80"):
        assert not verifier.accepts(wrong), wrong


class _Continuation:
    def __init__(self) -> None:
        self.called: list[str] = []

    def __call__(self, details: Any) -> str:
        self.called.append(details.method)
        return "the servicer's handler"


def test_the_interceptor_lets_a_call_with_the_token_through_and_refuses_the_others() -> None:
    interceptor = grpc_transport.RequireToken("monitor", TOKEN)
    continuation = _Continuation()
    method = "/monitoring.v1.MonitorService/ListTargets"
    assert interceptor.intercept_service(continuation, Details(method, (("authorization", f"Bearer {TOKEN}"),))) \
        == "the servicer's handler"
    for metadata in ((), (("authorization", "Bearer other"),), (("x-token", TOKEN),), None):
        handler = interceptor.intercept_service(continuation, Details(method, metadata))
        assert handler is not None and handler != "the servicer's handler"
    assert continuation.called == [method]


def test_the_interceptor_refuses_with_unauthenticated() -> None:
    handler = grpc_transport.RequireToken("monitor", TOKEN).intercept_service(
        _Continuation(), Details("/monitoring.v1.MonitorService/CreateTarget", ()))

    class Aborted(Exception):
        pass

    class Context:
        def peer(self) -> str:
            return "ipv4:127.0.0.1:1"

        def abort(self, code: grpc.StatusCode, details: str) -> None:
            self.code = code
            raise Aborted(details)

    context = Context()
    with pytest.raises(Aborted, match="requires its token"):
        handler.unary_unary(b"", context)
    assert context.code is grpc.StatusCode.UNAUTHENTICATED


def test_the_interceptor_lets_health_checks_through_without_a_token() -> None:
    continuation = _Continuation()
    interceptor = grpc_transport.RequireToken("monitor", TOKEN)
    for method in ("/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"):
        assert interceptor.intercept_service(continuation, Details(method, ())) == "the servicer's handler"


class _Monitor:
    def list_targets(self, tenant: str, limit: int, offset: int) -> Any:
        return TargetPage([], 0)

    def ping(self) -> None:
        pass


def test_an_http_service_answers_401_with_the_error_body_without_its_token() -> None:
    client = http_transport.create_service_app("monitor", _Monitor(), TOKEN).test_client()
    url = "/monitor/targets?tenant=dev&limit=10&offset=0"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = client.get(url, headers=headers)
        assert answer.status_code == 401
        assert answer.get_json()["error"]["code"] == "unauthenticated"
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="monitor"'
    unknown = client.post("/no/such/route")
    assert unknown.status_code == 401  # an unknown route reveals nothing either
    assert client.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).get_json() == {"items": [], "total": 0}
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_a_service_token_must_be_set_and_long_enough() -> None:
    with pytest.raises(ConfigError, match="MONITOR_TOKEN is not set"):
        Settings.from_env({}).token("monitor")
    with pytest.raises(ConfigError, match="ALERTING_TOKEN must be at least 16"):
        Settings.from_env({"ALERTING_TOKEN": "short"}).token("alerting")
    with pytest.raises(ConfigError, match="printable ASCII"):
        Settings.from_env({"ALERTING_TOKEN": "a token with spaces in it"}).token("alerting")
    settings = Settings.from_env({"NOTIFICATION_TOKEN": TOKEN})
    assert settings.token("notification") == TOKEN and TOKEN not in repr(settings)


# --------------------------------------------------------------------------- broker permissions

NS = "event-split-1a2b3c4d"


def _matches(pattern: str, name: str) -> bool:
    return re.search(pattern, name) is not None


def _own_resources(group: str) -> list[str]:
    return [topology.queue_name(NS, group), topology.dead_letter_queue_name(NS, group),
            topology.members_queue_name(NS, group), topology.partition_exchange_name(NS, group),
            topology.unkeyed_exchange_name(NS, group),
            *(topology.partition_queue_name(NS, group, k) for k in range(PARTITIONS))]


def test_each_service_may_configure_and_read_its_own_queues_and_nobody_elses() -> None:
    for user in ("monitor", "alerting", "notification"):
        allowed = permissions(user, NS)
        for other in ("monitor", "alerting", "notification"):
            for group in (other, f"{other}-reads"):
                for name in _own_resources(group):
                    assert _matches(allowed.configure, name) == (other == user), (user, name)
                    assert _matches(allowed.read, name) == (other == user), (user, name)


def test_only_the_publishers_may_write_to_the_events_exchange_and_only_their_own_keys() -> None:
    events = topology.exchange_name(NS)
    assert not _matches(permissions("notification", NS).write, events)
    for user in ("api", "monitor", "alerting"):
        assert _matches(permissions(user, NS).write, events), user
    assert _matches(permissions("monitor", NS).topic_write, "check.completed")
    assert not _matches(permissions("monitor", NS).topic_write, "alert.opened")
    assert _matches(permissions("alerting", NS).topic_write, "alert.opened")
    assert _matches(permissions("api", NS).topic_write, "rpc.monitor.create_target")
    assert not _matches(permissions("api", NS).topic_write, "check.completed")


def test_no_user_may_write_to_the_default_exchange_or_another_namespace() -> None:
    for user in USERS:
        allowed = permissions(user, NS)
        for name in ("amq.default", "", "other-ns.events", f"{NS}x.events", f"x{NS}.events"):
            assert not any(_matches(p, name) for p in (allowed.configure, allowed.write, allowed.read)), (user, name)


def test_the_definitions_create_one_user_per_credential_with_its_permissions() -> None:
    document = definitions({"api": ("ns.api.1", "pw1"), "notification": ("ns.notification.1", "pw2")}, NS)
    assert [u["name"] for u in document["users"]] == ["ns.api.1", "ns.notification.1"]
    assert all(u["tags"] == [] for u in document["users"])  # none is an administrator
    assert {p["user"] for p in document["permissions"]} == {"ns.api.1", "ns.notification.1"}
    assert {t["exchange"] for t in document["topic_permissions"]} == {topology.exchange_name(NS)}


@pytest.mark.parametrize("tenant", ["", "Not A Tenant", "x" * 65, "dev\u0000"])
def test_no_target_is_created_for_a_tenant_the_api_refuses(tenant: str) -> None:
    """What an internal call (gRPC, HTTP or over the bus) asks of the monitor is checked as the edge checks it."""
    store = InMemoryMonitorStore()
    core = MonitorCore(store, prober=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="tenant name"):
        core.create_target(tenant, NewTarget("x", "http://example.test/"))
    assert core.list_targets("dev", 10, 0).total == 0
    assert core.create_target("dev", NewTarget("x", "http://example.test/")).tenant == "dev"


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (501, 0), (10, -1), (-5, 3)])
def test_an_internal_listing_refuses_a_page_the_edge_refuses(limit: int, offset: int) -> None:
    core = MonitorCore(InMemoryMonitorStore(), prober=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="limit|offset"):
        core.list_targets("dev", limit, offset)
    target = core.create_target("dev", NewTarget("x", "http://example.test/"))
    with pytest.raises(InvalidArgument, match="limit"):
        core.list_results("dev", target.id, limit if limit < 1 or limit > 500 else 0)
    assert core.list_targets("dev", 500, 0).total == 1


def test_an_internal_http_listing_with_a_page_that_is_not_a_number_is_a_400_not_a_500() -> None:
    client = http_transport.create_service_app("monitor", _Monitor(), TOKEN).test_client()
    answer = client.get("/monitor/targets?tenant=dev&limit=ten&offset=0", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "invalid_argument"
