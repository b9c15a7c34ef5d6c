"""Line counting: every line of a file is code, comment or blank; a line diff counts each kind apart.

Python is read with ``tokenize`` and ``ast``: an empty or whitespace-only line is blank (also inside a
docstring); a line holding any token other than a comment or a docstring is code; any other line is a
comment line. Docstrings count as comments: the string statements first in a module, class or function,
and the string statements right after an attribute that document it (any statement that is only a string).
Other files go by their comment syntax (``#`` for YAML, shell, Makefile, Dockerfile, TOML, INI,
requirements; ``//`` and ``/* */`` for proto). Markdown and reStructuredText are prose: their non-blank lines count as comments.
"""

from __future__ import annotations

import ast
import difflib
import functools
import io
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import PurePosixPath

CODE = "code"
COMMENT = "comment"
BLANK = "blank"
KINDS = (CODE, COMMENT, BLANK)

_HASH_SUFFIXES = {".yml", ".yaml", ".sh", ".toml", ".cfg", ".ini", ".txt", ".in", ".env", ".conf", ".mk", ".service"}
_HASH_NAMES = {"Makefile", "Dockerfile", ".dockerignore", ".gitignore", ".env"}
_SLASH_SUFFIXES = {".proto", ".js", ".ts", ".go", ".java", ".c", ".h", ".cc", ".cpp", ".rs", ".json5"}
_PROSE_SUFFIXES = {".md", ".rst"}


@dataclass
class Counts:
    """Lines by kind."""

    code: int = 0
    comment: int = 0
    blank: int = 0

    def add(self, kind: str, n: int = 1) -> None:
        setattr(self, kind, getattr(self, kind) + n)

    def __iadd__(self, other: Counts) -> Counts:
        self.code += other.code
        self.comment += other.comment
        self.blank += other.blank
        return self

    @property
    def total(self) -> int:
        return self.code + self.comment + self.blank

    def as_dict(self) -> dict[str, int]:
        return {"code": self.code, "comment": self.comment, "blank": self.blank}


def split_lines(text: str) -> list[str]:
    """The file's lines without their line endings (``\\r\\n`` and ``\\r`` read as ``\\n``)."""
    if not text:
        return []
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = normalised.split("\n")
    if normalised.endswith("\n"):
        parts.pop()
    return parts


def line_kinds(path: str, text: str) -> list[str]:
    """The kind of every line of ``text`` (a file at ``path``), in order."""
    return list(_line_kinds(path, text))


@functools.lru_cache(maxsize=4096)
def _line_kinds(path: str, text: str) -> tuple[str, ...]:
    return tuple(_classify(path, text))


def _classify(path: str, text: str) -> list[str]:
    lines = split_lines(text)
    name = PurePosixPath(path.split("#", 1)[0]).name
    suffix = PurePosixPath(name).suffix
    if suffix == ".py":
        kinds = _python_kinds(text, lines)
        if kinds is not None:
            return kinds
        return _prefix_kinds(lines, ("#",))
    if suffix in _SLASH_SUFFIXES:
        return _c_kinds(lines)
    if suffix in _PROSE_SUFFIXES:
        return [BLANK if not line.strip() else COMMENT for line in lines]
    if suffix in _HASH_SUFFIXES or name in _HASH_NAMES or name.startswith("Dockerfile") or "compose" in name:
        return _prefix_kinds(lines, ("#",))
    return [BLANK if not line.strip() else CODE for line in lines]


def count(path: str, text: str) -> Counts:
    counts = Counts()
    for kind in line_kinds(path, text):
        counts.add(kind)
    return counts


def _prefix_kinds(lines: list[str], prefixes: tuple[str, ...]) -> list[str]:
    out = []
    for line in lines:
        stripped = line.strip()
        out.append(BLANK if not stripped else COMMENT if stripped.startswith(prefixes) else CODE)
    return out


def _c_kinds(lines: list[str]) -> list[str]:
    out, in_block = [], False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            out.append(BLANK)
            continue
        rest, has_code = stripped, False
        while rest:
            if in_block:
                end = rest.find("*/")
                if end < 0:
                    rest = ""
                else:
                    rest, in_block = rest[end + 2 :].strip(), False
            elif rest.startswith("//"):
                rest = ""
            elif rest.startswith("/*"):
                rest, in_block = rest[2:], True
            else:
                has_code = True
                cut = [i for i in (rest.find("//"), rest.find("/*")) if i >= 0]
                rest = rest[min(cut) :] if cut else ""
        out.append(CODE if has_code else COMMENT)
    return out


def _docstring_spans(tree: ast.AST) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the docstrings are: a string statement first in a module, class or function body, and also any
    other statement that is only a string (the convention that documents the attribute assigned above it)."""
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            doc = node.value
            spans.append(((doc.lineno, doc.col_offset), (doc.end_lineno, doc.end_col_offset)))
    return spans


def _python_kinds(text: str, lines: list[str]) -> list[str] | None:
    try:
        tree = ast.parse(text)
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (SyntaxError, tokenize.TokenError, IndentationError, ValueError):
        return None
    docstrings = _docstring_spans(tree)
    code, comment = set(), set()
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.ENCODING}
    for tok in tokens:
        if tok.type in skip:
            continue
        rows = range(tok.start[0], tok.end[0] + 1)
        is_doc = tok.type == tokenize.STRING and any(start <= tok.start and tok.end <= end for start, end in docstrings)
        (comment if tok.type == tokenize.COMMENT or is_doc else code).update(rows)
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():  # blank even inside a docstring or a multi-line string
            out.append(BLANK)
        elif number in code:
            out.append(CODE)
        elif number in comment or line.strip().startswith("#"):
            out.append(COMMENT)
        else:  # a line continuation or the inside of a multi-line string that is not a docstring
            out.append(CODE)
    return out


@dataclass
class LineDiff:
    """Which lines a change removed (0-based indexes into the old lines) and added (into the new)."""

    removed: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)


def line_diff(old: list[str], new: list[str]) -> LineDiff:
    diff = LineDiff()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            diff.removed.extend(range(i1, i2))
        if tag in ("replace", "insert"):
            diff.added.extend(range(j1, j2))
    return diff


@dataclass(frozen=True)
class DefSpan:
    """A function or class definition: its name, qualified name, 0-based line span and normalised text."""

    name: str
    qualname: str
    start: int
    end: int  # inclusive
    text: str


def def_spans(text: str) -> list[DefSpan]:
    """Every top-level or nested ``def``/``class`` of a Python source, decorators included."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    lines = split_lines(text)
    spans: list[DefSpan] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                qualname = f"{prefix}{child.name}"
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)]) - 1
                end = (child.end_lineno or child.lineno) - 1
                body = textwrap.dedent("\n".join(lines[start : end + 1]))
                spans.append(DefSpan(child.name, qualname, start, end, body))
                visit(child, qualname + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def enclosing_defs(text: str) -> list[tuple[str, ...]]:
    """For each line (0-based), the names of the functions/classes that enclose it, outermost first."""
    n = len(split_lines(text))
    out: list[tuple[str, ...]] = [() for _ in range(n)]
    for span in sorted(def_spans(text), key=lambda s: (s.start, -s.end)):
        for i in range(span.start, min(span.end + 1, n)):
            out[i] = (*out[i], span.name)
    return out
