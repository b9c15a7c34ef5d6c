"""Fixtures of the parity suite: one running variant per run spec per session, and a local HTTP sink.

The runs come from ``DEFAULT_VARIANTS`` or the ``VARIANTS`` environment variable (comma-separated, e.g.
``VARIANTS=event-monolith,direct-split-http``; ``VARIANTS=all`` runs the default set). A run spec is a variant's
name, optionally with ``@REPLICAS`` and ``@DATABASE`` (``sqlite`` or ``postgres``): ``event-split@2@postgres`` runs
two copies of every process of event-split, HAProxy in front of the api, each store in a fresh PostgreSQL database.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.launcher import RunningVariant, start
from harness.topology import DATABASES, replicas_refusal
from harness.topology import variant as variant_spec
from tests.support.api import ApiClient
from tests.support.http_sinks import HttpSink

DEFAULT_VARIANTS = [
    "direct-monolith",
    "event-monolith",
    "direct-split-grpc",
    "direct-split-http",
    "event-split",
    # each variant scaled out: two copies of every process (of the whole app, for a monolith), PostgreSQL shared by
    # the copies of a service, HAProxy in front of the api copies; the direct split over HTTP only, to keep make test
    # under 10 minutes (direct-split-grpc@2@postgres passes too, with VARIANTS=...: the copies and the balancer are
    # the same, only the transport differs, and that runs at one copy above). Not event-monolith@2: each copy's in-memory bus
    # hands a result to that copy's alerting after the target's lock is released, so two results of one target that
    # two copies accept milliseconds apart may be applied out of order (only a broker orders across processes); the
    # suite's ordering tests failed on it now and then. README, "Scaling out locally", says so.
    "direct-monolith@2@postgres",
    "direct-split-http@2@postgres",
    "event-split@2@postgres",
    # the plain apps (written as a typical monolith, then moved): one copy each, on SQLite. Their replicated forms
    # (direct-plain-monolith@2@postgres, direct-plain-split-http@2@postgres, event-plain-monolith@2@postgres) pass
    # too and run with VARIANTS=...; event-plain-split runs one copy per service (its topology refuses more).
    "direct-plain-monolith",
    "direct-plain-split-http",
    "event-plain-monolith",
    "event-plain-split",
]


@dataclass(frozen=True)
class RunSpec:
    """``NAME[@REPLICAS][@DATABASE]``: what ``harness.launcher.start`` is asked to run."""

    variant: str
    replicas: int = 1
    database: str = "sqlite"

    @classmethod
    def parse(cls, text: str) -> RunSpec:
        """A ValueError names what is wrong: an unknown variant or database, or a refused combination."""
        name, *options = text.strip().split("@")
        replicas, database = 1, "sqlite"
        for option in options:
            if option.isdigit():
                replicas = int(option)
            elif option in DATABASES:
                database = option
            else:
                raise ValueError(f"{text!r}: {option!r} is neither a replica count nor one of {', '.join(DATABASES)}")
        refusal = replicas_refusal(variant_spec(name), replicas, database)
        if refusal:
            raise ValueError(f"{text!r}: {refusal}")
        return cls(name, replicas, database)


def selected_variants() -> list[str]:
    raw = os.environ.get("VARIANTS", "")
    if raw.strip() == "all":
        return list(DEFAULT_VARIANTS)
    specs = [spec.strip() for spec in raw.split(",") if spec.strip()] or list(DEFAULT_VARIANTS)
    for spec in specs:
        RunSpec.parse(spec)  # a ValueError listing the known names for a typo
    return specs


TENANT_KEYS = {"dev": ("read", "write"), "other": ("read", "write"), "reader": ("read",)}
"""The keys each run is started with: the suite's own tenant (``dev``, full scope) first, then a second tenant and a
read-only one for the authentication tests (``tests/contract/test_auth.py``)."""


class VariantApi(ApiClient):
    """A client of one running variant, with the full-scope key of tenant ``dev``; ``running`` gives its processes
    (stop/restart, logs) and ``running.api_keys`` every tenant's key."""

    def __init__(self, spec: str, running: RunningVariant):
        super().__init__(running.base_url, api_key=running.api_key)
        self.spec = spec
        self.name = running.variant.name
        self.running = running

    def log_tails(self, lines: int = 60) -> str:
        return "\n".join(
            f"--- {name} (pid {proc.popen.pid}, exit {proc.popen.poll()}) ---\n{proc.log_tail(lines)}"
            for name, proc in self.running.processes.items()
        )


EDGE_ONLY = ("test_validation.py", "test_hostile_input.py")
"""Modules whose cases the shared HTTP edge answers before a variant's own code runs (the plain variants use the same
edge): in the default set, the plain variants skip them, to keep ``make test`` short; ``VARIANTS=...`` runs them."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every contract test starts real processes (``slow``); event-split ones also need RabbitMQ (``broker``),
    runs on PostgreSQL need it (``postgres``). Without ``VARIANTS``, the plain variants skip the ``EDGE_ONLY``
    modules (the reduced form the README describes)."""
    here = os.path.dirname(__file__)
    reduced = [item for item in items if not os.environ.get("VARIANTS") and _plain_edge_case(item, here)]
    if reduced:
        config.hook.pytest_deselected(items=reduced)
        items[:] = [item for item in items if item not in set(reduced)]
    for item in items:
        if not str(item.path).startswith(here):
            continue
        item.add_marker(pytest.mark.slow)
        callspec = getattr(item, "callspec", None)
        spec = callspec.params.get("api") if callspec else None
        if not spec:
            continue
        run = RunSpec.parse(spec)
        if variant_spec(run.variant).needs_broker:
            item.add_marker(pytest.mark.broker)
        if run.database == "postgres":
            item.add_marker(pytest.mark.postgres)


def _plain_edge_case(item: pytest.Item, here: str) -> bool:
    callspec = getattr(item, "callspec", None)
    spec = callspec.params.get("api") if callspec else None
    return (bool(spec) and str(item.path).startswith(here) and os.path.basename(str(item.path)) in EDGE_ONLY
            and variant_spec(RunSpec.parse(spec).variant).is_plain)


@pytest.fixture(scope="session", params=selected_variants())
def api(request: pytest.FixtureRequest) -> Iterator[VariantApi]:
    """The run ``request.param`` (a variant, maybe replicated) as real processes for the whole session, stopped at the end."""
    run = RunSpec.parse(request.param)
    running = start(run.variant, replicas=run.replicas, database=run.database, api_keys=TENANT_KEYS)
    client = VariantApi(request.param, running)
    try:
        yield client
    finally:
        client.close()
        running.stop()


@pytest.fixture(scope="session")
def sink() -> Iterator[HttpSink]:
    """A local HTTP server for webhooks and probe targets (use ``sink.new_path()`` per test)."""
    with HttpSink() as server:
        yield server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On a failure, append the tail of each process log of the variant under test to the report."""
    report = yield
    if report.failed:
        client = getattr(item, "funcargs", {}).get("api")
        if isinstance(client, VariantApi):
            report.sections.append((f"variant {client.spec} logs", client.log_tails()))
    return report
