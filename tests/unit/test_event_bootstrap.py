"""The event-driven app's composition root: the bus choice, a process running a subset of the services."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from event_driven.monolith.bootstrap import bootstrap, make_bus
from event_driven.monolith.memory_bus import InMemoryEventBus
from shared.auth import entry, new_key
from shared.config import ConfigError, Settings
from shared.domain import NewTarget

ROOT = Path(__file__).resolve().parents[2]


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"DATA_DIR": str(tmp_path), **env}, default_db_name="event-monolith")


def test_the_memory_bus_is_the_default(tmp_path: Path) -> None:
    assert isinstance(make_bus(settings(tmp_path)), InMemoryEventBus)


@pytest.mark.parametrize("name", ["rabbitmq", "kafka"])
def test_a_bus_this_build_does_not_have_is_a_one_line_config_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as raised:
        make_bus(settings(tmp_path, EVENT_BUS=name))
    assert "EVENT_BUS" in str(raised.value) and "\n" not in str(raised.value)


def test_the_whole_app_on_sqlite(tmp_path: Path) -> None:
    app = bootstrap(settings(tmp_path))
    try:
        assert app.services == ["monitor", "alerting", "notification"]
        assert app.backend is not None and app.backend.readiness() == []
        target = app.backend.create_target("dev", NewTarget("web", "http://example.com/"))
        assert app.backend.get_target("dev", target.id) == target
    finally:
        app.close()
    assert app.backend.readiness() == ["event bus: closed"]


def test_a_process_may_run_some_services_without_the_edge(tmp_path: Path) -> None:
    app = bootstrap(settings(tmp_path), services=["alerting"], with_edge=False)
    try:
        assert app.services == ["alerting"] and app.backend is None
        assert {group.name for group in app.bus.groups} == {"alerting", "alerting-reads"}
    finally:
        app.close()
    with pytest.raises(ConfigError, match="unknown services"):
        bootstrap(settings(tmp_path), services=["billing"])


def test_gunicorn_stops_with_one_line_when_the_bus_is_not_available(tmp_path: Path) -> None:
    env = {**os.environ, "EVENT_BUS": "rabbitmq", "DATA_DIR": str(tmp_path), "API_KEYS": entry(new_key(), "dev")}
    process = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "event_driven.monolith.wsgi:create_app()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert process.returncode != 0
    assert "EVENT_BUS=rabbitmq is not available" in process.stderr
    assert "Traceback" not in process.stderr


def test_gunicorn_stops_with_one_line_naming_api_keys_when_the_api_has_no_key(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if k != "API_KEYS"}, "DATA_DIR": str(tmp_path)}
    process = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "event_driven.monolith.wsgi:create_app()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert process.returncode != 0
    assert "API_KEYS is not set" in process.stderr
    assert "Traceback" not in process.stderr


def test_the_split_bus_factory_knows_rabbitmq_and_leaves_the_rest_to_the_monolith(tmp_path: Path) -> None:
    from event_driven.split.bootstrap import make_bus as split_make_bus
    from event_driven.split.rabbitmq_bus import RabbitMQEventBus

    bus = split_make_bus(settings(tmp_path, EVENT_BUS="rabbitmq", BUS_NAMESPACE="ns-test"))
    assert isinstance(bus, RabbitMQEventBus) and bus.namespace == "ns-test"
    bus.close()  # never started: nothing to connect
    assert isinstance(split_make_bus(settings(tmp_path)), InMemoryEventBus)
    with pytest.raises(ConfigError, match="EVENT_BUS"):
        split_make_bus(settings(tmp_path, EVENT_BUS="kafka"))
