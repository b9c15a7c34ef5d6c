"""Capacity mode of the locustfile: locust driven live by the harness (:mod:`loadtest.capacity_run`).

- ``LOADTEST_CONTROL``: the master (or the only) locust process follows this JSON file — ``{"seq": n, "users": u,
  "spawn_rate": r}`` sets the user count on every worker, ``{"seq": n, "stop": true}`` ends the run — and
  acknowledges each change in ``<file>.ack``.
- ``LOADTEST_STREAM_DIR``: every process that runs users appends its requests to ``requests-<pid>.csv`` in this
  folder ten times a second, and writes ``requests-<pid>.status.json``: the time up to which its log is complete
  the start times of the requests still in flight, and the users it runs. A request cut off (its user stopped, or an error escaped
  locust) is logged as a failure, so no request of a judged window goes missing.

:func:`install` wires it to the locustfile's request list; users wrap their client with :func:`tracked`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from loadtest.stats import REQUEST_LOG_FIELDS

CONTROL = os.environ.get("LOADTEST_CONTROL")
STREAM_DIR = os.environ.get("LOADTEST_STREAM_DIR")

inflight: dict = {}  # user greenlet -> start of its request in flight
_rows: list[tuple] = []  # the locustfile's request list (install)


def install(rows: list[tuple]) -> None:
    """Use ``rows`` (the locustfile's ``(start, ms, name, ok, status)`` list) as this process's request log."""
    global _rows
    _rows = rows


def started(default: float) -> float:
    """When the request the current user just completed started (as :func:`tracked` saw it), else ``default``."""
    return inflight.pop(gevent.getcurrent(), None) or default


def tracked(request):
    """``client.request`` noting when each request starts, so the request log can name those still in flight; a
    request that never completes (its user stopped, or an error escaped locust) is logged as a failure."""

    def wrapper(method, url, *args, **kwargs):
        me = gevent.getcurrent()
        inflight[me] = time.time()
        try:
            return request(method, url, *args, **kwargs)
        except BaseException:
            began = inflight.pop(me, None)
            if began is not None:
                _rows.append((began, (time.time() - began) * 1000.0, kwargs.get("name") or url, False, 0))
            raise

    return wrapper


class _Stream:
    """This process's request log, appended while the test runs, and its status file (complete up to ``as_of``)."""

    def __init__(self, folder: Path, environment=None) -> None:
        self.environment = environment
        self.log = folder / f"requests-{os.getpid()}.csv"
        self.status = folder / f"requests-{os.getpid()}.status.json"
        self.written = 0
        self.handle = self.log.open("w", newline="")
        self.handle.write(",".join(REQUEST_LOG_FIELDS) + "\n")

    def flush(self) -> None:
        """Append what completed, then say so; no greenlet switch happens in between (plain file I/O)."""
        now = time.time()
        rows, self.written = _rows[self.written :], len(_rows)
        pending = [started for greenlet, started in inflight.items() if not greenlet.dead]
        self.handle.write(
            "".join(f"{start:.6f},{ms:.3f},{name},{1 if ok else 0},{status}\n" for start, ms, name, ok, status in rows)
        )
        self.handle.flush()
        tmp = self.status.with_suffix(".tmp")
        runner = getattr(self.environment, "runner", None)
        users = {"users": runner.user_count} if runner is not None else {}  # the users this worker runs now
        tmp.write_text(json.dumps({"pid": os.getpid(), "as_of": now, "inflight": pending, **users}))
        tmp.replace(self.status)

    def run(self) -> None:
        while True:
            self.flush()
            gevent.sleep(0.1)


_live_log: _Stream | None = None


@events.init.add_listener
def _start_stream(environment, **_kw):
    global _live_log
    if STREAM_DIR and not isinstance(environment.runner, MasterRunner):
        _live_log = _Stream(Path(STREAM_DIR), environment)
        gevent.spawn(_live_log.run)


@events.quitting.add_listener
@events.quit.add_listener
def _final_flush(**_kw):
    """Once when quitting, and again after the runner stopped the users (requests they had in flight)."""
    if _live_log is not None:
        _live_log.flush()


_control_started = False


@events.test_start.add_listener
def _start_control(environment, **_kw):
    global _control_started
    if CONTROL and not _control_started and not isinstance(environment.runner, WorkerRunner):
        _control_started = True
        gevent.spawn(_follow_control, environment)


def _follow_control(environment) -> None:
    """Apply each new command of the control file to the runner (all workers), and acknowledge it."""
    path, ack, seen = Path(CONTROL), Path(CONTROL + ".ack"), None
    while True:
        try:
            command = json.loads(path.read_text())
        except (OSError, ValueError):
            command = None
        if command and command.get("seq") != seen:
            seen = command["seq"]
            if command.get("stop"):
                environment.runner.quit()
                return
            environment.runner.start(int(command["users"]), float(command["spawn_rate"]))
            tmp = ack.with_suffix(".tmp")
            tmp.write_text(json.dumps({"seq": seen, "t": time.time(), "users": int(command["users"])}))
            tmp.replace(ack)
        gevent.sleep(0.05)
