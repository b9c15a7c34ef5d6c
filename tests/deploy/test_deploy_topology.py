"""The commands and environments in docker-compose.yml and in the rendered k8s overlays are the topology's.

Independent of harness/deploy.py (which generates the files): each process's argv and env templates
from harness/topology.py are rendered here with the platform's point of view, read off the YAML itself:
addresses are the service DNS names (compose service / k8s Service) on the container ports (in k8s the api itself
listens on the port its pod's balancer forwards to, which its container declares); databases are
PostgreSQL URLs with the credentials of the PostgreSQL server the files define (k8s: its Secret, read back
through `valueFrom` and `$(VAR)` interpolation); the broker URL likewise. The variables the launcher adds
to every process (DATA_DIR, PROCESS_NAME, PYTHONUNBUFFERED) are taken from the launcher itself, by
starting it with its process spawning stubbed out.
"""
from __future__ import annotations

import base64
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest

from harness import launcher
from harness.topology import VARIANTS, ProcessSpec, Variant, render

from .support import ROOT, objects
from .test_deploy_compose import _interpolate

HOST = "0.0.0.0"
BUS_NAMESPACE = "monitoring"
METRICS_PORT = 9100
"""Where every process serves Prometheus ``/metrics`` in a container."""


def container_port(proc: ProcessSpec) -> int:
    """The ports of the brief: api 8000, gRPC servers 50051, HTTP servers and event workers 8080."""
    if proc.public:
        return 8000
    return 50051 if proc.protocol == "grpc" else 8080


def peer_address(proc: ProcessSpec, host: str) -> str:
    """A peer is one DNS name for all its replicas: a gRPC client gets a ``dns:///`` target URI, HTTP ``host:port``."""
    address = f"{host}:{container_port(proc)}"
    return f"dns:///{address}" if proc.protocol == "grpc" else address


# ------------------------------------------------------------------ what the launcher adds

class _FakePopen:
    def __init__(self, args: list[str], *, env: dict[str, str], **_: Any) -> None:
        argv = args[args.index("--") + 1:] if "--pdeathsig" in args else args  # what setpriv runs
        self.argv, self.env, self.pid, self.returncode = argv, env, 999_999_999, None

    def poll(self) -> None:
        return None

    def wait(self, timeout: float | None = None) -> int:
        return 0


class _OsWithoutEnviron:
    """The launcher's view of ``os`` with an empty environment and no signals sent."""

    environ: dict[str, str] = {}

    def killpg(self, *_: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        import os

        return getattr(os, name)


@pytest.fixture(scope="module")
def launcher_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, str]]]:
    """variant → process → the environment the launcher starts it with (nothing is started)."""
    spawned: list[_FakePopen] = []

    def popen(args: list[str], **kwargs: Any) -> _FakePopen:
        spawned.append(_FakePopen(args, **kwargs))
        return spawned[-1]

    result: dict[str, dict[str, dict[str, str]]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(launcher.subprocess, "Popen", popen)
        patch.setattr(launcher, "os", _OsWithoutEnviron())
        patch.setattr(launcher, "_wait_healthy", lambda *a, **k: None)
        patch.setattr(launcher, "_wait_ready", lambda *a, **k: None)
        patch.setattr(launcher, "_create_broker_users", lambda users: None)
        for name in VARIANTS:
            spawned.clear()
            # outbound_allow=None: as `make run`; the test runs' loopback allowance is not deployed.
            running = launcher.start(name, capture_output=False, rabbitmq_url="amqp://x", namespace=BUS_NAMESPACE,
                                     data_dir=tmp_path_factory.mktemp(name), outbound_allow=None)
            result[name] = {p.env["PROCESS_NAME"]: p.env for p in spawned}
            assert set(result[name]) == set(running.processes)
            for proc in spawned:
                assert proc.argv[0] == sys.executable or proc.env["PROCESS_NAME"] == launcher.BALANCER
    return result


PLATFORM_SPECIFIC = {"DATA_DIR", "API_KEYS"}
"""Launcher variables whose value is the machine's: a path (in a container: a mounted writable directory), or the
api's keys (the launcher's are made per run; compose requires them from the environment, k8s reads a Secret)."""


def launcher_extras(launcher_env: dict[str, dict[str, dict[str, str]]], variant: Variant, proc: ProcessSpec) -> dict[str, str]:
    """What the launcher gives ``proc`` beyond its rendered topology env."""
    given = launcher_env[variant.name][proc.name]
    extras = {k: v for k, v in given.items() if k not in proc.env}
    assert set(extras) >= {"DATA_DIR", "PROCESS_NAME"} and extras["PROCESS_NAME"] == proc.name, extras
    return extras


def expected_env(
    proc: ProcessSpec, lookup: Callable[[str], str], actual: dict[str, str], extras: dict[str, str]
) -> dict[str, str]:
    env = {k: render(v, lookup) for k, v in proc.env.items()}
    for key, value in extras.items():
        env[key] = actual.get(key, "<missing>") if key in PLATFORM_SPECIFIC else value
    return env


# ------------------------------------------------------------------ compose

def test_compose_commands_and_environments_are_the_topologys(compose, launcher_env) -> None:
    services = compose["services"]
    postgres = {k: _interpolate(str(v)) for k, v in services["postgres"]["environment"].items()}
    broker = {k: _interpolate(str(v)) for k, v in services["rabbitmq"]["environment"].items()}

    for variant in VARIANTS.values():
        for proc in variant.processes:
            service = services[f"{variant.name}-{proc.name}"]

            def lookup(key: str, proc: ProcessSpec = proc, variant: Variant = variant) -> str:
                kind, _, target = key.partition(":")
                if kind == "addr":
                    return peer_address(variant.process(target), f"{variant.name}-{target}")
                if kind == "db":
                    database = f"{variant.name}_{target}".replace("-", "_")
                    return f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{database}"
                if kind == "rabbitmq_url" and not target:  # the administrator the broker is started with
                    return f"amqp://{broker['RABBITMQ_USER']}:{broker['RABBITMQ_PASSWORD']}@rabbitmq:5672/%2F"
                if kind == "rabbitmq_url":  # the user's own password, the one the broker creates the user with
                    return f"amqp://{target}:{broker[f'RABBITMQ_{target.upper()}_PASSWORD']}@rabbitmq:5672/%2F"
                if kind == "token":
                    return f"<required {target.upper()}_TOKEN>"
                return {"host": HOST, "port": str(container_port(proc)), "metrics_port": str(METRICS_PORT),
                        "namespace": BUS_NAMESPACE}[kind]

            actual = {k: _interpolate(str(v)) for k, v in service["environment"].items()}
            tracing = {k: actual.pop(k, None) for k in ("TRACING", "OTEL_EXPORTER_OTLP_ENDPOINT")}
            assert tracing == {"TRACING": "0", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"}, service  # off unless asked
            extras = launcher_extras(launcher_env, variant, proc)
            assert actual == expected_env(proc, lookup, actual, extras), service
            assert [str(a) for a in service["command"]] == [render(a, lookup) for a in proc.argv]


# ------------------------------------------------------------------ kubernetes

_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _resolve_env(container: dict[str, Any], secrets: dict[tuple[str, str], str]) -> tuple[dict[str, str], set[str]]:
    """The container's environment as the kubelet builds it (Secret refs, then ``$(VAR)``), and the Secret-fed names."""
    env: dict[str, str] = {}
    from_secrets: set[str] = set()
    for entry in container["env"]:
        if "valueFrom" in entry:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = secrets[(ref["name"], ref["key"])]
            from_secrets.add(entry["name"])
        else:
            env[entry["name"]] = _REFERENCE.sub(lambda m: env.get(m.group(1), m.group(0)), entry["value"])
    return env, from_secrets


def _secrets(docs: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    values = {}
    for name, secret in objects(docs, "Secret").items():
        values.update({(name, k): v for k, v in secret.get("stringData", {}).items()})
        values.update({(name, k): base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()})
    return values


def _env_source(docs: list[dict[str, Any]], statefulset: str, name: str) -> tuple[str, str]:
    (container,) = objects(docs, "StatefulSet")[statefulset]["spec"]["template"]["spec"]["containers"]
    ref = next(e for e in container["env"] if e["name"] == name)["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_k8s_commands_and_environments_are_the_topologys(kustomize_output, launcher_env, name: str) -> None:
    variant = VARIANTS[name]
    docs = kustomize_output[name]
    secrets = _secrets(docs)
    deployments, services = objects(docs, "Deployment"), objects(docs, "Service")
    pg_user, pg_password = (secrets[_env_source(docs, "postgres", v)] for v in ("POSTGRES_USER", "POSTGRES_PASSWORD"))
    config_maps = {d["metadata"]["name"].rsplit("-", 1)[0]: d.get("data", {}) for d in objects(docs, "ConfigMap").values()}
    databases = config_maps["postgres-databases"]["POSTGRES_DATABASES"].split()
    balancer_servers = set(re.findall(r"^\s*server \S+ 127\.0\.0\.1:(\d+) ", config_maps["balancer"]["haproxy.cfg"], re.M))

    for proc in variant.processes:
        (container,) = [c for c in deployments[proc.name]["spec"]["template"]["spec"]["containers"] if c["name"] == "app"]
        (own_port,) = [p["containerPort"] for p in container["ports"]]
        if proc.public:  # behind the pod's balancer, which alone has the public port
            assert own_port != container_port(proc) and balancer_servers == {str(own_port)}, (own_port, balancer_servers)
        else:
            assert own_port == container_port(proc), proc.name

        def lookup(key: str, proc: ProcessSpec = proc, own_port: int = own_port) -> str:
            kind, _, target = key.partition(":")
            if kind == "addr":
                port = container_port(variant.process(target))
                assert [p["port"] for p in services[target]["spec"]["ports"]] == [port], f"Service {target}"
                assert services[target]["spec"].get("clusterIP") == "None", f"Service {target} must be headless"
                return peer_address(variant.process(target), target)
            if kind == "db":
                assert target in databases, f"database {target} is not created"
                return f"postgresql://{pg_user}:{pg_password}@postgres:5432/{target}"
            if kind == "rabbitmq_url" and not target:  # the administrator the broker is started with
                user, password = (secrets[_env_source(docs, "rabbitmq", v)] for v in ("RABBITMQ_USER", "RABBITMQ_PASSWORD"))
                return f"amqp://{user}:{password}@rabbitmq:5672/%2F"
            if kind == "rabbitmq_url":  # the user's own password, the one the broker creates the user with
                password = secrets[_env_source(docs, "rabbitmq", f"RABBITMQ_{target.upper()}_PASSWORD")]
                return f"amqp://{target}:{password}@rabbitmq:5672/%2F"
            if kind == "token":
                return secrets[("internal-tokens", target)]
            return {"host": HOST, "port": str(own_port), "metrics_port": str(METRICS_PORT), "namespace": BUS_NAMESPACE}[kind]

        env, from_secrets = _resolve_env(container, secrets)
        assert not from_secrets & set(proc.env), "a topology variable must not be replaced by a raw Secret value"
        assert ("API_KEYS" in from_secrets) == proc.public, f"{proc.name}: API_KEYS from a Secret, for the api alone"
        actual = {k: v for k, v in env.items() if k not in from_secrets}
        extras = {k: v for k, v in launcher_extras(launcher_env, variant, proc).items() if k != "API_KEYS"}
        assert actual == expected_env(proc, lookup, actual, extras), proc.name
        assert container["command"] == [render(a, lookup) for a in proc.argv], proc.name
        assert "args" not in container
    assert sorted(databases) == sorted(p.database for p in variant.processes if p.database)


def test_no_deployment_lets_probes_or_webhooks_reach_private_addresses() -> None:
    """OUTBOUND_ALLOW (loopback for the tests' local sinks) is for test runs only: deployed, only public
    addresses are fetched."""
    deployed = [ROOT / "docker-compose.yml", ROOT / "Dockerfile", *sorted((ROOT / "k8s").rglob("*.yaml"))]
    assert all("OUTBOUND_ALLOW" not in path.read_text() for path in deployed)
    assert all("OUTBOUND_ALLOW" not in proc.env for v in VARIANTS.values() for proc in v.processes)
