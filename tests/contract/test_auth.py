"""API keys and tenants over a real variant: no key, no answer (health aside); a read-only key does not write; one
tenant neither sees nor touches another tenant's targets, results, alerts or notifications.

The run is started with three keys (``conftest.TENANT_KEYS``): ``api`` is tenant ``dev`` (read and write), ``other``
another tenant with both scopes, ``reader`` a third tenant with ``read`` only. Effects may be asynchronous (event
variants): what must appear is awaited; what must not is asserted after a later effect of the same target shows.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.api import ApiClient
from tests.support.assertions import assert_error
from tests.support.waiting import wait_until

MISSING = "/targets/00000000-0000-4000-8000-000000000000"


@pytest.fixture
def other(api) -> Iterator[ApiClient]:
    client = api.with_key(api.running.api_keys["other"])
    yield client
    client.close()


@pytest.fixture
def reader(api) -> Iterator[ApiClient]:
    client = api.with_key(api.running.api_keys["reader"])
    yield client
    client.close()


@pytest.fixture
def anonymous(api) -> Iterator[ApiClient]:
    client = api.with_key(None)
    yield client
    client.close()


def _routes(target_id: str) -> list[tuple[str, str, dict]]:
    path = f"/targets/{target_id}"
    return [
        ("GET", "/targets", {}),
        ("POST", "/targets", {"json": {"name": f"t-{uuid.uuid4().hex}", "url": "http://127.0.0.1:9/"}}),
        ("GET", path, {}),
        ("DELETE", path, {}),
        ("POST", f"{path}/results", {"json": {"ok": True, "latency_ms": 1.0}}),
        ("GET", f"{path}/results", {}),
        ("POST", f"{path}/check", {}),
        ("GET", "/alerts", {}),
        ("GET", "/notifications", {}),
    ]


def test_every_public_route_answers_401_without_a_key_or_with_an_unknown_one(api, anonymous) -> None:
    target = api.create_target()
    for method, path, kwargs in _routes(target["id"]):
        response = anonymous.request(method, path, **kwargs)
        assert_error(response, 401, "unauthenticated")
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), path
        wrong = anonymous.request(method, path, headers={"Authorization": "Bearer mk_not-a-key-of-this-api"}, **kwargs)
        assert_error(wrong, 401, "unauthenticated")
    assert api.get_target(target["id"])["id"] == target["id"]  # nothing was deleted
    assert api.results(target["id"]) == []  # nor recorded


def test_health_readiness_and_the_openapi_document_need_no_key(anonymous) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert anonymous.get(path).status_code == 200, path
    assert "bearerAuth" in anonymous.get("/openapi.json").json()["components"]["securitySchemes"]


def test_a_read_only_key_reads_but_every_write_is_403(reader) -> None:
    assert reader.list_targets()["total"] == 0  # its tenant has none
    for method, path, kwargs in _routes(str(uuid.uuid4())):
        if method != "GET":
            assert_error(reader.request(method, path, **kwargs), 403, "forbidden")
    assert reader.list_targets()["total"] == 0


def test_a_tenant_does_not_see_or_read_another_tenants_targets(api, other) -> None:
    mine = api.create_target()
    assert mine["id"] not in {t["id"] for t in other.list_targets(limit=100)["items"]}
    for path in (f"/targets/{mine['id']}", f"/targets/{mine['id']}/results"):
        assert_error(other.get(path), 404, "not_found")
    assert_error(other.get(MISSING), 404, "not_found")  # the same answer as for a target that does not exist


def test_a_tenant_cannot_delete_post_results_to_or_probe_another_tenants_target(api, other) -> None:
    mine = api.create_target(failure_threshold=1)
    assert_error(other.delete(f"/targets/{mine['id']}"), 404, "not_found")
    posted = other.post(f"/targets/{mine['id']}/results", json={"ok": False, "latency_ms": 1.0, "id": "k-other"})
    assert_error(posted, 404, "not_found")
    assert_error(other.post(f"/targets/{mine['id']}/check"), 404, "not_found")
    assert api.get_target(mine["id"]) == mine
    own = api.post_result(mine["id"], ok=True)  # a later result of the target: the refused ones would be before it
    wait_until(lambda: [r["id"] for r in api.results(mine["id"])] == [own["id"]],
               message="the target has results another tenant posted")
    assert api.alerts(target_id=mine["id"]) == []  # the refused failure (threshold 1) opened nothing


def test_the_same_target_name_may_exist_once_in_each_tenant(api, other) -> None:
    name = f"shared-{uuid.uuid4().hex}"
    mine, theirs = api.create_target(name=name), other.create_target(name=name)
    assert mine["id"] != theirs["id"] and mine["name"] == theirs["name"] == name
    assert_error(api.post("/targets", json={"name": name, "url": "http://127.0.0.1:9/"}), 409, "conflict")
    assert "tenant" not in mine  # the public shape has no tenant


def test_a_tenant_lists_only_its_own_alerts_and_notifications(api, other) -> None:
    mine, theirs = api.create_target(failure_threshold=1), other.create_target(failure_threshold=1)
    api.post_result(mine["id"], ok=False, status_code=500)
    other.post_result(theirs["id"], ok=False, status_code=500)
    [my_alert] = wait_until(lambda: api.alerts(target_id=mine["id"]) or None, message="no alert for dev's target")
    [their_alert] = wait_until(lambda: other.alerts(target_id=theirs["id"]) or None, message="no alert for other's")
    wait_until(lambda: api.notifications(alert_id=my_alert["id"]), message="no notification for dev's alert")
    wait_until(lambda: other.notifications(alert_id=their_alert["id"]), message="no notification for other's alert")

    assert api.alerts(target_id=theirs["id"]) == [] and other.alerts(target_id=mine["id"]) == []
    assert their_alert["id"] not in {a["id"] for a in api.alerts()}
    assert my_alert["id"] not in {a["id"] for a in other.alerts()}
    assert api.notifications(alert_id=their_alert["id"]) == [] and api.notifications(target_id=theirs["id"]) == []
    assert other.notifications(alert_id=my_alert["id"]) == [] and other.notifications(target_id=mine["id"]) == []
    assert my_alert["id"] not in {n["alert_id"] for n in other.notifications()}
