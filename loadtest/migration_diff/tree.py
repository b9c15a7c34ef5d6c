"""The file model: what a change is, how the split tree resolves over the monolith, which files count.

The split is an overlay (DESIGN section 5): ``split/__init__.py`` puts ``monolith/`` second on the
package's ``__path__``, so an import of ``<app>.split.X`` finds ``split/X.py`` if it exists and
``monolith/X.py`` otherwise. ``resolve`` reproduces the import system's choice, file by file:

- a split module with the name of a monolith module is CHANGED (diffed against it);
- a split module with a new name is ADDED;
- a monolith module masked by nothing stays UNCHANGED (it is the split's too);
- a monolith module the split no longer resolves to is REMOVED: everything, when ``split/__init__.py``
  does not touch ``__path__`` (the split is a full copy), or a monolith subpackage masked by a split
  package of the same name whose ``__init__`` does not extend its own ``__path__``.

A split file identical to the monolith's is COPIED: the overlay makes it unnecessary; it counts as a
file touched with no line changed, and the report lists it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import lines as L

ADDED = "added"
CHANGED = "changed"
COPIED = "copied"
REMOVED = "removed"
UNCHANGED = "unchanged"

TOUCHED = (ADDED, CHANGED, COPIED, REMOVED)

_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "generated"}
_SKIP_SUFFIXES = {".pyc", ".pyo", ".so", ".db", ".db-wal", ".db-shm", ".sqlite", ".png", ".jpg"}


@dataclass
class Change:
    """One unit of the move: a file (or a compose service) before and after, with its line accounting."""

    key: str
    """What the unit is called in the report: the new path for added/changed units, else the old path."""
    status: str
    category: str
    origin: str
    """Where it comes from: ``app`` (the app tree), ``proto``, ``k8s``, ``compose`` or ``tests``."""
    old_path: str | None = None
    new_path: str | None = None
    old_text: str = ""
    new_text: str = ""
    transport: str | None = None
    """``grpc`` or ``http`` when the unit serves one transport only, else None."""
    why: str = ""
    """First line of the new file's docstring (or leading comment): why the move needed it."""
    generated: bool = False
    """Whether the file says it is generated (a header such as "Generated ...: do not edit by hand")."""
    # Filled by ``account``:
    added: L.Counts = field(default_factory=L.Counts)
    removed: L.Counts = field(default_factory=L.Counts)
    moved: int = 0
    """Lines of functions moved unchanged (counted neither as added nor as removed)."""
    added_lines: list[int] = field(default_factory=list)
    removed_lines: list[int] = field(default_factory=list)
    old_kinds: list[str] = field(default_factory=list)
    new_kinds: list[str] = field(default_factory=list)
    moved_old: set[int] = field(default_factory=set)
    """Old line indexes that belong to functions moved unchanged."""
    moved_new: set[int] = field(default_factory=set)

    @property
    def old_lines(self) -> list[str]:
        return L.split_lines(self.old_text)

    @property
    def new_lines(self) -> list[str]:
        return L.split_lines(self.new_text)

    @property
    def is_python(self) -> bool:
        return (self.new_path or self.old_path or "").endswith(".py")

    def prepare(self) -> None:
        """Classify every line and diff old against new."""
        kind_path = self.new_path or self.old_path or self.key
        self.old_kinds = L.line_kinds(self.old_path or kind_path, self.old_text)
        self.new_kinds = L.line_kinds(kind_path, self.new_text)
        diff = L.line_diff(self.old_lines, self.new_lines)
        self.removed_lines, self.added_lines = diff.removed, diff.added

    def account(self, moved_old: set[int] = frozenset(), moved_new: set[int] = frozenset()) -> None:
        """Count added and removed lines by kind, leaving out lines of moved functions."""
        self.moved_old, self.moved_new = set(moved_old), set(moved_new)
        self.added, self.removed = L.Counts(), L.Counts()
        moved = 0
        for i in self.added_lines:
            if i in moved_new:
                moved += self.new_kinds[i] == L.CODE
            else:
                self.added.add(self.new_kinds[i])
        for i in self.removed_lines:
            if i not in moved_old:
                self.removed.add(self.old_kinds[i])
        self.moved = moved

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "status": self.status,
            "category": self.category,
            "origin": self.origin,
            "old_path": self.old_path,
            "new_path": self.new_path,
            "transport": self.transport,
            "why": self.why,
            "generated": self.generated,
            "added": self.added.as_dict(),
            "removed": self.removed.as_dict(),
            "moved_code_lines": self.moved,
        }


def list_files(directory: Path) -> list[Path]:
    """Files under ``directory`` that are source or config (no caches, generated code or binaries)."""
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.rglob("*")):
        rel_parts = path.relative_to(directory).parts
        if any(part in _SKIP_DIRS or part.startswith(".") for part in rel_parts[:-1]):
            continue
        if path.is_file() and path.suffix not in _SKIP_SUFFIXES and not path.name.startswith("."):
            out.append(path)
    return out


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def extends_path(init_file: Path) -> bool:
    """Whether a package ``__init__`` touches ``__path__`` (the overlay mechanism), read from its AST."""
    try:
        tree = ast.parse(read_text(init_file))
    except (OSError, SyntaxError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "__path__":
            return True
        if isinstance(node, ast.Attribute) and node.attr == "extend_path":
            return True
        if isinstance(node, ast.ImportFrom) and any(a.name == "extend_path" for a in node.names):
            return True
    return False


@dataclass
class Resolution:
    """The split tree as the import system resolves it."""

    mode: str
    """``overlay`` (split/ is an overlay of monolith/), ``copy`` (split/ is a full tree) or ``missing``."""
    status: dict[str, str] = field(default_factory=dict)
    """Path relative to the variant directory -> ADDED / CHANGED / COPIED / REMOVED / UNCHANGED."""
    source: dict[str, Path] = field(default_factory=dict)
    """Path relative to the variant directory -> the file it resolves to (absent for REMOVED)."""


def _resolve_package(dirs: list[Path], prefix: str, out: dict[str, Path]) -> None:
    """Resolve one package level whose ``__path__`` is ``dirs`` (first entry wins), like ``FileFinder``."""
    seen: set[str] = set()
    for index, directory in enumerate(dirs):
        if not directory.is_dir():
            continue
        children = sorted(directory.iterdir(), key=lambda p: (not p.is_dir(), p.name))  # packages before modules
        for child in children:
            name = child.name
            if name in _SKIP_DIRS or name.startswith(".") or child.suffix in _SKIP_SUFFIXES:
                continue
            if child.is_dir():
                if (child / "__init__.py").is_file():
                    if name in seen:
                        continue
                    seen.add(name)
                    sub = [child]
                    if extends_path(child / "__init__.py"):
                        sub += [later / name for later in dirs[index + 1 :] if (later / name).is_dir()]
                    _resolve_package(sub, f"{prefix}{name}/", out)
                elif name not in seen:  # a plain directory (data, or a namespace portion): merged path by path
                    for file in list_files(child):
                        out.setdefault(f"{prefix}{name}/{file.relative_to(child).as_posix()}", file)
            elif name == "__init__.py":
                if index == 0:  # only the first entry's __init__ runs
                    out[f"{prefix}{name}"] = child
            elif name.endswith(".py"):
                module = name[:-3]
                if module in seen:
                    continue
                seen.add(module)
                out[f"{prefix}{name}"] = child
            else:
                out.setdefault(f"{prefix}{name}", child)


def resolve(monolith: Path, split: Path) -> Resolution:
    """Resolve ``split`` over ``monolith`` and give every file of either tree its status."""
    split_files = list_files(split)
    if not split_files:
        return Resolution("missing")
    overlay = (split / "__init__.py").is_file() and extends_path(split / "__init__.py")
    resolved: dict[str, Path] = {}
    _resolve_package([split, monolith] if overlay else [split], "", resolved)
    monolith_files = {p.relative_to(monolith).as_posix(): p for p in list_files(monolith)}
    resolution = Resolution("overlay" if overlay else "copy")
    split_root = split.resolve()
    for rel, path in resolved.items():
        resolution.source[rel] = path
        from_split = split_root in path.resolve().parents
        if not from_split:
            resolution.status[rel] = UNCHANGED
        elif rel in monolith_files:
            same = read_text(monolith_files[rel]) == read_text(path)
            resolution.status[rel] = COPIED if same else CHANGED
        else:
            resolution.status[rel] = ADDED
    for rel in monolith_files:
        resolution.status.setdefault(rel, REMOVED)
    return resolution


def first_doc_line(path: str, text: str) -> str:
    """The summary line of a Python module's docstring (its first paragraph, unwrapped), or the first line of
    the file's leading comment block."""
    if path.endswith(".py"):
        try:
            doc = ast.get_docstring(ast.parse(text))
        except SyntaxError:
            doc = None
        if doc:  # the summary: the first paragraph, which may wrap over several lines
            return " ".join(line.strip() for line in doc.strip().split("\n\n", 1)[0].splitlines())
        return ""
    for line in L.split_lines(text):
        stripped = line.strip()
        if not stripped or stripped in ("---",):
            continue
        for marker in ("#", "//", "/*", "*"):
            if stripped.startswith(marker):
                body = stripped[len(marker) :].strip().rstrip("*/").strip()
                if body:
                    return body
                break
        else:
            return ""
    return ""


_GENERATED = re.compile(r"(?i)(@generated|generated\b.*\bdo not edit|do not edit\b.*\bgenerated|code generated by)")


def is_generated(text: str, head: int = 5) -> bool:
    """Whether the first lines of a file say it is generated and not to be edited by hand."""
    return any(_GENERATED.search(line) for line in L.split_lines(text)[:head])
