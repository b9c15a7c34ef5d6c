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
component (hardening, resources, scratch volumes shared by every app Deployment, and those of the api pod's
balancer container) and the Dockerfile,
of which only the ``CMD`` line (the api of direct-monolith) is kept in step here.

A second, independent test (``tests/deploy/test_deploy_topology.py``) renders the topology's
templates itself from the rendered YAML's point of view (DNS names, PostgreSQL URLs, Secret values)
and checks the commands and environments in ``docker-compose.yml`` and in ``kubectl kustomize``'s
output, so a mistake in this module does not hide behind the equality test.

The renderers: ``deploy_broker`` (the broker's users, ``k8s/components/rabbitmq/load-definitions.sh``),
``deploy_compose`` (docker-compose.yml and the balancer's ``harness/haproxy-compose.cfg``) and
``deploy_k8s`` (the overlays, with the api pod's balancer configuration ``k8s/<variant>/haproxy.cfg``), on the
conventions of ``deploy_common`` (ports, addresses, databases, YAML).
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from .deploy_broker import SCRIPT as BROKER_SCRIPT
from .deploy_broker import script_text as broker_script_text
from .deploy_common import API_PORT, COMPOSE_FILE, HEADER, HOST, K8S_DIR, ROOT
from .deploy_compose import BALANCER_CONFIG, balancer_config_text, compose_text
from .deploy_k8s import k8s_files
from .topology import VARIANTS, render

__all__ = ["HEADER", "differences", "expected_files", "write"]


DOCKERFILE = "Dockerfile"
_CMD_LINE = re.compile(r"^CMD \[.*\]$", re.M)


def dockerfile_text(current: str) -> str:
    """The hand-written Dockerfile with its default command (``CMD``) set to the api of direct-monolith."""
    api = VARIANTS["direct-monolith"].api
    argv = [render(arg, {"host": HOST, "port": str(API_PORT)}.__getitem__) for arg in api.argv]
    return _CMD_LINE.sub(lambda _: "CMD " + json.dumps(argv), current, count=1)


def expected_files(root: Path = ROOT) -> dict[str, str]:
    """Every generated file, by path relative to the repository root."""
    files = {COMPOSE_FILE: compose_text(), BALANCER_CONFIG: balancer_config_text(), BROKER_SCRIPT: broker_script_text()}
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
