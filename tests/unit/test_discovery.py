"""Peer address settings: parsing, the gRPC channel target, and the HTTP clients' round robin."""
from __future__ import annotations

import socket
from typing import Any

import pytest

from direct_calls.split import discovery
from direct_calls.split.discovery import RoundRobin, grpc_target, split_addresses


class FakeDns:
    """A resolver whose answers the test sets; ``None`` makes the name unknown."""

    def __init__(self, ips: list[str] | None):
        self.ips = ips
        self.lookups = 0

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        self.lookups += 1
        if self.ips is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in self.ips]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_address_setting_is_a_comma_separated_list_of_host_and_port() -> None:
    assert split_addresses(" a:1, b:2 ,[::1]:3,") == [("a", 1), ("b", 2), ("::1", 3)]
    for malformed in ("", "a", "a:", ":80", "a:http", "a:70000", "a:1,b"):
        with pytest.raises(ValueError):
            split_addresses(malformed)


def test_the_grpc_target_of_a_list_names_every_replica_and_a_single_name_is_left_to_the_channel() -> None:
    assert grpc_target("127.0.0.1:5001,127.0.0.1:5002") == "ipv4:127.0.0.1:5001,127.0.0.1:5002"
    assert grpc_target("[::1]:5001,[::1]:5002") == "ipv6:[::1]:5001,[::1]:5002"
    assert grpc_target("alerting:8080") == "alerting:8080"
    assert grpc_target("dns:///alerting:8080") == "dns:///alerting:8080"
    assert grpc_target("127.0.0.1:5001") == "127.0.0.1:5001"
    dns = FakeDns(["10.0.0.2", "10.0.0.1"])
    assert grpc_target("a:1,10.0.0.9:2", resolve=dns) == "ipv4:10.0.0.1:1,10.0.0.2:1,10.0.0.9:2"
    with pytest.raises(ValueError, match="mix IPv4 and IPv6"):
        grpc_target("127.0.0.1:1,[::1]:2")
    with pytest.raises(ValueError, match="does not resolve"):
        grpc_target("a:1,b:2", resolve=FakeDns(None))


def test_a_list_is_handed_out_in_turn() -> None:
    replicas = RoundRobin("a:1,b:2,c:3")
    assert [replicas.next() for _ in range(6)] == ["a:1", "b:2", "c:3", "a:1", "b:2", "c:3"]


def test_a_replica_that_failed_is_passed_over_for_a_while_unless_every_one_failed() -> None:
    clock = Clock()
    replicas = RoundRobin("a:1,b:2", clock=clock)
    replicas.failed("a:1")
    assert [replicas.next() for _ in range(4)] == ["b:2"] * 4
    replicas.failed("b:2")
    assert sorted(replicas.next() for _ in range(2)) == ["a:1", "b:2"]  # all failed: in turn anyway
    clock.now += discovery.EJECT_S
    assert sorted(replicas.next() for _ in range(2)) == ["a:1", "b:2"]


def test_a_name_is_resolved_when_first_needed_and_again_once_stale() -> None:
    dns, clock = FakeDns(["10.0.0.1", "10.0.0.2"]), Clock()
    replicas = RoundRobin("alerting:8080", resolve=dns, clock=clock)
    assert dns.lookups == 0
    assert sorted(replicas.next() for _ in range(4)) == ["10.0.0.1:8080"] * 2 + ["10.0.0.2:8080"] * 2
    assert dns.lookups == 1

    dns.ips = ["10.0.0.3"]
    clock.now += discovery.RESOLVE_EVERY_S - 0.1
    assert "10.0.0.3:8080" not in {replicas.next() for _ in range(2)}
    clock.now += 0.1
    assert {replicas.next() for _ in range(2)} == {"10.0.0.3:8080"}
    assert dns.lookups == 2

    dns.ips = None  # the name stops resolving: the replicas known are kept
    clock.now += discovery.RESOLVE_EVERY_S
    assert replicas.next() == "10.0.0.3:8080"


def test_a_name_that_never_resolved_is_handed_out_itself_and_tried_again_on_each_call() -> None:
    dns = FakeDns(None)
    replicas = RoundRobin("alerting:8080", resolve=dns, clock=Clock())
    assert replicas.next() == "alerting:8080"
    assert replicas.next() == "alerting:8080"
    assert dns.lookups == 2
    dns.ips = ["::1"]
    assert replicas.next() == "[::1]:8080"
