"""Reliability of the ``event-split`` variant on the real broker, as real processes.

What must hold: what the api accepted is not lost while a service is down
and is applied exactly once when it is back; a message its handler cannot take ends in the dead-letter
queue after a bounded number of tries while the others keep flowing; a dropped broker connection is
re-established by itself, and while the broker is unreachable the edge answers 503 at once (never
hangs, never 500); an event delivered again changes nothing; a webhook that hangs delays no other
target's notifications, not even those of its partition. With two workers per service, each
service's partitions are shared by both, and those of a worker killed with SIGKILL move to the survivor
with nothing lost.
"""
from __future__ import annotations

import inspect
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

import pika
import pytest
import requests

from event_driven.monolith.bus import partition_of
from event_driven.monolith.events import AlertOpened, CheckCompleted
from event_driven.monolith.handlers import MONITOR, alert_changed
from event_driven.split.codec import encode
from event_driven.split.rabbitmq_topology import (
    dead_letter_queue_name,
    exchange_name,
    group_queues,
    partition_headers,
)
from harness.auth_keys import keys_for
from harness.launcher import ROOT, RunningVariant, free_port, start
from harness.topology import render, variant
from shared.domain import Alert, AlertChange, CheckResult, RuleParams, derived_id
from tests.support.api import ApiClient, describe, unique_name
from tests.support.assertions import assert_error
from tests.support.background import BackgroundClient
from tests.support.broker import broker_url, close_connections, delete_namespace, require_broker
from tests.support.http_sinks import HttpSink
from tests.support.waiting import wait_for_count, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.broker]

CALL_TIMEOUT_S = 3.0
ANSWER_WITHIN_S = CALL_TIMEOUT_S + 2.0
"""The longest an answer may take: the call deadline plus the edge's own work and scheduling."""


@pytest.fixture(scope="module")
def running() -> Iterator[RunningVariant]:
    require_broker()
    variant_ = start("event-split", extra_env={"CALL_TIMEOUT_S": str(CALL_TIMEOUT_S)})
    try:
        yield variant_
    finally:
        variant_.stop()
        delete_namespace(variant_.namespace)


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpSink]:
    with HttpSink() as server:
        yield server


@pytest.fixture
def api(running: RunningVariant) -> Iterator[ApiClient]:
    client = ApiClient(running.base_url, api_key=running.api_key, timeout_s=3 * ANSWER_WITHIN_S)
    yield client
    client.close()


def failing_target(api: ApiClient, **fields) -> dict:
    return api.create_target(name=unique_name("rel"), failure_threshold=1, **fields)


def test_notifications_held_while_the_notification_service_is_down_arrive_exactly_once(running, api, sink):
    hook = sink.new_path()
    running.stop_process("notification")
    targets = [failing_target(api, webhook_url=sink.url(hook)) for _ in range(5)]
    for target in targets:
        api.post_result(target["id"], ok=False)
    for target in targets:  # alerting carried on: the alerts exist, their notifications wait in the queue
        wait_for_count(lambda t=target: api.alerts(target_id=t["id"]), 1, timeout=5)
    running.restart_process("notification")
    for target in targets:  # different targets are delivered at once, in no order: wait for each
        notes = wait_for_count(lambda t=target: api.notifications(target_id=t["id"]), 2)
        assert sorted((n["event"], n["channel"]) for n in notes) == [("alert_opened", "log"), ("alert_opened", "webhook")]
    posted = sorted(r.json["alert"]["target_id"] for r in sink.requests(hook))
    assert posted == sorted(t["id"] for t in targets)  # one webhook POST per alert, none twice


def test_a_hanging_webhook_does_not_delay_the_notifications_of_another_target_in_its_partition(running, api, sink):
    by_partition: dict[int, list[dict]] = {}
    while not any(len(targets) == 2 for targets in by_partition.values()):  # two targets of one partition
        target = failing_target(api, webhook_url=sink.url(sink.new_path("lane")))
        by_partition.setdefault(partition_of(target["id"]), []).append(target)
    slow, fast = next(targets for targets in by_partition.values() if len(targets) == 2)
    slow_hook, fast_hook = (urlsplit(target["webhook_url"]).path for target in (slow, fast))
    release = sink.hold(slow_hook)
    try:
        api.post_result(slow["id"], ok=False)
        sink.wait_for_posts(slow_hook, 1)  # its delivery now waits on the hanging receiver (up to the 3 s budget)
        api.post_result(fast["id"], ok=False)
        sink.wait_for_posts(fast_hook, 1)
        assert api.notifications(target_id=slow["id"]) == [], "the other target's webhook waited for the hanging one"
    finally:
        release.set()
    wait_for_count(lambda: api.notifications(target_id=fast["id"]), 2)
    notes = wait_for_count(lambda: api.notifications(target_id=slow["id"]), 2)
    assert sorted(n["channel"] for n in notes) == ["log", "webhook"]


def test_a_message_its_handler_cannot_take_is_dead_lettered_after_the_tries_and_the_rest_flows(running, api):
    target = failing_target(api)
    key = uuid.uuid4().hex
    result_id = derived_id(target["id"], "key", key)
    _plant_alert(running, alert_id=derived_id(result_id, "down"))  # the alert this result opens cannot be inserted
    api.post_result(target["id"], ok=False, id=key)
    others = [failing_target(api) for _ in range(3)]
    for other in others:
        api.post_result(other["id"], ok=False)
    for other in others:  # the queue moved on past the poisoned message
        wait_for_count(lambda o=other: api.notifications(target_id=o["id"]), 1)
    properties, body = _wait_for_dead_letter(running, "alerting", result_id)
    assert properties.headers["x-first-death-reason"] == "rejected"
    assert api.alerts(target_id=target["id"]) == []  # nothing half-applied
    log = running.processes["alerting"].log_path.read_text()
    assert log.count(f"failed on check.completed {derived_id('check.completed', result_id)}") == 5
    dead = re.escape(f"{derived_id('check.completed', result_id)} of {running.namespace}.alerting.p")
    assert re.search(dead + r"\d+ after 5 attempts", log), "not logged as dead-lettered from an alerting partition"


def test_events_delivered_again_change_nothing(running, api, sink):
    hook = sink.new_path()
    target = failing_target(api, webhook_url=sink.url(hook))
    key = uuid.uuid4().hex
    accepted = api.post_result(target["id"], ok=False, id=key)
    (alert,) = wait_for_count(lambda: api.alerts(target_id=target["id"]), 1)
    wait_for_count(lambda: api.notifications(target_id=target["id"]), 2)
    (result,) = api.results(target["id"])
    # The client sends the result again with its key; the broker delivers the events that followed again.
    assert api.post_result(target["id"], ok=False, id=key)["id"] == accepted["id"]
    params = RuleParams(target["failure_threshold"], target["latency_threshold_ms"], target["webhook_url"])
    check = CheckCompleted(event_id=derived_id("check.completed", result["id"]), result=_result(result), params=params)
    opened = alert_changed(AlertChange(_alert(alert), "alert_opened", target["webhook_url"]))
    assert isinstance(opened, AlertOpened)
    _publish(running, check, opened, check, opened)
    # A marker behind them in every queue: once it is handled, so are they.
    api.post_result(target["id"], ok=True)
    wait_for_count(lambda: api.notifications(target_id=target["id"]), 4)
    assert len(api.results(target["id"])) == 2
    assert [a["state"] for a in api.alerts(target_id=target["id"])] == ["resolved"]
    assert [r.json["event"] for r in sink.requests(hook)] == ["alert_opened", "alert_resolved"]


def test_the_variant_serves_again_by_itself_after_the_broker_drops_every_connection(running, api):
    targets = [failing_target(api) for _ in range(10)]
    load = Load(running.base_url, [t["id"] for t in targets], running.api_key)
    with load:
        wait_until(lambda: load.accepted_count() >= 10, timeout=10)
        assert close_connections(running.namespace) == 4  # api, monitor, alerting, notification
        dropped = load.sent()
        wait_until(lambda: load.accepted_since(dropped) >= 10, timeout=20, message="no result accepted after the drop")
    assert {status for status, _ in load.answers} <= {202, 503, 504}, load.answers
    assert max(seconds for _, seconds in load.answers) < ANSWER_WITHIN_S  # never a hang
    assert api.get("/readyz").status_code == 200
    for target_id, accepted in load.accepted.items():  # nothing accepted is lost or applied twice
        assert {r["id"] for r in api.results(target_id, limit=500)} >= set(accepted)
        wait_for_count(lambda t=target_id: api.alerts(target_id=t), 1)
        wait_for_count(lambda t=target_id: api.notifications(target_id=t), 1)
    assert {w for w in running.processes if running.processes[w].popen.poll() is None} == set(running.processes)


def test_an_api_whose_broker_is_unreachable_answers_503_at_once():
    spec = variant("event-split").api
    keys = keys_for()
    port, closed = free_port(), free_port()
    env = {**os.environ, "EVENT_BUS": "rabbitmq", "RABBITMQ_URL": f"amqp://guest:guest@127.0.0.1:{closed}/%2F",
           "BUS_NAMESPACE": f"unreachable-{uuid.uuid4().hex[:8]}", "PROCESS_NAME": "api", "API_KEYS": keys.api_keys}
    argv = [sys.executable if a == "python" else render(a, lambda k: {"host": "127.0.0.1", "port": str(port)}[k])
            for a in spec.argv]
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    client = ApiClient(f"http://127.0.0.1:{port}", timeout_s=10, api_key=keys.default)
    try:
        wait_until(lambda: _answers(client, "/healthz") == 200, timeout=30, message="the api did not start")
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "broker unreachable" in ready.text, describe(ready)
        for method, path, body in [("POST", "/targets", {"name": "x", "url": "http://example.com/"}),
                                   ("GET", "/targets", None), ("GET", "/alerts", None)]:
            started = time.monotonic()
            response = client.request(method, path, json=body)
            assert time.monotonic() - started < 2.0, describe(response)
            assert_error(response, 503, "unavailable")
    finally:
        client.close()
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


# --------------------------------------------------------------------------- two workers per service

REPLICAS_PENDING = "replicas" not in inspect.signature(start).parameters


@pytest.fixture(scope="module")
def running_twice() -> Iterator[RunningVariant]:
    require_broker()
    from harness import balancer

    if balancer.binary() is None:
        pytest.skip(balancer.MISSING)
    variant_ = start("event-split", replicas=2, database="postgres",  # type: ignore[call-arg]
                     extra_env={"CALL_TIMEOUT_S": str(CALL_TIMEOUT_S)})
    try:
        yield variant_
    finally:
        variant_.stop()
        delete_namespace(variant_.namespace)


@pytest.mark.skipif(REPLICAS_PENDING, reason="harness.launcher.start(replicas=..., database=...) is not there yet")
def test_with_two_workers_per_service_both_take_partitions_and_a_killed_ones_move_to_the_survivor(running_twice):
    running = running_twice
    api = ApiClient(running.base_url, api_key=running.api_key, timeout_s=3 * ANSWER_WITHIN_S)
    monitors = [proc.name for proc in running.instances("monitor")]
    assert len(monitors) == 2
    partitions = set(group_queues(running.namespace, MONITOR))
    try:
        targets = [failing_target(api) for _ in range(16)]  # spread over the partitions
        load = Load(running.base_url, [t["id"] for t in targets], running.api_key)
        with load:
            wait_until(lambda: all(_active(running, partitions).get(name) for name in monitors), timeout=30,
                       message=lambda: f"both monitor workers should hold partitions: {_active(running, partitions)}")
            victim, survivor = monitors
            os.killpg(running.processes[victim].popen.pid, signal.SIGKILL)
            killed_at = load.sent()
            wait_until(lambda: _active(running, partitions).get(survivor) == partitions, timeout=30,
                       message=lambda: f"the survivor should hold every partition: {_active(running, partitions)}")
            wait_until(lambda: load.accepted_since(killed_at) >= 20, timeout=30, message="no result accepted after the kill")
        assert {status for status, _ in load.answers} <= {202, 503, 504}, load.answers
        for target_id, accepted in load.accepted.items():  # nothing accepted is lost; one alert per target
            assert {r["id"] for r in api.results(target_id, limit=500)} >= set(accepted)
            wait_for_count(lambda t=target_id: api.alerts(target_id=t), 1)
            wait_for_count(lambda t=target_id: api.notifications(target_id=t), 1)
    finally:
        api.close()


def _active(running: RunningVariant, queues: set[str]) -> dict[str, set[str]]:
    """Which of ``queues`` each process (by instance name) is the active consumer of, as the broker says."""
    channels = dict(line.split("\t")[:2] for line in _ctl("list_channels", "pid", "connection"))
    instances = {str(proc.popen.pid): name for name, proc in running.processes.items()}
    names: dict[str, str] = {}  # connection -> instance, by the pid in its name (NAMESPACE:PROCESS_NAME:PID)
    for line in _ctl("list_connections", "pid", "client_properties"):
        found = re.search(r'\{"connection_name","' + re.escape(running.namespace) + r':[^:"]+:(\d+)"', line)
        if found and found.group(1) in instances:
            names[line.split("\t", 1)[0]] = instances[found.group(1)]
    active: dict[str, set[str]] = {}
    for line in _ctl("list_consumers", "queue_name", "channel_pid", "active"):  # in rabbitmqctl's column order
        queue, channel_pid, is_active = line.split("\t")[:3]
        name = names.get(channels.get(channel_pid, ""))
        if name is not None and queue in queues and is_active == "true":
            active.setdefault(name, set()).add(queue)
    return active


def _ctl(*args: str) -> list[str]:
    done = subprocess.run(["rabbitmqctl", "-q", "--no-table-headers", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.strip()]


# --------------------------------------------------------------------------- helpers


class Load(BackgroundClient):
    """Light load: failing results for a few targets, one at a time (about 20 a second), each answer timed and kept."""

    def __init__(self, base_url: str, target_ids: list[str], api_key: str):
        super().__init__(base_url, timeout_s=3 * ANSWER_WITHIN_S, name="load", api_key=api_key)
        self._targets = target_ids
        self._lock = threading.Lock()
        self.answers: list[tuple[int, float]] = []
        self.accepted: dict[str, list[str]] = {}
        self._accepted_at: list[int] = []  # the index of each accepted answer
        self._index = 0

    def step(self) -> None:
        target_id = self._targets[self._index % len(self._targets)]
        self._index += 1
        started = time.monotonic()
        try:
            response = self._client.post(f"/targets/{target_id}/results", json={"ok": False, "latency_ms": 1.0})
            status = response.status_code
        except requests.RequestException:
            status = 0
        with self._lock:
            self.answers.append((status, time.monotonic() - started))
            if status == 202:
                self.accepted.setdefault(target_id, []).append(response.json()["id"])
                self._accepted_at.append(len(self.answers))

    def sent(self) -> int:
        with self._lock:
            return len(self.answers)

    def accepted_count(self) -> int:
        with self._lock:
            return len(self._accepted_at)

    def accepted_since(self, sent: int) -> int:
        with self._lock:
            return sum(1 for i in self._accepted_at if i > sent)


def _answers(client: ApiClient, path: str) -> int:
    try:
        return client.get(path, timeout=1).status_code
    except requests.RequestException:
        return 0


def _plant_alert(running: RunningVariant, alert_id: str) -> None:
    """An alert row with this id in alerting's database, so inserting the alert of that id fails."""
    with sqlite3.connect(running.data_dir / "alerting.db", timeout=10) as db:
        db.execute(
            "INSERT INTO alerts (id, tenant, target_id, kind, state, opened_at, opened_by_result_id)"
            " VALUES (?, 'planted', 'planted', 'down', 'open', '2024-01-01 00:00:00.000000', 'planted')",
            (alert_id,),
        )
    db.close()


def _wait_for_dead_letter(running: RunningVariant, group: str, needle: str):
    connection = pika.BlockingConnection(pika.URLParameters(broker_url()))
    try:
        channel = connection.channel()

        def fetch():
            method, properties, body = channel.basic_get(dead_letter_queue_name(running.namespace, group), auto_ack=True)
            return (properties, body) if method is not None and needle.encode() in body else None

        return wait_until(fetch, timeout=15, message=f"no dead letter with {needle} in {group}")
    finally:
        connection.close()


def _publish(running: RunningVariant, *events) -> None:
    """Publish events as the services do (persistent, confirmed), so they are delivered again."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url()))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for event in events:
            channel.basic_publish(exchange_name(running.namespace), event.routing_key, encode(event),
                                  pika.BasicProperties(delivery_mode=2, message_id=uuid.uuid4().hex,
                                                       headers=partition_headers(event)))
    finally:
        connection.close()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _result(body: dict) -> CheckResult:
    return CheckResult(body["id"], body["target_id"], body["ok"], body["latency_ms"], body["status_code"],
                       _time(body["checked_at"]), _time(body["received_at"]))


def _alert(body: dict) -> Alert:
    return Alert(body["id"], body["target_id"], body["kind"], body["state"], _time(body["opened_at"]),
                 _time(body["resolved_at"]), body["opened_by_result_id"])
