"""Creating, reading, deleting and listing targets at the edge: contract fields, bounds, paging."""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.domain import (
    NewTarget,
)
from tests.support.edge import FakeBackend, create, error_of, valid_target

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
