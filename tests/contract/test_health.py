"""Liveness, readiness and the OpenAPI document."""
from __future__ import annotations

import re

from tests.support.api import describe
from tests.support.assertions import is_json

# Every public path of the public contract with its methods; path parameters are compared as "{}".
CONTRACT_PATHS = {
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/openapi.json": {"get"},
    "/targets": {"get", "post"},
    "/targets/{}": {"get", "delete"},
    "/targets/{}/results": {"get", "post"},
    "/targets/{}/check": {"post"},
    "/alerts": {"get"},
    "/notifications": {"get"},
}


def test_healthz_answers_200_with_status_ok(api):
    response = api.get("/healthz")
    assert response.status_code == 200, describe(response)
    assert is_json(response)
    assert response.json() == {"status": "ok"}


def test_readyz_answers_200_when_the_variant_serves(api):
    response = api.get("/readyz")
    assert response.status_code == 200, describe(response)
    assert is_json(response)


def test_openapi_json_is_an_openapi_3_1_document_with_every_path(api):
    response = api.get("/openapi.json")
    assert response.status_code == 200, describe(response)
    assert is_json(response)
    document = response.json()
    assert str(document.get("openapi", "")).startswith("3.1"), document.get("openapi")
    assert isinstance(document.get("info"), dict) and document["info"].get("title"), document.get("info")
    paths = {re.sub(r"\{[^}]*\}", "{}", path): set(ops) for path, ops in document.get("paths", {}).items()}
    for path, methods in CONTRACT_PATHS.items():
        if path == "/openapi.json" and path not in paths:
            continue  # documenting the document itself is optional
        assert path in paths, f"{path} missing from the OpenAPI paths: {sorted(paths)}"
        assert methods <= paths[path], f"{path}: documented {sorted(paths[path])}, expected at least {sorted(methods)}"
