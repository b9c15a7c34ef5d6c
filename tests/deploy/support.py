"""Helpers of the deployment-config checks (tests/deploy): YAML loading, kubectl and haproxy, picking objects."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import balancer

ROOT = Path(__file__).resolve().parents[2]


class UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)  # resolves `<<: *anchor` merges first
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def kubectl_or_skip() -> str:
    """kubectl's path; without it the k8s checks skip on a developer machine and fail in CI (CI=true)."""
    path = shutil.which("kubectl")
    if path:
        return path
    if os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}:
        pytest.fail("kubectl is required in CI to render the kustomize overlays (k8s/<variant>) but is not on PATH")
    pytest.skip("kubectl is not installed: the kustomize overlays were not rendered (set CI=true to make this a failure)")


def haproxy_or_skip() -> str:
    """haproxy's path, to check the balancer's configurations; skips without it, fails in CI (CI=true)."""
    path = balancer.binary()
    if path:
        return path
    if os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}:
        pytest.fail("haproxy is required in CI (make services installs it) but is not installed")
    pytest.skip("haproxy is not installed: its configuration was not checked")


def objects(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """"Kind/name" → pod template of every Deployment and StatefulSet."""
    workloads = (d for d in docs if d["kind"] in {"Deployment", "StatefulSet"})
    return {f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"] for d in workloads}
