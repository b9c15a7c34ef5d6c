"""The file model: what a change is, which files of an app's two trees count, and what each split file is.

``<app>/monolith`` is the app before the move; ``<app>/split`` holds exactly what the move adds or changes
and imports everything else from the monolith by plain absolute imports. So, file by file (``compare``):

- a split file with a same-path twin under ``monolith/`` is CHANGED (diffed against that twin), unless it
  imports that twin: then it extends the monolith's module, which the split still runs unchanged, and is ADDED
  (a few-line composition root that calls the monolith's is not a rewrite of it);
- every other split file is ADDED;
- the monolith's files are the base: one without a twin in ``split/`` is UNCHANGED by the move.

A split file identical to its twin is COPIED: a changed file with no line changed (the split could import
the monolith's module instead); it counts as a file touched and the report lists it.
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
"""A unit the move drops: only outside the app trees (a monolith k8s file or compose service no split variant
uses); in the app trees the monolith stays the base."""
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


@dataclass
class SplitTree:
    """An app's split tree beside its monolith tree, file by file."""

    status: dict[str, str] = field(default_factory=dict)
    """Path relative to the variant directory -> ADDED / CHANGED / COPIED / UNCHANGED."""
    source: dict[str, Path] = field(default_factory=dict)
    """Path relative to the variant directory -> the file: the split's, or the monolith's for UNCHANGED."""

    @property
    def empty(self) -> bool:
        """Whether the split has no file at all (it does not exist yet, or is an empty folder)."""
        return all(status == UNCHANGED for status in self.status.values())


def compare(monolith: Path, split: Path) -> SplitTree:
    """Give every file of ``split`` and of ``monolith`` its status (see the module docstring)."""
    monolith_files = {p.relative_to(monolith).as_posix(): p for p in list_files(monolith)}
    tree = SplitTree()
    for path in list_files(split):
        rel = path.relative_to(split).as_posix()
        twin = monolith_files.get(rel)
        tree.source[rel] = path
        if twin is None or imports_twin(read_text(path), monolith, rel):
            tree.status[rel] = ADDED
        else:
            tree.status[rel] = COPIED if read_text(twin) == read_text(path) else CHANGED
    for rel, path in monolith_files.items():
        if rel not in tree.status:
            tree.status[rel], tree.source[rel] = UNCHANGED, path
    return tree


def imports_twin(text: str, monolith: Path, rel: str) -> bool:
    """Whether a split module's source imports its same-path monolith module (``rel`` under ``monolith``)."""
    if not rel.endswith(".py"):
        return False
    parts = [monolith.parent.name, monolith.name, *rel[: -len(".py")].split("/")]
    if parts[-1] == "__init__":
        parts.pop()
    module, package, name = ".".join(parts), ".".join(parts[:-1]), parts[-1]
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(alias.name == module for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module == module or (node.module == package and any(a.name == name for a in node.names)):
                return True
    return False


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
