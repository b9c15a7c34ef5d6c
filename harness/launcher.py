"""Start a variant's processes on this machine, wait until they serve, stop them all.

Used by ``make run``, the tests and the load harness. Each process runs in its own session and is
asked to die with its parent (Linux ``PR_SET_PDEATHSIG``), so no process outlives the launcher,
even one killed with SIGKILL. ``python -m harness.launcher run VARIANT --port 8000 [--replicas N]
[--database sqlite|postgres]`` runs a variant in the foreground until SIGINT/SIGTERM; with N > 1 every
process runs N times. HAProxy (``harness.balancer``) serves the public port in front of the api copies,
one or several, as in the compose deployment: slow clients and a backlog stop there.
In the foreground a process that exits is restarted with backoff (``harness.supervisor``), one console line
each time, and every process's log goes to ``DATA_DIR/NAME.log`` and to the console. ``start()`` restarts
nothing unless asked (``restart=True``): the fault tests and the load harness keep a killed process down.
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.config import DEFAULT_RABBITMQ_URL

from . import balancer, broker_users, databases, network_delay
from .auth_keys import keys_for
from .processes import LaunchError, RunningProcess, dying_with_parent, kill_group, terminate, wait_healthy, wait_ready
from .supervisor import ConsoleEcho, RestartPolicy, Supervisor, say
from .topology import BROKER_URL, DATABASES, SERVICES, ProcessSpec, Variant, render, replicas_refusal, variant

ROOT = Path(__file__).resolve().parent.parent
BALANCER = "balancer"
"""The instance name of the HAProxy process in front of the api copies."""
__all__ = ["LaunchError", "RestartPolicy", "RunningProcess", "RunningVariant", "free_port", "start"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningVariant:
    """A started variant. ``stop()`` ends every process; it is also a context manager."""

    variant: Variant
    processes: dict[str, RunningProcess]
    """By instance name: the spec's name, or ``NAME-1`` … ``NAME-n`` with replicas, and ``balancer`` in front of them."""
    data_dir: Path
    namespace: str
    env_for: Callable[..., dict[str, str]] = field(repr=False)
    """``env_for(spec, port)``: the environment a process was started with (a restarted process gets the same);
    ``direct=True``: with the real addresses, not the delay relay's."""
    owns_namespace: bool = False
    """The namespace was made up for this run: ``stop()`` deletes what it left on the broker."""
    replicas: int = 1
    databases: list[str] = field(default_factory=list)
    """The PostgreSQL databases this run created and ``stop()`` drops (none for SQLite or kept ones)."""
    supervisor: Supervisor | None = None
    """Restarts the processes that exit (``start(restart=...)``); None: an exited process stays down."""
    _stopped: bool = field(default=False, repr=False)
    _held: set[str] = field(default_factory=set, repr=False)
    """Instances stopped on purpose (``stop_process``): not restarted until ``restart_process``."""
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _echo: ConsoleEcho | None = field(default=None, repr=False)
    api_keys: dict[str, str] = field(default_factory=dict, repr=False)
    """The plain API keys the api accepts, by tenant (``start(api_keys=...)``)."""
    internal_tokens: dict[str, str] = field(default_factory=dict, repr=False)
    """The direct splits' service tokens of this run, by service (``{token:NAME}``; new for every run)."""
    broker_users: broker_users.RunUsers | None = field(default=None, repr=False)
    """The broker users this run created for its processes (``{rabbitmq_url:USER}``); ``stop()`` deletes them."""
    metrics_ports: dict[str, int] = field(default_factory=dict)
    """Where each instance serves its Prometheus ``/metrics`` (its ``METRICS_PORT``), by instance name."""

    @property
    def api_key(self) -> str:
        """The first tenant's key (by default the full-scope key of tenant ``dev``): what clients send as
        ``Authorization: Bearer <key>``."""
        return next(iter(self.api_keys.values()))

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def entry(self) -> RunningProcess:
        """The process clients talk to: the balancer."""
        return self.processes.get(BALANCER) or self.instances(self.variant.api.name)[0]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.entry.port}"

    @property
    def pids(self) -> list[int]:
        return [p.popen.pid for p in self.processes.values()]

    def instances(self, name: str) -> list[RunningProcess]:
        """The processes called ``name``: one instance (``monitor-2``), or every replica of a process (``monitor``)."""
        found = [p for key, p in self.processes.items() if name in (key, p.spec.name)]
        if not found:
            raise KeyError(f"{self.variant.name} has no process {name!r}; it has {', '.join(self.processes)}")
        return found

    def stop_process(self, name: str, timeout_s: float = 10.0) -> None:
        """Stop one instance, or every replica of a process (fault injection); it stays down, even with a
        supervisor, until ``restart_process`` brings it back."""
        procs = self.instances(name)
        with self._lock:
            self._held.update(proc.name for proc in procs)
        for proc in procs:
            terminate(proc.popen, timeout_s)

    def kill_process(self, name: str) -> None:
        """SIGKILL one instance's (or every replica's) process group, as a crash would; it stays down, like
        ``stop_process``, until ``restart_process``."""
        procs = self.instances(name)
        with self._lock:
            self._held.update(proc.name for proc in procs)
        for proc in procs:
            kill_group(proc.popen)

    def pause_process(self, name: str) -> None:
        """SIGSTOP one instance's (or every replica's) process group: it lives, its sockets accept, nothing answers."""
        for proc in self.instances(name):
            os.killpg(proc.popen.pid, signal.SIGSTOP)

    def resume_process(self, name: str, ready_timeout_s: float = 60.0) -> None:
        """SIGCONT what ``pause_process`` stopped; returns once it answers its health check again."""
        procs = self.instances(name)
        for proc in procs:
            os.killpg(proc.popen.pid, signal.SIGCONT)
        for proc in procs:
            _wait_healthy(proc, ready_timeout_s)

    def restart_process(self, name: str, ready_timeout_s: float = 60.0) -> None:
        for old in self.instances(name):
            with self._lock:
                self._held.add(old.name)
                if old.popen.poll() is None:
                    terminate(old.popen, 10.0)
                new = self._spawn_again(old)
                self._held.discard(old.name)
            _wait_healthy(new, ready_timeout_s)

    def logs(self) -> list[tuple[str, Path]]:
        """Each instance's log file, by instance name (those that have one)."""
        with self._lock:
            return [(name, proc.log_path) for name, proc in self.processes.items() if proc.log_path]

    def supervised(self) -> list[tuple[str, RunningProcess]]:
        """The instances a supervisor keeps up: all but those stopped on purpose; none once the run stops."""
        with self._lock:
            if self._stopped:
                return []
            return [(name, proc) for name, proc in self.processes.items() if name not in self._held]

    def respawn(self, name: str, old: RunningProcess) -> RunningProcess | None:
        """Start instance ``name`` again (the supervisor's restart) unless the run stops, it was stopped on purpose,
        or someone else restarted it already. What is left of the old process group is killed first."""
        with self._lock:
            if self._stopped or name in self._held or self.processes.get(name) is not old:
                return None
            kill_group(old.popen)
            return self._spawn_again(old)

    def _spawn_again(self, old: RunningProcess) -> RunningProcess:
        new = _spawn(old.spec, old.port, self.env_for(old.spec, old.port), old.log_path, old.name)
        self.processes[old.name] = new
        return new

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self.supervisor:
            self.supervisor.close()
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
                kill_group(proc.popen)
        if self._echo:
            self._echo.close()
        if self.owns_namespace and self.variant.teardown:
            self._teardown()
        if self.broker_users is not None:
            try:
                broker_users.delete(self.broker_users)
            except broker_users.BrokerUsersError as error:
                print(f"launcher: {error}", file=sys.stderr)
        if self.databases:
            try:
                databases.drop(self.databases)
            except databases.DatabaseError as error:
                print(f"launcher: could not drop {', '.join(self.databases)}: {error}", file=sys.stderr)

    def _teardown(self) -> None:
        argv = [sys.executable if arg == "python" else arg for arg in self.variant.teardown]
        env = {**os.environ, **self.env_for(self.variant.api, direct=True)}  # the relay is stopped already
        if self.broker_users is not None:  # the administrator deletes what every user of the run declared
            env["RABBITMQ_URL"] = self.broker_users.admin_url
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            print(f"launcher: teardown of {self.namespace} failed: {done.stderr.strip()[-500:]}", file=sys.stderr)

    def __enter__(self) -> RunningVariant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _spawn(spec: ProcessSpec, port: int, env: Mapping[str, str], log_path: Path | None, name: str = "") -> RunningProcess:
    argv = [sys.executable if arg == "python" else arg for arg in spec.argv]
    argv = [render(arg, lambda key: {"host": "127.0.0.1", "port": str(port)}[key]) for arg in argv]
    out = open(log_path, "ab") if log_path else None  # noqa: SIM115 - handed to the child
    try:
        popen = subprocess.Popen(
            **dying_with_parent(argv),
            cwd=ROOT,
            env={**os.environ, **env, "PROCESS_NAME": spec.name, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if out:
            out.close()
    return RunningProcess(spec, port, popen, log_path, name)


# The harness waits through these names (tests replace them to start nothing).
_wait_healthy = wait_healthy
_wait_ready = wait_ready
# ... and creates a run's broker users through this one (tests that start nothing replace it too).
_create_broker_users = broker_users.create


LOCAL_OUTBOUND_ALLOW = "127.0.0.1/32"
"""What test and load-harness runs let probes and webhooks reach besides public addresses: their local sinks."""


def start(
    name: str,
    *,
    port: int | None = None,
    replicas: int = 1,
    database: str = "sqlite",
    keep_databases: bool = False,
    data_dir: str | Path | None = None,
    database_urls: Mapping[str, str] | None = None,
    rabbitmq_url: str | None = None,
    namespace: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    outbound_allow: str | None = LOCAL_OUTBOUND_ALLOW,
    capture_output: bool = True,
    console: bool = False,
    restart: bool | RestartPolicy = False,
    ready_timeout_s: float = 60.0,
    network_delay_ms: float | None = None,
    api_keys: Mapping[str, Iterable[str]] | None = None,
) -> RunningVariant:
    """Start variant ``name`` and return once its api answers ``/readyz`` with 200.

    ``replicas`` copies of each process (``NAME-1`` … ``NAME-n``; each peer gets every copy's address,
    comma-separated) with HAProxy in front of the api copies on the public port (``port`` when given, else a free
    one, as every other port). ``database``: a SQLite file per store in ``data_dir`` (a new temporary folder by
    default), or ``postgres``: a fresh database per store on the local server (``harness.databases``), dropped by
    ``stop()`` unless ``keep_databases`` (stable names, recreated here). ``database_urls`` overrides a store's URL.
    Without ``namespace`` the run gets a made-up broker namespace, deleted again by ``stop()``. With
    ``capture_output`` each process writes to ``data_dir/NAME.log`` (appended to); with ``console`` too, and every
    new line of it is echoed on stdout as ``NAME | line``. ``restart`` (True: the default ``RestartPolicy``) has a
    supervisor restart, once the variant is ready, any process that exits, except one stopped with
    ``stop_process``; without it an exited process stays down. ``outbound_allow`` becomes every process's
    ``OUTBOUND_ALLOW`` (default ``127.0.0.1/32``: the tests' and the load harness's probe targets and webhook
    sinks listen on 127.0.0.1); None leaves it to the environment (``make run``: only public addresses). A refused
    combination is a ValueError; on any other failure every process started so far is stopped and ``LaunchError`` says why.
    ``network_delay_ms`` (a round-trip time): every peer address and the broker's go through a delay relay
    (``harness.network_delay``, the process ``relay``, started first) that adds half of it each way.
    The direct splits' services get new random tokens (``running.internal_tokens``), each process those of itself and
    of the services it calls; a variant on the broker gets a broker user per process kind, created here with the
    permissions it needs (``harness.broker_users``) and deleted by ``stop()``: its processes connect as those, the
    teardown and the tests' own checks as the broker's administrator (``rabbitmq_url``, default ``RABBITMQ_URL``).
    ``api_keys`` (tenant -> scopes, e.g. ``{"a": ("read", "write"), "b": ("read",)}``): one new key per tenant,
    in ``running.api_keys``; by default one full-scope key of tenant ``dev`` (``API_KEY`` from the environment when
    set). ``running.api_key`` is the first; the api process(es) get only their digests, as ``API_KEYS``.
    """
    spec = variant(name)
    refusal = replicas_refusal(spec, replicas, database)
    if refusal:
        raise ValueError(refusal)
    haproxy = balancer.binary()
    if haproxy is None:
        raise LaunchError(balancer.MISSING)
    data = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix=f"{name}-"))
    data.mkdir(parents=True, exist_ok=True)
    ports = {p.name: [free_port() for _ in range(replicas)] for p in spec.processes}
    metrics_ports = {p.name: [free_port() for _ in range(replicas)] for p in spec.processes}
    urls = dict(database_urls or {})
    ns = namespace or f"{name}-{uuid.uuid4().hex[:8]}"
    broker = rabbitmq_url or os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL)
    relay = None if network_delay_ms is None else network_delay.plan(spec, ports, broker, network_delay_ms, free_port)
    created: dict[str, str] = {}
    if database == "postgres":
        run_id = None if keep_databases else uuid.uuid4().hex[:8]
        stores = [p.database for p in spec.processes if p.database and p.database not in urls]
        created = {store: databases.database_name(name, store, run_id) for store in stores}
        try:
            databases.create(list(created.values()))
        except databases.DatabaseError as error:
            raise LaunchError(str(error)) from None
        urls.update({store: databases.url_of(db) for store, db in created.items()})

    tokens = {service: secrets.token_urlsafe(32) for service in SERVICES}
    users = None
    if any(BROKER_URL.search(value) for proc in spec.processes for value in proc.env.values()):
        users = broker_users.new_users(broker, ns)

    def lookup(key: str) -> str:
        kind, _, target = key.partition(":")
        if kind == "addr":
            return ",".join(f"127.0.0.1:{p}" for p in ports[target])
        if kind == "db":
            return urls.get(target) or f"sqlite:///{data / (target + '.db')}"
        if kind == "token":
            return tokens[target]
        if kind == "rabbitmq_url":
            if not target:  # the administrator's account (the plain event app's one account)
                return broker
            assert users is not None
            return users.url(target)
        return {"namespace": ns, "host": "127.0.0.1"}[kind]

    keys = keys_for(api_keys)
    auth = {"API_KEYS": keys.api_keys}

    def env_for(proc: ProcessSpec, own_port: int | None = None, direct: bool = False) -> dict[str, str]:
        mine = str(own_port or ports[proc.name][0])
        own = {"port": mine}
        if proc.name in metrics_ports:  # a process of the variant (not the delay relay)
            own["metrics_port"] = str(metrics_ports[proc.name][ports[proc.name].index(int(mine))])
        mine_auth = auth if proc.name == spec.api.name else {}
        peer = relay.lookup(lookup) if relay and not direct else lookup
        local = lambda key: own[key] if key in own else peer(key)  # noqa: E731
        allow = {} if outbound_allow is None else {"OUTBOUND_ALLOW": outbound_allow}
        return {**{k: render(v, local) for k, v in proc.env.items()}, "DATA_DIR": str(data), **allow, **mine_auth,
                **(extra_env or {})}

    running = RunningVariant(spec, {}, data, ns, env_for, owns_namespace=namespace is None, replicas=replicas,
                             databases=[] if keep_databases else list(created.values()), api_keys=keys.by_tenant,
                             internal_tokens=tokens)
    running.metrics_ports = {proc.name if replicas == 1 else f"{proc.name}-{i}": metrics_port
                             for proc in spec.processes for i, metrics_port in enumerate(metrics_ports[proc.name], 1)}
    instances = [(proc, own_port, proc.name if replicas == 1 else f"{proc.name}-{i}")
                 for proc in spec.processes for i, own_port in enumerate(ports[proc.name], 1)]
    if console:
        running._echo = ConsoleEcho(running.logs)
        running._echo.skip_existing(data / f"{n}.log" for n in [*(i for _, _, i in instances), BALANCER])
        running._echo.start()

    def spawn(proc: ProcessSpec, own_port: int, instance: str) -> RunningProcess:
        log_path = data / f"{instance}.log" if capture_output or console else None
        with running._lock:
            running.processes[instance] = _spawn(proc, own_port, env_for(proc, own_port), log_path, instance)
            return running.processes[instance]

    try:
        if users is not None:
            try:
                _create_broker_users(users)
            except broker_users.BrokerUsersError as error:
                raise LaunchError(str(error)) from None
            running.broker_users = users
        if relay:  # listening before any process is given its addresses
            _wait_healthy(spawn(relay.spec(), relay.health_port, network_delay.RELAY), ready_timeout_s)
        for proc, own_port, instance in instances:
            spawn(proc, own_port, instance)
        for proc in list(running.processes.values()):
            _wait_healthy(proc, ready_timeout_s)
        front_port, config = port or free_port(), data / "haproxy.cfg"
        config.write_text(balancer.local_config(front_port, ports[spec.api.name]))
        spawn(ProcessSpec(BALANCER, (haproxy, "-db", "-f", str(config)), public=True), front_port, BALANCER)
        _wait_ready(running.base_url, [running.entry, *running.instances(spec.api.name)], ready_timeout_s)
        if restart:
            running.supervisor = Supervisor(running, restart if isinstance(restart, RestartPolicy) else RestartPolicy())
            running.supervisor.start()
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
    print(f"starting {args.variant} x{args.replicas} on {args.database} (data in {data_dir}) ...", flush=True)
    try:
        running = start(args.variant, port=args.port, replicas=args.replicas, database=args.database,
                        keep_databases=args.keep_databases, data_dir=data_dir, console=True,
                        restart=not args.no_restart, outbound_allow=None,
                        extra_env={"TRACING": "1"} if args.trace else None)
    except (LaunchError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with running:
        names = ", ".join(f"{n} (pid {p.popen.pid}, port {p.port})" for n, p in running.processes.items())
        say(f"{args.variant} serving on {running.base_url} with API key {running.api_key} (tenant dev, read+write; "
            f"send Authorization: Bearer <key>): {names}. Logs in {data_dir}/NAME.log. Ctrl-C stops all.")
        while not stop_requested:
            dead = [n for n, p in running.processes.items() if p.popen.poll() is not None]
            if dead and args.no_restart:
                print(f"error: {', '.join(dead)} exited; stopping {args.variant}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        say(f"stopping {args.variant} ...")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.launcher", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a variant in the foreground until Ctrl-C")
    run.add_argument("variant")
    run.add_argument("--port", type=int, default=8000, help="the api's port (default 8000)")
    run.add_argument("--replicas", type=int, default=1, help="copies of each process, HAProxy in front of the api (default 1)")
    run.add_argument("--database", choices=DATABASES, default="sqlite",
                     help="a SQLite file per store (default), or a fresh database per store on the local PostgreSQL "
                          "(POSTGRES_ADMIN_URL), dropped at stop")
    run.add_argument("--keep-databases", action="store_true",
                     help="PostgreSQL databases named VARIANT_STORE, recreated at start and kept after stop (make run)")
    run.add_argument("--data-dir", type=Path, default=None, help="SQLite files and logs (default var/VARIANT)")
    run.add_argument("--trace", action="store_true",
                     help="trace every process (TRACING=1): spans in DATA_DIR/traces/, python -m harness.traces shows them")
    run.add_argument("--no-restart", action="store_true",
                     help="stop every process when one exits (default: restart it, with backoff)")
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
