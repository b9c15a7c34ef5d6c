"""Entrypoint for gunicorn: ``gunicorn 'event_plain.monolith.wsgi:create_app()'``."""
from __future__ import annotations

from flask import Flask

from shared.config import Settings, configure_logging
from shared.http.app import create_app as create_edge
from shared.http.auth import startup_keys
from shared.telemetry import setup as setup_telemetry

from .bootstrap import bootstrap


def create_app() -> Flask:
    settings = Settings.from_env(default_db_name="event-plain-monolith")
    configure_logging(settings.log_level)
    setup_telemetry("event-plain-monolith")  # before the app and the engines are made
    keys = startup_keys(settings)  # before any database is opened: no key, no api
    return create_edge(bootstrap(settings), keys)
