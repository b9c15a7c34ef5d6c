"""The pool a keyed group's lanes share: per-key order, other keys meanwhile, dropping what has not started, stopping."""
from __future__ import annotations

import threading
import time

import pytest

from event_driven.monolith.keyed_pool import KeyedPool
from tests.support.waiting import wait_until


def test_a_keys_tasks_run_in_submission_order_while_another_keys_run_beside_a_blocked_one() -> None:
    pool = KeyedPool("t", 2)
    pool.start()
    ran: list[str] = []
    release = threading.Event()
    pool.submit("slow", lambda: (release.wait(10), ran.append("slow-0")))
    pool.submit("slow", lambda: ran.append("slow-1"))
    for i in range(5):
        pool.submit("fast", lambda i=i: ran.append(f"fast-{i}"))
    try:
        wait_until(lambda: len(ran) == 5)
        assert ran == [f"fast-{i}" for i in range(5)]  # on the second worker; the slow key's next waits its turn
    finally:
        release.set()
    wait_until(lambda: len(ran) == 7)
    assert ran[5:] == ["slow-0", "slow-1"]
    pool.stop(time.monotonic() + 5)


def test_discard_drops_what_has_not_started_and_leaves_the_running_task_alone() -> None:
    pool = KeyedPool("t", 2)
    pool.start()
    ran: list[str] = []
    inside, release = threading.Event(), threading.Event()
    pool.submit(("lane-1", "a"), lambda: (inside.set(), release.wait(10), ran.append("a-0")))
    pool.submit(("lane-1", "a"), lambda: ran.append("a-1"))
    assert inside.wait(10)
    blocker = threading.Event()
    pool.submit(("lane-2", "b"), lambda: blocker.wait(10))  # holds the second worker
    pool.submit(("lane-1", "c"), lambda: ran.append("c-0"))  # queued: no worker free
    pool.submit(("lane-2", "d"), lambda: ran.append("d-0"))
    assert pool.discard(lambda key: key[0] == "lane-1") == 2  # a-1 and c-0; a-0 runs on
    release.set()
    blocker.set()
    wait_until(lambda: ran.count("d-0") == 1 and "a-0" in ran)
    pool.stop(time.monotonic() + 5)
    assert sorted(ran) == ["a-0", "d-0"]


def test_stop_lets_what_was_submitted_finish_then_refuses_more() -> None:
    pool = KeyedPool("t", 1)
    pool.start()
    ran: list[int] = []
    for i in range(20):
        pool.submit(i % 3, lambda i=i: ran.append(i))
    pool.stop(time.monotonic() + 10)
    assert sorted(ran) == list(range(20))
    with pytest.raises(RuntimeError):
        pool.submit(0, lambda: None)
    assert pool.stopped_workers() == []


def test_a_task_that_raises_is_logged_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    pool = KeyedPool("t", 1)
    pool.start()
    done = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    pool.submit("k", boom)
    pool.submit("k", done.set)
    assert done.wait(10)
    assert any("boom" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)
    pool.stop(time.monotonic() + 5)
