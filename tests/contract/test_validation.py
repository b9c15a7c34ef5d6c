"""Every validation rule of POST /targets at and beyond its bounds, and the HTTP-level errors.

Bad input gets a 4xx with the JSON error body and changes nothing (the target count stays the same).
"""
from __future__ import annotations

import json
import uuid

import pytest

from tests.support.api import describe, unique_name
from tests.support.assertions import assert_error

MAX_BODY = 64 * 1024


def _url_of_length(length: int) -> str:
    base = "http://example.com/"
    return base + "a" * (length - len(base))


def _name_of_length(length: int) -> str:
    token = uuid.uuid4().hex
    return (token * (length // len(token) + 1))[:length] if length >= len(token) else token[:length]


# (id, fields merged into a valid body; a value of _DROP removes the field)
_DROP = object()

REJECTED = [
    ("name-missing", {"name": _DROP}),
    ("name-not-a-string", {"name": 42}),
    ("name-null", {"name": None}),
    ("name-empty", {"name": ""}),
    ("name-101-chars", {"name": lambda: _name_of_length(101)}),
    ("url-missing", {"url": _DROP}),
    ("url-relative", {"url": "/health"}),
    ("url-no-scheme", {"url": "example.com/health"}),
    ("url-ftp", {"url": "ftp://example.com/file"}),
    ("url-2049-chars", {"url": _url_of_length(2049)}),
    ("url-not-a-string", {"url": 7}),
    ("interval_s-4", {"interval_s": 4}),
    ("interval_s-86401", {"interval_s": 86401}),
    ("interval_s-true", {"interval_s": True}),
    ("interval_s-string", {"interval_s": "60"}),
    ("interval_s-float", {"interval_s": 1.5}),
    ("interval_s-null", {"interval_s": None}),
    ("failure_threshold-0", {"failure_threshold": 0}),
    ("failure_threshold-101", {"failure_threshold": 101}),
    ("failure_threshold-true", {"failure_threshold": True}),
    ("failure_threshold-string", {"failure_threshold": "3"}),
    ("latency_threshold_ms-0", {"latency_threshold_ms": 0}),
    ("latency_threshold_ms-600001", {"latency_threshold_ms": 600001}),
    ("latency_threshold_ms-true", {"latency_threshold_ms": True}),
    ("latency_threshold_ms-float", {"latency_threshold_ms": 100.5}),
    ("webhook_url-ftp", {"webhook_url": "ftp://example.com/hook"}),
    ("webhook_url-mailto", {"webhook_url": "mailto:ops@example.com"}),
    ("webhook_url-relative", {"webhook_url": "/hook"}),
    ("webhook_url-empty", {"webhook_url": ""}),
    ("unknown-field", {"colour": "blue"}),
    ("id-supplied-by-client", {"id": str(uuid.uuid4())}),
]

ACCEPTED = [
    ("name-100-chars", {"name": lambda: _name_of_length(100)}, "name"),
    ("url-2048-chars", {"url": _url_of_length(2048)}, "url"),
    ("url-https", {"url": "https://example.com/x"}, "url"),
    ("interval_s-5", {"interval_s": 5}, "interval_s"),
    ("interval_s-86400", {"interval_s": 86400}, "interval_s"),
    ("failure_threshold-1", {"failure_threshold": 1}, "failure_threshold"),
    ("failure_threshold-100", {"failure_threshold": 100}, "failure_threshold"),
    ("latency_threshold_ms-1", {"latency_threshold_ms": 1}, "latency_threshold_ms"),
    ("latency_threshold_ms-600000", {"latency_threshold_ms": 600000}, "latency_threshold_ms"),
    ("latency_threshold_ms-null", {"latency_threshold_ms": None}, "latency_threshold_ms"),
    ("webhook_url-null", {"webhook_url": None}, "webhook_url"),
    ("webhook_url-http", {"webhook_url": "http://127.0.0.1:9/hook"}, "webhook_url"),
    ("webhook_url-https", {"webhook_url": "https://hooks.example.com/x"}, "webhook_url"),
]


def _body(changes: dict) -> dict:
    body = {"name": unique_name(), "url": "http://example.com/"}
    for key, value in changes.items():
        if value is _DROP:
            body.pop(key, None)
        else:
            body[key] = value() if callable(value) else value
    return body


@pytest.mark.parametrize("changes", [c for _, c in REJECTED], ids=[i for i, _ in REJECTED])
def test_a_target_breaking_a_validation_rule_is_rejected_with_400_and_nothing_changes(api, changes):
    before = api.target_count()
    response = api.post("/targets", json=_body(changes))
    assert_error(response, 400, "invalid_argument")
    assert api.target_count() == before


@pytest.mark.parametrize(("changes", "field"), [(c, f) for _, c, f in ACCEPTED], ids=[i for i, _, _ in ACCEPTED])
def test_a_target_at_the_bound_of_a_validation_rule_is_accepted(api, changes, field):
    body = _body(changes)
    response = api.post("/targets", json=body)
    assert response.status_code == 201, describe(response)
    assert response.json()[field] == body[field]


@pytest.mark.parametrize(
    "raw",
    [b'{"name": "x", "url": ', b"{'name': 'x'}", b"not json", b'["name", "url"]', b"[]", b'"text"', b"42", b"null", b""],
    ids=["truncated", "single-quotes", "not-json", "array", "empty-array", "string", "number", "null", "empty-body"],
)
def test_a_body_that_is_not_a_json_object_is_rejected_with_400_and_nothing_changes(api, raw):
    before = api.target_count()
    response = api.post("/targets", data=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_argument")
    assert api.target_count() == before


def _oversized_body() -> bytes:
    body = json.dumps({"name": unique_name(), "url": "http://example.com/", "pad": "x" * MAX_BODY}).encode()
    assert len(body) > MAX_BODY
    return body


def test_a_body_over_64_kib_is_rejected_with_413(api):
    before = api.target_count()
    # Its own connection, so that a server mishandling the connection after a 413 (tested below) fails
    # this test only, not the tests after it.
    client = api.fork()
    try:
        response = client.post("/targets", data=_oversized_body(), headers={"Content-Type": "application/json"})
    finally:
        client.close()
    assert_error(response, 413, "payload_too_large")
    assert api.target_count() == before


def test_after_a_413_the_connection_is_either_closed_by_the_server_or_still_usable(api):
    """A 413 that leaves the refused body unread on a kept-alive connection breaks the client's next request."""
    for _ in range(3):
        client = api.fork()
        try:
            response = client.post("/targets", data=_oversized_body(), headers={"Content-Type": "application/json"})
            assert_error(response, 413, "payload_too_large")
            follow_up = client.get("/healthz")  # same session: reuses the connection unless the server closed it
            assert follow_up.status_code == 200, describe(follow_up)
        finally:
            client.close()


@pytest.mark.parametrize(
    "headers", [{"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}, {}],
    ids=["text-plain", "form", "no-content-type"],
)
def test_a_body_that_is_not_application_json_is_rejected_with_415(api, headers):
    before = api.target_count()
    body = json.dumps({"name": unique_name(), "url": "http://example.com/"}).encode()
    response = api.post("/targets", data=body, headers=headers)
    assert response.request.headers.get("Content-Type") == headers.get("Content-Type")
    assert_error(response, 415, "unsupported_media_type")
    assert api.target_count() == before


def test_application_json_with_a_charset_is_accepted(api):
    body = json.dumps({"name": unique_name(), "url": "http://example.com/"}).encode()
    response = api.post("/targets", data=body, headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 201, describe(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/targets"), ("PATCH", "/targets"), ("DELETE", "/targets"), ("POST", "/alerts"),
     ("DELETE", "/notifications"), ("GET", "/targets/{id}/check"), ("PUT", "/targets/{id}")],
)
def test_a_method_the_route_does_not_allow_answers_405(api, method, path):
    target = api.create_target()
    before = api.target_count()
    response = api.request(method, path.format(id=target["id"]), json={"name": unique_name(), "url": "http://x.com/"})
    assert_error(response, 405, "method_not_allowed")
    assert api.target_count() == before
    assert api.get_target(target["id"]) == target


@pytest.mark.parametrize("path", ["/nope", "/targets/x/y/z", "/alerts/123", "/", "/api/targets"])
def test_an_unknown_route_answers_404_with_the_json_error_body(api, path):
    assert_error(api.get(path), 404, "not_found")
    assert_error(api.post(path, json={}), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "params"),
    [("/alerts", {"state": "closed"}), ("/alerts", {"colour": "blue"}), ("/notifications", {"colour": "blue"}),
     ("/targets", {"colour": "blue"})],
    ids=["alerts-bad-state", "alerts-unknown-param", "notifications-unknown-param", "targets-unknown-param"],
)
def test_a_bad_query_parameter_is_rejected_with_400(api, path, params):
    assert_error(api.get(path, params=params), 400, "invalid_argument")
