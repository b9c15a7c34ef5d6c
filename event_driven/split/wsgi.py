"""Entrypoint of the api process: ``gunicorn 'event_driven.split.wsgi:create_app()'``.

The api runs no service: every operation is a request over the bus to the service's own process
(``python -m event_driven.split.serve NAME``).
The bus starts with the app and, at interpreter exit, drains what is in flight before it stops.
A configuration error (e.g. an unavailable ``EVENT_BUS``) stops the server with one line, no traceback.
"""
from __future__ import annotations

import atexit

from flask import Flask

from shared.config import ConfigError, Settings, configure_logging
from shared.http.app import create_app as create_edge

from .bootstrap import build


def create_app() -> Flask:
    settings = Settings.from_env(default_db_name="event-monolith")
    configure_logging(settings.log_level)
    try:
        application = build(settings, services=())
    except ConfigError as error:
        raise _startup_error(error) from None
    atexit.register(application.close)
    return create_edge(application.backend)


def _startup_error(error: ConfigError) -> Exception:
    """Gunicorn prints an ``AppImportError`` as its message alone and halts instead of respawning workers."""
    try:
        from gunicorn.errors import AppImportError
    except ImportError:  # not under gunicorn
        return error
    return AppImportError(f"configuration error: {error}")
