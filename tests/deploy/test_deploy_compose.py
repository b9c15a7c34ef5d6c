"""docker-compose.yml: valid Compose, one profile per variant, healthy-first start order, every app service
scalable (``--scale``), only each profile's balancer published.

Validation, in three layers (no Docker engine is needed for any of them):

1. JSON Schema: ``compose_spec.json`` beside this file is the Compose Specification schema shipped in the
   PyPI package ``docker-compose`` 1.29.2 (``compose/config/compose_spec.json``, Apache License 2.0), copied
   unchanged (its sha256 is pinned below). That package cannot be a dependency here (it requires
   PyYAML < 6), so the file is vendored; it is an older revision of the spec, so the compose file keeps to
   the keys it knows (all of which current ``docker compose`` accepts).
2. Structural checks written here: what the schema cannot say (profiles = variant names, unique
   service names, dependencies healthy and in the same profile, one published port per profile,
   addresses and databases that exist).
3. ``docker compose config -q`` (or Debian's ``docker-compose config -q``) for every profile when such a
   binary is installed; skipped otherwise.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from typing import Any

import jsonschema
import pytest

from harness import balancer
from harness.internal_credentials import internal_credentials
from harness.topology import VARIANTS
from shared.auth import entry, new_key

from .support import ROOT, haproxy_or_skip, load_yaml

SCHEMA_FILE = ROOT / "tests" / "deploy" / "compose_spec.json"
SCHEMA_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"
INFRA = {"postgres", "rabbitmq", "jaeger"}
TRACING = {"jaeger": ["127.0.0.1:16686:16686"]}
"""The ``tracing`` profile's collector, its UI on the host's loopback only."""
BALANCERS = {f"{name}-balancer": variant for name, variant in VARIANTS.items()}
# The schema names draft 2019-09 (by a URL spelling jsonschema does not recognise, hence explicit).
Validator = jsonschema.Draft201909Validator


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if name not in INFRA and name not in BALANCERS}


def test_the_vendored_schema_is_the_packaged_one() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_file_validates_against_the_compose_spec_schema(compose) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    Validator.check_schema(schema)
    errors = sorted(Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_schema_check_catches_mistakes(compose) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["postgres"]["depends_on"] = {"rabbitmq": {"condition": "when_ready"}}
    broken["services"]["rabbitmq"]["helthcheck"] = {}
    assert len(list(Validator(schema).iter_errors(broken))) >= 2


def test_duplicate_service_names_are_rejected() -> None:
    with pytest.raises(Exception, match="duplicate key"):
        load_yaml("services:\n  a: {image: x}\n  a: {image: y}\n")


def test_one_profile_per_variant_and_unique_service_names(compose) -> None:
    services = compose["services"]
    profiles = {p for s in services.values() for p in s["profiles"]}
    assert profiles == set(VARIANTS) | {"tracing"}
    expected = {f"{v.name}-{p.name}" for v in VARIANTS.values() for p in v.processes}
    assert set(app_services(compose)) == expected
    for name, service in app_services(compose).items():
        assert len(service["profiles"]) == 1 and name.startswith(service["profiles"][0] + "-"), name
        assert service.get("build") and service["image"] == app_services(compose)[next(iter(expected))]["image"], name
    assert set(services["postgres"]["profiles"]) == set(VARIANTS)
    assert set(services["rabbitmq"]["profiles"]) == {v.name for v in VARIANTS.values() if v.needs_broker}


def test_only_each_profiles_balancer_is_published_on_8000_of_the_hosts_loopback_only(compose) -> None:
    assert set(BALANCERS) <= set(compose["services"])
    for name, service in compose["services"].items():
        expected = ["127.0.0.1:8000:8000"] if name in BALANCERS else TRACING.get(name, [])
        assert service.get("ports", []) == expected, name
        assert "expose" not in service and service.get("network_mode") != "host", name


def test_every_app_service_can_be_scaled(compose) -> None:
    """`--scale` starts several containers of a service: none may pin a container name or a host port."""
    for name, service in app_services(compose).items():
        assert "container_name" not in service and "ports" not in service and "hostname" not in service, name


def test_each_balancer_fronts_its_profiles_api(compose) -> None:
    services = compose["services"]
    config = ROOT / "harness" / "haproxy-compose.cfg"
    for name, variant in BALANCERS.items():
        service = services[name]
        api = f"{variant.name}-{variant.api.name}"
        assert service["profiles"] == [variant.name] and service["image"] == balancer.COMPOSE_IMAGE, name
        assert service["environment"] == {"API_HOST": api}, name
        assert service["depends_on"] == {api: {"condition": "service_healthy"}}, name
        assert service["volumes"] == [f"./{config.relative_to(ROOT)}:/usr/local/etc/haproxy/haproxy.cfg:ro"], name
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
    text = config.read_text()
    assert '"${API_HOST}:8000" resolvers docker' in text and "bind :8000" in text
    assert "option http-buffer-request" in text and "balance roundrobin" in text and "uri /healthz" in text


def test_haproxy_accepts_the_compose_balancer_configuration() -> None:
    done = subprocess.run([haproxy_or_skip(), "-c", "-f", str(ROOT / "harness" / "haproxy-compose.cfg")],
                          env={**os.environ, "API_HOST": "event-split-api"}, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def test_haproxy_rejects_a_broken_configuration(tmp_path) -> None:
    broken = tmp_path / "haproxy.cfg"
    broken.write_text(balancer.local_config(8000, [8001]).replace("balance roundrobin", "balance round-robin"))
    done = subprocess.run([haproxy_or_skip(), "-c", "-f", str(broken)], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0


def test_broker_and_database_have_healthchecks(compose) -> None:
    postgres, rabbitmq = compose["services"]["postgres"], compose["services"]["rabbitmq"]
    assert postgres["image"].startswith("postgres:") and "pg_isready" in postgres["healthcheck"]["test"]
    assert rabbitmq["image"].startswith("rabbitmq:") and "management" in rabbitmq["image"]
    assert "rabbitmq-diagnostics" in rabbitmq["healthcheck"]["test"]
    init = [v for v in postgres["volumes"] if "/docker-entrypoint-initdb.d/" in v]
    assert init, "the databases are created by an init script"
    script = ROOT / init[0].split(":")[0]
    assert script.is_file() and script.stat().st_mode & 0o111, f"{script} must exist and be executable"


def test_dependencies_wait_for_healthy_services_of_the_same_profile(compose) -> None:
    services = compose["services"]
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, f"{name} → {target}"
            assert "healthcheck" in services[target], f"{name} waits for {target}, which has no healthcheck"
            assert set(service["profiles"]) <= set(services[target]["profiles"]), f"{name} → {target}: not in its profile"


def test_every_app_service_is_healthchecked_and_hardened(compose) -> None:
    for name, service in app_services(compose).items():
        assert service["healthcheck"]["test"][0] == "CMD", name
        assert service["read_only"] is True and set(service["tmpfs"]) >= {"/tmp", service["environment"]["DATA_DIR"]}, name
        assert service["cap_drop"] == ["ALL"] and "no-new-privileges:true" in service["security_opt"], name
        assert "user" not in service, f"{name}: the image's non-root user applies"


def _interpolate(value: str) -> str:
    """Compose's variable substitution with no variable set: ``${VAR:-default}`` → default, ``$$`` → ``$``; a required
    variable (``${VAR:?message}``: compose refuses to start without it) → ``<required VAR>``."""
    out = re.sub(r"\$\{[A-Z_][A-Z0-9_]*:-([^}]*)\}", r"\1", value.replace("$$", "\0"))
    out = re.sub(r"\$\{([A-Z_][A-Z0-9_]*):\?[^}]+\}", r"<required \1>", out)
    assert "$" not in out, f"unsupported or default-less substitution in {value!r}"
    return out.replace("\0", "$")


def _listening_port(service: dict) -> str:
    """The port a service listens on: its ``PORT``, or else the port of its gunicorn ``--bind``."""
    if "PORT" in service["environment"]:
        return _interpolate(str(service["environment"]["PORT"]))
    command = [str(part) for part in service["command"]]
    return command[command.index("--bind") + 1].rsplit(":", 1)[1]


def test_addresses_and_databases_point_at_services_of_the_profile(compose) -> None:
    services = compose["services"]
    postgres_env = {k: _interpolate(str(v)) for k, v in services["postgres"]["environment"].items()}
    databases = postgres_env["POSTGRES_DATABASES"].split()
    assert len(databases) == len(set(databases))
    used = []
    for name, service in app_services(compose).items():
        env = {k: _interpolate(str(v)) for k, v in service["environment"].items()}
        for key, value in env.items():
            if key.endswith("_ADDR"):
                grpc = value.startswith("dns:///")
                host, port = value.removeprefix("dns:///").split(":")
                assert grpc == (services[host]["environment"].get("TRANSPORT") == "grpc"), f"{name}: {key} {value}"
                assert host in services and set(service["profiles"]) <= set(services[host]["profiles"]), f"{name}: {key}"
                assert _listening_port(services[host]) == port, f"{name}: {key} port"
                assert host in service["depends_on"], f"{name} does not wait for {host}"
        if "DATABASE_URL" in env:
            match = re.fullmatch(r"postgresql://([^:]+):([^@]+)@postgres:5432/(\w+)", env["DATABASE_URL"])
            assert match, env["DATABASE_URL"]
            assert match.groups()[:2] == (postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_PASSWORD"]), name
            used.append(match.group(3))
    assert sorted(used) == sorted(databases), "one database per service, each created on the server"


def _compose_binary() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.mark.parametrize("profile", list(VARIANTS))
def test_docker_compose_config_accepts_every_profile(profile: str) -> None:
    binary = _compose_binary()
    if binary is None:
        pytest.skip("neither the `docker compose` plugin nor `docker-compose` is installed (the schema check above still ran)")
    command = [*binary, "-f", str(ROOT / "docker-compose.yml"), "--profile", profile, "config", "-q"]
    env = {k: v for k, v in os.environ.items() if k != "API_KEYS"}
    refused = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "API_KEYS" in refused.stderr, "compose must refuse to start without API_KEYS"
    credentials = {**internal_credentials(), "API_KEYS": entry(new_key(), "dev")}
    result = subprocess.run(command, cwd=ROOT, env={**env, **credentials}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_only_the_api_gets_api_keys_and_compose_requires_them_without_a_default(compose) -> None:
    for name, service in compose["services"].items():
        env = {k: str(v) for k, v in service.get("environment", {}).items()}
        if name.endswith("-api"):
            assert _interpolate(env["API_KEYS"]) == "<required API_KEYS>", name
            assert "harness.auth_keys" in env["API_KEYS"], "the refusal says where a key comes from"
        else:
            assert "API_KEYS" not in env, name
