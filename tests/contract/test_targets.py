"""Target CRUD: create, read, list with paging, delete, conflicts."""
from __future__ import annotations

import uuid
from urllib.parse import urljoin

import pytest

from tests.support.api import describe, unique_name
from tests.support.assertions import assert_error, assert_target, is_json, parse_time


def test_creating_a_target_answers_201_with_every_field_and_a_location_header(api):
    body = {
        "name": unique_name(),
        "url": "https://example.com/health?x=1",
        "interval_s": 30,
        "failure_threshold": 5,
        "latency_threshold_ms": 250,
        "webhook_url": "http://127.0.0.1:9/hooks/a",
    }
    response = api.post("/targets", json=body)
    assert response.status_code == 201, describe(response)
    assert is_json(response)
    target = response.json()
    assert_target(target)
    assert {k: target[k] for k in body} == body
    location = response.headers.get("Location")
    assert location, f"no Location header: {response.headers}"
    assert urljoin(api.base_url + "/", location) == f"{api.base_url}/targets/{target['id']}", location
    fetched = api.get(f"/targets/{target['id']}")
    assert fetched.status_code == 200, describe(fetched)
    assert fetched.json() == target


def test_a_target_created_with_only_name_and_url_gets_the_defaults(api):
    target = api.create_target(name=unique_name(), url="http://example.com/")
    assert target["interval_s"] == 60
    assert target["failure_threshold"] == 3
    assert target["latency_threshold_ms"] is None
    assert target["webhook_url"] is None
    assert target["url"] == "http://example.com/"


def test_getting_a_target_returns_what_was_created(api):
    target = api.create_target()
    assert api.get_target(target["id"]) == target


def test_targets_are_listed_oldest_first_with_their_total(api):
    created = [api.create_target(name=unique_name(f"list{i}")) for i in range(3)]
    total = api.target_count()
    page = api.list_targets(limit=3, offset=total - 3)
    assert page["total"] == total
    assert [t["id"] for t in page["items"]] == [t["id"] for t in created]
    assert page["items"] == created
    times = [parse_time(t["created_at"]) for t in page["items"]]
    assert times == sorted(times)


def test_targets_are_paged_with_limit_and_offset(api):
    created = [api.create_target(name=unique_name(f"page{i}")) for i in range(3)]
    total = api.target_count()
    first = api.list_targets(limit=2, offset=total - 3)
    second = api.list_targets(limit=2, offset=total - 1)
    beyond = api.list_targets(limit=2, offset=total)
    assert first["total"] == second["total"] == beyond["total"] == total
    assert [t["id"] for t in first["items"]] == [created[0]["id"], created[1]["id"]]
    assert [t["id"] for t in second["items"]] == [created[2]["id"]]
    assert beyond["items"] == []


def test_listing_targets_without_parameters_uses_limit_50_offset_0(api):
    api.create_target()
    page = api.list_targets()
    assert page["total"] >= 1
    assert len(page["items"]) == min(50, page["total"])
    assert page["items"] == api.list_targets(limit=50, offset=0)["items"]


@pytest.mark.parametrize("limit", [1, 500])
def test_a_limit_at_its_bounds_is_accepted(api, limit):
    api.create_target()
    page = api.list_targets(limit=limit)
    assert 1 <= len(page["items"]) <= limit


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"limit": -1}, {"limit": "ten"}, {"limit": 1.5}, {"offset": -1}, {"offset": "x"}],
    ids=["limit-0", "limit-501", "limit-negative", "limit-text", "limit-float", "offset-negative", "offset-text"],
)
def test_a_bad_paging_parameter_is_rejected(api, params):
    assert_error(api.get("/targets", params=params), 400, "invalid_argument")


def test_deleting_a_target_answers_204_and_then_it_is_gone(api):
    target = api.create_target()
    response = api.delete(f"/targets/{target['id']}")
    assert response.status_code == 204, describe(response)
    assert response.content == b""
    assert_error(api.get(f"/targets/{target['id']}"), 404, "not_found")
    assert target["id"] not in [t["id"] for t in api.list_targets(limit=500, offset=max(0, api.target_count() - 500))["items"]]


def test_deleting_a_target_twice_answers_404_the_second_time(api):
    target = api.create_target()
    api.delete_target(target["id"])
    assert_error(api.delete(f"/targets/{target['id']}"), 404, "not_found")


def test_deleting_an_unknown_target_answers_404(api):
    assert_error(api.delete(f"/targets/{uuid.uuid4()}"), 404, "not_found")


def test_getting_an_unknown_target_answers_404(api):
    assert_error(api.get(f"/targets/{uuid.uuid4()}"), 404, "not_found")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "12345", "00000000-0000-0000-0000-00000000000g"])
def test_a_target_id_that_is_not_a_uuid_answers_404(api, bad_id):
    assert_error(api.get(f"/targets/{bad_id}"), 404, "not_found")
    assert_error(api.delete(f"/targets/{bad_id}"), 404, "not_found")
    assert_error(api.get(f"/targets/{bad_id}/results"), 404, "not_found")
    assert_error(api.post(f"/targets/{bad_id}/results", json={"ok": True, "latency_ms": 1}), 404, "not_found")
    assert_error(api.post(f"/targets/{bad_id}/check"), 404, "not_found")


def test_creating_a_target_with_a_name_already_taken_answers_409_and_changes_nothing(api):
    name = unique_name()
    first = api.create_target(name=name)
    before = api.target_count()
    response = api.post("/targets", json={"name": name, "url": "http://example.org/"})
    assert_error(response, 409, "conflict")
    assert api.target_count() == before
    assert api.get_target(first["id"]) == first


def test_the_name_of_a_deleted_target_can_be_reused(api):
    name = unique_name()
    first = api.create_target(name=name)
    api.delete_target(first["id"])
    second = api.create_target(name=name)
    assert second["id"] != first["id"]
