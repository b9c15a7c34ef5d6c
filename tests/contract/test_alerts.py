"""The alert rules seen through the API: down and slow alerts, their notifications, the list filters.

Effects may be asynchronous (event variants): every expectation is awaited with ``wait_until``. To
show that something did not happen, a later result with a visible effect is awaited first (results
of one target are evaluated in order), then the absence is asserted.
"""
from __future__ import annotations

import uuid

from tests.support.assertions import (
    assert_alert,
    assert_error,
    assert_newest_first,
    assert_notification,
    parse_time,
)
from tests.support.waiting import wait_for_count, wait_until


def _fail(api, target, **fields):
    return api.post_result(target["id"], ok=False, latency_ms=fields.pop("latency_ms", 20.0), status_code=500, **fields)


def _ok(api, target, latency_ms=20.0):
    return api.post_result(target["id"], ok=True, latency_ms=latency_ms, status_code=200)


def _alert(api, target_id, predicate, message):
    """Wait for the one alert of ``target_id`` matching ``predicate``; return it."""
    def find():
        matches = [a for a in api.alerts(target_id=target_id) if predicate(a)]
        return matches[0] if len(matches) == 1 else None

    return wait_until(find, message=message)


def test_failures_below_the_threshold_open_no_alert_and_the_threshold_th_opens_one_down_alert(api):
    target = api.create_target(failure_threshold=3)
    first, second = _fail(api, target), _fail(api, target)
    assert api.alerts(target_id=target["id"]) == []  # synchronous variants already know; the real check is below
    third = _fail(api, target)
    alert = _alert(api, target["id"], lambda a: a["state"] == "open", "no open alert after 3 failures")
    assert_alert(alert)
    assert alert["kind"] == "down"
    assert alert["target_id"] == target["id"]
    assert alert["resolved_at"] is None
    # Opened by the 3rd failure, not an earlier one, and it is the only alert.
    assert alert["opened_by_result_id"] == third["id"], (first, second, third, alert)
    assert api.alerts(target_id=target["id"]) == [alert]
    [note] = wait_until(lambda: api.notifications(alert_id=alert["id"]), message="no notification for the alert")
    assert_notification(note)
    assert (note["event"], note["channel"], note["status"]) == ("alert_opened", "log", "sent")
    assert note["target_id"] == target["id"]
    assert note["alert_id"] == alert["id"]


def test_a_down_alert_stays_single_under_more_failures_and_an_ok_result_resolves_it(api):
    target = api.create_target(failure_threshold=3)
    failures = [_fail(api, target) for _ in range(3)]
    opened = _alert(api, target["id"], lambda a: a["state"] == "open", "no open alert after 3 failures")
    more = [_fail(api, target) for _ in range(4)]
    recovery = _ok(api, target)
    resolved = _alert(api, target["id"], lambda a: a["state"] == "resolved", "the ok result did not resolve the alert")
    assert_alert(resolved)
    assert resolved["id"] == opened["id"]
    assert resolved["opened_by_result_id"] == failures[2]["id"]
    assert resolved["opened_at"] == opened["opened_at"]
    assert resolved["resolved_at"] is not None
    assert parse_time(resolved["resolved_at"]) >= parse_time(resolved["opened_at"])
    # The resolution came after every extra failure (in order), so none of them opened a second alert.
    assert api.alerts(target_id=target["id"]) == [resolved], more
    notes = wait_for_count(lambda: api.notifications(target_id=target["id"]), 2)
    assert [(n["event"], n["channel"], n["status"]) for n in notes] == [
        ("alert_resolved", "log", "sent"), ("alert_opened", "log", "sent")]
    assert {n["alert_id"] for n in notes} == {opened["id"]}
    assert_newest_first(notes, "created_at")
    results = api.results(target["id"])
    assert results[0]["id"] == recovery["id"] and len(results) == 8


def test_an_ok_result_between_failures_resets_the_consecutive_count(api):
    target = api.create_target(failure_threshold=3)
    _fail(api, target), _fail(api, target), _ok(api, target)
    _fail(api, target), _fail(api, target)
    third_in_a_row = _fail(api, target)
    alert = _alert(api, target["id"], lambda a: True, "no alert after 3 consecutive failures")
    assert alert["opened_by_result_id"] == third_in_a_row["id"]


def test_a_threshold_of_one_opens_on_the_first_failure_and_reopens_after_resolution(api):
    target = api.create_target(failure_threshold=1)
    first = _fail(api, target)
    a1 = _alert(api, target["id"], lambda a: a["opened_by_result_id"] == first["id"], "first failure opened nothing")
    _ok(api, target)
    second = _fail(api, target)
    a2 = _alert(api, target["id"], lambda a: a["opened_by_result_id"] == second["id"], "no new alert after resolution")
    assert a1["id"] != a2["id"]
    alerts = api.alerts(target_id=target["id"])
    assert [(a["id"], a["state"]) for a in alerts] == [(a2["id"], "open"), (a1["id"], "resolved")]


def test_alerts_and_notifications_are_filtered_and_listed_newest_first(api):
    target, other = api.create_target(failure_threshold=1), api.create_target(failure_threshold=1)
    first = _fail(api, target)
    _ok(api, target)
    second = _fail(api, target)
    other_fail = _fail(api, other)
    newer = _alert(api, target["id"], lambda a: a["opened_by_result_id"] == second["id"], "no second alert")
    elsewhere = _alert(api, other["id"], lambda a: a["opened_by_result_id"] == other_fail["id"], "no alert on other")
    older = _alert(api, target["id"], lambda a: a["opened_by_result_id"] == first["id"], "no first alert")
    assert older["state"] == "resolved" and newer["state"] == "open"

    alerts = api.alerts(target_id=target["id"])
    assert [a["id"] for a in alerts] == [newer["id"], older["id"]]
    assert_newest_first(alerts, "opened_at")
    assert [a["id"] for a in api.alerts(target_id=target["id"], state="open")] == [newer["id"]]
    assert [a["id"] for a in api.alerts(target_id=target["id"], state="resolved")] == [older["id"]]
    everything = api.alerts()
    assert {newer["id"], older["id"], elsewhere["id"]} <= {a["id"] for a in everything}
    assert_newest_first(everything, "opened_at")
    assert all(a["state"] == "open" for a in api.alerts(state="open"))
    assert all(a["state"] == "resolved" for a in api.alerts(state="resolved"))
    assert api.alerts(target_id=str(uuid.uuid4())) == []

    notes = wait_for_count(lambda: api.notifications(target_id=target["id"]), 3)
    for note in notes:
        assert_notification(note)
    assert [(n["alert_id"], n["event"]) for n in notes] == [
        (newer["id"], "alert_opened"), (older["id"], "alert_resolved"), (older["id"], "alert_opened")]
    assert_newest_first(notes, "created_at")
    by_alert = api.notifications(alert_id=older["id"])
    assert [n["event"] for n in by_alert] == ["alert_resolved", "alert_opened"]
    assert api.notifications(target_id=target["id"], alert_id=newer["id"]) == [notes[0]]
    assert api.notifications(target_id=other["id"], alert_id=newer["id"]) == []
    assert api.notifications(alert_id=str(uuid.uuid4())) == []
    wait_for_count(lambda: api.notifications(target_id=other["id"]), 1)
    all_notes = api.notifications()
    assert {n["id"] for n in notes} <= {n["id"] for n in all_notes}
    assert_newest_first(all_notes, "created_at")


def test_an_invalid_alert_state_filter_is_rejected_with_400(api):
    for state in ("closed", "OPEN", "1"):
        assert_error(api.get("/alerts", params={"state": state}), 400, "invalid_argument")


def test_a_slow_ok_result_opens_a_slow_alert_an_ok_result_at_the_threshold_resolves_it_and_failures_leave_it(api):
    target = api.create_target(latency_threshold_ms=100, failure_threshold=3)
    slow = _ok(api, target, latency_ms=150)
    alert = _alert(api, target["id"], lambda a: a["state"] == "open", "a 150 ms ok result opened no slow alert")
    assert_alert(alert)
    assert alert["kind"] == "slow"
    assert alert["opened_by_result_id"] == slow["id"]

    _fail(api, target, latency_ms=5000)  # a failure neither resolves nor re-opens a slow alert
    at_threshold = _ok(api, target, latency_ms=100)
    resolved = _alert(api, target["id"], lambda a: a["state"] == "resolved", "a 100 ms ok result did not resolve it")
    assert resolved["id"] == alert["id"]
    stored = {r["id"]: r for r in api.results(target["id"])}
    # Resolved by the 100 ms result, not by the failure before it.
    assert parse_time(resolved["resolved_at"]) >= parse_time(stored[at_threshold["id"]]["received_at"])

    failure = _fail(api, target, latency_ms=5000)  # slow, but a failure: no slow alert
    marker = _ok(api, target, latency_ms=101)  # slower than the threshold: opens the next slow alert
    reopened = _alert(api, target["id"], lambda a: a["state"] == "open", "a 101 ms ok result opened no slow alert")
    assert reopened["opened_by_result_id"] == marker["id"], failure
    alerts = api.alerts(target_id=target["id"])
    assert [(a["kind"], a["state"]) for a in alerts] == [("slow", "open"), ("slow", "resolved")]
    notes = wait_for_count(lambda: api.notifications(target_id=target["id"]), 3)
    assert [(n["event"], n["channel"]) for n in notes] == [
        ("alert_opened", "log"), ("alert_resolved", "log"), ("alert_opened", "log")]


def test_a_target_without_a_latency_threshold_never_opens_a_slow_alert(api):
    target = api.create_target(failure_threshold=1)
    _ok(api, target, latency_ms=500000)
    marker = _fail(api, target)
    alert = _alert(api, target["id"], lambda a: True, "no down alert")
    assert (alert["kind"], alert["opened_by_result_id"]) == ("down", marker["id"])


def test_down_and_slow_alerts_are_independent(api):
    target = api.create_target(latency_threshold_ms=100, failure_threshold=1)
    slow = _ok(api, target, latency_ms=150)
    down = _fail(api, target)
    _alert(api, target["id"], lambda a: a["kind"] == "down" and a["state"] == "open", "no down alert")
    slow_alert = _alert(api, target["id"], lambda a: a["kind"] == "slow", "no slow alert")
    assert slow_alert["state"] == "open" and slow_alert["opened_by_result_id"] == slow["id"]
    _ok(api, target, latency_ms=10)  # fast and ok: resolves both
    _alert(api, target["id"], lambda a: a["kind"] == "down" and a["state"] == "resolved", "down not resolved")
    _alert(api, target["id"], lambda a: a["kind"] == "slow" and a["state"] == "resolved", "slow not resolved")
    assert len(api.alerts(target_id=target["id"])) == 2, down
