"""The measured numbers: sizes by category, one app's move, and the whole measurement."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import deps, model
from . import lines as L
from . import seed as S
from .callsites import CallSiteReport
from .categories import APP, CATEGORIES
from .tree import ADDED, CHANGED, COPIED, REMOVED, TOUCHED, Change


@dataclass
class Variants:
    monolith: str
    split: tuple[str, ...]
    processes: dict[str, int] = field(default_factory=dict)
    """variant -> how many processes it runs."""
    broker: dict[str, bool] = field(default_factory=dict)
    scales: dict[str, bool] = field(default_factory=dict)
    """variant -> whether every one of its processes may run in several copies (``REPLICAS>1``)."""
    transport: dict[str, str] = field(default_factory=dict)
    """variant -> the transport its services call each other over, where the app has several (``TRANSPORT``)."""


@dataclass
class Unit:
    """A file or compose block counted in an up-front or base size."""

    path: str
    category: str
    counts: L.Counts
    per_op: int = 0

    def as_dict(self) -> dict:
        return {"path": self.path, "category": self.category, **self.counts.as_dict(), "per_operation_code_lines": self.per_op}


@dataclass
class Size:
    """Lines and files by category."""

    units: list[Unit] = field(default_factory=list)

    def by_category(self) -> dict[str, L.Counts]:
        out = {c: L.Counts() for c in CATEGORIES}
        for u in self.units:
            out[u.category] += u.counts
        return out

    def files(self) -> dict[str, int]:
        """Real files by category (a compose service is a block of the compose file, not a file)."""
        out = dict.fromkeys(CATEGORIES, 0)
        for category in {u.path.partition("#")[0]: u.category for u in self.units}.values():
            out[category] += 1
        return out

    def file_count(self) -> int:
        return sum(self.files().values())

    def total(self) -> L.Counts:
        total = L.Counts()
        for u in self.units:
            total += u.counts
        return total

    def as_dict(self) -> dict:
        return {
            "by_category": {c: {**n.as_dict(), "files": self.files()[c]} for c, n in self.by_category().items()},
            "total": {**self.total().as_dict(), "files": self.file_count()},
            "units": [u.as_dict() for u in self.units],
        }


@dataclass
class AppResult:
    app: str
    measured: bool
    reason: str = ""
    variants: Variants | None = None
    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    """Monolith files without a twin in the split: the move leaves them unchanged (the split imports what it needs)."""
    upfront: Size = field(default_factory=Size)
    callsites: CallSiteReport = field(default_factory=CallSiteReport)
    module_category: dict[str, str] = field(default_factory=dict)
    """App-tree module -> its category (to count call sites in app code apart from wiring)."""
    dependencies: list[deps.Dependency] = field(default_factory=list)
    generated_imports: list[str] = field(default_factory=list)
    infrastructure: list[str] = field(default_factory=list)
    operations: list[model.Operation] = field(default_factory=list)
    fits: list[model.Fit] = field(default_factory=list)
    upfront_fit: model.Fit | None = None
    per_op: dict[str, tuple[set[int], set[int]]] = field(default_factory=dict)
    """change key -> (per-operation old line indexes, per-operation new line indexes)."""

    @property
    def touched(self) -> list[Change]:
        return [c for c in self.changes if c.status in TOUCHED]

    def files(self, changes: list[Change] | None = None) -> dict[str, tuple[str, str]]:
        """Real files touched -> (status, category). The compose services of the move are blocks of one
        compose file that the monolith's deployment has too, so together they make one changed file."""
        changes = self.touched if changes is None else changes
        out: dict[str, tuple[str, str]] = {}
        for c in changes:
            path, _, block = c.key.partition("#")
            out.setdefault(path, (CHANGED if block else c.status, c.category))
        return out

    def file_count(self, changes: list[Change] | None = None) -> int:
        return len(self.files(changes))

    def churn(self, changes: list[Change] | None = None) -> int:
        changes = self.touched if changes is None else changes
        return sum(c.added.code + c.removed.code for c in changes)

    def by_category(self, changes: list[Change] | None = None) -> dict[str, dict]:
        changes = self.touched if changes is None else changes
        out = {}
        for cat in CATEGORIES:
            mine = [c for c in changes if c.category == cat]
            files = [status for status, category in self.files(changes).values() if category == cat]
            added, removed = L.Counts(), L.Counts()
            for c in mine:
                added += c.added
                removed += c.removed
            out[cat] = {
                "files_added": files.count(ADDED),
                "files_changed": files.count(CHANGED) + files.count(COPIED),
                "files_removed": files.count(REMOVED),
                "units": len(mine),
                "added": added.as_dict(),
                "removed": removed.as_dict(),
                "moved_code_lines": sum(c.moved for c in mine),
            }
        return out

    def touched_sites(self, categories: tuple[str, ...] = (APP,)) -> int:
        """Call sites touched in modules of these categories (app code by default)."""
        return sum(t.count for t in self.callsites.touched if self.module_category.get(t.module) in categories)

    def touched_sites_by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.callsites.touched:
            if t.count:
                cat = self.module_category.get(t.module, APP)
                out[cat] = out.get(cat, 0) + t.count
        return out

    def subset(self, transport: str) -> list[Change]:
        return [c for c in self.touched if c.transport in (None, transport)]

    def transports(self) -> list[str]:
        return sorted({c.transport for c in self.touched if c.transport})

    def as_dict(self, scenario_ops: int | None = None) -> dict:
        if not self.measured:
            return {
                "app": self.app,
                "measured": False,
                "reason": self.reason,
                "upfront": self.upfront.as_dict(),
                "operations": [o.as_dict() for o in self.operations],
                "upfront_fit": self.upfront_fit.as_dict(scenario_ops) if self.upfront_fit else None,
            }
        return {
            "app": self.app,
            "measured": True,
            "variants": {
                "monolith": self.variants.monolith,
                "split": list(self.variants.split),
                "processes": self.variants.processes,
            },
            "upfront": self.upfront.as_dict(),
            "migration": {
                "by_category": self.by_category(),
                "files_touched": self.file_count(),
                "units_touched": len(self.touched),
                "churn_code_lines": self.churn(),
                "transports": {
                    t: {"files_touched": self.file_count(self.subset(t)), "churn_code_lines": self.churn(self.subset(t))}
                    for t in self.transports()
                },
            },
            "changes": [c.as_dict() for c in self.touched],
            "unchanged_modules": self.unchanged,
            "callsites": {
                **self.callsites.as_dict(),
                "touched_in_app_code": self.touched_sites(),
                "touched_by_category": self.touched_sites_by_category(),
            },
            "dependencies": [d.as_dict() for d in self.dependencies],
            "generated_imports": self.generated_imports,
            "infrastructure": self.infrastructure,
            "operations": [o.as_dict() for o in self.operations],
            "fits": [f.as_dict(scenario_ops) for f in self.fits],
            "upfront_fit": self.upfront_fit.as_dict(scenario_ops) if self.upfront_fit else None,
        }


@dataclass
class Measurement:
    root: Path
    commit: str
    dirty: bool
    variants_source: str
    rules: list[tuple[str, str, str]]
    apps: dict[str, AppResult]
    base: Size
    seed_path: str
    seed_tables: list[S.Table]
    seed_quotes: dict[str, str]
    scenario: model.Scenario
    history: dict[str, dict] = field(default_factory=dict)
    """app -> the monolith edits made in the split's commits (:mod:`.history`)."""

    def as_dict(self) -> dict:
        return {
            "commit": self.commit,
            "dirty": self.dirty,
            "variants_source": self.variants_source,
            "categories": [list(r) for r in self.rules],
            "base": self.base.as_dict(),
            "apps": {name: app.as_dict(self.scenario.operations) for name, app in self.apps.items()},
            "history": self.history,
            "seed": {
                "path": self.seed_path,
                "tables": [t.as_dict() for t in self.seed_tables],
                "quotes": self.seed_quotes,
                "scenario": self.scenario.__dict__,
            },
        }


def reading_order(changes: list[Change]) -> list[Change]:
    """Interfaces first, then infrastructure, app code, wiring, deployment, tests; within each, by folder,
    added before changed."""
    order = {c: i for i, c in enumerate(CATEGORIES)}
    status_order = {ADDED: 0, CHANGED: 1, COPIED: 2, REMOVED: 3}
    return sorted(
        changes, key=lambda c: (order[c.category], c.key.partition("#")[0].rsplit("/", 1)[0], status_order[c.status], c.key)
    )
