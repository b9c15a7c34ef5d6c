"""The public HTTP edge against an in-test fake backend, through Flask's test client."""
from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, run_wsgi_app

from shared.domain import (
    Alert,
    CheckResult,
    Conflict,
    DeadlineExceeded,
    DomainError,
    NewResult,
    NewTarget,
    NotFound,
    Notification,
    Target,
    TargetPage,
    Unavailable,
    derived_id,
    new_id,
)
from shared.http import schemas
from shared.http.app import create_app
from shared.http.backend import Backend
from shared.serialize import alert_json, notification_json, result_json, target_json

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
MUTATING = {"create_target", "delete_target", "ingest_result", "check_target"}


@dataclass
class FakeBackend:
    """Dict-backed :class:`Backend`; records every call; ``fail_with`` makes every call raise it."""

    targets: dict[str, Target] = field(default_factory=dict)
    results: dict[str, list[CheckResult]] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    not_ready: list[str] = field(default_factory=list)
    fail_with: Exception | None = None
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def _called(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if self.fail_with is not None:
            raise self.fail_with

    def mutations(self) -> list[str]:
        return [name for name, _ in self.calls if name in MUTATING]

    def _target(self, target_id: str) -> Target:
        if target_id not in self.targets:
            raise NotFound(f"target {target_id} not found")
        return self.targets[target_id]

    def create_target(self, new: NewTarget) -> Target:
        self._called("create_target", new)
        if any(target.name == new.name for target in self.targets.values()):
            raise Conflict(f"a target named {new.name!r} exists")
        target = Target(id=new_id(), created_at=T0, **vars(new))
        self.targets[target.id] = target
        self.results[target.id] = []
        return target

    def list_targets(self, limit: int, offset: int) -> TargetPage:
        self._called("list_targets", limit, offset)
        items = list(self.targets.values())
        return TargetPage(items=items[offset:offset + limit], total=len(items))

    def get_target(self, target_id: str) -> Target:
        self._called("get_target", target_id)
        return self._target(target_id)

    def delete_target(self, target_id: str) -> None:
        self._called("delete_target", target_id)
        self._target(target_id)
        del self.targets[target_id]
        del self.results[target_id]

    def ingest_result(self, target_id: str, new: NewResult) -> CheckResult:
        self._called("ingest_result", target_id, new)
        self._target(target_id)
        result_id = derived_id(target_id, new.key) if new.key else new_id()
        existing = [result for result in self.results[target_id] if result.id == result_id]
        if existing:
            return existing[0]
        result = CheckResult(
            id=result_id, target_id=target_id, ok=new.ok, latency_ms=new.latency_ms, status_code=new.status_code,
            checked_at=new.checked_at or T0, received_at=T0,
        )
        self.results[target_id].insert(0, result)
        return result

    def list_results(self, target_id: str, limit: int) -> list[CheckResult]:
        self._called("list_results", target_id, limit)
        self._target(target_id)
        return self.results[target_id][:limit]

    def check_target(self, target_id: str) -> CheckResult:
        self._called("check_target", target_id)
        return self.ingest_result(target_id, NewResult(ok=True, latency_ms=12, status_code=200))

    def list_alerts(self, target_id: str | None, state: str | None) -> list[Alert]:
        self._called("list_alerts", target_id, state)
        return [a for a in self.alerts if target_id in (None, a.target_id) and state in (None, a.state)]

    def list_notifications(self, target_id: str | None, alert_id: str | None) -> list[Notification]:
        self._called("list_notifications", target_id, alert_id)
        return [n for n in self.notifications if target_id in (None, n.target_id) and alert_id in (None, n.alert_id)]

    def readiness(self) -> list[str]:
        self._called("readiness")
        return list(self.not_ready)


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def client(backend: FakeBackend) -> FlaskClient:
    checked: Backend = backend  # the fake satisfies the protocol
    return create_app(checked).test_client()


def valid_target(**overrides: Any) -> dict[str, Any]:
    return {"name": "shop", "url": "https://shop.example.com/health", **overrides}


def create(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/targets", json=valid_target(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def error_of(response: Any) -> tuple[int, str, str]:
    body = response.get_json()
    assert response.mimetype == "application/json"
    assert set(body) >= {"error"} and set(body["error"]) == {"code", "message"}
    return response.status_code, body["error"]["code"], body["error"]["message"]


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


# --------------------------------------------------------------------------- creating targets


def test_creating_a_target_answers_201_with_the_contract_fields_in_order(client: FlaskClient) -> None:
    response = client.post("/targets", json=valid_target(latency_threshold_ms=500, webhook_url="http://hooks.local/x"))
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert list(json.loads(response.get_data())) == [
        "id", "name", "url", "interval_s", "failure_threshold", "latency_threshold_ms", "webhook_url", "created_at",
    ]
    assert uuid.UUID(body["id"])
    assert body | {"id": None} == {
        "id": None, "name": "shop", "url": "https://shop.example.com/health", "interval_s": 60, "failure_threshold": 3,
        "latency_threshold_ms": 500, "webhook_url": "http://hooks.local/x", "created_at": "2024-05-01T12:00:00.000000Z",
    }


def test_creating_a_target_sets_the_location_header(client: FlaskClient) -> None:
    response = client.post("/targets", json=valid_target())
    assert response.headers["Location"] == f"/targets/{response.get_json()['id']}"


def test_omitted_optional_target_fields_get_their_defaults(client: FlaskClient, backend: FakeBackend) -> None:
    create(client)
    assert backend.calls[-1] == ("create_target", (NewTarget(name="shop", url="https://shop.example.com/health"),))


def test_the_target_url_is_kept_as_the_client_spelled_it(client: FlaskClient) -> None:
    assert create(client, url="HTTP://Example.com")["url"] == "HTTP://Example.com"


def test_a_second_target_with_the_same_name_is_a_conflict(client: FlaskClient) -> None:
    create(client)
    status, code, message = error_of(client.post("/targets", json=valid_target(url="http://other.example")))
    assert (status, code) == (409, "conflict")
    assert "shop" in message


ACCEPTED_TARGET_FIELDS = [
    pytest.param({"name": "x"}, id="name of 1 char"),
    pytest.param({"name": "x" * 100}, id="name of 100 chars"),
    pytest.param({"url": "http://a"}, id="url http with bare host"),
    pytest.param({"url": "https://127.0.0.1:8080/p?q=1#f"}, id="url https with ip port query fragment"),
    pytest.param({"url": "http://example.com/" + "p" * (2048 - 19)}, id="url of 2048 chars"),
    pytest.param({"interval_s": 5}, id="interval_s 5"),
    pytest.param({"interval_s": 86400}, id="interval_s 86400"),
    pytest.param({"failure_threshold": 1}, id="failure_threshold 1"),
    pytest.param({"failure_threshold": 100}, id="failure_threshold 100"),
    pytest.param({"latency_threshold_ms": None}, id="latency_threshold_ms null"),
    pytest.param({"latency_threshold_ms": 1}, id="latency_threshold_ms 1"),
    pytest.param({"latency_threshold_ms": 600000}, id="latency_threshold_ms 600000"),
    pytest.param({"webhook_url": None}, id="webhook_url null"),
    pytest.param({"webhook_url": "https://hooks.example.com/a"}, id="webhook_url https"),
]

REJECTED_TARGET_FIELDS = [
    pytest.param({"name": ""}, "name", id="name empty"),
    pytest.param({"name": "x" * 101}, "name", id="name of 101 chars"),
    pytest.param({"name": 5}, "name", id="name a number"),
    pytest.param({"name": None}, "name", id="name null"),
    pytest.param({"url": "example.com"}, "url", id="url without scheme"),
    pytest.param({"url": "/relative/path"}, "url", id="url relative"),
    pytest.param({"url": "ftp://example.com"}, "url", id="url ftp"),
    pytest.param({"url": "http://"}, "url", id="url without host"),
    pytest.param({"url": "http:///path"}, "url", id="url with empty authority"),
    pytest.param({"url": "http://:80/"}, "url", id="url with port but no host"),
    pytest.param({"url": "http://exa mple.com"}, "url", id="url with a space"),
    pytest.param({"url": " http://example.com"}, "url", id="url with leading space"),
    pytest.param({"url": "http://example.com/" + "p" * (2049 - 19)}, "url", id="url of 2049 chars"),
    pytest.param({"url": 42}, "url", id="url a number"),
    pytest.param({"interval_s": 4}, "interval_s", id="interval_s 4"),
    pytest.param({"interval_s": 86401}, "interval_s", id="interval_s 86401"),
    pytest.param({"interval_s": 60.5}, "interval_s", id="interval_s a fraction"),
    pytest.param({"interval_s": "60"}, "interval_s", id="interval_s a string"),
    pytest.param({"interval_s": True}, "interval_s", id="interval_s a boolean"),
    pytest.param({"interval_s": None}, "interval_s", id="interval_s null"),
    pytest.param({"failure_threshold": 0}, "failure_threshold", id="failure_threshold 0"),
    pytest.param({"failure_threshold": 101}, "failure_threshold", id="failure_threshold 101"),
    pytest.param({"failure_threshold": True}, "failure_threshold", id="failure_threshold a boolean"),
    pytest.param({"latency_threshold_ms": 0}, "latency_threshold_ms", id="latency_threshold_ms 0"),
    pytest.param({"latency_threshold_ms": 600001}, "latency_threshold_ms", id="latency_threshold_ms 600001"),
    pytest.param({"latency_threshold_ms": False}, "latency_threshold_ms", id="latency_threshold_ms a boolean"),
    pytest.param({"latency_threshold_ms": 1.5}, "latency_threshold_ms", id="latency_threshold_ms a float"),
    pytest.param({"webhook_url": "mailto:ops@example.com"}, "webhook_url", id="webhook_url mailto"),
    pytest.param({"webhook_url": "not a url"}, "webhook_url", id="webhook_url free text"),
    pytest.param({"webhook_url": ""}, "webhook_url", id="webhook_url empty"),
    pytest.param({"colour": "red"}, "colour", id="an unknown field"),
]


@pytest.mark.parametrize("overrides", ACCEPTED_TARGET_FIELDS)
def test_target_fields_at_their_bounds_are_accepted(client: FlaskClient, overrides: dict[str, Any]) -> None:
    body = create(client, **overrides)
    assert {name: body[name] for name in overrides} == overrides


@pytest.mark.parametrize(("overrides", "field_name"), REJECTED_TARGET_FIELDS)
def test_target_fields_beyond_their_bounds_are_rejected_naming_the_field(
    client: FlaskClient, backend: FakeBackend, overrides: dict[str, Any], field_name: str,
) -> None:
    status, code, message = error_of(client.post("/targets", json=valid_target(**overrides)))
    assert (status, code) == (400, "invalid_argument")
    assert message.startswith(f"{field_name}: ")
    assert backend.calls == []


@pytest.mark.parametrize("missing", ["name", "url"])
def test_a_missing_required_target_field_is_rejected(client: FlaskClient, missing: str) -> None:
    body = valid_target()
    del body[missing]
    assert error_of(client.post("/targets", json=body)) == (400, "invalid_argument", f"{missing}: Field required")


def test_an_interval_over_a_day_gets_a_readable_message(client: FlaskClient) -> None:
    assert error_of(client.post("/targets", json=valid_target(interval_s=86401))) == (
        400, "invalid_argument", "interval_s: Input should be less than or equal to 86400",
    )


def test_a_name_over_100_chars_is_rejected(client: FlaskClient) -> None:
    assert error_of(client.post("/targets", json=valid_target(name="n" * 101)))[:2] == (400, "invalid_argument")


def test_every_invalid_field_is_named_in_one_message(client: FlaskClient) -> None:
    _, _, message = error_of(client.post("/targets", json={"name": "", "url": "x", "interval_s": True}))
    assert [part.split(":")[0] for part in message.split("; ")] == ["name", "url", "interval_s"]


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
    environ = EnvironBuilder(method="POST", path="/targets", input_stream=io.BytesIO(raw), content_type="application/json")
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


# --------------------------------------------------------------------------- reading and deleting targets


def test_a_target_reads_back_as_created(client: FlaskClient) -> None:
    target = create(client)
    response = client.get(f"/targets/{target['id']}")
    assert (response.status_code, response.get_json()) == (200, target)


def test_an_upper_case_target_id_finds_the_target(client: FlaskClient) -> None:
    target = create(client)
    assert client.get(f"/targets/{target['id'].upper()}").get_json() == target


def test_an_unknown_target_id_is_not_found(client: FlaskClient) -> None:
    assert error_of(client.get(f"/targets/{uuid.uuid4()}"))[:2] == (404, "not_found")


@pytest.mark.parametrize("bad_id", ["abc", "1234", "not-a-uuid-at-all", "0" * 32, f"{{{uuid.uuid4()}}}"])
@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("delete", ""), ("post", "/results"), ("get", "/results"), ("post", "/check")],
)
def test_a_target_id_that_is_not_a_uuid_is_not_found_without_asking_the_backend(
    client: FlaskClient, backend: FakeBackend, bad_id: str, method: str, suffix: str,
) -> None:
    response = getattr(client, method)(f"/targets/{bad_id}{suffix}", json={"ok": True, "latency_ms": 1})
    assert error_of(response)[:2] == (404, "not_found")
    assert backend.calls == []


def test_deleting_a_target_answers_204_with_an_empty_body(client: FlaskClient) -> None:
    target = create(client)
    response = client.delete(f"/targets/{target['id']}")
    assert (response.status_code, response.get_data()) == (204, b"")
    assert error_of(client.get(f"/targets/{target['id']}"))[:2] == (404, "not_found")
    assert error_of(client.post(f"/targets/{target['id']}/results", json={"ok": True, "latency_ms": 1}))[0] == 404


def test_deleting_an_unknown_target_is_not_found(client: FlaskClient) -> None:
    assert error_of(client.delete(f"/targets/{uuid.uuid4()}"))[:2] == (404, "not_found")


# --------------------------------------------------------------------------- paging


def test_listing_targets_defaults_to_limit_50_offset_0(client: FlaskClient, backend: FakeBackend) -> None:
    first, second = create(client, name="a"), create(client, name="b")
    response = client.get("/targets")
    assert response.get_json() == {"items": [first, second], "total": 2}
    assert backend.calls[-1] == ("list_targets", (50, 0))


def test_listing_targets_passes_limit_and_offset(client: FlaskClient, backend: FakeBackend) -> None:
    create(client, name="a")
    second = create(client, name="b")
    create(client, name="c")
    assert client.get("/targets?limit=1&offset=1").get_json() == {"items": [second], "total": 3}
    assert backend.calls[-1] == ("list_targets", (1, 1))


@pytest.mark.parametrize("query", ["limit=1", "limit=500", "offset=0", "offset=1000000"])
def test_paging_parameters_at_their_bounds_are_accepted(client: FlaskClient, query: str) -> None:
    assert client.get(f"/targets?{query}").status_code == 200


@pytest.mark.parametrize(
    ("query", "field_name"),
    [
        ("limit=0", "limit"), ("limit=501", "limit"), ("limit=-1", "limit"), ("limit=abc", "limit"),
        ("limit=", "limit"), ("limit=true", "limit"), ("limit=1&limit=2", "limit"),
        ("offset=-1", "offset"), ("offset=x", "offset"), ("offset=99999999999999999999", "offset"),
        ("page=2", "page"),
    ],
)
def test_bad_paging_parameters_are_rejected(
    client: FlaskClient, backend: FakeBackend, query: str, field_name: str,
) -> None:
    status, code, message = error_of(client.get(f"/targets?{query}"))
    assert (status, code) == (400, "invalid_argument")
    assert message.startswith(f"{field_name}: ")
    assert backend.calls == []


# --------------------------------------------------------------------------- results


@pytest.fixture
def target_id(client: FlaskClient) -> str:
    return create(client)["id"]


def post_result(client: FlaskClient, target_id: str, **body: Any) -> Any:
    return client.post(f"/targets/{target_id}/results", json={"ok": True, "latency_ms": 12.5, **body})


def test_posting_a_result_answers_202_accepted(client: FlaskClient, target_id: str) -> None:
    response = post_result(client, target_id)
    assert response.status_code == 202
    body = response.get_json()
    assert list(body) == ["id", "target_id", "accepted"]
    assert body["target_id"] == target_id and body["accepted"] is True and uuid.UUID(body["id"])


def test_the_result_id_field_is_passed_as_the_idempotency_key(
    client: FlaskClient, backend: FakeBackend, target_id: str,
) -> None:
    first = post_result(client, target_id, id="run-42_a").get_json()
    again = post_result(client, target_id, id="run-42_a").get_json()
    assert first == again
    assert backend.calls[-1][1][1].key == "run-42_a"


def test_a_naive_checked_at_is_taken_as_utc(client: FlaskClient, backend: FakeBackend, target_id: str) -> None:
    post_result(client, target_id, checked_at="2024-05-01T10:00:00")
    assert backend.calls[-1][1][1].checked_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_a_checked_at_with_an_offset_is_converted_to_utc(client: FlaskClient, backend: FakeBackend, target_id: str) -> None:
    post_result(client, target_id, checked_at="2024-05-01T12:00:00+02:00")
    checked_at = backend.calls[-1][1][1].checked_at
    assert (checked_at, checked_at.utcoffset()) == (datetime(2024, 5, 1, 10, tzinfo=UTC), timedelta(0))


def test_a_result_becomes_the_domain_new_result(client: FlaskClient, backend: FakeBackend, target_id: str) -> None:
    post_result(client, target_id, ok=False, latency_ms=3, status_code=503)
    assert backend.calls[-1] == ("ingest_result", (target_id, NewResult(ok=False, latency_ms=3.0, status_code=503)))


def test_a_result_for_an_unknown_target_is_not_found(client: FlaskClient) -> None:
    assert error_of(post_result(client, str(uuid.uuid4())))[:2] == (404, "not_found")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"latency_ms": 0}, id="latency_ms 0"),
        pytest.param({"latency_ms": 0.001}, id="latency_ms a small float"),
        pytest.param({"latency_ms": 10**9}, id="latency_ms a big int"),
        pytest.param({"ok": False}, id="ok false"),
        pytest.param({"status_code": None}, id="status_code null"),
        pytest.param({"status_code": 100}, id="status_code 100"),
        pytest.param({"status_code": 599}, id="status_code 599"),
        pytest.param({"checked_at": "2024-05-01T10:00:00Z"}, id="checked_at with Z"),
        pytest.param({"checked_at": "2024-05-01T10:00:00.123456+05:30"}, id="checked_at with offset"),
        pytest.param({"checked_at": None}, id="checked_at null"),
        pytest.param({"id": "k"}, id="key of 1 char"),
        pytest.param({"id": "A-z_9" * 12 + "abcd"}, id="key of 64 chars"),
        pytest.param({"id": None}, id="key null"),
    ],
)
def test_result_fields_at_their_bounds_are_accepted(client: FlaskClient, target_id: str, overrides: dict[str, Any]) -> None:
    assert post_result(client, target_id, **overrides).status_code == 202


@pytest.mark.parametrize(
    ("overrides", "field_name"),
    [
        pytest.param({"ok": 1}, "ok", id="ok an integer"),
        pytest.param({"ok": "true"}, "ok", id="ok a string"),
        pytest.param({"ok": None}, "ok", id="ok null"),
        pytest.param({"latency_ms": -0.001}, "latency_ms", id="latency_ms negative"),
        pytest.param({"latency_ms": True}, "latency_ms", id="latency_ms a boolean"),
        pytest.param({"latency_ms": "12"}, "latency_ms", id="latency_ms a string"),
        pytest.param({"latency_ms": None}, "latency_ms", id="latency_ms null"),
        pytest.param({"status_code": 99}, "status_code", id="status_code 99"),
        pytest.param({"status_code": 600}, "status_code", id="status_code 600"),
        pytest.param({"status_code": True}, "status_code", id="status_code a boolean"),
        pytest.param({"status_code": 200.5}, "status_code", id="status_code a fraction"),
        pytest.param({"checked_at": "yesterday"}, "checked_at", id="checked_at free text"),
        pytest.param({"checked_at": "2024-05-01"}, "checked_at", id="checked_at a date only"),
        pytest.param({"checked_at": 1714557600}, "checked_at", id="checked_at a number"),
        pytest.param({"checked_at": "0001-01-01T00:00:00+01:00"}, "checked_at", id="checked_at before year 1 in UTC"),
        pytest.param({"id": ""}, "id", id="key empty"),
        pytest.param({"id": "k" * 65}, "id", id="key of 65 chars"),
        pytest.param({"id": "a b"}, "id", id="key with a space"),
        pytest.param({"id": "a/b"}, "id", id="key with a slash"),
        pytest.param({"id": 7}, "id", id="key a number"),
        pytest.param({"received_at": "2024-05-01T10:00:00Z"}, "received_at", id="an unknown field"),
    ],
)
def test_result_fields_beyond_their_bounds_are_rejected(
    client: FlaskClient, backend: FakeBackend, target_id: str, overrides: dict[str, Any], field_name: str,
) -> None:
    status, code, message = error_of(post_result(client, target_id, **overrides))
    assert (status, code) == (400, "invalid_argument")
    assert message.startswith(f"{field_name}: ")
    assert "ingest_result" not in backend.mutations()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_latency_is_rejected(client: FlaskClient, target_id: str, literal: str) -> None:
    raw = f'{{"ok": true, "latency_ms": {literal}}}'
    response = client.post(f"/targets/{target_id}/results", data=raw, content_type="application/json")
    assert error_of(response)[:2] == (400, "invalid_argument")


@pytest.mark.parametrize("missing", ["ok", "latency_ms"])
def test_a_result_missing_a_required_field_is_rejected(client: FlaskClient, target_id: str, missing: str) -> None:
    body = {"ok": True, "latency_ms": 1}
    del body[missing]
    response = client.post(f"/targets/{target_id}/results", json=body)
    assert error_of(response) == (400, "invalid_argument", f"{missing}: Field required")


def test_results_list_newest_first_as_items(client: FlaskClient, backend: FakeBackend, target_id: str) -> None:
    first = post_result(client, target_id, latency_ms=1).get_json()["id"]
    second = post_result(client, target_id, latency_ms=2).get_json()["id"]
    body = client.get(f"/targets/{target_id}/results").get_json()
    assert [item["id"] for item in body["items"]] == [second, first]
    assert list(body["items"][0]) == ["id", "target_id", "ok", "latency_ms", "status_code", "checked_at", "received_at"]
    assert backend.calls[-1] == ("list_results", (target_id, 50))


@pytest.mark.parametrize(("query", "status"), [("limit=1", 200), ("limit=500", 200), ("limit=0", 400), ("limit=501", 400)])
def test_the_results_limit_is_bounded(client: FlaskClient, target_id: str, query: str, status: int) -> None:
    assert client.get(f"/targets/{target_id}/results?{query}").status_code == status


def test_results_of_an_unknown_target_are_not_found(client: FlaskClient) -> None:
    assert error_of(client.get(f"/targets/{uuid.uuid4()}/results"))[:2] == (404, "not_found")


# --------------------------------------------------------------------------- check now


@pytest.mark.parametrize(
    ("data", "content_type"), [(None, None), (b"", "application/json"), (b"{}", "application/json"), (b"", "text/plain")],
)
def test_check_now_takes_no_body_or_an_empty_object(
    client: FlaskClient, target_id: str, data: bytes | None, content_type: str | None,
) -> None:
    response = client.post(f"/targets/{target_id}/check", data=data, content_type=content_type)
    assert response.status_code == 200
    assert list(response.get_json()) == ["id", "target_id", "ok", "latency_ms", "status_code", "checked_at", "received_at"]


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b'{"force": true}', "application/json", 400, "invalid_argument"),
        (b"[]", "application/json", 400, "invalid_argument"),
        (b"{", "application/json", 400, "invalid_argument"),
        (b"now", "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_check_now_rejects_any_other_body(
    client: FlaskClient, backend: FakeBackend, target_id: str, data: bytes, content_type: str, status: int, code: str,
) -> None:
    response = client.post(f"/targets/{target_id}/check", data=data, content_type=content_type)
    assert error_of(response)[:2] == (status, code)
    assert "check_target" not in backend.mutations()


# --------------------------------------------------------------------------- alerts and notifications

ALERT = Alert(
    id=str(uuid.uuid4()), target_id=str(uuid.uuid4()), kind="down", state="open", opened_at=T0, resolved_at=None,
    opened_by_result_id=str(uuid.uuid4()),
)
NOTIFICATION = Notification(
    id=str(uuid.uuid4()), alert_id=ALERT.id, target_id=ALERT.target_id, event="alert_opened", channel="log",
    status="sent", message="shop is down", created_at=T0,
)


def test_alerts_are_listed_as_items_with_the_contract_fields(client: FlaskClient, backend: FakeBackend) -> None:
    backend.alerts = [ALERT]
    body = client.get("/alerts").get_json()
    assert body == {"items": [alert_json(ALERT)]}
    assert list(body["items"][0]) == ["id", "target_id", "kind", "state", "opened_at", "resolved_at", "opened_by_result_id"]
    assert backend.calls[-1] == ("list_alerts", (None, None))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("target_id=t1&state=open", ("t1", "open")),
        ("state=resolved", (None, "resolved")),
        ("target_id=", (None, None)),
    ],
)
def test_alert_filters_are_passed_to_the_backend(
    client: FlaskClient, backend: FakeBackend, query: str, expected: tuple[str | None, str | None],
) -> None:
    assert client.get(f"/alerts?{query}").status_code == 200
    assert backend.calls[-1] == ("list_alerts", expected)


@pytest.mark.parametrize("query", ["state=closed", "state=OPEN", "state=", "kind=down", "state=open&state=resolved"])
def test_bad_alert_filters_are_rejected(client: FlaskClient, backend: FakeBackend, query: str) -> None:
    assert error_of(client.get(f"/alerts?{query}"))[:2] == (400, "invalid_argument")
    assert backend.calls == []


def test_notifications_are_listed_and_filtered(client: FlaskClient, backend: FakeBackend) -> None:
    backend.notifications = [NOTIFICATION]
    body = client.get(f"/notifications?target_id={ALERT.target_id}&alert_id={ALERT.id}").get_json()
    assert body == {"items": [notification_json(NOTIFICATION)]}
    assert list(body["items"][0]) == [
        "id", "alert_id", "target_id", "event", "channel", "status", "attempts", "message", "created_at"]
    assert backend.calls[-1] == ("list_notifications", (ALERT.target_id, ALERT.id))


def test_an_unknown_notification_filter_is_rejected(client: FlaskClient) -> None:
    assert error_of(client.get("/notifications?state=open"))[:2] == (400, "invalid_argument")


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


# --------------------------------------------------------------------------- serialisation and OpenAPI


def test_serialisers_produce_exactly_the_fields_of_the_documented_models() -> None:
    result = CheckResult(
        id="r", target_id="t", ok=True, latency_ms=7, status_code=None, checked_at=T0, received_at=T0,
    )
    target = Target(id="t", name="n", url="http://x", interval_s=60, failure_threshold=3, latency_threshold_ms=None,
                    webhook_url=None, created_at=T0)
    pairs = [(target_json(target), schemas.Target), (result_json(result), schemas.CheckResult),
             (alert_json(ALERT), schemas.Alert), (notification_json(NOTIFICATION), schemas.Notification)]
    for produced, model in pairs:
        assert list(produced) == list(model.model_fields)
    assert result_json(result)["latency_ms"] == 7.0 and isinstance(result_json(result)["latency_ms"], float)
    assert result_json(result)["checked_at"] == "2024-05-01T12:00:00.000000Z"


@pytest.fixture
def openapi(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_openapi_is_a_3_1_document_with_every_path_and_method(client: FlaskClient, openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1.")
    assert openapi["info"]["title"] and openapi["info"]["version"]
    routes: defaultdict[str, set[str]] = defaultdict(set)
    for rule in client.application.url_map.iter_rules():
        routes[re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)] |= rule.methods - {"HEAD", "OPTIONS"}
    assert {path: set(map(str.upper, ops)) for path, ops in openapi["paths"].items()} == routes
    assert set(routes) == {
        "/healthz", "/readyz", "/openapi.json", "/targets", "/targets/{target_id}", "/targets/{target_id}/results",
        "/targets/{target_id}/check", "/alerts", "/notifications",
    }


def test_openapi_operations_have_responses_and_resolvable_refs(openapi: dict[str, Any]) -> None:
    schemas_by_name = openapi["components"]["schemas"]
    refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(openapi))
    assert refs and all(ref.removeprefix("#/components/schemas/") in schemas_by_name for ref in refs)
    for path, operations in openapi["paths"].items():
        for operation in operations.values():
            assert operation["responses"] and all("description" in r for r in operation["responses"].values()), path
    for schema in schemas_by_name.values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_openapi_schemas_come_from_the_validating_models(openapi: dict[str, Any]) -> None:
    create_schema = openapi["components"]["schemas"]["TargetCreate"]
    assert create_schema["additionalProperties"] is False
    assert create_schema["properties"]["interval_s"].items() >= {"minimum": 5, "maximum": 86400, "type": "integer"}.items()
    assert create_schema["required"] == ["name", "url"]
    post = openapi["paths"]["/targets"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TargetCreate"}
    assert set(post["responses"]) >= {"201", "400", "409", "413", "415"}
    assert "Location" in post["responses"]["201"]["headers"]
    limit = next(p for p in openapi["paths"]["/targets"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["in"] == "query" and limit["schema"]["maximum"] == 500 and limit["schema"]["minimum"] == 1


def test_an_openapi_document_validates_a_real_target(client: FlaskClient, openapi: dict[str, Any]) -> None:
    document_schema = {"$ref": "#/components/schemas/Target", "components": openapi["components"]}
    jsonschema.validate(create(client), document_schema)
