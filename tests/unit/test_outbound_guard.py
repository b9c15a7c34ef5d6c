"""The outbound guard of probes and webhooks: which addresses are refused, the allowlist, pinning, no redirects."""
from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator

import pytest

from shared.config import ConfigError, Settings
from shared.outbound import HttpProber, HttpWebhookSender, OutboundGuard, RefusedDestination, is_public
from tests.support.http_sinks import HttpSink

LOCAL = ("127.0.0.1/32",)


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as server:
        yield server


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.9.9.9", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1",
     "::ffff:169.254.169.254", "2002:7f00:1::", "::7f00:1"],
)
def test_non_public_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:5432/", "http://[::1]:8000/", "http://2130706433/", "http://0x7f000001/", "http://localhost/",
     "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]/", "http://10.1.2.3/"],
)
def test_the_guard_refuses_urls_of_non_public_hosts(url: str) -> None:
    with pytest.raises(RefusedDestination):
        OutboundGuard().check(url)


def test_the_guard_refuses_credentials_even_to_an_allowed_address() -> None:
    with pytest.raises(RefusedDestination, match="credentials"):
        OutboundGuard(LOCAL).check("http://user:pass@127.0.0.1/")


def test_the_allowlist_admits_its_networks_only() -> None:
    guard = OutboundGuard(LOCAL)
    assert guard.check("http://127.0.0.1:8080/x").address == "127.0.0.1"
    assert guard.check("http://[::ffff:127.0.0.1]/").address == "::ffff:127.0.0.1"
    with pytest.raises(RefusedDestination):
        guard.check("http://127.0.0.2/")


def test_a_name_resolving_to_any_non_public_address_is_refused() -> None:
    guard = OutboundGuard(resolve=lambda host, port: ["93.184.216.34", "10.0.0.1"])
    with pytest.raises(RefusedDestination):
        guard.check("http://mixed.example/")
    assert OutboundGuard(resolve=lambda host, port: ["93.184.216.34"]).check("http://ok.example/").address == "93.184.216.34"


def test_the_connection_goes_to_the_checked_address_with_the_original_host_header(sink: HttpSink) -> None:
    """No second lookup (DNS rebinding): the name below resolves nowhere but through the guard's resolver."""
    resolved: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    prober = HttpProber(guard=OutboundGuard(LOCAL, resolve=resolve))
    outcome = prober.probe(f"http://rebind.invalid:{sink.port}/ok")
    assert (outcome.ok, outcome.status_code) == (True, 200)
    assert resolved == ["rebind.invalid"]
    [request] = sink.requests("/ok")
    assert request.headers["Host"] == f"rebind.invalid:{sink.port}"


def test_a_refused_probe_is_a_failure_without_status_and_fetches_nothing(sink: HttpSink) -> None:
    outcome = HttpProber().probe(sink.url("/ok"))  # no allowlist: 127.0.0.1 is refused
    assert (outcome.ok, outcome.status_code) == (False, None)
    assert sink.requests() == []


def test_a_probe_records_a_redirect_without_following_it(sink: HttpSink) -> None:
    outcome = HttpProber(allow=LOCAL).probe(sink.url("/redirect?to=/fail"))
    assert (outcome.ok, outcome.status_code) == (True, 302)
    assert sink.requests("/fail") == []


def test_a_probe_reads_the_status_and_never_the_body(sink: HttpSink) -> None:
    started = time.monotonic()
    outcome = HttpProber(allow=LOCAL).probe(sink.url("/endless"))  # a body that never ends
    assert (outcome.ok, outcome.status_code) == (True, 200)
    assert time.monotonic() - started < 2.0  # not the 4 s the body lasts, nor the 5 s read timeout


def test_a_refused_webhook_fails_after_one_attempt_without_a_post(sink: HttpSink) -> None:
    outcome = HttpWebhookSender().deliver(sink.url("/hook"), {"n": 1}, idempotency_key="k")
    assert (outcome.delivered, outcome.attempts) == (False, 1)
    assert sink.requests() == []


def test_a_webhook_answered_302_fails_and_is_not_turned_into_a_get(sink: HttpSink) -> None:
    sink.respond("/hook", 302, location="/elsewhere")
    outcome = HttpWebhookSender(allow=LOCAL).deliver(sink.url("/hook"), {"n": 1}, idempotency_key="k")
    assert (outcome.delivered, outcome.attempts) == (False, 1)
    assert [r.method for r in sink.requests()] == ["POST"]


def test_a_webhook_to_an_allowed_address_is_delivered(sink: HttpSink) -> None:
    outcome = HttpWebhookSender(allow=LOCAL).deliver(sink.url("/hook"), {"n": 1}, idempotency_key="k")
    assert (outcome.delivered, outcome.attempts) == (True, 1)


def test_the_allowlist_setting_is_read_and_checked() -> None:
    settings = Settings.from_env({"OUTBOUND_ALLOW": "127.0.0.1/32, 10.0.0.0/8, Sink.Local"})
    assert settings.outbound_allow == ("127.0.0.1/32", "10.0.0.0/8", "sink.local")
    assert Settings.from_env({}).outbound_allow == ()
    for bad in ("http://sink.local", "10.0.0.0/33", "sink_local", "999.1.1.1"):
        with pytest.raises(ConfigError, match="OUTBOUND_ALLOW"):
            Settings.from_env({"OUTBOUND_ALLOW": bad})


def test_an_allowed_host_name_may_resolve_to_a_non_public_address_and_nothing_else_is_widened() -> None:
    addresses = {"sink.local": ["10.1.2.3"], "other.local": ["10.1.2.4"]}
    guard = OutboundGuard(["sink.local"], resolve=lambda host, port: addresses[host])
    assert guard.check("http://Sink.Local:8080/hook").address == "10.1.2.3"
    with pytest.raises(RefusedDestination, match="OUTBOUND_ALLOW"):
        guard.check("http://other.local/hook")
