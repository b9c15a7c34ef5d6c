"""Fixtures of the parity suite: one running variant per variant name per session, and a local HTTP sink.

The variants come from ``DEFAULT_VARIANTS`` or the ``VARIANTS`` environment variable
(comma-separated, e.g. ``VARIANTS=event-monolith,direct-split-http``; ``VARIANTS=all`` runs every variant).
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from harness.launcher import RunningVariant, start
from harness.topology import VARIANTS
from harness.topology import variant as variant_spec
from tests.support.api import ApiClient
from tests.support.http_sinks import HttpSink

DEFAULT_VARIANTS = [
    "direct-monolith",
    "event-monolith",
    "direct-split-grpc",
    "direct-split-http",
    "event-split",
]


def selected_variants() -> list[str]:
    raw = os.environ.get("VARIANTS", "")
    if raw.strip() == "all":
        return list(VARIANTS)
    names = [name.strip() for name in raw.split(",") if name.strip()] or list(DEFAULT_VARIANTS)
    for name in names:
        variant_spec(name)  # a ValueError listing the known names for a typo
    return names


class VariantApi(ApiClient):
    """A client of one running variant; ``running`` gives its processes (stop/restart, logs)."""

    def __init__(self, name: str, running: RunningVariant):
        super().__init__(running.base_url)
        self.name = name
        self.running = running

    def log_tails(self, lines: int = 60) -> str:
        return "\n".join(
            f"--- {name} (pid {proc.popen.pid}, exit {proc.popen.poll()}) ---\n{proc.log_tail(lines)}"
            for name, proc in self.running.processes.items()
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every contract test starts real processes (``slow``); event-split ones also need RabbitMQ (``broker``)."""
    here = os.path.dirname(__file__)
    for item in items:
        if not str(item.path).startswith(here):
            continue
        item.add_marker(pytest.mark.slow)
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("api") if callspec else None
        if name and variant_spec(name).needs_broker:
            item.add_marker(pytest.mark.broker)


@pytest.fixture(scope="session", params=selected_variants())
def api(request: pytest.FixtureRequest) -> Iterator[VariantApi]:
    """The variant ``request.param`` running as real processes for the whole session, stopped at the end."""
    running = start(request.param)
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
            report.sections.append((f"variant {client.name} logs", client.log_tails()))
    return report
