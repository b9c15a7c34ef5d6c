"""Webhook notifications delivered to a local sink, and recorded failures."""
from __future__ import annotations

import pytest

from shared.outbound import IDEMPOTENCY_HEADER, WEBHOOK_MAX_ATTEMPTS
from tests.support.http_sinks import closed_port_url
from tests.support.waiting import wait_for_count, wait_until


def _alert_in(payload: dict) -> dict:
    """The alert carried by a webhook payload: ``{"event", "alert": {...}}`` or the alert itself."""
    return payload["alert"] if isinstance(payload.get("alert"), dict) else payload


def test_an_alert_on_a_target_with_a_webhook_is_posted_to_it_and_recorded_as_sent(api, sink):
    path = sink.new_path("hooks")
    target = api.create_target(failure_threshold=1, webhook_url=sink.url(path))
    failure = api.post_result(target["id"], ok=False, latency_ms=5)
    [post] = sink.wait_for_posts(path, 1)
    assert post.content_type.split(";")[0].strip() == "application/json", post.headers
    payload = post.json
    assert payload.get("event", "alert_opened") == "alert_opened", payload
    sent = _alert_in(payload)
    [alert] = wait_until(lambda: api.alerts(target_id=target["id"]), message="no alert")
    assert sent == alert, (sent, alert)
    assert sent["opened_by_result_id"] == failure["id"]
    notes = wait_for_count(lambda: api.notifications(alert_id=alert["id"]), 2)
    by_channel = {n["channel"]: n for n in notes}
    assert set(by_channel) == {"log", "webhook"}, notes
    assert by_channel["webhook"]["status"] == "sent"
    assert by_channel["log"]["status"] == "sent"
    assert by_channel["webhook"]["attempts"] == by_channel["log"]["attempts"] == 1
    assert {n["event"] for n in notes} == {"alert_opened"}
    assert _header(post, IDEMPOTENCY_HEADER) == by_channel["webhook"]["id"]

    api.post_result(target["id"], ok=True, latency_ms=5)
    posts = sink.wait_for_posts(path, 2)
    resolved_payload = posts[1].json
    assert resolved_payload.get("event", "alert_resolved") == "alert_resolved", resolved_payload
    resolved = _alert_in(resolved_payload)
    assert resolved["id"] == alert["id"] and resolved["state"] == "resolved" and resolved["resolved_at"], resolved
    notes = wait_for_count(lambda: api.notifications(alert_id=alert["id"]), 4)
    assert sorted((n["event"], n["channel"], n["status"]) for n in notes) == [
        ("alert_opened", "log", "sent"), ("alert_opened", "webhook", "sent"),
        ("alert_resolved", "log", "sent"), ("alert_resolved", "webhook", "sent")]
    assert len(sink.posts(path)) == 2


@pytest.mark.parametrize("failure", ["answers-500", "closed-port"])
def test_a_webhook_that_fails_is_recorded_as_failed_and_the_log_notification_is_still_sent(api, sink, failure):
    if failure == "answers-500":
        path = sink.new_path("hooks")
        sink.respond(path, 500)
        webhook_url = sink.url(path)
    else:
        path, webhook_url = None, closed_port_url("/hook")
    target = api.create_target(failure_threshold=1, webhook_url=webhook_url)
    api.post_result(target["id"], ok=False, latency_ms=5)
    [alert] = wait_until(lambda: api.alerts(target_id=target["id"]), message="no alert")
    assert alert["state"] == "open"
    notes = wait_for_count(lambda: api.notifications(alert_id=alert["id"]), 2)
    statuses = {n["channel"]: (n["status"], n["attempts"]) for n in notes}
    assert statuses == {"log": ("sent", 1), "webhook": ("failed", WEBHOOK_MAX_ATTEMPTS)}, notes
    if path is not None:
        assert len(sink.posts(path)) == WEBHOOK_MAX_ATTEMPTS  # every POST was tried (and answered 500)


def test_a_webhook_that_fails_twice_then_answers_is_recorded_sent_after_three_attempts_with_one_key(api, sink):
    path = sink.new_path("hooks")
    sink.respond_first(path, [500, 503])
    target = api.create_target(failure_threshold=1, webhook_url=sink.url(path))
    api.post_result(target["id"], ok=False, latency_ms=5)
    [alert] = wait_until(lambda: api.alerts(target_id=target["id"]), message="no alert")
    notes = wait_for_count(lambda: api.notifications(alert_id=alert["id"]), 2)
    by_channel = {n["channel"]: n for n in notes}
    assert (by_channel["webhook"]["status"], by_channel["webhook"]["attempts"]) == ("sent", 3), notes
    posts = sink.posts(path)
    assert len(posts) == 3
    assert {_header(post, IDEMPOTENCY_HEADER) for post in posts} == {by_channel["webhook"]["id"]}
    assert all(post.json == posts[0].json for post in posts)


def _header(received, name: str) -> str | None:
    return next((value for key, value in received.headers.items() if key.lower() == name.lower()), None)
