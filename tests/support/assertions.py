"""Assertions about the shapes of the public contract."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import requests

from .api import describe

TARGET_FIELDS = ["id", "name", "url", "interval_s", "failure_threshold", "latency_threshold_ms", "webhook_url", "created_at"]
RESULT_FIELDS = ["id", "target_id", "ok", "latency_ms", "status_code", "checked_at", "received_at"]
ALERT_FIELDS = ["id", "target_id", "kind", "state", "opened_at", "resolved_at", "opened_by_result_id"]
NOTIFICATION_FIELDS = ["id", "alert_id", "target_id", "event", "channel", "status", "attempts", "message", "created_at"]
ERROR_CODES = {
    400: "invalid_argument", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large", 415: "unsupported_media_type", 500: "internal", 503: "unavailable", 504: "timeout",
}


def is_json(response: requests.Response) -> bool:
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def assert_error(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """``response`` is the contract's error answer: ``status``, a JSON type, ``{"error": {"code", "message"}}``."""
    assert response.status_code == status, describe(response)
    assert is_json(response), f"error answer is not JSON: {response.headers.get('Content-Type')!r}: {describe(response)}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), describe(response)
    error = body["error"]
    assert error.get("code") == (code or ERROR_CODES[status]), describe(response)
    assert isinstance(error.get("message"), str) and error["message"], describe(response)
    assert "Traceback" not in response.text and "<html" not in response.text.lower(), describe(response)
    return body


def assert_uuid(value: Any) -> None:
    assert isinstance(value, str), value
    assert str(uuid.UUID(value)) == value.lower(), value


def parse_time(value: Any) -> datetime:
    """An ISO 8601 UTC time of the contract, as an aware ``datetime``."""
    assert isinstance(value, str), value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(0), f"not UTC: {value}"
    return moment


def assert_target(body: Any) -> None:
    assert isinstance(body, dict) and set(body) == set(TARGET_FIELDS), body
    assert_uuid(body["id"])
    parse_time(body["created_at"])


def assert_result(body: Any) -> None:
    assert isinstance(body, dict) and set(body) == set(RESULT_FIELDS), body
    assert_uuid(body["id"])
    assert_uuid(body["target_id"])
    assert isinstance(body["ok"], bool), body
    assert isinstance(body["latency_ms"], (int, float)) and not isinstance(body["latency_ms"], bool), body
    assert body["status_code"] is None or isinstance(body["status_code"], int), body
    parse_time(body["checked_at"])
    parse_time(body["received_at"])


def assert_alert(body: Any) -> None:
    assert isinstance(body, dict) and set(body) == set(ALERT_FIELDS), body
    assert_uuid(body["id"])
    assert body["kind"] in ("down", "slow"), body
    assert body["state"] in ("open", "resolved"), body
    parse_time(body["opened_at"])
    assert (body["resolved_at"] is None) == (body["state"] == "open"), body
    if body["resolved_at"] is not None:
        assert parse_time(body["resolved_at"]) >= parse_time(body["opened_at"]), body


def assert_notification(body: Any) -> None:
    assert isinstance(body, dict) and set(body) == set(NOTIFICATION_FIELDS), body
    assert_uuid(body["id"])
    assert body["event"] in ("alert_opened", "alert_resolved"), body
    assert body["channel"] in ("log", "webhook"), body
    assert body["status"] in ("sent", "failed"), body
    assert isinstance(body["attempts"], int) and not isinstance(body["attempts"], bool) and body["attempts"] >= 1, body
    assert body["channel"] == "webhook" or body["attempts"] == 1, body
    assert isinstance(body["message"], str), body
    parse_time(body["created_at"])


def assert_newest_first(items: list[dict[str, Any]], field: str) -> None:
    times = [parse_time(item[field]) for item in items]
    assert times == sorted(times, reverse=True), f"not newest first by {field}: {[item[field] for item in items]}"
