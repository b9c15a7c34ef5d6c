"""Request bodies at the edge: JSON only, declared as such, at most 64 KiB."""
from __future__ import annotations

import io
import json

import pytest
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.support.edge import FULL_KEY, FakeBackend, create, error_of, valid_target

# --------------------------------------------------------------------------- bodies: JSON, media type, size

MALFORMED_BODIES = [
    pytest.param(b"{", id="truncated JSON"),
    pytest.param(b"{'name': 'x'}", id="single quotes"),
    pytest.param(b"", id="empty body"),
    pytest.param(b"[]", id="an array"),
    pytest.param(b'"shop"', id="a string"),
    pytest.param(b"null", id="null"),
    pytest.param(b"42", id="a number"),
    pytest.param(b'{"name": "\xff"}', id="invalid UTF-8"),
]


@pytest.mark.parametrize("raw", MALFORMED_BODIES)
def test_a_malformed_or_non_object_body_is_rejected(client: FlaskClient, backend: FakeBackend, raw: bytes) -> None:
    status, code, message = error_of(client.post("/targets", data=raw, content_type="application/json"))
    assert (status, code) == (400, "invalid_argument")
    assert message.startswith("body: ")
    assert backend.calls == []


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_target_body_not_declared_as_json_is_unsupported(
    client: FlaskClient, backend: FakeBackend, content_type: str | None,
) -> None:
    response = client.post("/targets", data=json.dumps(valid_target()), content_type=content_type)
    assert error_of(response)[:2] == (415, "unsupported_media_type")
    assert backend.calls == []


def test_a_result_without_content_type_is_unsupported(client: FlaskClient) -> None:
    target = create(client)
    response = client.post(f"/targets/{target['id']}/results", data=b'{"ok": true, "latency_ms": 1}')
    assert error_of(response)[:2] == (415, "unsupported_media_type")


def test_a_json_content_type_with_a_charset_is_accepted(client: FlaskClient) -> None:
    response = client.post("/targets", data=json.dumps(valid_target()), content_type="application/json; charset=utf-8")
    assert response.status_code == 201


def test_a_body_over_64_kib_is_too_large(client: FlaskClient, backend: FakeBackend) -> None:
    raw = json.dumps(valid_target(name="x" * (64 * 1024))).encode()
    assert error_of(client.post("/targets", data=raw, content_type="application/json"))[:2] == (413, "payload_too_large")
    assert backend.calls == []


def test_a_body_over_64_kib_without_content_length_is_too_large(client: FlaskClient, backend: FakeBackend) -> None:
    raw = json.dumps(valid_target(name="x" * (64 * 1024))).encode()
    environ = EnvironBuilder(method="POST", path="/targets", input_stream=io.BytesIO(raw), content_type="application/json",
                             headers={"Authorization": f"Bearer {FULL_KEY}"})
    chunked = environ.get_environ() | {"wsgi.input_terminated": True}  # as a server passes a chunked body
    del chunked["CONTENT_LENGTH"]
    body, status, _ = run_wsgi_app(client.application, chunked, buffered=True)
    assert status.startswith("413 ")
    assert json.loads(b"".join(body))["error"]["code"] == "payload_too_large"
    assert backend.calls == []


def test_a_body_of_exactly_64_kib_is_read(client: FlaskClient) -> None:
    raw = json.dumps(valid_target()).encode()
    padded = raw[:-1] + b" " * (64 * 1024 - len(raw)) + b"}"
    assert len(padded) == 64 * 1024
    assert client.post("/targets", data=padded, content_type="application/json").status_code == 201
