"""Domain objects as the JSON objects of the public contract.

Each function returns a new dict with exactly the contract's fields, in the contract's order (the
order of the matching response model in :mod:`shared.http.schemas`). Times are :func:`shared.domain.iso`
strings, absent times are ``None``, and ``latency_ms`` is always a float, so every variant renders the
same bytes whatever its storage or wire format returned.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .domain import Alert, CheckResult, Notification, Target, iso

Json = dict[str, Any]


def _optional_iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def target_json(target: Target) -> Json:
    return {
        "id": target.id,
        "name": target.name,
        "url": target.url,
        "interval_s": target.interval_s,
        "failure_threshold": target.failure_threshold,
        "latency_threshold_ms": target.latency_threshold_ms,
        "webhook_url": target.webhook_url,
        "created_at": iso(target.created_at),
    }


def result_json(result: CheckResult) -> Json:
    return {
        "id": result.id,
        "target_id": result.target_id,
        "ok": result.ok,
        "latency_ms": float(result.latency_ms),
        "status_code": result.status_code,
        "checked_at": iso(result.checked_at),
        "received_at": iso(result.received_at),
    }


def alert_json(alert: Alert) -> Json:
    return {
        "id": alert.id,
        "target_id": alert.target_id,
        "kind": alert.kind,
        "state": alert.state,
        "opened_at": iso(alert.opened_at),
        "resolved_at": _optional_iso(alert.resolved_at),
        "opened_by_result_id": alert.opened_by_result_id,
    }


def notification_json(notification: Notification) -> Json:
    return {
        "id": notification.id,
        "alert_id": notification.alert_id,
        "target_id": notification.target_id,
        "event": notification.event,
        "channel": notification.channel,
        "status": notification.status,
        "attempts": notification.attempts,
        "message": notification.message,
        "created_at": iso(notification.created_at),
    }
