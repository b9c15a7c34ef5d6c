"""The edge's health and readiness answers, routing, and how errors become JSON answers."""
from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.domain import (
    Conflict,
    DeadlineExceeded,
    DomainError,
    NotFound,
    Unavailable,
)
from tests.support.edge import FakeBackend, error_of, valid_target

# --------------------------------------------------------------------------- health and readiness


def test_healthz_answers_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_readyz_answers_ready_when_the_backend_has_no_reasons(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ready"})


def test_readyz_answers_503_with_every_reason_when_not_ready(client: FlaskClient, backend: FakeBackend) -> None:
    backend.not_ready = ["database unreachable", "broker down"]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "error": {"code": "unavailable", "message": "not ready: database unreachable; broker down"},
        "reasons": ["database unreachable", "broker down"],
    }


# --------------------------------------------------------------------------- routing and error mapping


@pytest.mark.parametrize("path", ["/", "/nope", "/targets/", "/targets/x/y", "/static/app.js"])
def test_an_unknown_route_is_a_json_404(client: FlaskClient, path: str) -> None:
    assert error_of(client.get(path))[:2] == (404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("delete", "/targets"), ("put", "/targets/{id}"), ("patch", "/targets/{id}"), ("get", "/targets/{id}/check"),
     ("post", "/alerts"), ("post", "/healthz"), ("options", "/targets")],
)
def test_a_wrong_method_is_a_json_405_with_allow(client: FlaskClient, method: str, path: str) -> None:
    response = getattr(client, method)(path.format(id=uuid.uuid4()))
    assert error_of(response)[:2] == (405, "method_not_allowed")
    assert response.headers["Allow"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (Unavailable("alerting service unreachable"), 503, "unavailable"),
        (DeadlineExceeded("alerting did not answer within 2 s"), 504, "timeout"),
        (Conflict("busy"), 409, "conflict"),
        (NotFound("gone"), 404, "not_found"),
    ],
)
def test_domain_errors_map_to_their_status_and_keep_their_message(
    client: FlaskClient, backend: FakeBackend, error: DomainError, status: int, code: str,
) -> None:
    backend.fail_with = error
    for response in (client.get("/targets"), client.post("/targets", json=valid_target()), client.get("/alerts")):
        assert error_of(response) == (status, code, error.message)


@pytest.mark.parametrize(
    "error", [RuntimeError("secret connection string postgres://u:p@db"), DomainError("internal detail"), KeyError("k")],
)
def test_an_unexpected_error_is_a_bare_500_and_is_logged(
    client: FlaskClient, backend: FakeBackend, caplog: pytest.LogCaptureFixture, error: Exception,
) -> None:
    backend.fail_with = error
    with caplog.at_level(logging.ERROR):
        response = client.get(f"/targets/{uuid.uuid4()}")
    assert response.status_code == 500
    assert response.get_json() == {"error": {"code": "internal", "message": "internal error"}}
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "secret" not in text and "detail" not in text
    assert any(record.exc_info and record.exc_info[1] is error for record in caplog.records)


def test_a_readiness_check_that_raises_is_a_500_not_a_crash(client: FlaskClient, backend: FakeBackend) -> None:
    backend.fail_with = RuntimeError("boom")
    assert error_of(client.get("/readyz"))[:2] == (500, "internal")


BAD_REQUESTS = [
    pytest.param("post", "/targets", {"json": valid_target(interval_s=1)}, id="invalid target"),
    pytest.param("post", "/targets", {"data": b"{", "content_type": "application/json"}, id="malformed target"),
    pytest.param("post", "/targets", {"data": b"x", "content_type": "text/plain"}, id="target as text"),
    pytest.param("post", "/targets", {"json": valid_target(name="x" * 70000)}, id="target too large"),
    pytest.param("post", "/targets/{id}/results", {"json": {"ok": 1, "latency_ms": 1}}, id="invalid result"),
    pytest.param("post", "/targets/nope/results", {"json": {"ok": True, "latency_ms": 1}}, id="result for non-uuid"),
    pytest.param("delete", "/targets/nope", {}, id="delete non-uuid"),
    pytest.param("post", "/targets/{id}/check", {"json": {"x": 1}}, id="check with a field"),
    pytest.param("put", "/targets/{id}", {"json": valid_target()}, id="put"),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), BAD_REQUESTS)
def test_bad_input_never_calls_a_mutating_backend_method(
    client: FlaskClient, backend: FakeBackend, target_id: str, method: str, path: str, kwargs: dict[str, Any],
) -> None:
    before = backend.mutations()
    response = getattr(client, method)(path.format(id=target_id), **kwargs)
    assert 400 <= response.status_code < 500
    assert backend.mutations() == before


def test_every_response_is_json_never_html(client: FlaskClient, target_id: str) -> None:
    responses = [
        client.get("/healthz"), client.get("/nowhere"), client.delete("/targets"), client.head("/healthz"),
        client.delete(f"/targets/{target_id}"),
        client.post("/targets", data="<html>", content_type="text/html"),
    ]
    assert [response.mimetype for response in responses] == ["application/json"] * len(responses)
    assert all(b"<" not in response.get_data() for response in responses)
