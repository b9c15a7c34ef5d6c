"""Results at the edge: posting, their bounds and idempotency key, listing, and checking a target now."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.domain import (
    NewResult,
)
from tests.support.edge import FakeBackend, error_of, post_result

# --------------------------------------------------------------------------- results


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
