"""Operations between services, and the migration cost model: fixed + per operation.

Operations an app exposes between services, counted from its interface definitions:
- ``rpc`` declarations in the ``.proto`` files (direct calls);
- event types: the leaf classes of the app's interface modules (``events.py``, by the category table) that are
  dataclasses or derive from a class of that module (event-driven). A request/reply is several event types.

Per-operation lines: a churned code line scales with the number of operations when
1. it is in a ``.proto`` message named after an operation (``CreateTargetRequest``) or names one (``rpc
   CreateTarget(...)``); messages of domain values (``Target``) are fixed, they grow with the domain, or
2. it is inside a Python function whose name is an operation's name (``create_target``, ``CreateTarget``,
   or ``<prefix>_create_target`` such as ``on_target_created``), or
3. it names an operation: an identifier or string literal equal to one of its spellings (CamelCase,
   snake_case, UPPER_SNAKE, the wire name given in the event class), or an identifier that extends the
   CamelCase name (``CreateTargetRequest``).
Everything else is fixed cost (imports, scaffolding, generic helpers, wiring, deployment, most tests).

Fit: ``per_op = per-operation lines / operations``, ``fixed = churn - per-operation lines``, and
``cost(n) = fixed + per_op * n``: a straight line through our one measured point, anchored by which lines
grow with operations, not a regression over several apps.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

from . import lines as L


def snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return s.lower()


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


@dataclass
class Operation:
    name: str
    source: str
    wire_names: tuple[str, ...] = ()

    @property
    def spellings(self) -> set[str]:
        out = {self.name, snake(self.name), snake(self.name).upper(), camel(self.name)}
        return out | set(self.wire_names)

    def as_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "wire_names": list(self.wire_names)}


_RPC = re.compile(r"^\s*rpc\s+(\w+)\s*\(")


def proto_operations(path: str, text: str) -> list[Operation]:
    kinds = L.line_kinds(path, text)
    out = []
    for kind, line in zip(kinds, L.split_lines(text), strict=False):
        if kind == L.CODE and (m := _RPC.match(line)):
            out.append(Operation(m.group(1), path))
    return out


def _is_dataclass(node: ast.ClassDef) -> bool:
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "dataclass":
            return True
    return False


def method_operations(path: str, text: str) -> list[Operation]:
    """Methods served over an event bus's request/reply: each ``Method(group, function)`` entry of a routing table."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Method" and len(node.args) == 2
                and isinstance(node.args[1], ast.Name)):
            out.append(Operation(node.args[1].id, path))
    return out


def event_operations(path: str, text: str) -> list[Operation]:
    """Leaf classes of an interface module that are dataclasses or derive from the module's own classes."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    bases_used = {b.id for n in classes.values() for b in n.bases if isinstance(b, ast.Name)}
    out = []
    for name, node in classes.items():
        if name in bases_used or name.startswith("_"):
            continue
        local_base = any(isinstance(b, ast.Name) and b.id in classes for b in node.bases)
        if not (_is_dataclass(node) or local_base):
            continue
        wire = []
        for stmt in node.body:
            value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                wire.append(value.value)
        out.append(Operation(name, path, tuple(wire)))
    return out


def per_operation_lines(path: str, text: str, operations: list[Operation]) -> set[int]:
    """0-based indexes of the code lines of ``text`` that scale with the number of operations."""
    if not operations or not text:
        return set()
    kinds = L.line_kinds(path, text)
    code = {i for i, k in enumerate(kinds) if k == L.CODE}
    spellings = set().union(*(op.spellings for op in operations))
    camels = {op.name for op in operations if op.name[:1].isupper()}
    snakes = {snake(op.name) for op in operations}
    out: set[int] = set()

    def names_op(word: str) -> bool:
        if word in spellings:
            return True
        return any(word.startswith(c) and len(word) > len(c) and word[len(c)].isupper() for c in camels)

    if path.split("#", 1)[0].endswith(".proto"):
        out |= _proto_blocks_named(text, names_op)
        for i, line in enumerate(L.split_lines(text)):
            if any(names_op(w) for w in re.findall(r"[A-Za-z_]\w*", line)):
                out.add(i)
    elif path.endswith(".py"):
        for i, enclosing in enumerate(L.enclosing_defs(text)):
            for name in enclosing:
                bare = name.lstrip("_")
                if bare in spellings or snake(bare) in snakes or any(bare.endswith("_" + s) for s in snakes):
                    out.add(i)
                    break
        try:
            for tok in tokenize.generate_tokens(io.StringIO(text).readline):
                if tok.type == tokenize.NAME and names_op(tok.string):
                    out.update(range(tok.start[0] - 1, tok.end[0]))
                elif tok.type == tokenize.STRING:
                    try:
                        value = ast.literal_eval(tok.string)
                    except (ValueError, SyntaxError):
                        continue
                    if isinstance(value, str) and value in spellings:
                        out.update(range(tok.start[0] - 1, tok.end[0]))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            pass
    else:
        for i, line in enumerate(L.split_lines(text)):
            if any(names_op(w) for w in re.findall(r"[A-Za-z_][\w.]*", line)):
                out.add(i)
    return out & code


_BLOCK = re.compile(r"^\s*(message|enum|service)\s+(\w+)\s*\{")


def _proto_blocks_named(text: str, names_op) -> set[int]:
    """Lines of the top-level ``message``/``enum`` blocks whose name names an operation (``CreateTargetRequest``)."""
    out: set[int] = set()
    depth, current = 0, None
    for i, line in enumerate(L.split_lines(text)):
        code = line.split("//", 1)[0]
        if depth == 0:
            m = _BLOCK.match(code)
            current = m.group(2) if m and m.group(1) != "service" and names_op(m.group(2)) else None
        if current:
            out.add(i)
        depth += code.count("{") - code.count("}")
        if depth <= 0:
            depth, current = 0, None
    return out


@dataclass
class Fit:
    """cost(n) = fixed + per_op * n, in code lines churned (added + removed)."""

    label: str
    operations: int
    churn: int
    per_op_lines: int
    files: int

    @property
    def fixed(self) -> int:
        return self.churn - self.per_op_lines

    @property
    def per_op(self) -> float:
        return self.per_op_lines / self.operations if self.operations else 0.0

    def at(self, n: float) -> float:
        return self.fixed + self.per_op * n

    def operations_for(self, lines: float) -> float | None:
        """How many operations it takes for the line to reach ``lines`` (None if it never does)."""
        if self.per_op <= 0:
            return None if lines > self.fixed else 0.0
        return max(0.0, (lines - self.fixed) / self.per_op)

    def as_dict(self, scenario_ops: int | None = None) -> dict:
        out = {
            "label": self.label,
            "operations": self.operations,
            "churn_code_lines": self.churn,
            "per_operation_lines": self.per_op_lines,
            "fixed": self.fixed,
            "per_operation": round(self.per_op, 2),
            "files": self.files,
        }
        if scenario_ops is not None:
            out[f"at_{scenario_ops}_operations"] = round(self.at(scenario_ops))
        return out


@dataclass
class Scenario:
    """The seed's scenario, parsed from the seed's text (see ``seed.scenario``)."""

    operations: int
    operations_quote: str
    direct_lines: int | None = None
    direct_lines_quote: str = ""
    direct_files: int | None = None
    direct_files_quote: str = ""
    event_lines: int | None = None
    event_lines_quote: str = ""
    event_files: tuple[int, int] | None = None
    event_files_quote: str = ""
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- what makes a module app-specific

DOMAIN_MODULE = "shared/domain.py"


def domain_types(root) -> frozenset[str]:
    """The domain's value types: the classes of ``shared/domain.py`` that are not errors (an error such as
    ``Unavailable`` is vocabulary every transport shares, not knowledge of this app)."""
    path = root / DOMAIN_MODULE
    if not path.is_file():
        return frozenset()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}

    def is_error(name: str, seen: frozenset[str] = frozenset()) -> bool:
        node = classes.get(name)
        if node is None or name in seen:
            return name.endswith(("Error", "Exception"))
        bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
        return any(is_error(b, seen | {name}) for b in bases)

    return frozenset(name for name in classes if not is_error(name))


def names_any(path: str, text: str, names: frozenset[str]) -> bool:
    """Whether a code line of the Python module ``text`` names one of ``names`` (an identifier token)."""
    if not names or not path.endswith(".py"):
        return False
    kinds = L.line_kinds(path, text)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME and tok.string in names and kinds[tok.start[0] - 1] == L.CODE:
                return True
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return False
    return False
