"""Call sites touched by the move, found from the Python AST (not by text search).

A *collaborator call* is a call of a method on an object the function did not build from a literal:
``self.<attr>...m(...)`` (an injected collaborator such as ``self._alerting.evaluate(...)``), or
``name...m(...)`` where ``name`` is a parameter of the function (``bus.publish(...)``,
``rpc.request(...)``), a variable bound to the result of a call (``bus = make_bus(); bus.publish(...)``),
a ``with ... as name`` target or a loop variable (``for service in (...): service.ping()``).
Calls on imported modules, on ``self`` itself, on literals and on names bound to literals are not.

Per function (qualified name, e.g. ``MonitorService.ingest_result``) we keep the multiset of its
collaborator calls, each written as ``ast.unparse`` of the whole call. Between the monolith and the
split version of the same module, a function present in both *touches* ``max(removed, added)`` call
sites (a replaced call counts once). A function found under the same name in another module of the
move (moved) is compared the same way, so moving a function is not a changed call site. Functions
only in the split hold *new* call sites (clients, servicers, handlers); functions only in the monolith
held *gone* ones.
"""

from __future__ import annotations

import ast
import builtins
from collections import Counter
from dataclasses import dataclass, field

_SELF = {"self", "cls"}
_BUILTINS = set(dir(builtins))


def _root_name(node: ast.expr) -> tuple[str, ast.expr] | None:
    """The name at the root of an attribute chain, and the node right under it."""
    child = None
    while isinstance(node, ast.Attribute):
        child, node = node, node.value
    if isinstance(node, ast.Name):
        return node.id, child
    return None


class _FunctionCalls(ast.NodeVisitor):
    def __init__(self, imported: set[str]):
        self.imported = imported
        self.calls: dict[str, Counter[str]] = {}
        self._scope: list[str] = []
        """Names of the enclosing classes and functions, outermost first."""
        self._functions: list[tuple[str, set[str]]] = []
        """The enclosing functions' qualified names and the names bound in each (to collaborators)."""

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._scope.append(node.name)
        saved, self._functions = self._functions, []  # a class body is not part of the enclosing function
        for child in node.body:
            self.visit(child)
        self._functions = saved
        self._scope.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        qualname = ".".join([*self._scope, node.name])
        args = node.args
        bound = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        bound |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        bound |= _call_bound_names(node)
        if self._functions:
            bound |= self._functions[-1][1]
        self.calls.setdefault(qualname, Counter())
        self._scope.append(node.name)
        self._functions.append((qualname, bound - _SELF))
        for child in node.body:
            self.visit(child)
        self._functions.pop()
        self._scope.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Call(self, node: ast.Call) -> None:
        if self._functions and isinstance(node.func, ast.Attribute):
            root = _root_name(node.func.value)
            if root is not None:
                name, under = root
                qualname, bound = self._functions[-1]
                if name in _SELF:
                    collaborator = under is not None  # self.x.m(), not self.m()
                else:
                    collaborator = name in bound and name not in self.imported and name not in _BUILTINS
                if collaborator:
                    self.calls[qualname][ast.unparse(node)] += 1
        self.generic_visit(node)


def _call_bound_names(function: ast.AST) -> set[str]:
    """Names bound inside ``function`` (not in nested ones) to a call's result, a ``with`` target or a loop variable."""
    names: set[str] = set()

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
                continue
            if isinstance(child, ast.Assign | ast.AnnAssign) and isinstance(child.value, ast.Call):
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
            elif (
                isinstance(child, ast.withitem)
                and isinstance(child.optional_vars, ast.Name)
                and isinstance(child.context_expr, ast.Call)
            ):
                names.add(child.optional_vars.id)
            elif isinstance(child, ast.For | ast.AsyncFor):
                names.update(n.id for n in ast.walk(child.target) if isinstance(n, ast.Name))
            walk(child)

    walk(function)
    return names


def _imported_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return names


def collaborator_calls(source: str) -> dict[str, Counter[str]]:
    """Per function qualified name, the multiset of its collaborator calls (``ast.unparse`` of each)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    visitor = _FunctionCalls(_imported_names(tree))
    for node in tree.body:
        visitor.visit(node)
    return visitor.calls


@dataclass
class Touched:
    module: str
    function: str
    removed: list[str]
    added: list[str]
    moved_from: str | None = None

    @property
    def count(self) -> int:
        return max(len(self.removed), len(self.added))

    def as_dict(self) -> dict:
        return {
            "module": self.module,
            "function": self.function,
            "removed": self.removed,
            "added": self.added,
            "moved_from": self.moved_from,
            "count": self.count,
        }


@dataclass
class CallSiteReport:
    touched: list[Touched] = field(default_factory=list)
    new_sites: dict[str, int] = field(default_factory=dict)
    """module -> collaborator calls in functions that exist only in the split."""
    gone_sites: dict[str, int] = field(default_factory=dict)
    """module -> collaborator calls in functions that existed only in the monolith."""
    unchanged_sites: int = 0
    """Collaborator calls in functions present on both sides that the move left as they were."""
    monolith_sites: int = 0
    """Every collaborator call in the monolith's modules."""

    @property
    def touched_count(self) -> int:
        return sum(t.count for t in self.touched)

    def as_dict(self) -> dict:
        return {
            "touched": self.touched_count,
            "touched_sites": [t.as_dict() for t in self.touched if t.count],
            "new_sites": sum(self.new_sites.values()),
            "new_sites_by_module": self.new_sites,
            "gone_sites": sum(self.gone_sites.values()),
            "gone_sites_by_module": self.gone_sites,
            "unchanged_sites": self.unchanged_sites,
            "monolith_sites": self.monolith_sites,
        }


def _diff(old: Counter[str], new: Counter[str]) -> tuple[list[str], list[str]]:
    return sorted((old - new).elements()), sorted((new - old).elements())


def compare_modules(pairs: list[tuple[str, str | None, str | None]], monolith_sources: list[str] = ()) -> CallSiteReport:
    """Compare call sites over the modules of a move: ``(module, old source or None, new source or None)``.

    ``monolith_sources``: every monolith module's source (for the count of call sites before the move).
    """
    report = CallSiteReport()
    report.monolith_sites = sum(sum(c.total() for c in collaborator_calls(s).values()) for s in monolith_sources)
    only_old: dict[str, tuple[str, str, Counter[str]]] = {}
    only_new: dict[str, tuple[str, str, Counter[str]]] = {}
    for module, old_src, new_src in pairs:
        old = collaborator_calls(old_src) if old_src is not None else {}
        new = collaborator_calls(new_src) if new_src is not None else {}
        for q in sorted(old.keys() & new.keys()):
            removed, added = _diff(old[q], new[q])
            report.unchanged_sites += (old[q] & new[q]).total()
            if removed or added:
                report.touched.append(Touched(module, q, removed, added))
        for q in sorted(old.keys() - new.keys()):
            only_old[f"{module}:{q}"] = (module, q, old[q])
        for q in sorted(new.keys() - old.keys()):
            only_new[f"{module}:{q}"] = (module, q, new[q])
    # A function that left one module and appeared in another under the same name moved: compare it.
    by_name: dict[str, list[str]] = {}
    for key, (_, q, _) in only_old.items():
        by_name.setdefault(q.rsplit(".", 1)[-1], []).append(key)
    for key, (module, q, calls) in list(only_new.items()):
        candidates = [k for k in by_name.get(q.rsplit(".", 1)[-1], []) if k in only_old and only_old[k][0] != module]
        if len(candidates) != 1:
            continue
        old_module, old_q, old_calls = only_old.pop(candidates[0])
        del only_new[key]
        removed, added = _diff(old_calls, calls)
        report.unchanged_sites += (old_calls & calls).total()
        if removed or added:
            report.touched.append(Touched(module, q, removed, added, moved_from=f"{old_module}:{old_q}"))
    for module, _, calls in only_new.values():
        report.new_sites[module] = report.new_sites.get(module, 0) + calls.total()
    for module, _, calls in only_old.values():
        report.gone_sites[module] = report.gone_sites.get(module, 0) + calls.total()
    report.new_sites = {m: n for m, n in report.new_sites.items() if n}
    report.gone_sites = {m: n for m, n in report.gone_sites.items() if n}
    return report
