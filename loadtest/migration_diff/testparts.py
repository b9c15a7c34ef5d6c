"""Test modules shared by the monolith and the split: which of their lines the move added.

A test module that imports both ``<app>.monolith`` and ``<app>.split`` (or a test module that is the split's
own) served the monolith before the move and was extended by it, e.g. a conformance suite's list of bus
implementations that gained the RabbitMQ bus. Its split part is found from the AST:

- a simple statement that names the split (an import from a split module, a name bound by one, or a string
  equal to such a name, like a fixture requested by name) adds the lines where it names it;
- a compound statement (``if``/``for``/``with``/``try``) whose header names the split adds all its lines;
- a function or class whose whole body (docstring aside) is split part adds all its lines, and so does a
  function with a parameter named like split part (a pytest fixture of the split); its name then names the
  split too (found again until nothing changes).

Only a module that imports the split lazily (inside functions) is shared: one that imports it at module
level cannot be imported without it, so it is the split's own module (``imports_at_module_level``).

A test that imports neither tree but starts variants as processes (through ``harness.launcher``) tests the
variants it names: ``variant_names`` finds them, spelled as string literals (``start("direct-split-grpc")``,
a fixture's ``params``).

The monolith's version of the module is the module without those lines; the move's diff adds them back.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable

_COMPOUND_HEADERS = {
    ast.If: ("test",),
    ast.While: ("test",),
    ast.For: ("target", "iter"),
    ast.AsyncFor: ("target", "iter"),
    ast.With: ("items",),
    ast.AsyncWith: ("items",),
    ast.Try: (),
}


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _span(node: ast.AST) -> set[int]:
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return set(range(start, (node.end_lineno or node.lineno) + 1))


class _Finder:
    def __init__(self, is_split: Callable[[str], bool]):
        self.is_split = is_split
        self.names: set[str] = set()
        self.lines: set[int] = set()

    def refs(self, nodes: list[ast.AST]) -> set[int]:
        """Lines where these nodes name the split."""
        out: set[int] = set()
        for node in nodes:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and sub.id in self.names:
                    out.add(sub.lineno)
                elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value in self.names:
                    out.add(sub.lineno)
                elif isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0 and self.is_split(sub.module):
                    out |= _span(sub)
                elif isinstance(sub, ast.Import) and any(self.is_split(a.name) for a in sub.names):
                    out |= _span(sub)
        return out

    def body(self, statements: list[ast.stmt]) -> bool:
        """Visit a body; whether all of it (docstring aside) is split part."""
        whole = [self.statement(s) or _is_docstring(s) for s in statements]
        return bool(statements) and all(whole) and not all(map(_is_docstring, statements))

    def statement(self, stmt: ast.stmt) -> bool:
        """Visit a statement, adding its split lines; whether it is split part as a whole."""
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            takes_split = isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                a.arg in self.names for a in [*stmt.args.posonlyargs, *stmt.args.args, *stmt.args.kwonlyargs]
            )
            if self.body(stmt.body) or takes_split:
                self.lines |= _span(stmt)
                self.names.add(stmt.name)
                return True
            return False
        if type(stmt) in _COMPOUND_HEADERS:
            header = [getattr(stmt, field) for field in _COMPOUND_HEADERS[type(stmt)]]
            header = [n for item in header for n in (item if isinstance(item, list) else [item])]
            if self.refs(header):
                self.lines |= _span(stmt)
                return True
            bodies = [stmt.body, getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])]
            bodies += [h.body for h in getattr(stmt, "handlers", [])]
            parts = [self.body(b) for b in bodies if b]
            if parts and all(parts):
                self.lines |= _span(stmt)
                return True
            return False
        refs = self.refs([stmt])
        if not refs:
            return False
        self.lines |= refs
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            self.names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
            return True
        if _span(stmt) <= refs:
            if isinstance(stmt, ast.Assign | ast.AnnAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                self.names.update(t.id for t in targets if isinstance(t, ast.Name))
            return True
        return False


def split_part(source: str, is_split: Callable[[str], bool]) -> set[int]:
    """1-based lines of ``source`` that the move added (see the module docstring); empty if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    finder = _Finder(is_split)
    while True:
        before = (len(finder.names), len(finder.lines))
        finder.body(tree.body)
        if (len(finder.names), len(finder.lines)) == before:
            return finder.lines


def without(source: str, lines: set[int]) -> str:
    """``source`` without the given 1-based lines."""
    kept = [line for number, line in enumerate(source.splitlines(keepends=True), start=1) if number not in lines]
    return "".join(kept)


def variant_names(source: str, known: Iterable[str]) -> set[str]:
    """The names of ``known`` that ``source`` spells as a whole string literal; empty if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    known = set(known)
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in known}


def imports_at_module_level(source: str) -> set[str]:
    """Dotted names imported outside any function or class (``from a import b`` gives ``a`` and ``a.b``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    out: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for stmt in statements:
            if isinstance(stmt, ast.Import):
                out.update(a.name for a in stmt.names)
            elif isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
                out.add(stmt.module)
                out.update(f"{stmt.module}.{a.name}" for a in stmt.names)
            elif not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                for field in ("body", "orelse", "finalbody"):
                    visit(getattr(stmt, field, []))
                for handler in getattr(stmt, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return out
