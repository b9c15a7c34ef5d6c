"""Measure each app's move, its monolith (the up-front cost) and the common base, from the trees.

An app's move is the set of units ``changes`` collects (app tree, ``proto/``, k8s, compose, tests).
The up-front cost of an app is its monolith: ``<app>/__init__.py``, ``<app>/monolith/``, the monolith
variant's deployment units (without those every variant uses) and its tests (``changes.split_tests``:
the modules that import ``<app>.monolith``, without the lines of the split in those that import both; a test
that only starts the app's split variants through the launcher is the split's).
The common base is ``shared/``, the deployment units every variant uses (the kustomize files in every
variant's closure, the compose file outside its variant-specific services, the Dockerfile). Tests that
import neither app's trees (the parity suites and the tests of ``shared/``) are in none of these.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from . import changes as C
from . import deploy, deps, history, model
from . import lines as L
from . import seed as S
from .callsites import compare_modules
from .categories import APP, INFRA, INTERFACE, Classifier
from .results import AppResult, Measurement, Size, Unit, Variants
from .tree import ADDED, CHANGED, UNCHANGED, Change, compare, list_files, read_text

DISCIPLINED = ("direct_calls", "event_driven")
"""The two apps built ready to split (ports, a database per service, data travelling with each call or event)."""
PLAIN = ("direct_plain", "event_plain")
"""The same two apps written as a typical monolith, and their moves: the counterfactual (``typical``)."""
APPS = (*DISCIPLINED, *PLAIN)


def family(app: str) -> str:
    """``direct`` or ``event``: which architecture an app (disciplined or plain) is built on."""
    return "direct" if app.startswith("direct") else "event"

DEFAULT_VARIANTS = {
    "direct_calls": ("direct-monolith", ("direct-split-grpc", "direct-split-http")),
    "event_driven": ("event-monolith", ("event-split",)),
}
"""Used when ``harness/topology.py`` cannot be read (e.g. in a fixture tree)."""


def load_variants(root: Path) -> tuple[dict[str, Variants], str]:
    """Each app's monolith and split variants, from ``harness/topology.py`` when it is there."""
    path = root / "harness" / "topology.py"
    if not path.is_file():
        return _default_variants(), "the fixed variant names"
    try:
        spec = importlib.util.spec_from_file_location("_migration_diff_topology", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
        try:
            spec.loader.exec_module(module)
        finally:
            sys.modules.pop(spec.name, None)
        out: dict[str, Variants] = {}
        for app in APPS:
            variants = [v for v in module.VARIANTS.values() if v.app == app]
            if not variants and app in PLAIN:
                continue  # a tree from before the plain apps: they are not measured
            mono = [v.name for v in variants if not v.is_split]
            if len(mono) != 1:
                raise ValueError(f"{app}: expected one monolith variant, got {mono}")
            out[app] = Variants(
                mono[0],
                tuple(v.name for v in variants if v.name != mono[0]),
                {v.name: len(v.processes) for v in variants},
                {v.name: bool(getattr(v, "needs_broker", False)) for v in variants},
                {v.name: all(getattr(p, "replicable", True) for p in v.processes) for v in variants},
                {v.name: t for v in variants if (t := _transport(v))},
            )
        return out, "`harness/topology.py`"
    except Exception as error:  # noqa: BLE001 - fall back to the fixed variant names
        return _default_variants(), f"the fixed variant names (`harness/topology.py` unreadable: {error})"


def _transport(variant: object) -> str | None:
    """The ``TRANSPORT`` its public process is started with (the transport its services call each other over)."""
    api = next((p for p in getattr(variant, "processes", ()) if getattr(p, "public", False)), None)
    return (getattr(api, "env", None) or {}).get("TRANSPORT")


def _default_variants() -> dict[str, Variants]:
    return {app: Variants(mono, split) for app, (mono, split) in DEFAULT_VARIANTS.items()}


def git_state(root: Path) -> tuple[str, bool]:
    """The commit the trees are at, and whether the measured paths differ from it."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        commit = head.stdout.strip() if head.returncode == 0 else "no commit yet"
        status = git("status", "--porcelain", "--", *APPS, "shared", "proto", "k8s", "tests", *deploy.COMPOSE_NAMES)
        return commit, status.returncode == 0 and bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout", False


def _unit(
    path: str, text: str, category: str, operations: list[model.Operation], types: frozenset[str] = frozenset()
) -> Unit:
    category = by_content(category, path, text, operations, types)
    return Unit(path, category, L.count(path, text), len(model.per_operation_lines(path, text, operations)))


def by_content(
    category: str, path: str, text: str, operations: list[model.Operation], types: frozenset[str] = frozenset()
) -> str:
    """A program module the rules leave to app code or reusable infrastructure, classed by what it does, the same
    for both apps whatever the file is called: app code when a code line names one of the app's operations or one
    of the domain's value types (``types``), reusable infrastructure otherwise: it could carry another app's calls
    or events unchanged."""
    if category not in (APP, INFRA) or not path.endswith(".py") or not text.strip():
        return category
    if model.per_operation_lines(path, text, operations) or model.names_any(path, text, types):
        return APP
    return INFRA


def measure(root: Path, classifier: Classifier, seed_path: Path, apps: tuple[str, ...] = APPS) -> Measurement:
    root = root.resolve()
    variants, variants_source = load_variants(root)
    compose = deploy.parse_compose(root)
    closures = {v: deploy.kustomize_files(root, root / "k8s" / v) for a in variants.values() for v in (a.monolith, *a.split)}
    existing = [c for c in closures.values() if c]
    common_k8s = set.intersection(*existing) if existing else set()
    tests = C.test_modules(root)
    seed_text, seed_tables = S.load(seed_path) if seed_path.is_file() else ("", [])
    names = {v for a in variants.values() for v in (a.monolith, *a.split)}
    types = model.domain_types(root)
    apps = tuple(app for app in apps if app in variants)
    results = {
        app: measure_app(root, app, classifier, variants[app], compose, closures, common_k8s, tests, names, types)
        for app in apps
    }
    commit, dirty = git_state(root)
    try:
        seed_shown = seed_path.resolve().relative_to(root).as_posix()
    except ValueError:
        seed_shown = str(seed_path)
    return Measurement(
        root=root,
        commit=commit,
        dirty=dirty,
        variants_source=variants_source,
        rules=[(r.pattern, r.category, r.why) for r in classifier.rules],
        apps=results,
        base=measure_base(root, classifier, compose, common_k8s, _all_operations(results.values()), types),
        seed_path=seed_shown,
        seed_tables=seed_tables,
        seed_quotes=S.quotes(seed_text) if seed_text else {},
        scenario=S.scenario(seed_text, seed_tables) if seed_text else model.Scenario(50, "", notes=["seed copy not found"]),
        history={app: history.monolith_edits(root, app) for app in apps},
    )


def _all_operations(results) -> list[model.Operation]:
    seen: dict[str, model.Operation] = {}
    for result in results:
        for op in result.operations:
            seen.setdefault(op.name, op)
    return list(seen.values())


def measure_base(
    root: Path,
    classifier: Classifier,
    compose: deploy.ComposeFile | None,
    common_k8s: set[str],
    operations: list[model.Operation] = (),
    types: frozenset[str] = frozenset(),
) -> Size:
    """The common base; its program modules are classed by content against ``operations`` (both apps')."""
    size = Size()
    for path in list_files(root / "shared"):
        key = C.rel(root, path)
        unit = _unit(key, read_text(path), classifier(key), list(operations), types)
        unit.per_op = 0  # the base's size does not scale with an app's operations
        size.units.append(unit)
    for key in sorted(common_k8s):
        size.units.append(_unit(key, read_text(root / key), classifier(key), []))
    if compose is not None:
        size.units.append(_unit(compose.path, compose.common_text, classifier(compose.path), []))
        for name, service in sorted(compose.services.items()):
            if not service.profiles:
                key = f"{compose.path}#{name}"
                size.units.append(_unit(key, service.text, classifier(key), []))
    for path in sorted(root.glob("Dockerfile*")):
        key = C.rel(root, path)
        size.units.append(_unit(key, read_text(path), classifier(key), []))
    return size


def _sources(files: dict[str, Path]) -> dict[str, str]:
    return {key: read_text(path) for key, path in files.items() if key.endswith(".py")}


def measure_app(
    root: Path,
    app: str,
    classifier: Classifier,
    variants: Variants,
    compose: deploy.ComposeFile | None,
    closures: dict[str, set[str]],
    common_k8s: set[str],
    tests: dict[str, tuple[str, set[str]]],
    all_variants: set[str] = frozenset(),
    types: frozenset[str] = frozenset(),
) -> AppResult:
    mono_dir, split_dir = root / app / "monolith", root / app / "split"
    result = AppResult(app, measured=False, variants=variants)
    if not list_files(mono_dir):
        result.reason = f"not measured: {app}/monolith does not exist yet"
        return result
    mono_sources = _sources({C.rel(root, p): p for p in list_files(mono_dir)})
    tree = compare(mono_dir, split_dir)
    split_sources = _sources({f"{app}/split/{k}": tree.source[k] for k, s in tree.status.items() if s != UNCHANGED})
    own = deps.first_party(root)
    gen_mono = deps.generated(set().union(set(), *(deps.imports(s) for s in mono_sources.values())), own)
    gen_split = deps.generated(set().union(set(), *(deps.imports(s) for s in split_sources.values())), own)
    proto_in_move = bool(gen_split) and not gen_mono
    sorted_tests = C.split_tests(tests, app, gen_split if proto_in_move else set(), variants.split, all_variants)

    result.operations = _operations(
        root, classifier, mono_sources, split_sources, tree.status, app, bool(gen_mono or gen_split)
    )
    result.upfront = _upfront(
        root, app, classifier, variants, compose, closures, common_k8s, sorted_tests, bool(gen_mono), result.operations,
        types,
    )
    result.upfront_fit = model.Fit(
        "monolith (up-front)",
        len(result.operations),
        result.upfront.total().code,
        sum(u.per_op for u in result.upfront.units),
        result.upfront.file_count(),
    )
    if tree.empty:
        result.reason = f"not measured: {app}/split {'is empty' if split_dir.is_dir() else 'does not exist yet'}"
        return result

    result.measured = True
    transports = len({C.transport_of(v) for v in variants.split} - {None}) > 1
    changes, result.unchanged = C.app_tree(app, mono_dir, tree, classifier, transports)
    if proto_in_move:
        changes += C.proto(root, classifier, transports)
    changes += C.k8s(root, variants.monolith, variants.split, closures, classifier, transports)
    if compose is not None:
        changes += C.compose(compose, variants.monolith, variants.split, classifier, transports)
    changes += C.tests(sorted_tests, classifier, transports)
    for c in changes:
        c.category = by_content(
            c.category, c.new_path or c.old_path or c.key, c.new_text or c.old_text, result.operations, types
        )
    C.account_moves(changes)
    C.mark_generated(changes, root)
    result.changes = changes

    app_modules = [c for c in changes if c.origin == "app" and c.is_python]
    result.callsites = compare_modules(
        [(c.key, c.old_text if c.old_path else None, c.new_text if c.new_path else None) for c in app_modules],
        list(mono_sources.values()),
    )
    result.module_category = {c.key: c.category for c in app_modules}
    # what the monolith already runs with: its own modules and the common base (shared/) it imports
    base_sources = _sources({C.rel(root, p): p for p in list_files(root / "shared")})
    result.dependencies, result.generated_imports = deps.new_dependencies(
        root, {**base_sources, **mono_sources}, split_sources
    )
    result.infrastructure = _infrastructure(result, variants, compose, closures, root)

    for c in changes:
        result.per_op[c.key] = (
            model.per_operation_lines(c.old_path or c.key, c.old_text, result.operations),
            model.per_operation_lines(c.new_path or c.key, c.new_text, result.operations),
        )
    result.fits = [_fit(result, "as built", result.touched)]
    result.fits += [_fit(result, f"{t} only", result.subset(t)) for t in result.transports()]
    return result


def _operations(root, classifier, mono_sources, split_sources, status, app, uses_proto) -> list[model.Operation]:
    """rpc methods of the proto files the app uses, event types of its interface modules, and methods its
    routing table serves over the bus's request/reply."""
    operations: list[model.Operation] = []
    for key, source in mono_sources.items():
        if classifier(key) == INTERFACE:
            operations += model.event_operations(key, source)
        operations += model.method_operations(key, source)
    if uses_proto:
        for path in list_files(root / "proto"):
            if path.suffix == ".proto":
                operations += model.proto_operations(C.rel(root, path), read_text(path))
    for key, source in split_sources.items():
        if status.get(key.split("/split/", 1)[1]) in (ADDED, CHANGED) and classifier(key) == INTERFACE:
            known = {o.name for o in operations}
            operations += [o for o in model.event_operations(key, source) if o.name not in known]
    return operations


def _upfront(
    root, app, classifier, variants, compose, closures, common_k8s, tests, proto_in_monolith, operations, types=frozenset()
) -> Size:
    size = Size()
    files = [root / app / "__init__.py", *list_files(root / app / "monolith")]
    if proto_in_monolith:
        files += list_files(root / "proto")
    for path in files:
        if path.is_file():
            key = C.rel(root, path)
            size.units.append(_unit(key, read_text(path), classifier(key), operations, types))
    for key in sorted(closures.get(variants.monolith, set()) - common_k8s):
        size.units.append(_unit(key, read_text(root / key), classifier(key), operations, types))
    if compose is not None:
        for name, service in sorted(compose.services.items()):
            if variants.monolith in service.profiles:
                key = f"{compose.path}#{name}"
                size.units.append(_unit(key, service.text, classifier(key), operations, types))
    for key in sorted([*tests.monolith, *tests.shared]):
        source = tests.monolith[key] if key in tests.monolith else tests.monolith_version(key)
        size.units.append(_unit(key, source, classifier(key), operations, types))
    return size


def _fit(result: AppResult, label: str, changes: list[Change]) -> model.Fit:
    """Churned code lines of ``changes``, and how many of them scale with the operations."""
    per_op = 0
    for c in changes:
        old_ops, new_ops = result.per_op.get(c.key, (set(), set()))
        per_op += sum(1 for i in c.added_lines if i in new_ops and i not in c.moved_new and c.new_kinds[i] == L.CODE)
        per_op += sum(1 for i in c.removed_lines if i in old_ops and i not in c.moved_old and c.old_kinds[i] == L.CODE)
    return model.Fit(label, len(result.operations), result.churn(changes), per_op, result.file_count(changes))


def _infrastructure(
    result: AppResult, variants: Variants, compose: deploy.ComposeFile | None, closures: dict[str, set[str]], root: Path
) -> list[str]:
    """New container images, the protobuf compiler, and the processes each split variant runs."""
    out = []
    mono_images: set[str] = set()
    for key in closures.get(variants.monolith, set()):
        mono_images |= deploy.images(read_text(root / key))
    if compose is not None:
        for s in compose.services.values():
            if variants.monolith in s.profiles or not s.profiles:
                mono_images |= deploy.images(s.text)
    new_images: dict[str, set[str]] = {}
    for c in result.touched:
        if c.origin in ("k8s", "compose") and c.new_text:
            for image in deploy.images(c.new_text) - mono_images:
                new_images.setdefault(image, set()).add(c.key)
    for image, where in sorted(new_images.items()):
        out.append(f"container image `{image}` (in {', '.join(f'`{w}`' for w in sorted(where))})")
    protos = [c.key for c in result.touched if c.key.endswith(".proto") and c.status == ADDED]
    if protos:
        out.append(
            "the protobuf compiler (protoc, from grpcio-tools) to generate code from "
            f"{', '.join(f'`{p}`' for p in protos)} at build time"
        )
    mono_n = variants.processes.get(variants.monolith)
    for v in variants.split:
        if v in variants.processes:
            broker = " plus a message broker" if variants.broker.get(v) else ""
            out.append(f"`{v}` runs {variants.processes[v]} processes{broker} where `{variants.monolith}` runs {mono_n}")
    return out
