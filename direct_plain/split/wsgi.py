"""Entrypoints for gunicorn: the api, ``direct_plain.split.wsgi:create_app()``; a service,
``direct_plain.split.wsgi:create_service('monitor')`` (or ``'alerting'``, ``'notification'``)."""
from __future__ import annotations

from flask import Flask

from shared.config import Settings, configure_logging
from shared.http.app import create_app as create_edge
from shared.http.auth import startup_keys
from shared.telemetry import setup as setup_telemetry

from . import bootstrap


def create_app() -> Flask:
    settings = Settings.from_env()  # the api holds no database: its services are remote
    configure_logging(settings.log_level)
    setup_telemetry("api")
    keys = startup_keys(settings)
    return create_edge(bootstrap.bootstrap(settings), keys)


def create_service(name: str) -> Flask:
    """The service ``name`` on its database (``DATABASE_URL``), in this gunicorn worker."""
    settings = Settings.from_env(default_db_name=f"direct-plain-{name}")
    configure_logging(settings.log_level)
    setup_telemetry(name)  # before the app and the engine are made
    return bootstrap.service(name, settings)
