"""Fixtures of the edge tests: the public HTTP edge on a fake backend, through Flask's test client."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.http.app import create_app
from shared.http.backend import Backend
from tests.support.edge import FULL_KEY, KEYS, FakeBackend, create


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def client(backend: FakeBackend) -> FlaskClient:
    checked: Backend = backend  # the fake satisfies the protocol
    client = create_app(checked, KEYS).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {FULL_KEY}"  # every request has the full key unless it says otherwise
    return client


@pytest.fixture
def target_id(client: FlaskClient) -> str:
    return create(client)["id"]


@pytest.fixture
def openapi(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()
