"""The units of one app's move, collected from each place the move touches.

- the app tree: each file of ``<app>/split``, added or changed against its ``<app>/monolith`` twin (``tree.compare``);
- ``proto/`` (everything but generated code) when the split imports the repository's protoc-generated
  modules and the monolith does not;
- k8s: every file the split variants' kustomizations use that the monolith's does not; ``k8s/<split>/X`` is
  diffed against ``k8s/<monolith>/X`` when that exists; a monolith file no split variant uses is removed;
- compose: split-only services against the monolith-only service of the same role (``role``);
- tests: modules under ``tests/`` that use the split and not the monolith are added, and so are the modules that
  import neither tree but start, through the launcher, only split variants of the app (``LAUNCHER``); modules that
  import both (a conformance suite's fixtures, say) are changed: their monolith version is the module without the
  lines that name the split (``testparts``).

Then ``account_moves`` finds functions moved unchanged anywhere in the move, so their lines count as moved.
When the split variants use different transports (gRPC and HTTP), each unit serving only one is tagged
with it: by its name (``grpc``/``http`` in the path or variant), else by its imports (``grpc`` or protoc
output; ``requests``/``urllib3``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import deploy, deps, testparts
from . import lines as L
from .categories import Classifier
from .tree import ADDED, CHANGED, REMOVED, UNCHANGED, Change, SplitTree, first_doc_line, is_generated, list_files, read_text

TRANSPORTS = ("grpc", "http")
LAUNCHER = "harness.launcher"
"""The module that starts variants as processes: a test importing it tests the variants it names."""


def transport_of(name: str) -> str | None:
    """``grpc`` or ``http`` when ``name`` (a path or a variant) names exactly one of them."""
    found = [t for t in TRANSPORTS if t in name.lower()]
    return found[0] if len(found) == 1 else None


def python_transport(rel: str, source: str) -> str | None:
    by_name = transport_of(rel)
    if by_name:
        return by_name
    imported = deps.imports(source)
    keys = {deps.import_key(n).split(".")[0] for n in imported}
    grpc_like = bool({"grpc", "grpc_health", "grpc_status"} & keys) or any(n.endswith(("_pb2", "_pb2_grpc")) for n in imported)
    http_like = bool({"requests", "urllib3", "httpx"} & keys)
    if grpc_like != http_like:
        return "grpc" if grpc_like else "http"
    return None


def rel(root: Path, path: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()


def app_tree(
    app: str, mono_dir: Path, tree: SplitTree, classifier: Classifier, transports: bool
) -> tuple[list[Change], list[str]]:
    """The app tree's units (the split's files), and the monolith files the move leaves unchanged."""
    changes, unchanged = [], []
    for path, status in sorted(tree.status.items()):
        old, new = f"{app}/monolith/{path}", f"{app}/split/{path}"
        if status == UNCHANGED:
            unchanged.append(old)
            continue
        new_text = read_text(tree.source[path])
        changes.append(
            Change(
                key=new,
                status=status,
                category=classifier(new),
                origin="app",
                old_path=None if status == ADDED else old,
                new_path=new,
                old_text="" if status == ADDED else read_text(mono_dir / path),
                new_text=new_text,
                transport=python_transport(path, new_text) if transports and path.endswith(".py") else None,
                why=first_doc_line(new, new_text),
            )
        )
    return changes, unchanged


def proto(root: Path, classifier: Classifier, transports: bool) -> list[Change]:
    out = []
    for path in list_files(root / "proto"):
        key = rel(root, path)
        text = read_text(path)
        out.append(
            Change(
                key,
                ADDED,
                classifier(key),
                "proto",
                new_path=key,
                new_text=text,
                transport="grpc" if transports else None,
                why=first_doc_line(key, text),
            )
        )
    return out


def k8s(
    root: Path, monolith: str, split: tuple[str, ...], closures: dict[str, set[str]], classifier: Classifier, transports: bool
) -> list[Change]:
    out = []
    mono_files = closures.get(monolith, set())
    users: dict[str, set[str]] = {}
    for variant in split:
        for path in closures.get(variant, set()):
            users.setdefault(path, set()).add(variant)
    paired: set[str] = set()
    for path in sorted(set(users) - mono_files):
        parts = path.split("/", 2)
        counterpart = f"k8s/{monolith}/{parts[2]}" if len(parts) == 3 and parts[0] == "k8s" and parts[1] in split else None
        kinds = {transport_of(v) for v in users[path]}
        transport = next(iter(kinds)) if transports and len(kinds) == 1 else None
        text = read_text(root / path)
        why = first_doc_line(path, text)
        if counterpart in mono_files:
            paired.add(counterpart)
            out.append(
                Change(
                    path, CHANGED, classifier(path), "k8s", counterpart, path, read_text(root / counterpart), text, transport, why
                )
            )
        else:
            out.append(Change(path, ADDED, classifier(path), "k8s", None, path, "", text, transport, why))
    for path in sorted(mono_files - set(users) - paired):
        out.append(Change(path, REMOVED, classifier(path), "k8s", path, None, read_text(root / path), ""))
    return out


def role(service: str, variants: tuple[str, ...]) -> str:
    """A compose service's name without its variant's name: ``direct-split-grpc-api`` -> ``api``."""
    for variant in sorted(variants, key=len, reverse=True):
        if variant in service:
            return service.replace(variant, "").strip("-_")
    return service


def compose(
    file: deploy.ComposeFile, monolith: str, split: tuple[str, ...], classifier: Classifier, transports: bool
) -> list[Change]:
    """Split-only services against the monolith-only service of the same role (``role``), like k8s files by path."""
    out = []
    split_set = set(split)
    mono_only = {n: s for n, s in file.services.items() if monolith in s.profiles and not split_set & set(s.profiles)}
    split_only = {n: s for n, s in file.services.items() if split_set & set(s.profiles) and monolith not in s.profiles}
    mono_roles = {role(n, (monolith,)): n for n in mono_only}
    used: set[str] = set()
    for name, service in sorted(split_only.items()):
        key = f"{file.path}#{name}"
        match = mono_roles.get(role(name, tuple(p for p in service.profiles if p in split_set)))
        kinds = {transport_of(p) for p in service.profiles if p in split_set}
        transport = next(iter(kinds)) if transports and len(kinds) == 1 else None
        why = first_doc_line(key, service.text)
        if match:
            used.add(match)
            old = mono_only[match].text
            out.append(
                Change(key, CHANGED, classifier(key), "compose", f"{file.path}#{match}", key, old, service.text, transport, why)
            )
        else:
            out.append(Change(key, ADDED, classifier(key), "compose", None, key, "", service.text, transport, why))
    for name in sorted(set(mono_only) - used):
        key = f"{file.path}#{name}"
        out.append(Change(key, REMOVED, classifier(key), "compose", key, None, mono_only[name].text, ""))
    return out


def test_modules(root: Path) -> dict[str, tuple[str, set[str]]]:
    """tests/**.py -> (source, the dotted names it imports)."""
    out = {}
    for path in list_files(root / "tests"):
        if path.suffix == ".py":
            source = read_text(path)
            out[rel(root, path)] = (source, deps.imports(source))
    return out


def imports_part(names: set[str], app: str, part: str) -> bool:
    """Whether ``names`` import ``<app>.<part>`` or a module of it."""
    prefix = f"{app}.{part}"
    return any(n == prefix or n.startswith(prefix + ".") for n in names)


def _module_name(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


@dataclass
class TestSplit:
    """Which test modules belong to the monolith, to the split, or to both (see ``testparts``)."""

    monolith: dict[str, str] = field(default_factory=dict)
    """path -> source: tests that import ``<app>.monolith`` and nothing of the split."""
    split: dict[str, str] = field(default_factory=dict)
    """path -> source: tests that use the split (``<app>.split``, its generated code, or another split test module)
    and not the monolith: added by the move."""
    shared: dict[str, tuple[str, set[int]]] = field(default_factory=dict)
    """path -> (source, the 1-based lines the move added): tests that import both."""

    def monolith_version(self, path: str) -> str:
        source, lines = self.shared[path]
        return testparts.without(source, lines)


def split_tests(
    modules: dict[str, tuple[str, set[str]]],
    app: str,
    generated: set[str],
    split_variants: Iterable[str] = (),
    all_variants: Iterable[str] = (),
) -> TestSplit:
    """Sort ``tests/`` modules by the part of the app they import (the parity suites import neither).

    A module that uses the split (``<app>.split``, its generated code, or a split test module such as a broker
    helper) at module level, or that uses it and not the monolith, is the split's; one that imports the
    monolith and uses the split only inside functions is shared (``testparts``); one that imports the
    monolith and not the split is the monolith's.

    A module that imports neither but imports the launcher and names, of ``all_variants``, only some of
    ``split_variants`` (the app's split variants) starts those variants as processes to test them: it is the
    split's too (a failure suite of the split variants, say). One that names a monolith variant or another
    app's variants too (the parity suite's list of every variant) is none of the app's.
    """
    out = TestSplit()
    split_modules: set[str] = set()
    split_variants, all_variants = set(split_variants), set(all_variants) | set(split_variants)
    for path, (source, names) in sorted(modules.items()):
        if LAUNCHER not in names or imports_part(names, app, "monolith") or imports_part(names, app, "split"):
            continue
        named = testparts.variant_names(source, all_variants)
        if named and named <= split_variants:
            out.split[path] = source
            split_modules.add(_module_name(path))

    def uses_split(names: set[str]) -> bool:
        return imports_part(names, app, "split") or bool(names & generated) or bool(names & split_modules)

    def is_split(module: str) -> bool:
        return uses_split({module})

    changed = True
    while changed:  # a module that imports a split test module uses the split too
        changed = False
        for path, (source, names) in modules.items():
            if path in out.split or not uses_split(names):
                continue
            if not imports_part(names, app, "monolith") or uses_split(testparts.imports_at_module_level(source)):
                out.split[path] = source
                split_modules.add(_module_name(path))
                changed = True
    for path, (source, names) in sorted(modules.items()):
        if path in out.split or not imports_part(names, app, "monolith"):
            continue
        lines = testparts.split_part(source, is_split) if uses_split(names) else set()
        if lines:
            out.shared[path] = (source, lines)
        else:
            out.monolith[path] = source
    out.split = dict(sorted(out.split.items()))
    return out


def tests(sorted_tests: TestSplit, classifier: Classifier, transports: bool) -> list[Change]:
    """The split's test modules (added) and the shared ones (changed: the monolith's version plus the move's lines)."""
    out = []
    for path, source in sorted_tests.split.items():
        transport = python_transport(path, source) if transports else None
        out.append(
            Change(path, ADDED, classifier(path), "tests", None, path, "", source, transport, first_doc_line(path, source))
        )
    for path, (source, _) in sorted(sorted_tests.shared.items()):
        old = sorted_tests.monolith_version(path)
        out.append(Change(path, CHANGED, classifier(path), "tests", path, path, old, source, None, first_doc_line(path, source)))
    return out


def account_moves(changes: list[Change]) -> None:
    """Count every unit's lines; functions moved unchanged within the move count as moved, not added/removed.

    A function (or class) whose every line the diff removed in one place and whose identical text (dedented,
    decorators included) the diff added in another, in the same unit or another unit of the move, moved.
    """
    for c in changes:
        c.prepare()
    removed_defs, added_defs = [], []
    for c in changes:
        if not c.is_python:
            continue
        removed, added = set(c.removed_lines), set(c.added_lines)
        removed_defs += [(c, s) for s in L.def_spans(c.old_text) if all(i in removed for i in range(s.start, s.end + 1))]
        added_defs += [(c, s) for s in L.def_spans(c.new_text) if all(i in added for i in range(s.start, s.end + 1))]
    moved_old: dict[int, set[int]] = {}
    moved_new: dict[int, set[int]] = {}
    available: dict[tuple[str, str], list] = {}
    for c, span in sorted(removed_defs, key=lambda x: -(x[1].end - x[1].start)):
        available.setdefault((span.name, span.text), []).append((c, span))
    for c, span in sorted(added_defs, key=lambda x: -(x[1].end - x[1].start)):
        new_lines = set(range(span.start, span.end + 1))
        if new_lines & moved_new.get(id(c), set()):
            continue  # inside a larger definition that moved already
        candidates = available.get((span.name, span.text), [])
        for k, (oc, ospan) in enumerate(candidates):
            old_lines = set(range(ospan.start, ospan.end + 1))
            if old_lines & moved_old.get(id(oc), set()):
                continue
            moved_old.setdefault(id(oc), set()).update(old_lines)
            moved_new.setdefault(id(c), set()).update(new_lines)
            del candidates[k]
            break
    for c in changes:
        c.account(moved_old.get(id(c), set()), moved_new.get(id(c), set()))


def mark_generated(changes: list[Change], root: Path) -> None:
    """Flag the units of generated files; a compose service without its own comment gets its file's first one."""
    headers: dict[str, str] = {}
    for c in changes:
        path, _, block = c.key.partition("#")
        if path not in headers:
            file = root / path
            headers[path] = read_text(file) if file.is_file() else (c.new_text or c.old_text)
        c.generated = is_generated(headers[path])
        if block and not c.why:
            c.why = first_doc_line(path, headers[path])
