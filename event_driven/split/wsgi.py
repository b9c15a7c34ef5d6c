"""Entrypoint of the api process: ``gunicorn 'event_driven.split.wsgi:create_app()'``.

The monolith's entrypoint with no service in the process (every operation is a call over the bus to the
service's own process, ``python -m event_driven.split.serve NAME``) and the split's bus.
"""
from __future__ import annotations

from flask import Flask

from event_driven.monolith import wsgi

from .bootstrap import make_bus


def create_app() -> Flask:
    return wsgi.create_app(make_bus=make_bus, services=(), default_db_name="event-split-api",
                           service_name="api")  # opens no database
