"""Child processes that never outlive the harness that started them, and waiting for them to serve."""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from .topology import ProcessSpec

_PR_SET_PDEATHSIG = 1
try:  # looked up once here: after a fork in a threaded process, the child must not load a library
    _prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
except (OSError, AttributeError):  # not Linux/glibc
    _prctl = None


class LaunchError(RuntimeError):
    """A variant could not be started; the message names the process and ends with its log."""


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies (``PR_SET_PDEATHSIG``).

    For ``subprocess.Popen(preexec_fn=...)`` only where ``setpriv`` is missing (see :func:`dying_with_parent`):
    it runs in the child between fork and exec, which can deadlock when the parent has other threads.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_SETPRIV = shutil.which("setpriv") or shutil.which("setpriv", path="/usr/bin:/bin")


def dying_with_parent(argv: Sequence[str]) -> dict[str, Any]:
    """``subprocess.Popen`` arguments that run ``argv`` so that Linux SIGTERMs it when its parent dies.

    With util-linux's ``setpriv --pdeathsig TERM`` (it sets the signal, then execs ``argv`` in the same process,
    so the pid is ``argv``'s), no Python code runs between fork and exec: ``preexec_fn`` can deadlock the child
    of a process that has other threads (a lock held at the fork), which hung test runs here now and then.
    Without ``setpriv``, :func:`die_with_parent` as ``preexec_fn``. The parent, for Linux, is the thread that
    started the child: start processes from a thread that lives as long as they should (the caller's, or the
    supervisor's, which ends with the run).
    """
    if _SETPRIV:
        return {"args": [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]}
    return {"args": list(argv), "preexec_fn": die_with_parent}


@dataclass
class RunningProcess:
    spec: ProcessSpec
    port: int
    popen: subprocess.Popen
    log_path: Path | None
    name: str = ""
    """This copy's name: the spec's name, or ``NAME-i`` for the i-th of several replicas."""
    started_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.name = self.name or self.spec.name

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(output not captured)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def terminate(popen: subprocess.Popen, timeout_s: float) -> None:
    """SIGTERM the process group, SIGKILL it after ``timeout_s``."""
    try:
        os.killpg(popen.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        popen.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(popen)


def kill_group(popen: subprocess.Popen) -> None:
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    popen.wait()


def healthy(proc: RunningProcess) -> bool:
    if proc.spec.protocol == "grpc":
        from direct_calls.split.grpc_health import check_serving  # gRPC is imported only for variants that use it

        return check_serving(f"127.0.0.1:{proc.port}")
    try:
        return requests.get(f"http://127.0.0.1:{proc.port}/healthz", timeout=1.0).status_code == 200
    except requests.RequestException:
        return False


def wait_healthy(proc: RunningProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise LaunchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        if healthy(proc):
            return
        time.sleep(0.1)
    raise LaunchError(f"{proc.name} not healthy after {timeout_s:.0f}s:\n{proc.log_tail()}")


def wait_ready(base_url: str, procs: list[RunningProcess], timeout_s: float) -> None:
    """Wait until ``base_url/readyz`` answers 200; fail at once if one of ``procs`` (the path to it) exits."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.popen.poll() is not None:
                raise LaunchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            response = requests.get(f"{base_url}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = response.text
        except requests.RequestException as error:
            last = str(error)
        time.sleep(0.1)
    tails = "\n".join(f"--- {p.name} ---\n{p.log_tail()}" for p in procs)
    raise LaunchError(f"api not ready after {timeout_s:.0f}s: {last}\n{tails}")
