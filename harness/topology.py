"""Which processes make up each variant, with which command and environment, and which may be replicated.

The single source of truth for the local launcher, the tests, the load harness, docker-compose.yml
and k8s/. Commands and environment values are templates; a renderer fills in the placeholders:

- ``{host}`` / ``{port}``: where this process listens;
- ``{addr:NAME}``: where process NAME listens: ``host:port`` of each of its replicas, comma-separated
  (``127.0.0.1:5001,127.0.0.1:5002`` locally; one DNS name that resolves to every replica when deployed);
- ``{db:NAME}``: the database URL of store NAME (a SQLite file locally, PostgreSQL when deployed);
- ``{token:NAME}``: the token of the direct-split service NAME (``direct_calls.split.credentials``): a new random one
  per local run; compose takes it from the environment, k8s from a Secret;
- ``{rabbitmq_url:USER}``: the broker URL with the credentials of the broker user of USER (``api``, ``monitor``,
  ``alerting``, ``notification``: ``event_driven.split.rabbitmq_permissions`` says what each may do; locally the
  launcher creates them per run); ``{rabbitmq_url}``: the broker's administrator account (the plain event app's one
  account for every process; locally the launcher's broker URL); ``{namespace}``: the exchange/queue name prefix.
- ``{metrics_port}``: where this process serves its Prometheus ``/metrics`` (a port of its own, never the api's).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Protocol = Literal["http", "grpc"]
App = Literal["direct_calls", "event_driven", "direct_plain", "event_plain"]
"""The app a variant runs: its top-level package."""

GUNICORN = (
    "python", "-m", "gunicorn",
    "--bind", "{host}:{port}",
    "--workers", "1", "--worker-class", "gthread", "--threads", "16",
    "--graceful-timeout", "5", "--timeout", "60", "--no-control-socket",
    "--limit-request-line", "8190",
    "--config", "python:shared.gunicorn_conf",
)
"""One worker with threads: per-target ordering and the in-memory bus live in one process. The request-line limit
(gunicorn's largest) sits above the edge's own 4 KiB limit on the request target, so that a long URL is answered by
the app with its JSON 414 ``uri_too_long``; what gunicorn itself refuses is answered in JSON too (the configuration
module). The configuration module
(in the image, with the apps) makes the worker die with its master (``PR_SET_PDEATHSIG``), so a master killed with
SIGKILL frees its port at once."""

SERVICES = ("monitor", "alerting", "notification")
METRICS = {"METRICS_PORT": "{metrics_port}"}
"""Every process's env has it: ``shared.telemetry.setup`` serves ``/metrics`` there."""


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    protocol: Protocol = "http"
    """How the process is probed: HTTP ``GET /healthz`` or the standard gRPC health service."""
    public: bool = False
    """Only the api is reachable from outside."""
    database: str | None = None
    """The store this process owns (the ``{db:NAME}`` it uses), if any."""
    replicable: bool = True
    """Several copies may run at once (``REPLICAS=n``; compose ``--scale``; a k8s HorizontalPodAutoscaler)."""


PLAIN_APPS = ("direct_plain", "event_plain")
"""The apps written as a typical monolith (one database and transaction per request, services calling each other and
reading each other's tables), each moved to services as a team would: the counterfactual of the two disciplined apps.
Their variants pass the same public contract and run in the fixed-rate scenarios and the traced pass of ``make compare``
only (no capacity, fault, scale or network runs): what they answer is what their move costs, beside the disciplined
apps' moves."""


@dataclass(frozen=True)
class Variant:
    name: str
    app: App
    processes: tuple[ProcessSpec, ...]
    """In start order: dependencies first, the public api last."""
    needs_broker: bool = False
    teardown: tuple[str, ...] = ()
    """A command, run with the api's environment but the broker administrator's ``RABBITMQ_URL``, that deletes what a
    throwaway run left on the broker."""
    monolith: str | None = None
    """For a split variant: the monolith variant it was moved from (None for a monolith)."""
    floor: str | None = None
    """For a split variant: the bare transport whose round trip is its latency floor (``grpc``, ``flask`` or ``pika``,
    as measured by ``loadtest/floors.py``)."""

    @property
    def is_split(self) -> bool:
        return self.monolith is not None

    @property
    def is_plain(self) -> bool:
        """One of the typical-monolith apps' variants (``PLAIN_APPS``)."""
        return self.app in PLAIN_APPS

    @property
    def api(self) -> ProcessSpec:
        return next(p for p in self.processes if p.public)

    def process(self, name: str) -> ProcessSpec:
        return next(p for p in self.processes if p.name == name)


def _gunicorn(factory: str) -> tuple[str, ...]:
    return (*GUNICORN, factory)


def _direct_split(transport: Literal["grpc", "http"]) -> Variant:
    peers = {"monitor": "alerting", "alerting": "notification"}

    def service(name: str) -> ProcessSpec:
        env = {"TRANSPORT": transport, "HOST": "{host}", "PORT": "{port}", "DATABASE_URL": f"{{db:{name}}}",
               f"{name.upper()}_TOKEN": f"{{token:{name}}}", **METRICS}  # its own: what its server accepts
        if name in peers:
            env[f"{peers[name].upper()}_ADDR"] = f"{{addr:{peers[name]}}}"
            env[f"{peers[name].upper()}_TOKEN"] = f"{{token:{peers[name]}}}"  # its peer's: what it presents
        return ProcessSpec(
            name=name,
            argv=("python", "-m", "direct_calls.split.serve", name),
            env=env,
            protocol=transport,
            database=name,
        )

    api = ProcessSpec(
        name="api",
        argv=_gunicorn("direct_calls.split.wsgi:create_app()"),
        env={"TRANSPORT": transport, **{f"{s.upper()}_ADDR": f"{{addr:{s}}}" for s in SERVICES},
             **{f"{s.upper()}_TOKEN": f"{{token:{s}}}" for s in SERVICES}, **METRICS},
        public=True,
    )
    return Variant(
        f"direct-split-{transport}", "direct_calls", (*(service(s) for s in reversed(SERVICES)), api),
        monolith="direct-monolith", floor="grpc" if transport == "grpc" else "flask",
    )


def _event_split(name: str = "event-split", package: App = "event_driven", monolith: str = "event-monolith",
                 broker_user: Callable[[str], str] | None = None, replicable: bool = True) -> Variant:
    """A split on RabbitMQ: ``python -m <package>.split.serve NAME`` per service, each on its own database, and the
    api. Each process connects as ``broker_user(process)`` (default: its own broker user, ``{rabbitmq_url:NAME}``).
    ``event-plain-split`` passes ``replicable=False``: each of its events queues is consumed by one process, in
    order, and each outbox published by one."""

    def bus_env(process: str) -> dict[str, str]:
        url = broker_user(process) if broker_user else f"{{rabbitmq_url:{process}}}"
        return {"EVENT_BUS": "rabbitmq", "RABBITMQ_URL": url, "BUS_NAMESPACE": "{namespace}", **METRICS}

    workers = tuple(
        ProcessSpec(
            name=service,
            argv=("python", "-m", f"{package}.split.serve", service),
            env={**bus_env(service), "HOST": "{host}", "PORT": "{port}", "DATABASE_URL": f"{{db:{service}}}"},
            database=service,
            replicable=replicable,
        )
        for service in reversed(SERVICES)
    )
    api = ProcessSpec(name="api", argv=_gunicorn(f"{package}.split.wsgi:create_app()"), env=bus_env("api"), public=True)
    teardown = ("python", "-m", f"{package}.split.serve", "--delete-namespace")  # run with the broker's admin URL
    return Variant(
        name, package, (*workers, api), needs_broker=True, teardown=teardown,
        monolith=monolith, floor="pika",
    )


def _direct_plain_split() -> Variant:
    """The plain direct-calls monolith moved to HTTP services: each service a gunicorn app on its own database."""
    peers = {"monitor": "alerting", "alerting": "notification"}

    def service(name: str) -> ProcessSpec:
        env = {"DATABASE_URL": f"{{db:{name}}}", **METRICS}
        if name in peers:
            env[f"{peers[name].upper()}_ADDR"] = f"{{addr:{peers[name]}}}"
        # keep-alive above the clients' idle time, so a pooled connection is not closed under a call
        argv = (*GUNICORN, "--keep-alive", "75", f"direct_plain.split.wsgi:create_service('{name}')")
        return ProcessSpec(name=name, argv=argv, env=env, database=name)

    api = ProcessSpec(
        name="api",
        argv=_gunicorn("direct_plain.split.wsgi:create_app()"),
        env={**{f"{s.upper()}_ADDR": f"{{addr:{s}}}" for s in SERVICES}, **METRICS},
        public=True,
    )
    return Variant(
        "direct-plain-split-http", "direct_plain", (*(service(s) for s in reversed(SERVICES)), api),
        monolith="direct-plain-monolith", floor="flask",
    )


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "direct-monolith",
            "direct_calls",
            (
                ProcessSpec(
                    "api",
                    _gunicorn("direct_calls.monolith.wsgi:create_app()"),
                    {"DATABASE_URL": "{db:app}", **METRICS},
                    public=True,
                    database="app",
                ),
            ),
        ),
        _direct_split("grpc"),
        _direct_split("http"),
        Variant(
            "event-monolith",
            "event_driven",
            (
                ProcessSpec(
                    "api",
                    _gunicorn("event_driven.monolith.wsgi:create_app()"),
                    {"EVENT_BUS": "memory", "DATABASE_URL": "{db:app}", **METRICS},
                    public=True,
                    database="app",
                ),
            ),
        ),
        _event_split(),
        Variant(
            "direct-plain-monolith",
            "direct_plain",
            (
                ProcessSpec(
                    "api",
                    _gunicorn("direct_plain.monolith.wsgi:create_app()"),
                    {"DATABASE_URL": "{db:app}", **METRICS},
                    public=True,
                    database="app",
                ),
            ),
        ),
        _direct_plain_split(),
        Variant(
            "event-plain-monolith",
            "event_plain",
            (
                ProcessSpec(
                    "api",
                    _gunicorn("event_plain.monolith.wsgi:create_app()"),
                    {"DATABASE_URL": "{db:app}", **METRICS},
                    public=True,
                    database="app",
                ),
            ),
        ),
        # one broker account for every process (the broker's administrator): per-service broker users with least
        # privilege are part of what the disciplined app built, not of the plain app's move
        _event_split("event-plain-split", "event_plain", "event-plain-monolith", lambda _: "{rabbitmq_url}",
                     replicable=False),
    )
}


DATABASES = ("sqlite", "postgres")
"""Where the launcher puts the stores: a SQLite file each (default) or a fresh PostgreSQL database each."""


def replicas_refusal(spec: Variant, replicas: int, database: str) -> str | None:
    """Why ``spec`` cannot run with ``replicas`` copies of each replicable process on ``database`` (None: it can)."""
    if database not in DATABASES:
        return f"unknown database {database!r}; known: {', '.join(DATABASES)}"
    if replicas < 1:
        return f"replicas must be at least 1, not {replicas}"
    if replicas == 1:
        return None
    fixed = [p.name for p in spec.processes if not p.replicable]
    if fixed:
        return f"{spec.name}: {', '.join(fixed)} cannot be replicated"
    if database == "sqlite":
        if spec.is_split:
            return (f"REPLICAS>1 needs DATABASE=postgres: replicas of a {spec.name} service share its store, and a SQLite "
                    "file cannot be shared by processes on different hosts")
        return (f"REPLICAS>1 needs DATABASE=postgres: the copies of {spec.name} would share one SQLite file, whose writers "
                "take turns only inside one process (across processes SQLite's busy handler sleeps and times out)")
    return None


def variant(name: str) -> Variant:
    """The variant called ``name``, or a ValueError listing the known names."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}") from None


_PLACEHOLDER = re.compile(
    r"\{(host|port|metrics_port|namespace|rabbitmq_url(?::[a-z]+)?|addr:[a-z]+|db:[a-z]+|token:[a-z]+)\}"
)
BROKER_URL = re.compile(r"\{rabbitmq_url:([a-z]+)\}")
"""A broker URL placeholder; its group is the broker user."""
ANY_BROKER_URL = re.compile(r"\{rabbitmq_url(?::[a-z]+)?\}")
"""A process that connects to the broker, as its own user or as the administrator."""


def render(template: str, lookup: Callable[[str], str]) -> str:
    """Fill every ``{placeholder}`` of ``template`` with ``lookup(placeholder)``."""
    return _PLACEHOLDER.sub(lambda m: lookup(m.group(1)), template)
