"""The launcher: a variant started by ``python -m harness.launcher run`` serves, and leaves nothing behind;
with replicas, every process runs n times behind one HAProxy, on fresh PostgreSQL databases dropped at stop.
A process that dies is restarted with backoff in the foreground (and by ``start(restart=...)``), never after
``stop_process``; a process killed with SIGKILL leaves nothing serving, so that its restart binds its port."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass

import psutil
import pytest
import requests

from harness import databases, launcher
from harness.launcher import BALANCER, ROOT, RestartPolicy, free_port, start
from harness.processes import RunningProcess, healthy
from harness.supervisor import Supervisor
from harness.topology import ProcessSpec
from harness.topology import variant as variant_spec
from tests.support.broker import require_broker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def _start(tmp_path, variant: str = "direct-monolith", *options: str) -> tuple[subprocess.Popen, int, list[int]]:
    launcher, port, _, pids = _start_named(tmp_path, variant, *options)
    return launcher, port, pids


class _Console:
    """The launcher's stdout and stderr, read line by line by a thread (a pipe nobody reads would block it)."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(line.rstrip("\n") for line in stream), daemon=True).start()

    def matching(self, pattern: str) -> list[re.Match]:
        return [m for m in (re.search(pattern, line) for line in list(self.lines)) if m]


def _start_console(tmp_path, variant: str, *options: str) -> tuple[subprocess.Popen, int, _Console, str]:
    """The launcher process, the public port, its console, and the line where it said it was serving."""
    port = free_port()
    launcher = subprocess.Popen(
        [sys.executable, "-m", "harness.launcher", "run", variant, "--port", str(port), "--data-dir", str(tmp_path),
         *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    console = _Console(launcher.stdout)
    serving = wait_until(lambda: console.matching(r"serving on .*") or launcher.poll() is not None, timeout=90,
                         message=lambda: "the launcher never said it was serving:\n" + "\n".join(console.lines[-30:]))
    assert serving is not True, "the launcher exited:\n" + "\n".join(console.lines[-30:])
    return launcher, port, console, serving[0].group(0)


def _start_named(tmp_path, variant: str, *options: str) -> tuple[subprocess.Popen, int, dict[str, int], list[int]]:
    """The launcher process, the public port, instance name → pid, and every pid of the run (descendants too)."""
    launcher, port, _, serving = _start_console(tmp_path, variant, *options)
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


def _relay_routes(running) -> dict[int, int]:
    """The relay's routes, read from its command line: target port → the relay's listen port."""
    argv = running.processes["relay"].spec.argv
    routes = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--route"]
    return {int(route.rsplit(":", 1)[1]): int(route.split(":", 1)[0]) for route in routes}


def test_a_network_delay_puts_the_relay_between_the_services_and_a_call_pays_the_round_trip(tmp_path):
    running = start("direct-split-http", data_dir=tmp_path, network_delay_ms=40)
    try:
        assert list(running.processes)[0] == "relay"  # started first: listening before the services get its ports
        routes = _relay_routes(running)
        env = {name: psutil.Process(p.popen.pid).environ() for name, p in running.processes.items()}
        for process, peer in (("monitor", "alerting"), ("alerting", "notification"), ("api", "monitor")):
            peer_port = running.processes[peer].port
            assert env[process][f"{peer.upper()}_ADDR"] == f"127.0.0.1:{routes[peer_port]}", (process, peer)
        assert set(routes) == {running.processes[n].port for n in ("monitor", "alerting", "notification")}

        session = requests.Session()  # the client → api path is not delayed; api → monitor is
        session.headers.update(running.auth_headers)
        body = {"name": "slow", "url": "http://127.0.0.1:9/never", "interval_s": 60, "failure_threshold": 3}
        target = session.post(f"{running.base_url}/targets", json=body, timeout=10).json()
        session.get(f"{running.base_url}/targets/{target['id']}", timeout=10)  # the api's connection to the monitor
        started = time.perf_counter()
        assert session.get(f"{running.base_url}/targets/{target['id']}", timeout=10).status_code == 200
        assert time.perf_counter() - started >= 0.040
        relay_pid = running.processes["relay"].popen.pid
    finally:
        running.stop()
    assert not _alive(relay_pid)


@pytest.mark.broker
def test_a_network_delay_puts_the_relay_between_every_process_and_the_broker(tmp_path, capfd):
    require_broker()
    running = start("event-split", data_dir=tmp_path, network_delay_ms=2)
    try:
        relay_port = next(iter(_relay_routes(running).values()))
        for name, proc in running.processes.items():
            if name not in ("relay", BALANCER):
                url = psutil.Process(proc.popen.pid).environ()["RABBITMQ_URL"]
                assert f"@127.0.0.1:{relay_port}/" in url, (name, url)
        assert requests.get(f"{running.base_url}/targets", headers=running.auth_headers, timeout=10).status_code == 200
    finally:
        running.stop()
    assert "teardown" not in capfd.readouterr().err  # the namespace is deleted on the broker itself, not via the relay


@pytest.mark.parametrize("variant", ["direct-split-grpc", "event-monolith"])
def test_replicas_on_sqlite_are_a_one_line_error(tmp_path, variant):
    done = subprocess.run(
        [sys.executable, "-m", "harness.launcher", "run", variant, "--replicas", "2", "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: REPLICAS>1 needs DATABASE=postgres: ") and done.stderr.count("\n") == 1
    assert "SQLite" in done.stderr and "Traceback" not in done.stderr


def test_a_run_without_haproxy_is_a_one_line_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "harness.launcher", "run", "direct-monolith", "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=30, env={**os.environ, "HAPROXY": str(tmp_path / "no-haproxy")},
    )
    assert done.returncode == 1
    assert done.stderr == "error: the api is served through haproxy: apt-get install haproxy, or make services\n"


# ------------------------------------------------------------------ restarts and processes that die together


def _serving_line_ports(serving: str) -> dict[str, int]:
    return {name: int(port) for name, port in re.findall(r"([\w-]+) \(pid \d+, port (\d+)\)", serving)}


def _instance(launcher: subprocess.Popen, name: str) -> psutil.Process | None:
    """The launcher's child that runs instance ``name`` (by the PROCESS_NAME it was given)."""
    for child in psutil.Process(launcher.pid).children():
        try:
            if child.environ().get("PROCESS_NAME") == name and _alive(child.pid):
                return child
        except psutil.Error:
            continue
    return None


def test_run_restarts_a_killed_process_says_so_in_one_line_and_logs_each_process_to_its_file(tmp_path):
    launcher, port, console, serving = _start_console(tmp_path, "direct-split-http")
    try:
        old = _instance(launcher, "monitor")
        monitor_port = _serving_line_ports(serving)["monitor"]
        assert f"monitor (pid {old.pid}, port {monitor_port})" in serving
        wait_until(lambda: console.matching(r"^monitor +\| .*Booting worker"), message="monitor's log is not on the console")
        os.kill(old.pid, signal.SIGKILL)

        said = wait_until(lambda: console.matching(rf"^launcher: monitor \(pid {old.pid}\) killed by SIGKILL after .* up; "
                                                   r"restarting it in 0\.5 s"), message="no line about the restart")
        new = wait_until(lambda: (lambda p: p if p and p.pid != old.pid else None)(_instance(launcher, "monitor")),
                         timeout=15, message="the monitor was not restarted")
        wait_until(lambda: requests.get(f"http://127.0.0.1:{monitor_port}/healthz", timeout=2).ok, timeout=30,
                   ignore=(requests.RequestException,), message="the restarted monitor does not serve on its port")
        key = re.search(r"with API key (\S+) ", serving).group(1)  # the serving line names the development key
        headers = {"Authorization": f"Bearer {key}"}
        assert wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/targets", headers=headers, timeout=5).status_code == 200,
                          timeout=30, message="the variant does not serve targets again")
        assert len(said) == 1 and len(console.matching(r"^launcher: ")) == 1, console.lines

        log = tmp_path / "monitor.log"  # both lives of the monitor, in its own file, as on the console
        wait_until(lambda: log.read_text().count("Booting worker") == 2, message=lambda: log.read_text())
        processes = ("api", "monitor", "alerting", "notification", "balancer")
        assert {p.name for p in tmp_path.glob("*.log")} == {f"{n}.log" for n in processes}
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=30) == 0
        wait_until(lambda: not _alive(new.pid), timeout=10, message="the restarted monitor survived the launcher")
        assert console.matching(r"^monitor +\| .*Shutting down: Master"), "the processes' last lines are echoed too"
    finally:
        launcher.kill()
        launcher.wait()


@dataclass
class _FakePopen:
    pid: int
    returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        return self.returncode


class _FakeRun:
    """A run of one process, ``monitor``, that the test crashes at will and the supervisor restarts (no real process)."""

    def __init__(self, now: float) -> None:
        self.now, self.held = now, set()
        self.proc = self._new()

    def _new(self) -> RunningProcess:
        return RunningProcess(ProcessSpec("monitor", ("true",)), 1, _FakePopen(pid=int(self.now)), None, started_at=self.now)

    def supervised(self) -> list[tuple[str, RunningProcess]]:
        return [] if "monitor" in self.held else [("monitor", self.proc)]

    def respawn(self, name: str, old: RunningProcess) -> RunningProcess | None:
        if old is not self.proc:
            return None
        self.proc = self._new()
        return self.proc


def test_restarts_back_off_exponentially_to_a_cap_start_over_after_a_process_stayed_up_and_skip_stopped_ones():
    policy = RestartPolicy(initial_s=1, factor=2, max_s=5, reset_after_s=60)
    lines: list[str] = []
    run = _FakeRun(now=1000.0)
    supervisor = Supervisor(run, policy, report=lines.append)

    def crash_after(up_s: float) -> float:
        """Crash the process ``up_s`` after its start; how long the supervisor waited before starting it again."""
        run.now += up_s
        crashed, crashed_at = run.proc, run.now
        crashed.popen.returncode = -signal.SIGKILL
        while run.proc is crashed:
            supervisor.check(run.now)
            run.now += 0.25
        return run.now - 0.25 - crashed_at

    assert [crash_after(up_s) for up_s in (1, 1, 1, 1, 1, 61, 1)] == [1, 2, 4, 5, 5, 1, 2]
    assert len(lines) == 7 and supervisor.restarts == {"monitor": 7}
    assert lines[0] == ("launcher: monitor (pid 1000) killed by SIGKILL after 1.0 s up; "
                        "restarting it in 1 s (consecutive restart 1)")

    run.held.add("monitor")  # stopped on purpose: left down, and no line about it
    run.proc.popen.returncode = 0
    for t in range(100):
        supervisor.check(run.now + t)
    assert len(lines) == 7 and supervisor.restarts == {"monitor": 7}


def test_start_restarts_only_when_asked_and_never_a_process_stopped_on_purpose(tmp_path):
    with start("direct-split-grpc", data_dir=tmp_path / "first") as running:
        assert running.supervisor is None  # the fault tests and the load harness: a killed process stays down
    running = start("direct-split-grpc", data_dir=tmp_path, restart=RestartPolicy(initial_s=0.1))
    try:
        supervisor = running.supervisor
        running.stop_process("notification")
        passes = supervisor.passes
        wait_until(lambda: supervisor.passes >= passes + 10, message="the supervisor does not check")
        assert running.processes["notification"].popen.poll() is not None and supervisor.restarts == {}

        killed = running.processes["alerting"]
        os.kill(killed.popen.pid, signal.SIGKILL)
        wait_until(lambda: supervisor.restarts == {"alerting": 1}, timeout=10, message="alerting was not restarted")
        assert running.processes["alerting"] is not killed
        wait_until(lambda: healthy(running.processes["alerting"]), timeout=30, message="the new alerting is not healthy")
        running.restart_process("notification")
        wait_until(lambda: requests.get(f"{running.base_url}/readyz", timeout=5).status_code == 200, timeout=30,
                   message="the variant is not ready again")
        assert supervisor.restarts == {"alerting": 1}
        assert (tmp_path / "alerting.log").read_text().count("serving gRPC") == 2
        pids = running.pids
    finally:
        running.stop()
    wait_until(lambda: _all_gone(pids), timeout=10, message=f"processes {pids} survived stop()")
    assert supervisor.restarts == {"alerting": 1}, "nothing is restarted while the run stops"


def _refused(port: int) -> bool:
    """Nothing listens on ``port`` any more. A reset (a connection the dying process's socket still took) is not
    yet a refusal: the caller asks again."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False
    return False


KILLED = [
    ("direct-monolith", "api"),  # gunicorn: master and worker
    ("direct-split-http", "monitor"),  # direct_calls.split.serve over gunicorn: master and worker
    ("direct-split-http", "api"),
    ("direct-split-grpc", "monitor"),  # one process
    pytest.param("event-split", "monitor", marks=pytest.mark.broker),  # one process
    pytest.param("event-split", "api", marks=pytest.mark.broker),
]


@pytest.mark.parametrize(("variant", "name"), KILLED)
def test_a_process_killed_with_sigkill_leaves_nothing_serving_and_its_restart_binds_its_port(tmp_path, variant, name):
    if variant == "event-split":
        require_broker()
    with start(variant, data_dir=tmp_path) as running:
        victim = running.processes[name]
        family = [victim.popen.pid, *(c.pid for c in psutil.Process(victim.popen.pid).children(recursive=True))]
        assert healthy(victim)
        os.kill(victim.popen.pid, signal.SIGKILL)  # the main pid only, as the OOM killer or `kill -9` would
        wait_until(lambda: _all_gone(family) and _refused(victim.port), timeout=1.0,
                   message=lambda: f"{name} still serves on {victim.port}: alive {[p for p in family if _alive(p)]}")
        running.restart_process(name, ready_timeout_s=30)
        assert running.processes[name].port == victim.port and healthy(running.processes[name])
        assert "Connection in use" not in (running.processes[name].log_tail(200) or "")
        wait_until(lambda: requests.get(f"{running.base_url}/readyz", timeout=5).status_code == 200, timeout=30,
                   message="the variant is not ready again")
