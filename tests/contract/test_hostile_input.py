"""Hostile input and hostile users: control characters, contract edges, long URLs, and probes or webhooks aimed at
addresses the server must not fetch (SSRF).

The harness lets the variants reach 127.0.0.1 only (``OUTBOUND_ALLOW=127.0.0.1/32``, where the local sinks
listen); any other loopback address, such as 127.0.0.2, is refused like a private one.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.api import describe, unique_name
from tests.support.assertions import assert_error, assert_result
from tests.support.http_sinks import HttpSink
from tests.support.waiting import wait_for_count, wait_until

OTHER_LOOPBACK = "127.0.0.2"  # loopback, but outside the harness's allowlist


# --------------------------------------------------------------------------- control characters


@pytest.mark.parametrize(
    "changes",
    [{"name": "a\u0000b"}, {"name": "a\nb"}, {"url": "http://example.com/a\u0000b"},
     {"webhook_url": "http://example.com/h\u0000"}, {"url": "http://example.com/\u001f"}],
    ids=["name-nul", "name-newline", "url-nul", "webhook_url-nul", "url-unit-separator"],
)
def test_a_control_character_in_a_body_field_is_refused_with_400(api, changes):
    before = api.target_count()
    body = {"name": unique_name(), "url": "http://example.com/", **changes}
    assert_error(api.post("/targets", json=body), 400, "invalid_argument")
    assert api.target_count() == before


@pytest.mark.parametrize(
    ("path", "query"),
    [("/alerts", "target_id=%00"), ("/alerts", "target_id=a%0Ab"), ("/notifications", "target_id=%00"),
     ("/notifications", "alert_id=%00x"), ("/alerts", "state=%00")],
)
def test_a_control_character_in_a_query_parameter_is_refused_with_400(api, path, query):
    assert_error(api.get(f"{path}?{query}"), 400, "invalid_argument")


def test_the_openapi_document_says_string_inputs_hold_no_control_character(api):
    document = api.get("/openapi.json").json()
    name = document["components"]["schemas"]["TargetCreate"]["properties"]["name"]
    assert name["pattern"] == "^[^\\u0000-\\u001F\\u007F]*$"
    [target_id] = [p for p in document["paths"]["/alerts"]["get"]["parameters"] if p["name"] == "target_id"]
    assert any(option.get("pattern") == name["pattern"] for option in target_id["schema"]["anyOf"])


# --------------------------------------------------------------------------- contract edges


def test_integer_valued_floats_are_integers_as_json_schema_says(api):
    target = api.create_target(latency_threshold_ms=65535.0, interval_s=60.0, failure_threshold=3.0)
    assert (target["latency_threshold_ms"], target["interval_s"], target["failure_threshold"]) == (65535, 60, 3)
    response = api.post(f"/targets/{target['id']}/results", json={"ok": True, "latency_ms": 1, "status_code": 242.0})
    assert response.status_code == 202, describe(response)
    [result] = wait_until(lambda: api.results(target["id"]), message="the result is not listed")
    assert result["status_code"] == 242 and isinstance(result["status_code"], int)


def test_booleans_and_fractions_are_still_not_integers(api):
    target = api.create_target()
    for fields in ({"status_code": True}, {"status_code": 242.5}):
        response = api.post(f"/targets/{target['id']}/results", json={"ok": True, "latency_ms": 1, **fields})
        assert_error(response, 400, "invalid_argument")


def test_an_empty_state_filter_is_refused_as_the_document_says(api):
    assert_error(api.get("/alerts?state="), 400, "invalid_argument")


@pytest.mark.parametrize("length", [4200, 7000, 9000], ids=["over-4-kib", "over-6-kib", "over-8-kib"])
def test_a_request_line_over_4_kib_gets_the_json_414(api, length):
    client = api.fork()  # the server may close the connection
    try:
        assert_error(client.get("/alerts?target_id=" + "a" * length), 414, "uri_too_long")
    finally:
        client.close()


# --------------------------------------------------------------------------- SSRF


@pytest.fixture(scope="module")
def other_loopback_sink() -> Iterator[HttpSink]:
    """A sink on 127.0.0.2: reachable on this machine, but not an address the variants may fetch."""
    try:
        server = HttpSink(host=OTHER_LOOPBACK).start()
    except OSError as error:
        pytest.skip(f"cannot listen on {OTHER_LOOPBACK}: {error}")
    try:
        yield server
    finally:
        server.stop()


def _refused_check(api, url: str) -> dict:
    target = api.create_target(url=url)
    result = api.check(target["id"])
    assert_result(result)
    assert (result["ok"], result["status_code"]) == (False, None), result
    return result


@pytest.mark.parametrize(
    "spelling", ["{ip}", "2130706434", "0x7f000002"], ids=["dotted", "decimal", "hex"],
)
def test_a_probe_of_a_non_public_address_is_refused_and_nothing_is_fetched(api, other_loopback_sink, spelling):
    host = spelling.format(ip=OTHER_LOOPBACK)
    _refused_check(api, f"http://{host}:{other_loopback_sink.port}/ok")
    assert other_loopback_sink.requests() == []


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://[::1]:{port}/ok", "http://10.255.255.1:9/", "http://0.0.0.0:{port}/ok"],
    ids=["metadata", "ipv6-loopback", "private", "unspecified"],
)
def test_a_probe_of_link_local_private_or_ipv6_loopback_addresses_is_refused(api, sink, url):
    _refused_check(api, url.format(port=sink.port))


def test_a_probe_url_with_credentials_is_refused_and_nothing_is_fetched(api, sink):
    path = sink.new_path("creds")
    _refused_check(api, f"http://user:pass@127.0.0.1:{sink.port}{path}")
    assert sink.requests(path) == []


def test_a_probe_does_not_follow_a_redirect(api, sink, other_loopback_sink):
    path = sink.new_path("moved")
    sink.respond(path, 302, location=other_loopback_sink.url("/ok"))
    target = api.create_target(url=sink.url(path))
    result = api.check(target["id"])
    assert (result["ok"], result["status_code"]) == (True, 302), result  # ok means below 400
    assert len(sink.requests(path)) == 1
    assert other_loopback_sink.requests() == []


def _webhook_notification(api, webhook_url: str) -> dict:
    target = api.create_target(failure_threshold=1, webhook_url=webhook_url)
    api.post_result(target["id"], ok=False, latency_ms=5)
    [alert] = wait_until(lambda: api.alerts(target_id=target["id"]), message="no alert")
    notes = wait_for_count(lambda: api.notifications(alert_id=alert["id"]), 2)
    return {n["channel"]: n for n in notes}["webhook"]


def test_a_webhook_to_a_non_public_address_is_failed_without_a_post(api, other_loopback_sink):
    note = _webhook_notification(api, other_loopback_sink.url(f"/hook/{unique_name()}"))
    assert (note["status"], note["attempts"]) == ("failed", 1), note
    assert other_loopback_sink.requests() == []


def test_a_webhook_answered_with_a_redirect_is_failed_and_not_followed(api, sink):
    path, elsewhere = sink.new_path("hooks"), sink.new_path("elsewhere")
    sink.respond(path, 302, location=sink.url(elsewhere))
    note = _webhook_notification(api, sink.url(path))
    assert (note["status"], note["attempts"]) == ("failed", 1), note
    assert [r.method for r in sink.requests(path)] == ["POST"]
    assert sink.requests(elsewhere) == []

