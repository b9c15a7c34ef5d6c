"""Failures of the direct-calls split variants, as real processes: a service stopped, a service hung.

What must hold: a dead peer gives 503 ``unavailable``, a peer that does not answer in
time 504 ``timeout``; the edge never hangs and never answers 500; nothing is applied twice or lost (alerting
reverts an alert it could not notify, ``AlertingService.evaluate``; the monitor keeps a result whose evaluation
did not finish, marked in its outbox, and hands it to alerting again before the target's next result,
``MonitorService.ingest_result``); once the service is back the variant serves again by itself, and retrying the
same result with the same idempotency key applies it exactly once.
"""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from harness.launcher import RunningVariant, start
from tests.support.api import ApiClient, describe, unique_name
from tests.support.assertions import assert_error
from tests.support.background import BackgroundClient
from tests.support.waiting import wait_for_count, wait_until

pytestmark = pytest.mark.slow

CALL_TIMEOUT_S = 3.0
SLACK_S = 1.0
"""What an answer may take beyond the deadline: the edge's own work and process scheduling."""
ANSWER_WITHIN_S = CALL_TIMEOUT_S + SLACK_S


@pytest.fixture(params=["direct-split-grpc", "direct-split-http"])
def running(request: pytest.FixtureRequest) -> Iterator[RunningVariant]:
    with start(request.param, extra_env={"CALL_TIMEOUT_S": str(CALL_TIMEOUT_S)}) as variant:
        try:
            yield variant
        finally:
            for process in variant.processes.values():  # a test that failed while a process was stopped
                if process.popen.poll() is None:
                    os.killpg(process.popen.pid, signal.SIGCONT)


@pytest.fixture
def api(running: RunningVariant) -> Iterator[ApiClient]:
    client = ApiClient(running.base_url, api_key=running.api_key, timeout_s=3 * ANSWER_WITHIN_S)  # long enough to measure a hang
    yield client
    client.close()


class Readers(BackgroundClient):
    """A few requests the whole time: reads of every service's data, each timed and its status kept."""

    def __init__(self, base_url: str, target_id: str, api_key: str):
        super().__init__(base_url, timeout_s=3 * ANSWER_WITHIN_S, name="readers", api_key=api_key)
        self._paths = ["/targets?limit=5", f"/targets/{target_id}/results", f"/alerts?target_id={target_id}",
                       f"/notifications?target_id={target_id}", "/readyz"]
        self.answers: list[tuple[str, int, float]] = []

    def step(self) -> None:
        for path in self._paths:
            started = time.monotonic()
            try:
                status = self._client.get(path).status_code
            except requests.RequestException:
                status = 0  # no answer at all
            self.answers.append((path, status, time.monotonic() - started))

    def assert_never_hung_nor_500(self) -> set[int]:
        assert self.answers, "the readers made no request"
        bad = [answer for answer in self.answers if answer[1] not in (200, 503, 504) or answer[2] >= ANSWER_WITHIN_S]
        assert not bad, f"answers that were not 200/503/504 within {ANSWER_WITHIN_S}s: {bad[:10]}"
        return {status for _, status, _ in self.answers}


def timed(call: Any, *args: Any, **kwargs: Any) -> requests.Response:
    started = time.monotonic()
    response = call(*args, **kwargs)
    elapsed = time.monotonic() - started
    assert elapsed < ANSWER_WITHIN_S, f"answered after {elapsed:.2f}s (deadline {CALL_TIMEOUT_S}s): {describe(response)}"
    return response


def post_result(api: ApiClient, target_id: str, key: str, ok: bool = False) -> requests.Response:
    return timed(api.post, f"/targets/{target_id}/results", json={"ok": ok, "latency_ms": 5.0, "id": key})


def items(api: ApiClient, path: str, **params: Any) -> list[dict[str, Any]]:
    response = timed(api.get, path, params=params)
    assert response.status_code == 200, describe(response)
    return response.json()["items"]


def assert_applied_exactly_once(api: ApiClient, target_id: str, result_id: str) -> None:
    (alert,) = items(api, "/alerts", target_id=target_id)
    assert (alert["kind"], alert["state"], alert["opened_by_result_id"]) == ("down", "open", result_id)
    (notification,) = wait_for_count(lambda: items(api, "/notifications", target_id=target_id), 1)
    assert (notification["alert_id"], notification["event"], notification["channel"]) == (alert["id"], "alert_opened", "log")


def test_stopped_services_give_503_a_stored_result_waits_for_alerting_and_the_variant_recovers_by_itself(running, api):
    target = api.create_target(failure_threshold=3)["id"]
    other = api.create_target(failure_threshold=1)["id"]
    first = [api.post_result(target, ok=False, id=key)["id"] for key in ("r1", "r2")]

    with Readers(running.base_url, target, running.api_key) as readers:
        running.stop_process("notification")
        # The third failure would open an alert, which cannot be notified: refused, and undone in alerting. The
        # monitor keeps the result, marked as not yet announced, for the retry (or the target's next result).
        assert_error(post_result(api, target, "r3"), 503, "unavailable")
        pending = [r["id"] for r in items(api, f"/targets/{target}/results")]
        assert pending[1:] == first[::-1]
        assert items(api, "/alerts", target_id=target) == []
        assert_error(timed(api.get, "/notifications", params={"target_id": target}), 503, "unavailable")
        # A result that changes no alert needs no notification: still accepted.
        assert post_result(api, other, "ok-1", ok=True).status_code == 202
        not_ready = assert_error(timed(api.get, "/readyz"), 503, "unavailable")
        assert [reason.split(":")[0] for reason in not_ready["reasons"]] == ["notification"]

        running.stop_process("alerting")
        assert_error(post_result(api, target, "r3"), 503, "unavailable")
        assert_error(post_result(api, other, "ok-2", ok=True), 503, "unavailable")  # every result needs alerting
        assert_error(timed(api.get, "/alerts", params={"target_id": target}), 503, "unavailable")
        assert [r["id"] for r in items(api, f"/targets/{target}/results")] == pending
        not_ready = assert_error(timed(api.get, "/readyz"), 503, "unavailable")
        assert [reason.split(":")[0] for reason in not_ready["reasons"]] == ["alerting", "notification"]

        running.restart_process("alerting")
        running.restart_process("notification")
        wait_until(lambda: api.get("/readyz").status_code == 200, message="the variant did not become ready again")
        # The client retries the same result (same key) until it is accepted; each refusal changed nothing.
        accepted = wait_until(lambda: (lambda r: r if r.status_code == 202 else None)(post_result(api, target, "r3")))
    statuses = readers.assert_never_hung_nor_500()
    assert 503 in statuses and 200 in statuses, statuses

    result_id = accepted.json()["id"]
    assert [r["id"] for r in items(api, f"/targets/{target}/results")] == [result_id, *first[::-1]] == pending
    assert_applied_exactly_once(api, target, result_id)
    assert post_result(api, target, "r3").json()["id"] == result_id  # the same key again: no second effect
    assert_applied_exactly_once(api, target, result_id)


def test_a_hung_service_gives_504_within_the_deadline_and_a_retry_converges(running, api):
    target = api.create_target(failure_threshold=1)["id"]
    notification = running.processes["notification"].popen.pid

    with Readers(running.base_url, target, running.api_key) as readers:
        os.killpg(notification, signal.SIGSTOP)  # the process lives, its socket accepts, nothing answers
        try:
            # Alerting's call to notification gets what is left of its own deadline, times out first,
            # reverts the alert; the monitor keeps the result for the retry; the edge answers 504 in time.
            assert_error(post_result(api, target, "h1"), 504, "timeout")
            pending = [r["id"] for r in items(api, f"/targets/{target}/results")]
            assert len(pending) == 1
            assert items(api, "/alerts", target_id=target) == []
            assert_error(timed(api.get, "/notifications", params={"target_id": target}), 504, "timeout")
        finally:
            os.killpg(notification, signal.SIGCONT)
        # The timed-out delivery may still be recorded now that the process runs again (a timeout is not a
        # failure); the retry re-opens the same alert (its id derives from the result's), and the
        # notification is recorded once whichever delivery comes first.
        accepted = wait_until(lambda: (lambda r: r if r.status_code == 202 else None)(post_result(api, target, "h1")))
    statuses = readers.assert_never_hung_nor_500()
    assert 504 in statuses, statuses

    result_id = accepted.json()["id"]
    assert [r["id"] for r in items(api, f"/targets/{target}/results")] == [result_id] == pending
    assert_applied_exactly_once(api, target, result_id)


def test_a_stopped_monitor_gives_503_for_targets_and_results_only(running, api):
    target = api.create_target(failure_threshold=1)["id"]
    opened_by = api.post_result(target, ok=False, id="m1")["id"]

    with Readers(running.base_url, target, running.api_key) as readers:
        running.stop_process("monitor")
        new_target = {"name": unique_name(), "url": "http://127.0.0.1:9/"}
        assert_error(timed(api.post, "/targets", json=new_target), 503, "unavailable")
        assert_error(timed(api.get, "/targets"), 503, "unavailable")
        assert_error(post_result(api, target, "m2", ok=True), 503, "unavailable")
        assert_applied_exactly_once(api, target, opened_by)  # alerting and notification still answer

        running.restart_process("monitor")
        wait_until(lambda: api.get("/readyz").status_code == 200, message="the variant did not become ready again")
        assert wait_until(lambda: post_result(api, target, "m2", ok=True).status_code == 202)
    readers.assert_never_hung_nor_500()
    (alert,) = items(api, "/alerts", target_id=target)
    assert alert["state"] == "resolved"  # m2 resolved the alert m1 opened
    assert len(items(api, "/notifications", target_id=target)) == 2
    assert timed(api.post, "/targets", json=new_target).status_code == 201  # the refused create changed nothing
