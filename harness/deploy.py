"""Render the topology (``harness/topology.py``) into ``docker-compose.yml``, the k8s overlays and the Dockerfile's CMD.

``python -m harness.deploy`` writes the files; ``python -m harness.deploy --check`` writes nothing and
exits 1 naming every file that differs from what the topology gives (``tests/deploy`` runs the same
check, so ``make test`` fails on drift).

Why generated, not hand-written: the topology is the single source of truth for which processes a
variant has and with which command and environment. Hand-copying 15 processes'
commands and environments into compose and k8s, and keeping them in step, is exactly the drift that a
review misses. So the parts that come from the topology are rendered here, and a test asserts the
committed files equal this renderer's output. The rendered files stay committed and readable (a
user runs ``docker compose`` or ``kubectl apply -k`` on a fresh clone, no Python step; the migration
diff reads them). What does not come from the topology is hand-written YAML beside them: the
kustomize base (PostgreSQL, network policies), the RabbitMQ component, the ``app-defaults``
component (hardening, resources, scratch volumes shared by every app Deployment) and the Dockerfile,
of which only the ``CMD`` line (the api of direct-monolith) is kept in step here.

A second, independent test (``tests/deploy/test_deploy_topology.py``) renders the topology's
templates itself from the rendered YAML's point of view (DNS names, PostgreSQL URLs, Secret values)
and checks the commands and environments in ``docker-compose.yml`` and in ``kubectl kustomize``'s
output, so a mistake in this module does not hide behind the equality test.

Conventions (one place, used by both targets):

- in a container every process binds ``0.0.0.0``; the api listens on 8000, gRPC servers on 50051,
  HTTP servers and event workers (which serve ``/healthz``) on 8080;
- each process gets the launcher's environment: the topology's env templates rendered, plus the
  variables the launcher adds (``DATA_DIR``, ``PROCESS_NAME``, ``PYTHONUNBUFFERED``);
- compose: one PostgreSQL server for all profiles with one database per variant and store
  (``event_split_monitor``); a process's address is its compose service name (``event-split-monitor``);
- k8s: one namespace per variant with its own PostgreSQL (one database per store: ``monitor``) and,
  for ``event-split``, RabbitMQ; a process's address is its Service name (``monitor``); credentials
  come from Secrets through ``$(VAR)`` interpolation.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .topology import VARIANTS, ProcessSpec, Variant, render

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = "docker-compose.yml"
K8S_DIR = "k8s"
HEADER = "# Generated from harness/topology.py by `python -m harness.deploy`: do not edit by hand; edit the topology, rerun.\n"

IMAGE = "monitoring:dev"
HOST = "0.0.0.0"
API_PORT = 8000
GRPC_PORT = 50051
HTTP_PORT = 8080
BUS_NAMESPACE = "monitoring"
DATA_DIR = "/data"
DB_USER = "monitoring"
BROKER_USER = "monitoring"
# Local-development defaults only (compose lets the environment override them; k8s reads Secrets).
DEV_POSTGRES_PASSWORD = "dev-only-postgres-password"
DEV_RABBITMQ_PASSWORD = "dev-only-rabbitmq-password"
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
    rabbitmq_url: str

    def lookup(self, variant: Variant, proc: ProcessSpec) -> Callable[[str], str]:
        def resolve(key: str) -> str:
            kind, _, target = key.partition(":")
            if kind == "addr":
                return self.address(variant, variant.process(target))
            if kind == "db":
                return self.database_url(variant, target)
            return {"host": HOST, "port": str(container_port(proc)), "rabbitmq_url": self.rabbitmq_url,
                    "namespace": BUS_NAMESPACE}[kind]

        return resolve

    def argv(self, variant: Variant, proc: ProcessSpec) -> list[str]:
        return [render(arg, self.lookup(variant, proc)) for arg in proc.argv]

    def env(self, variant: Variant, proc: ProcessSpec) -> dict[str, str]:
        lookup = self.lookup(variant, proc)
        return {**{k: render(v, lookup) for k, v in proc.env.items()}, **launcher_extra_env(proc)}


COMPOSE = Platform(
    address=lambda v, p: f"{compose_service(v, p.name)}:{container_port(p)}",
    database_url=lambda v, store: (
        f"postgresql://{DB_USER}:${{POSTGRES_PASSWORD:-{DEV_POSTGRES_PASSWORD}}}@postgres:5432/{compose_database(v, store)}"
    ),
    rabbitmq_url=f"amqp://{BROKER_USER}:${{RABBITMQ_PASSWORD:-{DEV_RABBITMQ_PASSWORD}}}@rabbitmq:5672/%2F",
)

K8S = Platform(
    address=lambda v, p: f"{p.name}:{container_port(p)}",
    database_url=lambda v, store: f"postgresql://$(POSTGRES_USER):$(POSTGRES_PASSWORD)@postgres:5432/{store}",
    rabbitmq_url="amqp://$(RABBITMQ_USER):$(RABBITMQ_PASSWORD)@rabbitmq:5672/%2F",
)

# k8s: variables filled from Secrets, defined before the values that interpolate them.
K8S_SECRET_ENV = {
    "POSTGRES_USER": ("postgres-credentials", "username"),
    "POSTGRES_PASSWORD": ("postgres-credentials", "password"),
    "RABBITMQ_USER": ("rabbitmq-credentials", "username"),
    "RABBITMQ_PASSWORD": ("rabbitmq-credentials", "password"),
}


def databases(variant: Variant) -> list[str]:
    return [p.database for p in variant.processes if p.database]


def peers(proc: ProcessSpec) -> list[str]:
    """The processes whose address ``proc`` is given (it calls them)."""
    found = (name for template in (*proc.argv, *proc.env.values()) for name in _ADDR.findall(template))
    return list(dict.fromkeys(found))


def _probe_command(proc: ProcessSpec, path: str) -> list[str]:
    port = container_port(proc)
    if proc.protocol == "grpc" and not proc.public:
        return ["CMD", "python", "-c", _GRPC_PROBE.format(port=port)]
    return ["CMD", "python", "-c", _HTTP_PROBE.format(port=port, path=path)]


# --------------------------------------------------------------------------- docker compose

def compose_document() -> dict[str, Any]:
    services: dict[str, Any] = {}
    for variant in VARIANTS.values():
        for proc in variant.processes:
            services[compose_service(variant, proc.name)] = _compose_app_service(variant, proc)
    profiles = list(VARIANTS)
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
        "environment": Block({
            "RABBITMQ_DEFAULT_USER": BROKER_USER,
            "RABBITMQ_DEFAULT_PASS": f"${{RABBITMQ_PASSWORD:-{DEV_RABBITMQ_PASSWORD}}}",
        }),
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
    if "{rabbitmq_url}" in "".join(proc.env.values()):
        depends["rabbitmq"] = {"condition": "service_healthy"}
    names = [p.name for p in variant.processes if not p.public] if proc.public else peers(proc)
    for name in names:
        depends[compose_service(variant, name)] = {"condition": "service_healthy"}
    service: dict[str, Any] = {
        _MERGE_KEY: _MERGE_MARK,
        "profiles": [variant.name],
        "command": COMPOSE.argv(variant, proc),
        "environment": Block(COMPOSE.env(variant, proc)),
    }
    if proc.public:
        service["ports"] = [f"{API_PORT}:{API_PORT}"]
    if depends:
        service["depends_on"] = depends
    service["healthcheck"] = {
        "test": _probe_command(proc, "/readyz" if proc.public else "/healthz"),
        "interval": "5s", "timeout": "5s", "retries": 24, "start_period": "10s",
    }
    return service


def compose_text() -> str:
    intro = (
        "# One profile per variant, run one at a time; each publishes its api on http://127.0.0.1:8000:\n"
        "#   docker compose --profile event-split up --build\n"
        f"# Profiles: {', '.join(VARIANTS)}.\n"
        "# Passwords default to local-development values (dev-only-*); set POSTGRES_PASSWORD / RABBITMQ_PASSWORD to override.\n"
    )
    text = to_yaml({"x-app": COMPOSE_APP_DEFAULTS, **compose_document()})
    text = text.replace("x-app:\n", "x-app: &app\n", 1)
    text = re.sub(rf"'?{re.escape(_MERGE_KEY)}'?: {_MERGE_MARK}\n", "<<: *app\n", text)
    return HEADER + intro + text


# --------------------------------------------------------------------------- kubernetes

def k8s_files(variant: Variant) -> dict[str, str]:
    """The files of ``k8s/<variant>/``: its kustomization and one Deployment (+ Service) per process."""
    files = {"kustomization.yaml": HEADER + f"# kubectl apply -k k8s/{variant.name}\n" + to_yaml(_kustomization(variant))}
    for proc in variant.processes:
        docs = [_deployment(variant, proc)]
        if proc.public or any(proc.name in peers(p) for p in variant.processes):
            docs.append(_service(proc))
        files[f"{proc.name}.yaml"] = HEADER + "---\n".join(to_yaml(d) for d in docs)
    return files


def _kustomization(variant: Variant) -> dict[str, Any]:
    components = ["../components/app-defaults"]
    if variant.needs_broker:
        components.append("../components/rabbitmq")
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": variant.name,
        "resources": ["../base", *(f"{p.name}.yaml" for p in variant.processes)],
        "components": components,
        "configMapGenerator": [
            Block(name="postgres-databases", literals=[f"POSTGRES_DATABASES={' '.join(databases(variant))}"]),
        ],
    }


def _labels(proc: ProcessSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": proc.name, "app.kubernetes.io/part-of": PART_OF}


def _k8s_env(variant: Variant, proc: ProcessSpec) -> list[dict[str, Any]]:
    env = K8S.env(variant, proc)
    used = "".join(env.values())
    entries: list[dict[str, Any]] = [
        Flow(name=name, valueFrom={"secretKeyRef": {"name": secret, "key": key}})
        for name, (secret, key) in K8S_SECRET_ENV.items()
        if f"$({name})" in used
    ]
    return entries + [Flow(name=k, value=v) for k, v in env.items()]


def _probe(proc: ProcessSpec, path: str, **timing: int) -> dict[str, Any]:
    if proc.protocol == "grpc" and not proc.public:
        check: dict[str, Any] = {"grpc": {"port": GRPC_PORT}}
    else:
        check = {"httpGet": {"path": path, "port": port_name(proc)}}
    return {**check, **timing}


def _deployment(variant: Variant, proc: ProcessSpec) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": IMAGE,
        "command": K8S.argv(variant, proc),
        "env": _k8s_env(variant, proc),
        "ports": [Flow(name=port_name(proc), containerPort=container_port(proc))],
        "readinessProbe": _probe(proc, "/readyz" if proc.public else "/healthz", periodSeconds=5, timeoutSeconds=3),
        "livenessProbe": _probe(proc, "/healthz", initialDelaySeconds=10, periodSeconds=10, timeoutSeconds=3,
                                failureThreshold=6),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": proc.name, "labels": _labels(proc)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": proc.name}},
            "template": {"metadata": {"labels": _labels(proc)}, "spec": {"containers": [container]}},
        },
    }


def _service(proc: ProcessSpec) -> dict[str, Any]:
    name = port_name(proc)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": proc.name, "labels": _labels(proc)},
        "spec": {
            "selector": {"app.kubernetes.io/name": proc.name},
            "ports": [Flow(name=name, port=container_port(proc), targetPort=name)],
        },
    }


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


DOCKERFILE = "Dockerfile"
_CMD_LINE = re.compile(r"^CMD \[.*\]$", re.M)


def dockerfile_text(current: str) -> str:
    """The hand-written Dockerfile with its default command (``CMD``) set to the api of direct-monolith."""
    api = VARIANTS["direct-monolith"].api
    argv = [render(arg, {"host": HOST, "port": str(API_PORT)}.__getitem__) for arg in api.argv]
    return _CMD_LINE.sub(lambda _: "CMD " + json.dumps(argv), current, count=1)


def expected_files(root: Path = ROOT) -> dict[str, str]:
    """Every generated file, by path relative to the repository root."""
    files = {COMPOSE_FILE: compose_text()}
    if (root / DOCKERFILE).exists():
        files[DOCKERFILE] = dockerfile_text((root / DOCKERFILE).read_text())
    for variant in VARIANTS.values():
        for name, text in k8s_files(variant).items():
            files[f"{K8S_DIR}/{variant.name}/{name}"] = text
    return files


def stale_files(root: Path, expected: Iterable[str]) -> list[str]:
    """Generated files left in a variant's overlay that the topology no longer produces."""
    wanted = set(expected)
    stale = []
    for variant in VARIANTS:
        for path in sorted((root / K8S_DIR / variant).glob("*.yaml")):
            rel = path.relative_to(root).as_posix()
            if rel not in wanted and path.read_text().startswith(HEADER):
                stale.append(rel)
    return stale


def differences(root: Path = ROOT) -> dict[str, str]:
    """Path → unified diff (or reason) for every generated file that is not as the topology gives it."""
    expected = expected_files(root)
    result: dict[str, str] = {}
    for rel, text in expected.items():
        path = root / rel
        current = path.read_text() if path.exists() else None
        if current != text:
            result[rel] = "missing" if current is None else "".join(
                difflib.unified_diff(current.splitlines(True), text.splitlines(True), f"{rel} (committed)", f"{rel} (rendered)")
            )
    for rel in stale_files(root, expected):
        result[rel] = "stale: no longer produced by the topology"
    return result


def write(root: Path = ROOT) -> list[str]:
    expected = expected_files(root)
    changed = []
    for rel, text in expected.items():
        path = root / rel
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(rel)
    for rel in stale_files(root, expected):
        (root / rel).unlink()
        changed.append(f"{rel} (removed)")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file differs")
    args = parser.parse_args(argv)
    if args.check:
        diffs = differences()
        for rel, diff in diffs.items():
            print(f"{rel}: {diff}" if "\n" not in diff else diff, end="" if diff.endswith("\n") else "\n")
        if diffs:
            print(f"{len(diffs)} generated file(s) out of date: run `python -m harness.deploy`", file=sys.stderr)
            return 1
        print("docker-compose.yml and k8s overlays match harness/topology.py")
        return 0
    changed = write()
    print("\n".join(f"wrote {rel}" for rel in changed) or "nothing to change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
