"""The launcher: a variant started by ``python -m harness.launcher run`` serves, and leaves nothing behind;
with replicas, every process runs n times behind one HAProxy, on fresh PostgreSQL databases dropped at stop."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter

import psutil
import pytest
import requests

from harness import databases, launcher
from harness.launcher import ROOT, free_port, start
from harness.topology import variant as variant_spec
from tests.support.broker import require_broker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def _start(tmp_path, variant: str = "direct-monolith", *options: str) -> tuple[subprocess.Popen, int, list[int]]:
    launcher, port, _, pids = _start_named(tmp_path, variant, *options)
    return launcher, port, pids


def _start_named(tmp_path, variant: str, *options: str) -> tuple[subprocess.Popen, int, dict[str, int], list[int]]:
    """The launcher process, the public port, instance name → pid, and every pid of the run (descendants too)."""
    port = free_port()
    launcher = subprocess.Popen(
        [sys.executable, "-m", "harness.launcher", "run", variant, "--port", str(port), "--data-dir", str(tmp_path),
         *options],
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
    named = {name: int(pid) for name, pid in re.findall(r"([\w-]+) \(pid (\d+)", serving)}
    pids = list(named.values())
    descendants = [p.pid for pid in pids for p in psutil.Process(pid).children(recursive=True)]
    return launcher, port, named, pids + descendants


@pytest.fixture
def postgres() -> str:
    """The administrator URL of the local PostgreSQL; skip when it is unreachable (fail when CI=true)."""
    try:
        databases.existing("")
    except databases.DatabaseError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(error))
        pytest.skip(str(error))
    return databases.admin_url()


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


def test_replicas_run_behind_one_haproxy_and_a_stop_signal_drops_the_databases(tmp_path, postgres):
    before = set(databases.existing("direct_monolith_app_"))
    launcher, port, named, pids = _start_named(tmp_path, "direct-monolith", "--replicas", "2", "--database", "postgres")
    try:
        assert sorted(named) == ["api-1", "api-2", "balancer"]
        assert os.path.basename(psutil.Process(named["balancer"]).cmdline()[0]) == "haproxy"
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        config = (tmp_path / "haproxy.cfg").read_text()
        api_ports = {int(p) for p in re.findall(r"server api-\d 127\.0\.0\.1:(\d+)", config)}
        assert len(api_ports) == 2 and port not in api_ports
        ours = set(databases.existing("direct_monolith_app_")) - before
        assert len(ours) == 1, f"one fresh database for the monolith's store, got {ours}"
        for api_pid in (named["api-1"], named["api-2"]):
            assert psutil.Process(api_pid).environ()["DATABASE_URL"].endswith("/" + next(iter(ours)))
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=30) == 0
        wait_until(lambda: _all_gone(pids), timeout=10, message=f"processes {pids} survived the launcher")
        assert not ours & set(databases.existing("direct_monolith_app_")), "the run's database was not dropped"
    finally:
        launcher.kill()
        launcher.stdout.close()


@pytest.mark.broker
def test_replicas_of_a_split_start_n_processes_of_every_service_and_one_haproxy(tmp_path, postgres):
    require_broker()
    running = start("event-split", replicas=3, database="postgres", data_dir=tmp_path)
    try:
        pids = running.pids + [c.pid for pid in running.pids for c in psutil.Process(pid).children(recursive=True)]
        counts = Counter(proc.spec.name for proc in running.processes.values())
        assert counts == {**{p.name: 3 for p in running.variant.processes}, "balancer": 1}
        assert sorted(running.processes)[:3] == ["alerting-1", "alerting-2", "alerting-3"]
        assert len({proc.port for proc in running.processes.values()}) == len(running.processes), "one port each"
        assert running.base_url.endswith(f":{running.processes['balancer'].port}")
        assert requests.get(f"{running.base_url}/readyz", timeout=5).status_code == 200
        created = list(running.databases)
        assert len(created) == 3 and set(created) <= set(databases.existing("event_split_"))
    finally:
        running.stop()
    wait_until(lambda: _all_gone(pids), timeout=10, message=f"processes {pids} survived stop()")
    assert not set(created) & set(databases.existing("event_split_")), "stop() did not drop the run's databases"


def test_peers_are_given_the_address_of_every_replica(tmp_path, postgres, monkeypatch):
    """``{addr:NAME}`` is every replica of NAME, comma-separated (read from the started processes themselves).
    Readiness is not awaited here: whether the api balances over the list is the apps' concern, not the launcher's."""
    monkeypatch.setattr(launcher, "_wait_ready", lambda *args, **kwargs: None)
    running = start("direct-split-http", replicas=2, database="postgres", data_dir=tmp_path)
    try:
        spec = variant_spec("direct-split-http")
        for proc in spec.processes:
            for name, value in proc.env.items():
                target = re.fullmatch(r"\{addr:([a-z]+)\}", value)
                if not target:
                    continue
                expected = ",".join(f"127.0.0.1:{p.port}" for p in running.instances(target.group(1)))
                assert expected.count(",") == 1
                for instance in running.instances(proc.name):
                    assert psutil.Process(instance.popen.pid).environ()[name] == expected, (instance.name, name)
    finally:
        running.stop()


@pytest.mark.parametrize("variant", ["direct-split-grpc", "event-monolith"])
def test_replicas_on_sqlite_are_a_one_line_error(tmp_path, variant):
    done = subprocess.run(
        [sys.executable, "-m", "harness.launcher", "run", variant, "--replicas", "2", "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: REPLICAS>1 needs DATABASE=postgres: ") and done.stderr.count("\n") == 1
    assert "SQLite" in done.stderr and "Traceback" not in done.stderr


def test_replicas_without_haproxy_are_a_one_line_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "harness.launcher", "run", "direct-monolith", "--replicas", "2", "--database", "postgres",
         "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=30, env={**os.environ, "HAPROXY": str(tmp_path / "no-haproxy")},
    )
    assert done.returncode == 1
    assert done.stderr == "error: REPLICAS>1 needs haproxy: apt-get install haproxy, or make services\n"
