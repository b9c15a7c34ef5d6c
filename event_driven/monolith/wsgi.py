"""Entrypoint for gunicorn: ``gunicorn 'event_driven.monolith.wsgi:create_app()'``.

The bus starts with the app and, at interpreter exit, drains what is in flight before it stops.
A configuration error (e.g. an unavailable ``EVENT_BUS``) stops the server with one line, no traceback.
"""
from __future__ import annotations

import atexit
from collections.abc import Iterable

from flask import Flask

from shared.config import ConfigError, Settings, configure_logging
from shared.http.app import create_app as create_edge
from shared.http.auth import startup_keys
from shared.telemetry import setup as setup_telemetry

from .bootstrap import MakeBus, bootstrap, make_bus
from .handlers import SERVICES


def create_app(
    *, make_bus: MakeBus = make_bus, services: Iterable[str] = SERVICES, default_db_name: str = "event-monolith",
    service_name: str = "event-monolith",
) -> Flask:
    """The edge on an application of ``services`` on the bus of ``make_bus`` (the split's api passes its own)."""
    settings = Settings.from_env(default_db_name=default_db_name)
    configure_logging(settings.log_level)
    setup_telemetry(service_name)  # before the app, the bus and the engines are made
    keys = startup_keys(settings)  # before the bus starts: no key, no api
    try:
        application = bootstrap(settings, services=services, make_bus=make_bus)
    except ConfigError as error:
        raise _startup_error(error) from None
    atexit.register(application.close)
    return create_edge(application.backend, keys)


def _startup_error(error: ConfigError) -> Exception:
    """Gunicorn prints an ``AppImportError`` as its message alone and halts instead of respawning workers."""
    try:
        from gunicorn.errors import AppImportError
    except ImportError:  # not under gunicorn
        return error
    return AppImportError(f"configuration error: {error}")
