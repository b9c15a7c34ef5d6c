"""Which processes make up each variant, with which command and environment, and which may be replicated.

The single source of truth for the local launcher, the tests, the load harness, docker-compose.yml
and k8s/. Commands and environment values are templates; a renderer fills in the placeholders:

- ``{host}`` / ``{port}``: where this process listens;
- ``{addr:NAME}``: where process NAME listens: ``host:port`` of each of its replicas, comma-separated
  (``127.0.0.1:5001,127.0.0.1:5002`` locally; one DNS name that resolves to every replica when deployed);
- ``{db:NAME}``: the database URL of store NAME (a SQLite file locally, PostgreSQL when deployed);
- ``{rabbitmq_url}``, ``{namespace}``: the broker and the exchange/queue name prefix;
- ``{metrics_port}``: where this process serves its Prometheus ``/metrics`` (a port of its own, never the api's).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Protocol = Literal["http", "grpc"]

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


App = Literal["direct_calls", "event_driven", "direct_plain", "event_plain"]

PLAIN_APPS = ("direct_plain", "event_plain")
"""The apps written as a typical monolith (one database and transaction per request, services calling each other and
reading each other's tables), each moved to services as a team would: the counterfactual of the two disciplined apps.
Their variants pass the same public contract and run in the fixed-rate scenarios of ``make compare`` only (no capacity,
fault, scale or network runs): what they answer is what their move costs, beside the disciplined apps' moves."""


@dataclass(frozen=True)
class Variant:
    name: str
    app: App
    processes: tuple[ProcessSpec, ...]
    """In start order: dependencies first, the public api last."""
    needs_broker: bool = False
    teardown: tuple[str, ...] = ()
    """A command, run with the api's environment, that deletes what a throwaway run left on the broker."""
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
        env = {"TRANSPORT": transport, "HOST": "{host}", "PORT": "{port}", "DATABASE_URL": f"{{db:{name}}}", **METRICS}
        if name in peers:
            env[f"{peers[name].upper()}_ADDR"] = f"{{addr:{peers[name]}}}"
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
        env={"TRANSPORT": transport, **{f"{s.upper()}_ADDR": f"{{addr:{s}}}" for s in SERVICES}, **METRICS},
        public=True,
    )
    return Variant(
        f"direct-split-{transport}", "direct_calls", (*(service(s) for s in reversed(SERVICES)), api),
        monolith="direct-monolith", floor="grpc" if transport == "grpc" else "flask",
    )


def _event_split() -> Variant:
    bus_env = {"EVENT_BUS": "rabbitmq", "RABBITMQ_URL": "{rabbitmq_url}", "BUS_NAMESPACE": "{namespace}", **METRICS}
    workers = tuple(
        ProcessSpec(
            name=name,
            argv=("python", "-m", "event_driven.split.serve", name),
            env={**bus_env, "HOST": "{host}", "PORT": "{port}", "DATABASE_URL": f"{{db:{name}}}"},
            database=name,
        )
        for name in reversed(SERVICES)
    )
    api = ProcessSpec(name="api", argv=_gunicorn("event_driven.split.wsgi:create_app()"), env=bus_env, public=True)
    teardown = ("python", "-m", "event_driven.split.serve", "--delete-namespace")
    return Variant(
        "event-split", "event_driven", (*workers, api), needs_broker=True, teardown=teardown,
        monolith="event-monolith", floor="pika",
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


_PLACEHOLDER = re.compile(r"\{(host|port|metrics_port|rabbitmq_url|namespace|addr:[a-z]+|db:[a-z]+)\}")


def render(template: str, lookup: Callable[[str], str]) -> str:
    """Fill every ``{placeholder}`` of ``template`` with ``lookup(placeholder)``."""
    return _PLACEHOLDER.sub(lambda m: lookup(m.group(1)), template)
