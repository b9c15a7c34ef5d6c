"""The Dockerfile: multi-stage, protobuf code generated at build time as `make proto` does, a non-root
user, no build tools in the final stage, the runtime dependencies pinned, the default command the topology's.

Read statically (no Docker engine here); `docker build -t monitoring:dev .` is the real proof.
"""
from __future__ import annotations

import ast
import json
import re
import shlex
from dataclasses import dataclass, field

from harness.topology import VARIANTS, render

from .support import ROOT

# What the Dockerfile leaves out of the runtime venv (requirements.in name → top-level module).
DEV_ONLY = {
    "grpcio-tools": "grpc_tools",
    "locust": "locust",
    "matplotlib": "matplotlib",
    "pytest": "pytest",
    "ruff": "ruff",
    "mypy": "mypy",
    "kubernetes-validate": "kubernetes_validate",
}
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|build-essential|make|clang|cmake|grpcio-tools|grpc_tools|protoc)\b")
SERVICE_PACKAGES = ("shared", "direct_calls", "event_driven", "direct_plain", "event_plain")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages() -> list[Stage]:
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    logical = re.sub(r"\\\n", " ", "\n".join(lines))
    result: list[Stage] = []
    for line in logical.splitlines():
        if not line.strip():
            continue
        keyword, _, args = line.strip().partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            parts = args.split()
            result.append(Stage(parts[0], parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None))
        elif result:
            result[-1].instructions.append((keyword, args))
    return result


def test_multi_stage_on_slim_python_311() -> None:
    text = (ROOT / "Dockerfile").read_text()
    found = stages()
    assert len(found) >= 2, "build and runtime stages"
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", text)
    for stage in found:
        image = base.group(1) if base and stage.base == "${PYTHON_IMAGE}" else stage.base
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", image), image


def test_final_stage_runs_as_a_numeric_non_root_user() -> None:
    final = stages()[-1]
    users = final.all("USER")
    assert users, "the final stage sets USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0, "numeric, so Kubernetes can verify runAsNonRoot"
    assert not gid or (gid.isdigit() and int(gid) > 0)
    after_user = final.instructions[[kw for kw, _ in final.instructions].index("USER"):]
    assert not any(kw == "RUN" for kw, _ in after_user), "nothing runs as root after USER"


def test_final_stage_has_no_build_tools() -> None:
    final = stages()[-1]
    for keyword, args in final.instructions:
        if keyword == "RUN":
            assert not BUILD_TOOLS.search(args) and "apt-get install" not in args and "pip install" not in args, args
        if keyword == "COPY" and "--from=" in args:
            assert "protoc" not in args, "the protobuf compiler's venv stays in the build stage"


def _protoc_args(command: str) -> list[str]:
    words = shlex.split(command)
    return words[words.index("grpc_tools.protoc") + 1:]


def test_protobuf_code_is_generated_at_build_time_like_make_proto() -> None:
    build = stages()[0]
    runs = [r for r in build.all("RUN") if "grpc_tools.protoc" in r]
    assert len(runs) == 1, "one protoc run in the build stage"
    docker_args = _protoc_args(runs[0].split("&&")[-1])
    makefile = (ROOT / "Makefile").read_text()
    recipe = next(line for line in makefile.splitlines() if "grpc_tools.protoc" in line)
    variables = dict(re.findall(r"^(\w+)\s*:?=\s*(\S+)\s*$", makefile, re.M))
    make_args = _protoc_args(re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), recipe.strip().lstrip("@")))
    assert docker_args == make_args
    final = stages()[-1]
    assert any(args.startswith(f"--from={build.name}") and re.search(r"\bproto\b", args) for args in final.all("COPY")), \
        "the generated code is copied into the final stage"
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "proto/generated" in ignore, "a local proto/generated never reaches the image"


def test_runtime_dependencies_are_pinned_and_exclude_only_developer_tools() -> None:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    install = re.search(r"pip install -r (\S+) -c requirements\.txt", text)
    assert install, "the runtime install is constrained by requirements.txt (every version pinned)"
    excluded = re.search(r"grep -vE '\^\(([^)]*)\)==' requirements\.in", text)
    assert excluded, "the runtime requirements are requirements.in less the developer tools"
    names = excluded.group(1).split("|")
    assert set(names) == set(DEV_ONLY)
    pinned = {line.split("==")[0].split("[")[0].lower() for line in (ROOT / "requirements.in").read_text().splitlines()
              if "==" in line and not line.startswith("#")}
    assert set(names) <= pinned, "every excluded name is a requirement (a renamed one would slip in)"
    txt = (ROOT / "requirements.txt").read_text().splitlines()
    for line in (ROOT / "requirements.in").read_text().splitlines():
        if line and not line.startswith("#"):
            assert "==" in line, f"unpinned requirement {line!r}"
    assert all("==" in line for line in txt if line and not line.startswith("#"))


def test_the_services_import_no_developer_tool() -> None:
    """Else they would fail in the image, which installs none of DEV_ONLY."""
    forbidden = set(DEV_ONLY.values())
    for package in SERVICE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "deploy.py" and path.parent.name == "shared":
                continue  # the renderer of these files, run by developers only
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
                for module in modules:
                    assert module.split(".")[0] not in forbidden, f"{path.relative_to(ROOT)} imports {module}"


def test_default_command_is_the_direct_monolith_api() -> None:
    cmd = stages()[-1].all("CMD")[-1]
    api = VARIANTS["direct-monolith"].api
    assert json.loads(cmd) == [render(a, {"host": "0.0.0.0", "port": "8000"}.__getitem__) for a in api.argv]


def test_dockerignore_is_an_allow_list() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "**", "everything is excluded unless allowed"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    copies = re.findall(r"^COPY (?!--from)(.+)$", (ROOT / "Dockerfile").read_text(), re.M)
    sources = {source.rstrip("/") for args in copies for source in args.split()[:-1]}
    assert sources and sources <= allowed, f"copied but ignored: {sources - allowed}"
    assert not allowed & {".venv", ".git", "var", "results", "tests"}


def test_every_app_of_the_topology_is_copied_into_the_image_and_its_build_context() -> None:
    """A variant's processes import its app's package: the final stage must hold it, and .dockerignore let it in."""
    copied = {args.split()[-1] for args in stages()[-1].all("COPY")}
    allowed = set((ROOT / ".dockerignore").read_text().split())
    for app in sorted({v.app for v in VARIANTS.values()}):
        assert app in copied, f"the image lacks {app}/"
        assert f"!{app}" in allowed, f".dockerignore keeps {app}/ out of the build context"
