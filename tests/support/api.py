"""A thin client of the public contract for tests that talk to a running variant.

Methods return the decoded JSON of successful answers and assert the expected status; the raw
``get``/``post``/... return the ``requests.Response``. Every request has a timeout, so a hung variant
fails a test instead of hanging the run, and carries ``Authorization: Bearer <api_key>`` when the client has a
key (a request may override or drop it: ``headers={"Authorization": None}``).
"""
from __future__ import annotations

import uuid
from typing import Any

import requests

DEFAULT_TIMEOUT_S = 15.0


def unique_name(prefix: str = "target") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def describe(response: requests.Response) -> str:
    """``METHOD URL -> STATUS body`` for assertion messages."""
    body = response.text if len(response.text) <= 2000 else response.text[:2000] + "..."
    return f"{response.request.method} {response.request.url} -> {response.status_code} {body}"


class ApiClient:
    def __init__(self, base_url: str, session: requests.Session | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 api_key: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout_s = timeout_s
        self.api_key = api_key
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def fork(self) -> ApiClient:
        """A client with its own session (``requests.Session`` is not shared across threads), and the same key."""
        return ApiClient(self.base_url, requests.Session(), self.timeout_s, self.api_key)

    def with_key(self, api_key: str | None) -> ApiClient:
        """A client of the same api with another key (None: none), on a session of its own."""
        return ApiClient(self.base_url, requests.Session(), self.timeout_s, api_key)

    def close(self) -> None:
        self.session.close()

    # -- raw requests

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    # -- typed helpers (assert success)

    def create_target(self, **fields: Any) -> dict[str, Any]:
        body = {"name": unique_name(), "url": "http://127.0.0.1:9/", **fields}
        response = self.post("/targets", json=body)
        assert response.status_code == 201, describe(response)
        return response.json()

    def get_target(self, target_id: str) -> dict[str, Any]:
        response = self.get(f"/targets/{target_id}")
        assert response.status_code == 200, describe(response)
        return response.json()

    def list_targets(self, **params: Any) -> dict[str, Any]:
        response = self.get("/targets", params=params)
        assert response.status_code == 200, describe(response)
        return response.json()

    def target_count(self) -> int:
        return self.list_targets(limit=1)["total"]

    def delete_target(self, target_id: str) -> None:
        response = self.delete(f"/targets/{target_id}")
        assert response.status_code == 204, describe(response)

    def post_result(self, target_id: str, ok: bool, latency_ms: float = 10.0, **fields: Any) -> dict[str, Any]:
        response = self.post(f"/targets/{target_id}/results", json={"ok": ok, "latency_ms": latency_ms, **fields})
        assert response.status_code == 202, describe(response)
        return response.json()

    def results(self, target_id: str, **params: Any) -> list[dict[str, Any]]:
        response = self.get(f"/targets/{target_id}/results", params=params)
        assert response.status_code == 200, describe(response)
        return response.json()["items"]

    def check(self, target_id: str) -> dict[str, Any]:
        response = self.post(f"/targets/{target_id}/check")
        assert response.status_code == 200, describe(response)
        return response.json()

    def alerts(self, **params: Any) -> list[dict[str, Any]]:
        response = self.get("/alerts", params=params)
        assert response.status_code == 200, describe(response)
        return response.json()["items"]

    def notifications(self, **params: Any) -> list[dict[str, Any]]:
        response = self.get("/notifications", params=params)
        assert response.status_code == 200, describe(response)
        return response.json()["items"]
