"""The direct-calls split's clients spread their calls over the replicas of a peer, over gRPC and HTTP.

InProcessServers are real servers in this process (stub services counting their calls); the clients are given
the peer's address setting as a launcher or Kubernetes would: a comma-separated list, or one name
that resolves to every replica.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from shared.domain import CheckResult, NewResult, Unavailable, new_id, utcnow
from tests.support.transports import InProcessServers
from tests.support.waiting import wait_until

CALLS = 20


class CountingService:
    """A replica of a service: answers reads and results, counting the calls it gets."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Any]:
        self._count()
        return []

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        self._count()
        now = utcnow()
        return CheckResult(new_id(), target_id, new.ok, new.latency_ms, None, now, now)

    def ping(self) -> None:
        pass


@pytest.fixture(params=["grpc", "http"])
def replicas(request: pytest.FixtureRequest) -> Iterator[InProcessServers]:
    wiring = InProcessServers(request.param)
    try:
        yield wiring
    finally:
        wiring.close()


def warmed_up(client: Any, services: list[CountingService]) -> None:
    """Call until every replica has answered once (gRPC connects to each in the background), then reset."""
    wait_until(lambda: client.list_alerts("dev", None, None) == [] and all(s.calls for s in services), timeout=5,
               message="not every replica got a call")
    for service in services:
        service.calls = 0


def test_calls_spread_evenly_over_the_replicas_of_a_list(replicas: InProcessServers) -> None:
    services = [CountingService(), CountingService()]
    addresses = ",".join(replicas.serve("alerting", service) for service in services)
    client = replicas.client("alerting", addresses)
    warmed_up(client, services)

    for _ in range(CALLS):
        client.list_alerts("dev", None, None)

    assert [service.calls for service in services] == [CALLS // 2, CALLS // 2]


def test_calls_that_are_not_retried_spread_too(replicas: InProcessServers) -> None:
    services = [CountingService(), CountingService(), CountingService()]
    addresses = ",".join(replicas.serve("monitor", service) for service in services)
    client = replicas.client("monitor", addresses)
    wait_until(lambda: client.ingest_result("dev", "t1", NewResult(True, 1.0)) and all(s.calls for s in services), timeout=5)
    for service in services:
        service.calls = 0

    for _ in range(3 * CALLS):
        client.ingest_result("dev", "t1", NewResult(True, 1.0))

    assert [service.calls for service in services] == [CALLS, CALLS, CALLS]


def test_a_replica_that_is_down_is_passed_over(replicas: InProcessServers) -> None:
    services = [CountingService(), CountingService()]
    first, second = (replicas.serve("alerting", service) for service in services)
    client = replicas.client("alerting", f"{first},{second}")
    warmed_up(client, services)

    replicas.stop(first)
    outcomes = []
    for _ in range(CALLS):
        try:
            outcomes.append(client.list_alerts("dev", None, None) == [])
        except Unavailable:
            outcomes.append(False)

    # gRPC: the channel sees the connection close and picks only the replica left. HTTP: the call that
    # finds the replica down fails; it is then passed over (discovery.EJECT_S, longer than these calls).
    assert outcomes.count(False) <= (0 if replicas.kind == "grpc" else 1), outcomes
    assert services[1].calls == outcomes.count(True)


def test_http_spreads_calls_over_every_address_a_name_resolves_to(monkeypatch: pytest.MonkeyPatch) -> None:
    services = [CountingService(), CountingService()]
    wiring = InProcessServers("http")
    try:
        first = wiring.serve("alerting", services[0], host="127.0.0.1")
        port = int(first.rsplit(":", 1)[1])
        wiring.serve("alerting", services[1], host="127.0.0.2", port=port)
        real_getaddrinfo = socket.getaddrinfo

        def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host != "alerting.replicas.test":
                return real_getaddrinfo(host, port, *args, **kwargs)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ("127.0.0.1", "127.0.0.2")]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        client = wiring.client("alerting", f"alerting.replicas.test:{port}")

        for _ in range(CALLS):
            client.list_alerts("dev", None, None)

        assert [service.calls for service in services] == [CALLS // 2, CALLS // 2]
        pools = client._session.get_adapter("http://").poolmanager.pools
        assert {key.key_host for key in pools.keys()} == {"127.0.0.1", "127.0.0.2"}  # keep-alive per replica
    finally:
        wiring.close()


def test_grpc_balances_a_list_given_with_host_names() -> None:
    services = [CountingService(), CountingService()]
    wiring = InProcessServers("grpc")
    try:
        addresses = [wiring.serve("alerting", service).replace("127.0.0.1", "localhost") for service in services]
        client = wiring.client("alerting", ",".join(addresses))
        warmed_up(client, services)

        for _ in range(CALLS):
            client.list_alerts("dev", None, None)

        assert [service.calls for service in services] == [CALLS // 2, CALLS // 2]
    finally:
        wiring.close()
