"""Deployment units: the files each variant's kustomize overlay uses, and each compose service's block.

k8s: a variant's deployment is the transitive closure of ``k8s/<variant>/kustomization.yaml``
(``resources``, ``bases``, ``components``, patches, generator files). A file used by the split variants
but not by the monolith's is part of the move; a split overlay file ``k8s/<split>/X`` is diffed against
the monolith overlay's ``k8s/<monolith>/X`` when that exists; files used by both are the common base.

compose: a service belongs to every variant named in its ``profiles`` (every variant when it has none).
Its unit is its text block in the file (with the comment lines right above it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import lines as L

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
COMPOSE_NAMES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")


def _kustomization(directory: Path) -> Path | None:
    return next((directory / n for n in KUSTOMIZATION_NAMES if (directory / n).is_file()), None)


def _is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith(("github.com/", "git@", "ssh:"))


def kustomize_files(root: Path, overlay: Path) -> set[str]:
    """Repository-relative paths of every local file the kustomization in ``overlay`` uses."""
    seen: set[str] = set()
    visited: set[Path] = set()

    def add_file(path: Path) -> None:
        if path.is_file():
            seen.add(path.resolve().relative_to(root.resolve()).as_posix())

    def add_ref(base: Path, ref: str) -> None:
        if not isinstance(ref, str) or _is_remote(ref):
            return
        target = (base / ref.split("=", 1)[-1]).resolve()
        if target.is_dir():
            visit(target)
        else:
            add_file(target)

    def visit(directory: Path) -> None:
        directory = directory.resolve()
        if directory in visited:
            return
        visited.add(directory)
        kfile = _kustomization(directory)
        if kfile is None:
            return
        add_file(kfile)
        try:
            data = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            return
        for key in (
            "resources",
            "bases",
            "components",
            "crds",
            "patchesStrategicMerge",
            "configurations",
            "transformers",
            "generators",
        ):
            for ref in data.get(key) or []:
                if isinstance(ref, str):
                    add_ref(directory, ref)
        for key in ("patches", "patchesJson6902", "replacements"):
            for item in data.get(key) or []:
                if isinstance(item, dict) and isinstance(item.get("path"), str):
                    add_ref(directory, item["path"])
                elif isinstance(item, str):
                    add_ref(directory, item)
        for key in ("configMapGenerator", "secretGenerator"):
            for item in data.get(key) or []:
                if not isinstance(item, dict):
                    continue
                for ref in [*(item.get("files") or []), *(item.get("envs") or [])]:
                    add_ref(directory, ref)
                if isinstance(item.get("env"), str):
                    add_ref(directory, item["env"])
        openapi = data.get("openapi")
        if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
            add_ref(directory, openapi["path"])

    if overlay.is_dir():
        visit(overlay)
    return seen


@dataclass
class ComposeService:
    name: str
    profiles: tuple[str, ...]
    text: str
    image: str | None = None


@dataclass
class ComposeFile:
    path: str
    """Repository-relative path of the compose file."""
    services: dict[str, ComposeService] = field(default_factory=dict)
    common_text: str = ""
    """Everything outside the service blocks (top-level keys, x- anchors, volumes, networks)."""


def find_compose(root: Path) -> Path | None:
    return next((root / n for n in COMPOSE_NAMES if (root / n).is_file()), None)


_TOP_KEY = re.compile(r"^([A-Za-z0-9_.\-\"']+)\s*:")


def parse_compose(root: Path) -> ComposeFile | None:
    """Each service's profiles and the text block that defines it."""
    path = find_compose(root)
    if path is None:
        return None
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return None
    services = data.get("services") or {}
    compose = ComposeFile(path.relative_to(root).as_posix())
    blocks = _service_blocks(L.split_lines(text))
    used: set[int] = set()
    for name, (start, end) in blocks.items():
        spec = services.get(name) or {}
        compose.services[name] = ComposeService(
            name=name,
            profiles=tuple(spec.get("profiles") or ()),
            text="".join(line + "\n" for line in L.split_lines(text)[start:end]),
            image=spec.get("image") if isinstance(spec.get("image"), str) else None,
        )
        used.update(range(start, end))
    compose.common_text = "".join(line + "\n" for i, line in enumerate(L.split_lines(text)) if i not in used)
    return compose


def _service_blocks(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Line spans (start inclusive, end exclusive) of every service under the top-level ``services:``."""
    blocks: dict[str, tuple[int, int]] = {}
    in_services, indent, current, start = False, None, None, 0

    def close(end: int) -> None:
        if current is not None:
            while end > start and not lines[end - 1].strip():
                end -= 1
            blocks[current] = (start, end)

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if line and not line[0].isspace() and not stripped.startswith("#"):
            if in_services:
                close(_comment_start(lines, i))
                current = None
            in_services = bool(_TOP_KEY.match(line)) and _TOP_KEY.match(line).group(1).strip("\"'") == "services"
            i += 1
            continue
        if in_services and stripped and not stripped.startswith("#"):
            width = len(line) - len(line.lstrip())
            if indent is None:
                indent = width
            if width == indent and _TOP_KEY.match(stripped):
                close(_comment_start(lines, i))
                current = _TOP_KEY.match(stripped).group(1).strip("\"'")
                start = _comment_start(lines, i)
        i += 1
    if in_services:
        close(len(lines))
    return blocks


def _comment_start(lines: list[str], i: int) -> int:
    """Where the comment lines directly above line ``i`` begin (``i`` when there are none)."""
    j = i
    while j > 0 and lines[j - 1].strip().startswith("#"):
        j -= 1
    return j


_IMAGE = re.compile(r"^\s*-?\s*image:\s*[\"']?([^\s\"'#]+)")


def images(text: str) -> set[str]:
    """Container images named in a manifest or compose block."""
    return {m.group(1) for line in L.split_lines(text) if (m := _IMAGE.match(line))}
