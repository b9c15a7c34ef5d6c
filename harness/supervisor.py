"""A local run that behaves like its deployment: a process that exits is restarted, with backoff, and every
process's log is shown on the console as well as written to its file.

Kubernetes (``restartPolicy: Always``) and compose (``restart:``) restart a container that exits; so does
``make run``, with the same shape of policy (``RestartPolicy``): the first restart soon, each further one after
twice the wait, at most ``max_s``, and back to the first wait once the process had stayed up ``reset_after_s``. One
console line says so for every restart. A process stopped on purpose (``RunningVariant.stop_process``) is left
down until ``restart_process``; a run being stopped restarts nothing. Before a restart, whatever is left of the
dead process's group is killed, as a container's processes all die with it.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .processes import RunningProcess

_CONSOLE = threading.Lock()


def say(line: str) -> None:
    """One line on the launcher's stdout, never interleaved with another thread's."""
    with _CONSOLE:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


@dataclass(frozen=True)
class RestartPolicy:
    """When to restart an exited process: after ``initial_s``, then ``factor`` times longer each consecutive time,
    at most ``max_s``; a process that had stayed up ``reset_after_s`` starts again from ``initial_s``.

    Kubernetes waits 10 s, doubling to 5 min, reset after 10 min up; a local run wants its processes back sooner.
    """

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    reset_after_s: float = 30.0

    def delay(self, consecutive: int) -> float:
        """The wait before restart number ``consecutive`` (1 for the first since the process last stayed up)."""
        return min(self.max_s, self.initial_s * self.factor ** max(0, consecutive - 1))


class Supervised(Protocol):
    """What the supervisor needs of a run (``RunningVariant``)."""

    def supervised(self) -> list[tuple[str, RunningProcess]]:
        """The instances to keep up, by name (those not stopped on purpose; none once the run stops)."""
        ...

    def respawn(self, name: str, old: RunningProcess) -> RunningProcess | None:
        """Start ``name`` again if ``old`` is still its process and may be restarted; the new process, else None."""
        ...


@dataclass
class _Exit:
    old: RunningProcess
    due: float


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with {returncode}"


class Supervisor:
    """A thread that restarts the processes of ``run`` that exit, following ``policy``.

    Restarted processes are started from this thread, which lives until ``close()``: Linux's parent-death
    signal (``die_with_parent``) follows the thread that started a process.
    """

    def __init__(self, run: Supervised, policy: RestartPolicy, interval_s: float = 0.1,
                 report: Callable[[str], None] = say):
        self._run, self.policy, self._interval_s, self._report = run, policy, interval_s, report
        self._pending: dict[str, _Exit] = {}
        self._consecutive: dict[str, int] = {}
        self.restarts: dict[str, int] = {}
        """Restarts so far, by instance name."""
        self.passes = 0
        """Checks done so far (a test waits for a few to see that something did not happen)."""
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    def _loop(self) -> None:
        while not self._closing.wait(self._interval_s):
            try:
                self.check(time.monotonic())
            except Exception as error:  # noqa: BLE001 - e.g. a restart that could not be spawned: try again later
                self._report(f"launcher: supervisor: {type(error).__name__}: {error}")

    def check(self, now: float) -> None:
        """Note the processes that exited, and restart those whose wait is over."""
        watched = self._run.supervised()
        names = {name for name, _ in watched}
        for name in set(self._pending) - names:  # stopped on purpose meanwhile
            del self._pending[name]
        for name, proc in watched:
            returncode = proc.popen.poll()
            pending = self._pending.get(name)
            if returncode is None or (pending is not None and pending.old is not proc):
                self._pending.pop(name, None)  # alive, or restarted by someone else
                continue
            if pending is None:
                self._pending[name] = self._exited(name, proc, returncode, now)
            elif now >= pending.due:
                self._restart(name, proc, pending, now)
        self.passes += 1

    def _restart(self, name: str, proc: RunningProcess, pending: _Exit, now: float) -> None:
        try:
            restarted = self._run.respawn(name, proc)
        except OSError as error:  # e.g. the executable is gone: try again, waiting longer each time
            consecutive = self._consecutive[name] = self._consecutive.get(name, 0) + 1
            pending.due = now + self.policy.delay(consecutive)
            self._report(f"launcher: could not restart {name}: {error}; trying again in {self.policy.delay(consecutive):g} s")
            return
        del self._pending[name]
        if restarted is not None:
            self.restarts[name] = self.restarts.get(name, 0) + 1

    def _exited(self, name: str, proc: RunningProcess, returncode: int, now: float) -> _Exit:
        up_s = now - proc.started_at
        consecutive = 1 if up_s >= self.policy.reset_after_s else self._consecutive.get(name, 0) + 1
        self._consecutive[name] = consecutive
        delay = self.policy.delay(consecutive)
        self._report(f"launcher: {name} (pid {proc.popen.pid}) {describe_exit(returncode)} after {up_s:.1f} s up; "
                     f"restarting it in {delay:g} s (consecutive restart {consecutive})")
        return _Exit(proc, now + delay)


class ConsoleEcho:
    """A thread that prints every new line of the given log files, prefixed with the instance's name (``make run``).

    The processes write to their files, not to a pipe: a slow or paused console never blocks them, and the files
    keep everything. Only what is written after ``ConsoleEcho`` is created is shown.
    """

    def __init__(self, logs: Callable[[], Iterable[tuple[str, Path]]], interval_s: float = 0.1):
        self._logs, self._interval_s = logs, interval_s
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="console-echo", daemon=True)

    def skip_existing(self, paths: Iterable[Path]) -> None:
        """Start ``paths`` at their current end (a log kept from an earlier run is not replayed)."""
        for path in paths:
            self._offsets[path] = path.stat().st_size if path.exists() else 0

    def start(self) -> ConsoleEcho:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop, after echoing what was written until now (the processes' last words)."""
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join()
        self.echo()

    def _loop(self) -> None:
        while not self._closing.wait(self._interval_s):
            self.echo()

    def echo(self) -> None:
        logs = list(self._logs())
        width = max((len(name) for name, _ in logs), default=0)
        for name, path in logs:
            try:
                with open(path, "rb") as file:
                    file.seek(self._offsets.get(path, 0))
                    data = file.read()
            except OSError:  # not created yet
                continue
            if not data:
                continue
            self._offsets[path] = self._offsets.get(path, 0) + len(data)
            *lines, rest = (self._partial.pop(path, b"") + data).split(b"\n")
            if rest:
                self._partial[path] = rest
            for line in lines:
                say(f"{name:<{width}} | {line.decode(errors='replace').rstrip()}")
