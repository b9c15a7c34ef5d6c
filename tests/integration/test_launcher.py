"""The launcher: a variant started by ``python -m harness.launcher run`` serves, and leaves nothing behind."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import psutil
import pytest
import requests

from harness.launcher import ROOT, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def _start(tmp_path, variant: str = "direct-monolith") -> tuple[subprocess.Popen, int, list[int]]:
    port = free_port()
    launcher = subprocess.Popen(
        [sys.executable, "-m", "harness.launcher", "run", variant, "--port", str(port), "--data-dir", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    serving = None
    for line in launcher.stdout:
        if "serving on" in line:
            serving = line
            break
    assert serving, "the launcher never said it was serving"
    pids = [int(pid) for pid in re.findall(r"pid (\d+)", serving)]
    descendants = [p.pid for pid in pids for p in psutil.Process(pid).children(recursive=True)]
    return launcher, port, pids + descendants


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _all_gone(pids: list[int]) -> bool:
    return not any(_alive(pid) for pid in pids)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_run_serves_the_api_and_a_stop_signal_leaves_no_process_behind(tmp_path, stop_signal):
    launcher, port, pids = _start(tmp_path)
    try:
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"status": "ok"}
        launcher.send_signal(stop_signal)
        assert launcher.wait(timeout=30) == 0
        wait_until(lambda: _all_gone(pids), timeout=10, message=f"processes {pids} survived the launcher")
    finally:
        launcher.kill()
        launcher.stdout.close()


def test_processes_die_with_a_launcher_that_was_killed_outright(tmp_path):
    launcher, _, pids = _start(tmp_path)
    try:
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.wait(timeout=10)
        wait_until(lambda: _all_gone(pids), timeout=15, message=f"processes {pids} survived SIGKILL of the launcher")
    finally:
        launcher.stdout.close()


def test_an_unknown_variant_is_a_one_line_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "harness.launcher", "run", "no-such-variant", "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode != 0
    assert "unknown variant 'no-such-variant'" in done.stderr
    assert "Traceback" not in done.stderr
