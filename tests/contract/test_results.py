"""Result ingestion: validation, listing, idempotency keys."""
from __future__ import annotations

import uuid

import pytest

from tests.support.api import describe
from tests.support.assertions import assert_error, assert_result, parse_time
from tests.support.waiting import wait_for_count, wait_until


def test_posting_a_result_answers_202_with_its_id_and_the_target_id(api):
    target = api.create_target()
    response = api.post(f"/targets/{target['id']}/results", json={"ok": True, "latency_ms": 12.5, "status_code": 200})
    assert response.status_code == 202, describe(response)
    body = response.json()
    assert set(body) == {"id", "target_id", "accepted"}, body
    assert body["target_id"] == target["id"]
    assert body["accepted"] is True
    uuid.UUID(body["id"])
    [stored] = wait_for_count(lambda: api.results(target["id"]), 1)
    assert_result(stored)
    assert stored["id"] == body["id"]
    assert stored["target_id"] == target["id"]
    assert stored["ok"] is True
    assert stored["latency_ms"] == 12.5
    assert stored["status_code"] == 200


def test_a_result_keeps_its_checked_at_and_defaults_status_code_to_null(api):
    target = api.create_target()
    api.post_result(target["id"], ok=False, latency_ms=0, checked_at="2024-05-01T12:30:00Z")
    [stored] = wait_for_count(lambda: api.results(target["id"]), 1)
    assert stored["status_code"] is None
    assert stored["latency_ms"] == 0
    assert parse_time(stored["checked_at"]) == parse_time("2024-05-01T12:30:00+00:00")
    parse_time(stored["received_at"])


def test_a_result_without_checked_at_is_checked_when_it_was_received(api):
    target = api.create_target()
    api.post_result(target["id"], ok=True, latency_ms=3)
    [stored] = wait_for_count(lambda: api.results(target["id"]), 1)
    checked, received = parse_time(stored["checked_at"]), parse_time(stored["received_at"])
    assert abs((received - checked).total_seconds()) < 5, stored


@pytest.mark.parametrize(
    "body",
    [
        {"latency_ms": 1},
        {"ok": "true", "latency_ms": 1},
        {"ok": 1, "latency_ms": 1},
        {"ok": None, "latency_ms": 1},
        {"ok": True},
        {"ok": True, "latency_ms": -1},
        {"ok": True, "latency_ms": -0.001},
        {"ok": True, "latency_ms": True},
        {"ok": True, "latency_ms": "12"},
        {"ok": True, "latency_ms": None},
        {"ok": True, "latency_ms": 1, "status_code": 99},
        {"ok": True, "latency_ms": 1, "status_code": 600},
        {"ok": True, "latency_ms": 1, "status_code": True},
        {"ok": True, "latency_ms": 1, "status_code": "200"},
        {"ok": True, "latency_ms": 1, "status_code": 200.5},
        {"ok": True, "latency_ms": 1, "checked_at": "yesterday"},
        {"ok": True, "latency_ms": 1, "checked_at": "2024-13-45T00:00:00Z"},
        {"ok": True, "latency_ms": 1, "checked_at": True},
        {"ok": True, "latency_ms": 1, "id": "k" * 65},
        {"ok": True, "latency_ms": 1, "id": "has space"},
        {"ok": True, "latency_ms": 1, "id": ""},
        {"ok": True, "latency_ms": 1, "id": "semi;colon"},
        {"ok": True, "latency_ms": 1, "id": 12},
        {"ok": True, "latency_ms": 1, "target_id": "x"},
        {"ok": True, "latency_ms": 1, "colour": "blue"},
    ],
    ids=[
        "ok-missing", "ok-string", "ok-int", "ok-null", "latency-missing", "latency-negative", "latency-negative-small",
        "latency-bool", "latency-string", "latency-null", "status-99", "status-600", "status-bool", "status-string",
        "status-float", "checked_at-word", "checked_at-impossible-date", "checked_at-bool", "key-65-chars",
        "key-with-space", "key-empty", "key-semicolon", "key-number", "unknown-field-target_id", "unknown-field",
    ],
)
def test_a_result_breaking_a_validation_rule_is_rejected_with_400_and_not_stored(api, body):
    target = api.create_target()
    assert_error(api.post(f"/targets/{target['id']}/results", json=body), 400, "invalid_argument")
    # A later valid result is the marker: once it is listed, the rejected one would have been too.
    marker = api.post_result(target["id"], ok=True, latency_ms=1)
    listed = wait_for_count(lambda: api.results(target["id"]), 1)
    assert listed[0]["id"] == marker["id"]


@pytest.mark.parametrize(
    "raw", [b"not json", b"[]", b'{"ok": true, "latency_ms": ', b""], ids=["not-json", "array", "truncated", "empty"]
)
def test_a_result_body_that_is_not_a_json_object_is_rejected_with_400(api, raw):
    target = api.create_target()
    response = api.post(f"/targets/{target['id']}/results", data=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_argument")


def test_a_result_that_is_not_application_json_is_rejected_with_415(api):
    target = api.create_target()
    response = api.post(f"/targets/{target['id']}/results", data=b'{"ok": true, "latency_ms": 1}',
                        headers={"Content-Type": "text/plain"})
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "fields",
    [{"latency_ms": 0}, {"latency_ms": 12}, {"latency_ms": 1e6}, {"status_code": 100}, {"status_code": 599},
     {"status_code": None}, {"id": "k" * 64}, {"id": "A-z_0-9"}, {"id": "x"}, {"checked_at": "2024-05-01T12:30:00+02:00"}],
    ids=["latency-0", "latency-int", "latency-large", "status-100", "status-599", "status-null", "key-64-chars",
         "key-all-classes", "key-1-char", "checked_at-offset"],
)
def test_a_result_at_the_bound_of_a_validation_rule_is_accepted(api, fields):
    target = api.create_target()
    api.post_result(target["id"], ok=True, **{"latency_ms": 5, **fields})


def test_posting_a_result_for_an_unknown_target_answers_404(api):
    assert_error(api.post(f"/targets/{uuid.uuid4()}/results", json={"ok": True, "latency_ms": 1}), 404, "not_found")


def test_listing_results_of_an_unknown_target_answers_404(api):
    assert_error(api.get(f"/targets/{uuid.uuid4()}/results"), 404, "not_found")


def test_results_are_listed_newest_first_and_limited(api):
    target = api.create_target(failure_threshold=100)
    posted = [api.post_result(target["id"], ok=True, latency_ms=float(i))["id"] for i in range(4)]
    listed = wait_for_count(lambda: api.results(target["id"]), 4)
    assert [r["id"] for r in listed] == posted[::-1]
    assert [r["latency_ms"] for r in listed] == [3.0, 2.0, 1.0, 0.0]
    assert [r["id"] for r in api.results(target["id"], limit=2)] == posted[:1:-1]
    assert [r["id"] for r in api.results(target["id"], limit=1)] == posted[-1:]


@pytest.mark.parametrize("limit", [0, 501, "x"])
def test_a_bad_results_limit_is_rejected_with_400(api, limit):
    target = api.create_target()
    assert_error(api.get(f"/targets/{target['id']}/results", params={"limit": limit}), 400, "invalid_argument")


def test_posting_the_same_idempotency_key_twice_gives_the_same_id_and_one_stored_result(api):
    target = api.create_target()
    key = f"key-{uuid.uuid4().hex}"
    first = api.post_result(target["id"], ok=True, latency_ms=7, id=key)
    second = api.post_result(target["id"], ok=True, latency_ms=7, id=key)
    assert second == first
    # The marker result proves the repeat has been processed by the time it is listed.
    marker = api.post_result(target["id"], ok=True, latency_ms=8)
    listed = wait_until(lambda: (lambda r: r if any(x["id"] == marker["id"] for x in r) else None)(api.results(target["id"])))
    assert [r["id"] for r in listed] == [marker["id"], first["id"]]


def test_the_same_idempotency_key_on_two_targets_gives_two_results(api):
    one, two = api.create_target(), api.create_target()
    key = f"shared-{uuid.uuid4().hex[:8]}"
    a = api.post_result(one["id"], ok=True, latency_ms=1, id=key)
    b = api.post_result(two["id"], ok=True, latency_ms=1, id=key)
    assert a["id"] != b["id"]
    assert a["target_id"] == one["id"] and b["target_id"] == two["id"]


def test_a_repeated_idempotency_key_does_not_count_twice_toward_the_failure_threshold(api):
    target = api.create_target(failure_threshold=3)
    key = f"dup-{uuid.uuid4().hex}"
    first = api.post_result(target["id"], ok=False, latency_ms=1, id=key)
    assert api.post_result(target["id"], ok=False, latency_ms=1, id=key) == first
    second = api.post_result(target["id"], ok=False, latency_ms=1)
    third = api.post_result(target["id"], ok=False, latency_ms=1)
    # Counting the repeat would have opened the alert on `second`; the rule opens it on `third`.
    [alert] = wait_until(lambda: api.alerts(target_id=target["id"]), message="no down alert")
    assert alert["opened_by_result_id"] == third["id"], (alert, first, second, third)
    assert len(api.results(target["id"])) == 3
