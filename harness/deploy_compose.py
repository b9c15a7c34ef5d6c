"""Render the topology into ``docker-compose.yml`` (one profile per variant) and the balancer's configuration.

Every app service can be scaled (``docker compose --profile V up --scale V-monitor=3``): none has a
``container_name`` or a host port. Peers find every container of a service through Docker's DNS (one name, many
addresses). The api is published through a balancer per profile, ``V-balancer`` (HAProxy, configured by
``harness/balancer.py``), the only service with a host port (8000, on the host's 127.0.0.1 only): it finds the api's
containers by DNS too, so ``--scale V-api=3`` needs nothing else.

Tracing: every app service reads ``TRACING`` from the environment (off by default) and sends its spans to
``OTEL_EXPORTER_OTLP_ENDPOINT`` (default the ``jaeger`` service of the ``tracing`` profile, Jaeger all-in-one,
its UI on http://127.0.0.1:16686): ``TRACING=1 docker compose --profile event-split --profile tracing up``.
"""
from __future__ import annotations

import re
from typing import Any

from . import balancer
from .deploy_broker import ADMIN_PASSWORD, ADMIN_USER, MOUNT_DIR, SCRIPT, password_variable
from .deploy_common import (
    API_PORT,
    BROKER_USER,
    COMPOSE_API_KEYS,
    DATA_DIR,
    DB_USER,
    DEV_POSTGRES_PASSWORD,
    DEV_RABBITMQ_PASSWORD,
    HEADER,
    IMAGE,
    POSTGRES_IMAGE,
    POSTGRES_INIT_SCRIPT,
    RABBITMQ_IMAGE,
    Block,
    Platform,
    compose_database,
    compose_required,
    compose_service,
    container_port,
    databases,
    peers,
    probe_command,
    to_yaml,
)
from .topology import BROKER_URL, VARIANTS, ProcessSpec, Variant

BALANCER = "balancer"
JAEGER = "jaeger"
JAEGER_IMAGE = "jaegertracing/all-in-one:1.62.0"
TRACING_PROFILE = "tracing"
TRACING_ENV = {
    "TRACING": "${TRACING:-0}",
    "OTEL_EXPORTER_OTLP_ENDPOINT": f"${{OTEL_EXPORTER_OTLP_ENDPOINT:-http://{JAEGER}:4318}}",
}
"""Given to every app service besides the topology's environment: tracing off unless the caller's TRACING says."""
BALANCER_CONFIG = "harness/haproxy-compose.cfg"
"""Generated beside this module (``balancer.compose_config``), mounted read-only into every profile's balancer."""

COMPOSE = Platform(
    address=lambda v, p: f"{compose_service(v, p.name)}:{container_port(p)}",
    database_url=lambda v, store: (
        f"postgresql://{DB_USER}:${{POSTGRES_PASSWORD:-{DEV_POSTGRES_PASSWORD}}}@postgres:5432/{compose_database(v, store)}"
    ),
    rabbitmq_url=lambda user: (
        f"amqp://{user}:{compose_required(password_variable(user))}@rabbitmq:5672/%2F" if user
        else f"amqp://{BROKER_USER}:${{RABBITMQ_PASSWORD:-{DEV_RABBITMQ_PASSWORD}}}@rabbitmq:5672/%2F"
    ),
    token=lambda service: compose_required(f"{service.upper()}_TOKEN"),
    api_keys=COMPOSE_API_KEYS,
)



def broker_users() -> list[str]:
    """The broker users some process of some variant connects as."""
    found = (user for v in VARIANTS.values() for p in v.processes for value in p.env.values()
             for user in BROKER_URL.findall(value))
    return list(dict.fromkeys(found))


def compose_document() -> dict[str, Any]:
    services: dict[str, Any] = {}
    for variant in VARIANTS.values():
        for proc in variant.processes:
            services[compose_service(variant, proc.name)] = _compose_app_service(variant, proc)
        services[compose_service(variant, BALANCER)] = _balancer_service(variant)
    profiles = list(VARIANTS)
    services[JAEGER] = {
        "profiles": [TRACING_PROFILE],
        "image": JAEGER_IMAGE,
        "ports": ["127.0.0.1:16686:16686"],  # the UI, this host only; OTLP (4318) stays on the compose network
        "restart": "unless-stopped",
    }
    services["postgres"] = {
        "profiles": profiles,
        "image": POSTGRES_IMAGE,
        "environment": Block({
            "POSTGRES_USER": DB_USER,
            "POSTGRES_PASSWORD": f"${{POSTGRES_PASSWORD:-{DEV_POSTGRES_PASSWORD}}}",
            "POSTGRES_DATABASES": " ".join(compose_database(v, db) for v in VARIANTS.values() for db in databases(v)),
        }),
        "volumes": [f"./{POSTGRES_INIT_SCRIPT}:/docker-entrypoint-initdb.d/create-databases.sh:ro"],
        "healthcheck": {
            # TCP on purpose: during initialisation the server listens on its Unix socket only.
            "test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", DB_USER, "-d", "postgres"],
            "interval": "5s", "timeout": "5s", "retries": 24, "start_period": "10s",
        },
        "restart": "unless-stopped",
    }
    services["rabbitmq"] = {
        "profiles": [v.name for v in VARIANTS.values() if v.needs_broker],
        "image": RABBITMQ_IMAGE,
        "hostname": "rabbitmq",
        # The users (one per event-split process kind, and the operators' administrator) come from definitions that
        # the script writes from these passwords and RabbitMQ loads at its first boot: no guest user.
        "entrypoint": ["sh", f"{MOUNT_DIR}/load-definitions.sh"],
        "command": ["docker-entrypoint.sh", "rabbitmq-server"],
        "environment": Block({
            ADMIN_USER: BROKER_USER,
            ADMIN_PASSWORD: f"${{RABBITMQ_PASSWORD:-{DEV_RABBITMQ_PASSWORD}}}",
            **{password_variable(user): compose_required(password_variable(user)) for user in broker_users()},
        }),
        "volumes": [f"./{SCRIPT}:{MOUNT_DIR}/load-definitions.sh:ro"],
        "healthcheck": {
            "test": ["CMD", "rabbitmq-diagnostics", "-q", "check_port_connectivity"],
            "interval": "10s", "timeout": "15s", "retries": 18, "start_period": "20s",
        },
        "restart": "unless-stopped",
    }
    return {"services": services}


# Shared by every app service (merged in with `<<: *app`): one image, a read-only root filesystem with
# /tmp and DATA_DIR in memory, no capabilities, tini as PID 1.
COMPOSE_APP_DEFAULTS: dict[str, Any] = {
    "image": IMAGE,
    "build": ".",
    "init": True,
    "read_only": True,
    "tmpfs": ["/tmp", DATA_DIR],
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "restart": "unless-stopped",
}
_MERGE_KEY, _MERGE_MARK = "<<", "__merge_app_defaults__"


def _compose_app_service(variant: Variant, proc: ProcessSpec) -> dict[str, Any]:
    depends: dict[str, Any] = {}
    if proc.database:
        depends["postgres"] = {"condition": "service_healthy"}
    if BROKER_URL.search("".join(proc.env.values())):
        depends["rabbitmq"] = {"condition": "service_healthy"}
    names = [p.name for p in variant.processes if not p.public] if proc.public else peers(proc)
    for name in names:
        depends[compose_service(variant, name)] = {"condition": "service_healthy"}
    service: dict[str, Any] = {
        _MERGE_KEY: _MERGE_MARK,
        "profiles": [variant.name],
        "command": COMPOSE.argv(variant, proc),
        "environment": Block({**COMPOSE.env(variant, proc), **TRACING_ENV}),
    }
    if depends:
        service["depends_on"] = depends
    service["healthcheck"] = {
        "test": probe_command(proc, "/readyz" if proc.public else "/healthz"),
        "interval": "5s", "timeout": "5s", "retries": 24, "start_period": "10s",
    }
    return service


def _balancer_service(variant: Variant) -> dict[str, Any]:
    """HAProxy in front of the api's containers, the profile's only published port."""
    api = compose_service(variant, variant.api.name)
    return {
        "profiles": [variant.name],
        "image": balancer.COMPOSE_IMAGE,
        "environment": Block({"API_HOST": api}),
        "volumes": [f"./{BALANCER_CONFIG}:/usr/local/etc/haproxy/haproxy.cfg:ro"],
        "ports": [f"127.0.0.1:{API_PORT}:{API_PORT}"],  # this host only, as the README says
        "depends_on": {api: {"condition": "service_healthy"}},
        "read_only": True,
        "tmpfs": ["/tmp"],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "restart": "unless-stopped",
    }


def balancer_config_text() -> str:
    return balancer.compose_config(API_PORT, API_PORT)


def compose_text() -> str:
    intro = (
        "# One profile per variant, run one at a time; each publishes its api, through its balancer, on http://127.0.0.1:8000:\n"
        "#   docker compose --profile event-split up --build\n"
        "#   docker compose --profile event-split up --build --scale event-split-api=3 --scale event-split-monitor=2\n"
        f"# Profiles: {', '.join(VARIANTS)}.\n"
        "# Passwords default to local-development values (dev-only-*); set POSTGRES_PASSWORD / RABBITMQ_PASSWORD to override.\n"
        "# The internal credentials have no default: MONITOR_TOKEN, ALERTING_TOKEN, NOTIFICATION_TOKEN (direct splits) and\n"
        "# RABBITMQ_<USER>_PASSWORD of the broker users api, monitor, alerting, notification (event-split);\n"
        "# `python -m harness.internal_credentials >> .env` writes new ones where compose reads them.\n"
        "# API_KEYS has no default: `python -m harness.auth_keys` prints a key (for clients: Authorization: Bearer <key>)\n"
        "# and its entry (for the api: API_KEYS=<entry>, comma-separated for several).\n"
    )
    text = to_yaml({"x-app": COMPOSE_APP_DEFAULTS, **compose_document()})
    text = text.replace("x-app:\n", "x-app: &app\n", 1)
    text = re.sub(rf"'?{re.escape(_MERGE_KEY)}'?: {_MERGE_MARK}\n", "<<: *app\n", text)
    return HEADER + intro + text
