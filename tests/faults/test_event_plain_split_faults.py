"""Reliability of the ``event-plain-split`` variant on the real broker, as real processes.

What must hold: results the api accepted while alerting or notification was down are applied once each, in order,
when it is back (the outbox and the durable queues keep them; the ledger drops what comes twice); a webhook is
sent once; every broker connection dropped at once is re-established by each process by itself.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.launcher import RunningVariant, start
from tests.support.api import ApiClient
from tests.support.broker import close_connections, require_broker
from tests.support.http_sinks import HttpSink
from tests.support.waiting import wait_for_count, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.broker]


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpSink]:
    with HttpSink() as server:
        yield server


@pytest.fixture(scope="module")
def running(sink: HttpSink) -> Iterator[RunningVariant]:
    require_broker()
    variant = start("event-plain-split", outbound_allow="127.0.0.1/32")
    try:
        yield variant
    finally:
        variant.stop()  # its teardown deletes the run's namespace


@pytest.fixture
def api(running: RunningVariant) -> Iterator[ApiClient]:
    client = ApiClient(running.base_url, api_key=running.api_key)
    yield client
    client.close()


def test_results_accepted_while_alerting_is_down_are_applied_once_each_in_order_when_it_is_back(running, api):
    target = api.create_target(failure_threshold=3)
    running.kill_process("alerting")
    posted = [api.post_result(target["id"], ok=False, latency_ms=1, id=f"k{i}") for i in range(3)]
    assert api.post_result(target["id"], ok=False, latency_ms=1, id="k0") == posted[0]  # a repeat: recorded once
    running.restart_process("alerting")
    [alert] = wait_until(lambda: api.alerts(target_id=target["id"]), timeout=20, message="no alert after the restart")
    assert alert["opened_by_result_id"] == posted[2]["id"]
    api.post_result(target["id"], ok=True, latency_ms=1)
    wait_until(lambda: [a for a in api.alerts(target_id=target["id"]) if a["state"] == "resolved"],
               message="the ok result did not resolve the alert")
    assert len(api.alerts(target_id=target["id"])) == 1


def test_an_alert_change_made_while_notification_is_down_is_delivered_and_its_webhook_sent_once(running, api, sink):
    path = sink.new_path("hooks")
    target = api.create_target(failure_threshold=1, webhook_url=sink.url(path))
    running.kill_process("notification")
    api.post_result(target["id"], ok=False, latency_ms=1)
    wait_until(lambda: api.alerts(target_id=target["id"]), message="no alert")
    running.restart_process("notification")
    notes = wait_for_count(lambda: api.notifications(target_id=target["id"]), 2, timeout=20)
    assert sorted((n["channel"], n["status"]) for n in notes) == [("log", "sent"), ("webhook", "sent")]
    assert len(sink.posts(path)) == 1


def test_every_broker_connection_dropped_at_once_is_reestablished_and_nothing_accepted_is_lost(running, api):
    target = api.create_target(failure_threshold=2)
    assert close_connections(running.namespace) >= 7  # every service's consumers and relays, the api's calls
    posted = []
    for i in range(2):  # the api notices its dropped connection on its next call and opens a new one
        posted.append(wait_until(lambda i=i: _accepted(api, target["id"], f"after-drop-{i}"), timeout=20))
    [alert] = wait_until(lambda: api.alerts(target_id=target["id"]), timeout=20, message="no alert after the drop")
    assert alert["opened_by_result_id"] == posted[1]["id"]


def _accepted(api: ApiClient, target_id: str, key: str) -> dict | None:
    response = api.post(f"/targets/{target_id}/results", json={"ok": False, "latency_ms": 1, "id": key})
    return response.json() if response.status_code == 202 else None
