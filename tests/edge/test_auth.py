"""The API key check at the edge: 401 without a known key, 403 without the scope, the tenant reaches the backend."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.edge import OTHER_KEY, READ_KEY, FakeBackend, error_of, valid_target

TARGET = "/targets/0b0c5f5e-8a6b-4e55-9a3c-8b7f5d2c1a00"
PUBLIC_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/targets", {}),
    ("POST", "/targets", {"json": valid_target()}),
    ("GET", TARGET, {}),
    ("DELETE", TARGET, {}),
    ("POST", f"{TARGET}/results", {"json": {"ok": True, "latency_ms": 1}}),
    ("GET", f"{TARGET}/results", {}),
    ("POST", f"{TARGET}/check", {}),
    ("GET", "/alerts", {}),
    ("GET", "/notifications", {}),
    ("GET", "/no/such/route", {}),
]
WRITES = [route for route in PUBLIC_ROUTES if route[0] not in ("GET", "HEAD")]
READS = [route for route in PUBLIC_ROUTES if route[0] == "GET" and route[1] != "/no/such/route"]


def _ids(routes: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [f"{method} {path}" for method, path, _ in routes]


@pytest.mark.parametrize(("method", "path", "kwargs"), PUBLIC_ROUTES, ids=_ids(PUBLIC_ROUTES))
@pytest.mark.parametrize("authorization", [None, "Bearer mk_not-a-key", "Basic dXNlcjpwdw==", "Bearer", "mk_x"],
                         ids=["no header", "unknown key", "basic scheme", "no key", "no scheme"])
def test_every_route_but_health_answers_401_without_a_valid_key(
    client: FlaskClient, backend: FakeBackend, method: str, path: str, kwargs: dict[str, Any], authorization: str | None,
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    client.environ_base.pop("HTTP_AUTHORIZATION")
    response = client.open(path, method=method, headers=headers, **kwargs)
    assert error_of(response)[:2] == (401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert backend.calls == []


@pytest.mark.parametrize(("method", "path", "kwargs"), WRITES, ids=_ids(WRITES))
def test_a_read_only_key_gets_403_on_every_write(
    client: FlaskClient, backend: FakeBackend, method: str, path: str, kwargs: dict[str, Any],
) -> None:
    response = client.open(path, method=method, headers={"Authorization": f"Bearer {READ_KEY}"}, **kwargs)
    assert error_of(response)[:2] == (403, "forbidden")
    assert backend.calls == []


@pytest.mark.parametrize(("method", "path", "kwargs"), READS, ids=_ids(READS))
def test_a_read_only_key_may_read(client: FlaskClient, method: str, path: str, kwargs: dict[str, Any]) -> None:
    response = client.open(path, method=method, headers={"Authorization": f"Bearer {READ_KEY}"}, **kwargs)
    assert response.status_code in (200, 404)
    assert response.status_code == 200 or error_of(response)[1] == "not_found"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json"])
def test_health_and_the_openapi_document_need_no_key(client: FlaskClient, path: str) -> None:
    client.environ_base.pop("HTTP_AUTHORIZATION")
    assert client.get(path).status_code == 200


def test_the_bearer_scheme_is_case_insensitive(client: FlaskClient) -> None:
    key = client.environ_base.pop("HTTP_AUTHORIZATION").split(" ", 1)[1]
    assert client.get("/targets", headers={"Authorization": f"bearer {key}"}).status_code == 200


def test_the_backend_is_called_with_the_tenant_of_the_key(client: FlaskClient, backend: FakeBackend) -> None:
    client.get("/targets")
    client.get("/alerts", headers={"Authorization": f"Bearer {OTHER_KEY}"})
    assert backend.tenants == ["dev", "other"]


def test_the_openapi_document_declares_the_bearer_scheme(openapi: dict[str, Any]) -> None:
    assert openapi["components"]["securitySchemes"]["bearerAuth"] | {"description": ""} == {
        "type": "http", "scheme": "bearer", "description": "",
    }
    assert openapi["security"] == [{"bearerAuth": []}]
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            if path in ("/healthz", "/readyz", "/openapi.json"):
                assert operation["security"] == [], f"{method} {path}"
                assert "401" not in operation["responses"]
            else:
                assert "security" not in operation, f"{method} {path}"
                assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"


def test_the_public_json_of_a_target_does_not_show_its_tenant(client: FlaskClient, backend: FakeBackend) -> None:
    created = client.post("/targets", json=valid_target()).get_json()
    assert backend.targets[created["id"]].tenant == "dev"
    assert "tenant" not in created and "tenant" not in client.get(f"/targets/{created['id']}").get_json()
