"""The conventions shared by the docker compose and Kubernetes renderers (``deploy_compose``, ``deploy_k8s``).

Conventions (one place, used by both targets):

- in a container every process binds ``0.0.0.0``; the api listens on 8000, gRPC servers on 50051,
  HTTP servers and event workers (which serve ``/healthz``) on 8080; in k8s the api's 8000 is its pod's balancer
  and the api itself listens on 8001 (``deploy_k8s``);
- each process gets the launcher's environment: the topology's env templates rendered, plus the
  variables the launcher adds (``DATA_DIR``, ``PROCESS_NAME``, ``PYTHONUNBUFFERED``);
- compose: one PostgreSQL server for all profiles with one database per variant and store
  (``event_split_monitor``); a process's address is its compose service name (``event-split-monitor``);
- k8s: one namespace per variant with its own PostgreSQL (one database per store: ``monitor``) and,
  for ``event-split``, RabbitMQ; a process's address is its Service name (``monitor``); credentials
  come from Secrets through ``$(VAR)`` interpolation;
- internal credentials: a direct-split service's token (``{token:NAME}``) is ``NAME_TOKEN`` from the environment
  (compose: required, no default) or the Secret ``internal-tokens`` (k8s); an event-split process connects to the
  broker as its own user (``{rabbitmq_url:USER}``: ``api``, ``monitor``, ...), whose password is
  ``RABBITMQ_<USER>_PASSWORD`` (compose: required) or the key USER of the Secret ``rabbitmq-credentials`` (k8s), and
  which the broker creates at boot (``deploy_broker``);
- peers: ``{addr:NAME}`` is one DNS name that resolves to every replica of NAME (compose: Docker's DNS over the
  ``--scale``d containers; k8s: a headless Service), written ``dns:///name:port`` for a gRPC server so its client
  resolves and balances over all of them, and ``name:port`` for an HTTP server.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .topology import ProcessSpec, Variant, render

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = "docker-compose.yml"
K8S_DIR = "k8s"
HEADER = "# Generated from harness/topology.py by `python -m harness.deploy`: do not edit by hand; edit the topology, rerun.\n"

IMAGE = "monitoring:dev"
HOST = "0.0.0.0"
API_PORT = 8000
GRPC_PORT = 50051
HTTP_PORT = 8080
METRICS_PORT = 9100
"""Where every process serves its Prometheus ``/metrics`` in a container (``{metrics_port}``)."""
BUS_NAMESPACE = "monitoring"
DATA_DIR = "/data"
DB_USER = "monitoring"
BROKER_USER = "monitoring"
# Local-development defaults only (compose lets the environment override them; k8s reads Secrets).
DEV_POSTGRES_PASSWORD = "dev-only-postgres-password"
DEV_RABBITMQ_PASSWORD = "dev-only-rabbitmq-password"
API_KEYS_SECRET = ("api-keys", "entries")
"""k8s: the Secret (and its key) that gives the api ``API_KEYS``: hashed entries only (``shared.auth``)."""
COMPOSE_API_KEYS = ("${API_KEYS:?set API_KEYS to the entries of the api keys: "
                    "python -m harness.auth_keys prints a new key and its entry}")
INTERNAL_TOKENS_SECRET = "internal-tokens"
"""k8s: the Secret that holds the direct splits' service tokens, one key per service."""


def compose_required(variable: str) -> str:
    """compose: the value of ``variable``, required (no default), with where a value comes from."""
    return f"${{{variable}:?set {variable}: python -m harness.internal_credentials prints new values}}"
"""compose: the api's ``API_KEYS`` comes from the environment, with no default (compose refuses to start without it)."""
POSTGRES_IMAGE = "postgres:17"
RABBITMQ_IMAGE = "rabbitmq:4.1-management"
POSTGRES_INIT_SCRIPT = "k8s/base/create-databases.sh"
PART_OF = "monitoring"
_ADDR = re.compile(r"\{addr:([a-z]+)\}")

# Probes in a container: the image's python with the standard library (HTTP) or the project's gRPC health client.
_HTTP_PROBE = ("import sys, urllib.request; "
               "sys.exit(urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=3).status != 200)")
_GRPC_PROBE = ("import sys; from direct_calls.split.grpc_health import check_serving; "
               "sys.exit(not check_serving('127.0.0.1:{port}', timeout_s=3))")


class Flow(dict):
    """A mapping written on one line."""


class Block(dict):
    """A mapping written one key per line."""


# --------------------------------------------------------------------------- conventions

def container_port(proc: ProcessSpec) -> int:
    if proc.public:
        return API_PORT
    return GRPC_PORT if proc.protocol == "grpc" else HTTP_PORT


def port_name(proc: ProcessSpec) -> str:
    return "grpc" if proc.protocol == "grpc" and not proc.public else "http"


def launcher_extra_env(proc: ProcessSpec) -> dict[str, str]:
    """What ``harness.launcher`` adds to the rendered env of every process (checked against it by a test)."""
    return {"DATA_DIR": DATA_DIR, "PROCESS_NAME": proc.name, "PYTHONUNBUFFERED": "1"}


def grpc_target(proc: ProcessSpec, address: str) -> str:
    """A gRPC server's address as a target URI naming the DNS resolver: the name resolves to every replica (a
    headless Service in k8s, Docker's DNS in compose), for a client that balances over them (``round_robin``).
    HTTP peers get the plain ``host:port``."""
    return f"dns:///{address}" if proc.protocol == "grpc" and not proc.public else address


def compose_service(variant: Variant, name: str) -> str:
    """Compose service names are unique across profiles: the variant's name is their prefix."""
    return f"{variant.name}-{name}"


def compose_database(variant: Variant, store: str) -> str:
    return f"{variant.name}_{store}".replace("-", "_")


@dataclass(frozen=True)
class Platform:
    """How a deployment target names a variant's peers, databases and broker."""

    address: Callable[[Variant, ProcessSpec], str]
    database_url: Callable[[Variant, str], str]
    rabbitmq_url: Callable[[str], str]
    """The broker URL of a broker user (``{rabbitmq_url:USER}``), or of the administrator (``{rabbitmq_url}``: "")."""
    token: Callable[[str], str]
    """The token of a direct-split service (``{token:NAME}``)."""
    api_keys: str | None = None
    """The api's ``API_KEYS`` value, when the platform gives it as a plain variable (None: it adds it otherwise)."""
    listen_port: Callable[[ProcessSpec], int] = container_port
    """Where the process itself listens (``{port}``): its container port, unless something in front of it in the
    same pod takes that (k8s: the api's balancer)."""

    def lookup(self, variant: Variant, proc: ProcessSpec) -> Callable[[str], str]:
        def resolve(key: str) -> str:
            kind, _, target = key.partition(":")
            if kind == "addr":
                return grpc_target(variant.process(target), self.address(variant, variant.process(target)))
            if kind == "db":
                return self.database_url(variant, target)
            if kind == "rabbitmq_url":
                return self.rabbitmq_url(target)
            if kind == "token":
                return self.token(target)
            return {"host": HOST, "port": str(self.listen_port(proc)), "metrics_port": str(METRICS_PORT),
                    "namespace": BUS_NAMESPACE}[kind]

        return resolve

    def argv(self, variant: Variant, proc: ProcessSpec) -> list[str]:
        return [render(arg, self.lookup(variant, proc)) for arg in proc.argv]

    def env(self, variant: Variant, proc: ProcessSpec) -> dict[str, str]:
        lookup = self.lookup(variant, proc)
        keys = {"API_KEYS": self.api_keys} if proc.public and self.api_keys else {}
        return {**{k: render(v, lookup) for k, v in proc.env.items()}, **launcher_extra_env(proc), **keys}


def databases(variant: Variant) -> list[str]:
    return [p.database for p in variant.processes if p.database]


def peers(proc: ProcessSpec) -> list[str]:
    """The processes whose address ``proc`` is given (it calls them)."""
    found = (name for template in (*proc.argv, *proc.env.values()) for name in _ADDR.findall(template))
    return list(dict.fromkeys(found))


def probe_command(proc: ProcessSpec, path: str) -> list[str]:
    port = container_port(proc)
    if proc.protocol == "grpc" and not proc.public:
        return ["CMD", "python", "-c", _GRPC_PROBE.format(port=port)]
    return ["CMD", "python", "-c", _HTTP_PROBE.format(port=port, path=path)]


# --------------------------------------------------------------------------- output

def to_yaml(document: Any) -> str:
    import yaml  # only needed to render; the services never import this module

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)  # indent list items under their key

    # One line for: a list of scalars (a command), a Flow mapping (an env entry, a port) and a small
    # mapping of scalars (labels, a probe's target); block style for everything else.
    def represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> Any:
        flow = all(isinstance(x, str | int | bool) for x in data)
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

    def represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> Any:
        if isinstance(data, Flow | Block):
            flow = isinstance(data, Flow)
        else:
            flow = all(isinstance(v, str | int | bool) for v in data.values()) and len(data) <= 3 and len(json.dumps(data)) <= 100
        return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)

    for kind in (dict, Flow, Block):
        Dumper.add_representer(kind, represent_dict)
    Dumper.add_representer(list, represent_list)
    return yaml.dump(document, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=400, allow_unicode=True)
