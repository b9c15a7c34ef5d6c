"""Slow clients and a stuck downstream must not stop the api (every variant's api is behind ``harness.balancer``).

The api is one gunicorn worker with 16 threads. Without a buffering proxy in front, 16 connections that never
finish their request hold every thread, and requests waiting on a stuck downstream queue behind each other far
past their deadline while health checks wait too.
"""
from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from harness.launcher import RunningVariant, start
from tests.support.api import ApiClient, describe

pytestmark = pytest.mark.slow

IDLE_CLIENTS = 40
STUCK_REQUESTS = 64
CALL_TIMEOUT_S = 2.0
DEADLINE_S = CALL_TIMEOUT_S + 3.0
"""How long a request may take when its downstream is stuck: its call deadline, the balancer's 1 s queue, slack."""


@pytest.fixture
def monolith() -> Iterator[RunningVariant]:
    with start("direct-monolith") as variant:
        yield variant


@pytest.fixture(params=["direct-split-http", "event-split"])
def split(request: pytest.FixtureRequest) -> Iterator[RunningVariant]:
    with start(request.param, extra_env={"CALL_TIMEOUT_S": str(CALL_TIMEOUT_S)}) as variant:
        try:
            yield variant
        finally:
            for process in variant.processes.values():
                if process.popen.poll() is None:
                    os.killpg(process.popen.pid, signal.SIGCONT)


def idle_connections(port: int, count: int) -> list[socket.socket]:
    """Connections that start a request and never finish its headers (the blank line never comes)."""
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        held.append(sock)
    return held


def test_idle_clients_that_never_finish_their_request_do_not_stop_the_api(monolith):
    held = idle_connections(monolith.entry.port, IDLE_CLIENTS)
    try:
        assert requests.get(f"{monolith.base_url}/healthz", timeout=5).status_code == 200
        api = ApiClient(monolith.base_url, api_key=monolith.api_key, timeout_s=5)
        created = api.post("/targets", json={"name": "after-the-idle-ones", "url": "https://example.com"})
        assert created.status_code == 201, describe(created)
        assert api.get(f"/targets/{created.json()['id']}").status_code == 200
        api.close()
    finally:
        for sock in held:
            sock.close()


def test_a_stuck_downstream_fails_requests_within_their_deadline_and_health_still_answers(split):
    api = ApiClient(split.base_url, api_key=split.api_key, timeout_s=5)
    target = api.create_target()["id"]
    api.close()
    split.pause_process("monitor")

    def get_target(_: int) -> tuple[int, str, float]:
        started = time.monotonic()
        try:
            response = requests.get(f"{split.base_url}/targets/{target}", headers=split.auth_headers, timeout=30)
            status, code = response.status_code, response.json()["error"]["code"]
        except (requests.RequestException, ValueError, KeyError):
            status, code = 0, ""
        return status, code, time.monotonic() - started

    health: list[int] = []
    with ThreadPoolExecutor(STUCK_REQUESTS) as pool:
        futures = [pool.submit(get_target, i) for i in range(STUCK_REQUESTS)]
        while not all(future.done() for future in futures):  # health checks the whole time the requests wait
            health.append(requests.get(f"{split.base_url}/healthz", timeout=3).status_code)
        answers = [future.result() for future in futures]
    assert health and set(health) == {200}
    late = [(status, code, round(took, 2)) for status, code, took in answers
            if (status, code) not in ((503, "unavailable"), (504, "timeout")) or took > DEADLINE_S]
    assert not late, f"answers not a JSON 503/504 within {DEADLINE_S}s: {late[:10]} of {len(answers)}"
