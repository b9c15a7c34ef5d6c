"""The HTTP edge against hostile input: control characters, integer-valued floats, empty enums, long URLs, and what
a 500 logs. Through Flask's test client over the fake backend of ``tests/support/edge.py``."""
from __future__ import annotations

import json
import logging
import re

import pytest
from flask.testing import FlaskClient

from shared.gunicorn_conf import json_error
from shared.http.app import MAX_URI_BYTES
from shared.http.openapi import build_openapi
from tests.support.edge import FakeBackend, create, error_of, valid_target


@pytest.mark.parametrize("field", ["name", "url", "webhook_url"])
@pytest.mark.parametrize("char", ["\u0000", "\u0001", "\n", "\u001f", "\u007f"])
def test_a_control_character_in_a_target_field_is_refused(client: FlaskClient, backend: FakeBackend, field: str,
                                                          char: str) -> None:
    value = {"name": "sh", "url": "https://shop.example.com/", "webhook_url": "https://hooks.example.com/"}[field]
    status, code, message = error_of(client.post("/targets", json=valid_target(**{field: value + char + "x"})))
    assert (status, code) == (400, "invalid_argument")
    assert message.startswith(f"{field}: ") and "control characters" in message
    assert backend.calls == []


@pytest.mark.parametrize(
    ("path", "query"),
    [("/alerts", "target_id=%00"), ("/alerts", "target_id=a%0Db"), ("/notifications", "target_id=%00"),
     ("/notifications", "alert_id=x%1F"), ("/alerts", "state=open%00")],
)
def test_a_control_character_in_a_query_parameter_is_refused(client: FlaskClient, backend: FakeBackend, path: str,
                                                             query: str) -> None:
    assert error_of(client.get(f"{path}?{query}"))[:2] == (400, "invalid_argument")
    assert backend.calls == []


def test_names_keep_other_unicode(client: FlaskClient) -> None:
    assert create(client, name="caf\u00e9 \u2603 \U0001f600")["name"] == "caf\u00e9 \u2603 \U0001f600"


def test_the_openapi_document_states_the_no_control_character_rule() -> None:
    schemas = build_openapi()["components"]["schemas"]
    pattern = schemas["TargetCreate"]["properties"]["name"]["pattern"]
    assert re.fullmatch(pattern, "shop") and not re.fullmatch(pattern, "a\u0000b")
    for field in ("url", "webhook_url"):
        prop = schemas["TargetCreate"]["properties"][field]
        url_pattern = (prop.get("anyOf") or [prop])[0]["pattern"]
        assert re.fullmatch(url_pattern, "http://x.com/") and not re.fullmatch(url_pattern, "http://x.com/\u0000")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [({"interval_s": 60.0}, ("interval_s", 60)), ({"latency_threshold_ms": 65535.0}, ("latency_threshold_ms", 65535)),
     ({"failure_threshold": 1e1}, ("failure_threshold", 10))],
)
def test_integer_valued_floats_are_accepted_as_integers(client: FlaskClient, fields: dict, expected: tuple) -> None:
    target = create(client, **fields)
    assert target[expected[0]] == expected[1] and type(target[expected[0]]) is int


def test_an_integer_valued_status_code_is_an_integer(client: FlaskClient, backend: FakeBackend) -> None:
    target = create(client)
    response = client.post(f"/targets/{target['id']}/results", json={"ok": True, "latency_ms": 1, "status_code": 242.0})
    assert response.status_code == 202, response.get_json()
    assert backend.calls[-1][1][1].status_code == 242


@pytest.mark.parametrize("value", [True, False, 60.5, "60"])
def test_booleans_fractions_and_strings_are_still_not_integers(client: FlaskClient, value: object) -> None:
    assert error_of(client.post("/targets", json=valid_target(interval_s=value)))[:2] == (400, "invalid_argument")


def test_a_request_target_over_4_kib_gets_the_json_414(client: FlaskClient, backend: FakeBackend) -> None:
    query = "target_id=" + "a" * MAX_URI_BYTES
    status, code, _ = error_of(client.get(f"/alerts?{query}"))
    assert (status, code) == (414, "uri_too_long")
    assert backend.calls == []
    assert client.get("/alerts?target_id=" + "a" * (MAX_URI_BYTES - len("/alerts?target_id="))).status_code == 200


def test_414_is_in_the_openapi_document() -> None:
    responses = build_openapi()["paths"]["/alerts"]["get"]["responses"]
    assert "uri_too_long" in responses["414"]["description"]


def test_gunicorns_own_refusals_are_the_json_error_body() -> None:
    answer = json_error(414, "URI Too Long", "Request Line is too large (9000 > 8190)")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 URI Too Long\r\n") and b"Content-Type: application/json" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body) == {"error": {"code": "uri_too_long", "message": "Request Line is too large (9000 > 8190)"}}


def test_a_500_logs_the_method_and_path_but_not_the_body_nor_the_query(
    client: FlaskClient, backend: FakeBackend, caplog: pytest.LogCaptureFixture,
) -> None:
    backend.fail_with = RuntimeError("boom")
    secret = "https://hooks.example.com/token-s3cr3t"
    with caplog.at_level(logging.ERROR, logger="shared.http.errors"):
        assert error_of(client.post("/targets?q=query-s3cr3t", json=valid_target(webhook_url=secret)))[:2] == (
            500, "internal")
    assert "POST /targets" in caplog.text
    assert "s3cr3t" not in caplog.text
