"""Entrypoint of the api process: ``gunicorn 'event_plain.split.wsgi:create_app()'`` (no database: every
operation is a call to its service's process, ``python -m event_plain.split.serve NAME``)."""
from __future__ import annotations

from flask import Flask

from shared.config import Settings, configure_logging
from shared.http.app import create_app as create_edge
from shared.http.auth import startup_keys
from shared.telemetry import setup as setup_telemetry

from .backend import RpcBackend
from .rpc import RpcClient


def create_app() -> Flask:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    setup_telemetry("api")
    keys = startup_keys(settings)  # no key, no api
    client = RpcClient(settings.rabbitmq_url, settings.bus_namespace)
    return create_edge(RpcBackend(client, settings.call_timeout_s), keys)
