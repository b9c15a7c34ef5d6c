"""Which modules of the common base (``shared/``) an app's monolith runs on, followed name by name.

The disciplined apps keep their seams (ports, per-service stores, the services' cores) in ``shared/``, so their own
monolith trees look small; the plain apps keep their single schema and services in their own trees. To compare what
each monolith costs up front, each is counted with the base modules it uses. ``from shared.storage import
make_engine`` counts the module that defines ``make_engine`` (found through the package's re-export), not every module
the package's ``__init__`` imports, so a monolith is not charged for the stores it never touches.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

BASE = "shared"


def _module_path(root: Path, dotted: str) -> Path | None:
    base = root.joinpath(*dotted.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _dotted(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(root: Path, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = _dotted(root, path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def _defining_module(root: Path, package_init: Path, name: str, seen: frozenset[str] = frozenset()) -> Path:
    """The module a package's ``__init__`` takes ``name`` from (itself when it defines it or cannot tell)."""
    tree = _parse(package_init)
    if tree is None or name in seen:
        return package_init
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            source = _module_path(root, _absolute(root, package_init, node))
            if source is None:
                return package_init
            return _defining_module(root, source, name, seen | {name}) if source.name == "__init__.py" else source
    return package_init


def _targets(root: Path, path: Path) -> set[Path]:
    """The base modules one module imports, each resolved to the module that defines what is imported."""
    tree = _parse(path)
    out: set[Path] = set()
    if tree is None:
        return out
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == BASE and (found := _module_path(root, alias.name)):
                    out.add(found)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(root, path, node)
            if module.split(".")[0] != BASE:
                continue
            for alias in node.names:
                sub = _module_path(root, f"{module}.{alias.name}")  # ``from shared import rules``: a module
                found = _module_path(root, module)
                if sub is not None:
                    out.add(sub)
                elif found is not None and found.name == "__init__.py":
                    out.add(_defining_module(root, found, alias.name))
                elif found is not None:
                    out.add(found)
    return out


def used(root: Path, files: Iterable[Path]) -> set[str]:
    """Paths (relative to ``root``) of every base module reachable from ``files`` by imports."""
    root = root.resolve()
    todo = [Path(f).resolve() for f in files if str(f).endswith(".py")]
    seen: set[Path] = set()
    while todo:
        for target in _targets(root, todo.pop()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return {p.relative_to(root).as_posix() for p in seen}
