"""Failures of the plain split (``direct-plain-split-http``), as real processes: a peer stopped after the monitor
recorded a result. The move replaced the monolith's one transaction by outboxes: the result is accepted (202) and
kept, its evaluation or notification waits, and once the peer is back the relay hands it over, once, in order."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.launcher import RunningVariant, start
from tests.support.api import ApiClient
from tests.support.assertions import assert_error
from tests.support.http_sinks import HttpSink
from tests.support.waiting import wait_for_count, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def running() -> Iterator[RunningVariant]:
    with start("direct-plain-split-http") as variant:
        yield variant


@pytest.fixture
def api(running: RunningVariant) -> Iterator[ApiClient]:
    client = ApiClient(running.base_url, api_key=running.api_key)
    yield client
    client.close()


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpSink]:
    with HttpSink() as server:
        yield server


def test_results_accepted_while_alerting_is_stopped_are_evaluated_in_order_once_it_is_back(running, api):
    target = api.create_target(failure_threshold=2)
    running.stop_process("alerting")
    try:
        first = api.post_result(target["id"], ok=False)
        second = api.post_result(target["id"], ok=False)  # the second failure in a row opens the alert
        assert_error(api.get("/alerts", params={"target_id": target["id"]}), 503, "unavailable")
    finally:
        running.restart_process("alerting")
    [alert] = wait_until(lambda: api.alerts(target_id=target["id"]), message="the waiting results opened no alert")
    assert alert["opened_by_result_id"] == second["id"], first
    wait_for_count(lambda: api.notifications(target_id=target["id"]), 1)


def test_an_alert_change_whose_notification_was_stopped_is_notified_and_posted_once_when_it_is_back(running, api, sink):
    path = sink.new_path("hooks")
    target = api.create_target(failure_threshold=1, webhook_url=sink.url(path))
    running.stop_process("notification")
    try:
        api.post_result(target["id"], ok=False)
        wait_until(lambda: api.alerts(target_id=target["id"]), message="alerting did not open the alert")
        assert_error(api.get("/notifications", params={"target_id": target["id"]}), 503, "unavailable")
    finally:
        running.restart_process("notification")
    notes = wait_for_count(lambda: api.notifications(target_id=target["id"]), 2)
    assert sorted((n["channel"], n["status"]) for n in notes) == [("log", "sent"), ("webhook", "sent")]
    sink.wait_for_posts(path, 1)
    api.post_result(target["id"], ok=True)  # a later change of the target: the first is not sent again
    sink.wait_for_posts(path, 2)
    assert [post.json["event"] for post in sink.posts(path)] == ["alert_opened", "alert_resolved"]
