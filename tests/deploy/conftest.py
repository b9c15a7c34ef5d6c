"""Fixtures of the deployment-config checks: the rendered k8s overlays and the loaded compose file (offline)."""
from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from harness.topology import VARIANTS

from .support import ROOT, kubectl_or_skip, load_yaml


@pytest.fixture(scope="session")
def kustomize_output() -> dict[str, list[dict[str, Any]]]:
    """variant name → the objects `kubectl kustomize k8s/<variant>` renders."""
    kubectl = kubectl_or_skip()
    rendered: dict[str, list[dict[str, Any]]] = {}
    for name in VARIANTS:
        result = subprocess.run([kubectl, "kustomize", str(ROOT / "k8s" / name)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"kubectl kustomize k8s/{name} failed:\n{result.stderr}"
        rendered[name] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return rendered


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return load_yaml((ROOT / "docker-compose.yml").read_text())
