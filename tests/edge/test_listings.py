"""Alerts and notifications at the edge: their fields and filters."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from shared.serialize import alert_json, notification_json
from tests.support.edge import ALERT, NOTIFICATION, FakeBackend, error_of

# --------------------------------------------------------------------------- alerts and notifications

def test_alerts_are_listed_as_items_with_the_contract_fields(client: FlaskClient, backend: FakeBackend) -> None:
    backend.alerts = [ALERT]
    body = client.get("/alerts").get_json()
    assert body == {"items": [alert_json(ALERT)]}
    assert list(body["items"][0]) == ["id", "target_id", "kind", "state", "opened_at", "resolved_at", "opened_by_result_id"]
    assert backend.calls[-1] == ("list_alerts", (None, None))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("target_id=t1&state=open", ("t1", "open")),
        ("state=resolved", (None, "resolved")),
        ("target_id=", (None, None)),
    ],
)
def test_alert_filters_are_passed_to_the_backend(
    client: FlaskClient, backend: FakeBackend, query: str, expected: tuple[str | None, str | None],
) -> None:
    assert client.get(f"/alerts?{query}").status_code == 200
    assert backend.calls[-1] == ("list_alerts", expected)


@pytest.mark.parametrize("query", ["state=closed", "state=OPEN", "state=", "kind=down", "state=open&state=resolved"])
def test_bad_alert_filters_are_rejected(client: FlaskClient, backend: FakeBackend, query: str) -> None:
    assert error_of(client.get(f"/alerts?{query}"))[:2] == (400, "invalid_argument")
    assert backend.calls == []


def test_notifications_are_listed_and_filtered(client: FlaskClient, backend: FakeBackend) -> None:
    backend.notifications = [NOTIFICATION]
    body = client.get(f"/notifications?target_id={ALERT.target_id}&alert_id={ALERT.id}").get_json()
    assert body == {"items": [notification_json(NOTIFICATION)]}
    assert list(body["items"][0]) == [
        "id", "alert_id", "target_id", "event", "channel", "status", "attempts", "message", "created_at"]
    assert backend.calls[-1] == ("list_notifications", (ALERT.target_id, ALERT.id))


def test_an_unknown_notification_filter_is_rejected(client: FlaskClient) -> None:
    assert error_of(client.get("/notifications?state=open"))[:2] == (400, "invalid_argument")
