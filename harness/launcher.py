"""Start a variant's processes on this machine, wait until they serve, stop them all.

Used by ``make run``, the tests and the load harness. Each process runs in its own session and is
asked to die with its parent (Linux ``PR_SET_PDEATHSIG``), so no process outlives the launcher,
even one killed with SIGKILL. ``python -m harness.launcher run VARIANT --port 8000`` runs a variant
in the foreground until SIGINT/SIGTERM.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from shared.config import DEFAULT_RABBITMQ_URL

from .processes import die_with_parent
from .topology import ProcessSpec, Variant, render, variant

ROOT = Path(__file__).resolve().parent.parent


class LaunchError(RuntimeError):
    """A variant could not be started; the message names the process and ends with its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningProcess:
    spec: ProcessSpec
    port: int
    popen: subprocess.Popen
    log_path: Path | None

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(output not captured)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class RunningVariant:
    """A started variant. ``stop()`` ends every process; it is also a context manager."""

    variant: Variant
    processes: dict[str, RunningProcess]
    data_dir: Path
    namespace: str
    env_for: Callable[[ProcessSpec], dict[str, str]] = field(repr=False)
    """The environment each process was started with (a restarted process gets the same)."""
    owns_namespace: bool = False
    """The namespace was made up for this run: ``stop()`` deletes what it left on the broker."""
    _stopped: bool = field(default=False, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.processes[self.variant.api.name].port}"

    @property
    def pids(self) -> list[int]:
        return [p.popen.pid for p in self.processes.values()]

    def stop_process(self, name: str, timeout_s: float = 10.0) -> None:
        """Stop one process (fault injection); ``restart_process`` brings it back on the same port."""
        _terminate(self.processes[name].popen, timeout_s)

    def restart_process(self, name: str, ready_timeout_s: float = 60.0) -> None:
        old = self.processes[name]
        if old.popen.poll() is None:
            _terminate(old.popen, 10.0)
        self.processes[name] = _spawn(old.spec, old.port, self.env_for(old.spec), old.log_path)
        _wait_healthy(self.processes[name], ready_timeout_s)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for proc in reversed(list(self.processes.values())):
            if proc.popen.poll() is None:
                try:
                    os.killpg(proc.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15.0
        for proc in self.processes.values():
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_group(proc.popen)
        if self.owns_namespace and self.variant.teardown:
            self._teardown()

    def _teardown(self) -> None:
        argv = [sys.executable if arg == "python" else arg for arg in self.variant.teardown]
        env = {**os.environ, **self.env_for(self.variant.api)}
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            print(f"launcher: teardown of {self.namespace} failed: {done.stderr.strip()[-500:]}", file=sys.stderr)

    def __enter__(self) -> RunningVariant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _terminate(popen: subprocess.Popen, timeout_s: float) -> None:
    try:
        os.killpg(popen.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        popen.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(popen)


def _kill_group(popen: subprocess.Popen) -> None:
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    popen.wait()


def _spawn(spec: ProcessSpec, port: int, env: Mapping[str, str], log_path: Path | None) -> RunningProcess:
    argv = [sys.executable if arg == "python" else arg for arg in spec.argv]
    argv = [render(arg, lambda key: {"host": "127.0.0.1", "port": str(port)}[key]) for arg in argv]
    out = open(log_path, "ab") if log_path else None  # noqa: SIM115 - handed to the child
    try:
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **env, "PROCESS_NAME": spec.name, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    finally:
        if out:
            out.close()
    return RunningProcess(spec, port, popen, log_path)


def _healthy(proc: RunningProcess) -> bool:
    if proc.spec.protocol == "grpc":
        from direct_calls.split.grpc_health import check_serving  # gRPC is imported only for variants that use it

        return check_serving(f"127.0.0.1:{proc.port}")
    try:
        return requests.get(f"http://127.0.0.1:{proc.port}/healthz", timeout=1.0).status_code == 200
    except requests.RequestException:
        return False


def _wait_healthy(proc: RunningProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise LaunchError(f"{proc.spec.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        if _healthy(proc):
            return
        time.sleep(0.1)
    raise LaunchError(f"{proc.spec.name} not healthy after {timeout_s:.0f}s:\n{proc.log_tail()}")


def _wait_ready(base_url: str, api: RunningProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if api.popen.poll() is not None:
            raise LaunchError(f"api exited with {api.popen.returncode}:\n{api.log_tail()}")
        try:
            response = requests.get(f"{base_url}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = response.text
        except requests.RequestException as error:
            last = str(error)
        time.sleep(0.1)
    raise LaunchError(f"api not ready after {timeout_s:.0f}s: {last}\n{api.log_tail()}")


def start(
    name: str,
    *,
    port: int | None = None,
    data_dir: str | Path | None = None,
    database_urls: Mapping[str, str] | None = None,
    rabbitmq_url: str | None = None,
    namespace: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    capture_output: bool = True,
    ready_timeout_s: float = 60.0,
) -> RunningVariant:
    """Start variant ``name`` and return once its api answers ``/readyz`` with 200.

    Ports are free ones picked now (the api's is ``port`` when given). Without ``namespace`` the run gets a
    made-up broker namespace, deleted again by ``stop()``. Each store gets a SQLite file in
    ``data_dir`` (a new temporary folder by default) unless ``database_urls`` names a URL for it. With
    ``capture_output`` each process writes to ``data_dir/logs/NAME.log``. On any failure every process
    started so far is stopped and ``LaunchError`` says why.
    """
    spec = variant(name)
    data = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix=f"{name}-"))
    data.mkdir(parents=True, exist_ok=True)
    if capture_output:
        (data / "logs").mkdir(exist_ok=True)
    ports = {p.name: (port if p.public and port else free_port()) for p in spec.processes}
    urls = dict(database_urls or {})
    ns = namespace or f"{name}-{uuid.uuid4().hex[:8]}"
    broker = rabbitmq_url or os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL)

    def lookup(key: str) -> str:
        kind, _, target = key.partition(":")
        if kind == "addr":
            return f"127.0.0.1:{ports[target]}"
        if kind == "db":
            return urls.get(target) or f"sqlite:///{data / (target + '.db')}"
        return {"rabbitmq_url": broker, "namespace": ns, "host": "127.0.0.1"}[kind]

    def env_for(proc: ProcessSpec) -> dict[str, str]:
        local = lambda key: str(ports[proc.name]) if key == "port" else lookup(key)  # noqa: E731
        return {**{k: render(v, local) for k, v in proc.env.items()}, "DATA_DIR": str(data), **(extra_env or {})}

    running = RunningVariant(spec, {}, data, ns, env_for, owns_namespace=namespace is None)
    try:
        for proc in spec.processes:
            log_path = data / "logs" / f"{proc.name}.log" if capture_output else None
            running.processes[proc.name] = _spawn(proc, ports[proc.name], env_for(proc), log_path)
        for proc in spec.processes:
            if not proc.public:
                _wait_healthy(running.processes[proc.name], ready_timeout_s)
        _wait_ready(running.base_url, running.processes[spec.api.name], ready_timeout_s)
    except BaseException:
        running.stop()
        raise
    return running


def _run(args: argparse.Namespace) -> int:
    stop_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    data_dir = args.data_dir or ROOT / "var" / args.variant
    print(f"starting {args.variant} (data in {data_dir}) ...", flush=True)
    try:
        running = start(args.variant, port=args.port, data_dir=data_dir, namespace=args.variant, capture_output=False)
    except (LaunchError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with running:
        names = ", ".join(f"{n} (pid {p.popen.pid}, port {p.port})" for n, p in running.processes.items())
        print(f"{args.variant} serving on {running.base_url}: {names}. Ctrl-C stops all.", flush=True)
        while not stop_requested:
            dead = [n for n, p in running.processes.items() if p.popen.poll() is not None]
            if dead:
                print(f"error: {', '.join(dead)} exited; stopping {args.variant}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        print(f"stopping {args.variant} ...", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.launcher", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a variant in the foreground until Ctrl-C")
    run.add_argument("variant")
    run.add_argument("--port", type=int, default=8000, help="the api's port (default 8000)")
    run.add_argument("--data-dir", type=Path, default=None, help="SQLite files and logs (default var/VARIANT)")
    sub.add_parser("list", help="list the variants and their processes")
    args = parser.parse_args(argv)
    if args.command == "list":
        from .topology import VARIANTS

        for v in VARIANTS.values():
            print(f"{v.name}: {', '.join(p.name for p in v.processes)}")
        return 0
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
