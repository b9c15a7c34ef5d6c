"""The migration section of ``results/REPORT.md``, written to ``results/migration/SECTION.md``.

Every number in it is computed by ``measure`` from the trees; the seed's numbers are quoted from the
copy under ``results/seed/`` as parsed at run time. The parts: ``tables`` (headline, up-front cost, the move
by category), ``sections`` (call sites, dependencies, cost model, method) and ``claims`` (the seed beside
our numbers).
"""

from __future__ import annotations

from . import history, scopes, typical
from .claims import seed_section
from .results import Measurement
from .sections import callsite_section, dependency_section, method_section, model_section
from .tables import headline, migration_tables, upfront_table


def section(m: Measurement) -> str:
    state = f"commit `{m.commit}`" + (" with uncommitted changes in the measured paths" if m.dirty else "")
    out = [
        "## Migration: monolith → split, measured from the code",
        "",
        *scopes.section(m),
        f"Measured by `make diff` (`python -m loadtest.migration_diff`) from the trees at {state}. "
        "Lines are code lines unless stated (blank and comment lines are counted apart; docstrings count as comments). "
        "Raw numbers: [`migration.json`](migration/migration.json); for workshops: [`index.html`](migration/index.html) "
        "(a side-by-side diff of every file touched), [`WALKTHROUGH.md`](migration/WALKTHROUGH.md) (the files in reading "
        "order, each with its reason), "
        + ", ".join(f"[`{app}.diff`](migration/{app}.diff)" for app in m.apps)
        + " (unified diffs), all under `results/migration/`.",
        "",
        "### Headline",
        "",
        *headline(m),
        "### The move from a typical monolith: four moves side by side",
        "",
        *typical.section(m),
        "### Up-front cost: each app's monolith, by category",
        "",
        *upfront_table(m),
        "### The move, by category",
        "",
    ]
    for app in m.apps.values():
        out += migration_tables(app)
    out += ["### Monolith edits made for the move", "", *history.section(m.history)]
    out += ["### Call sites touched", "", *callsite_section(m)]
    out += ["### Dependencies added by the move", "", *dependency_section(m)]
    out += ["### Cost model: fixed + per operation", "", *model_section(m)]
    out += ["### The seed's claims beside our numbers", "", *seed_section(m), *scopes.verdicts(m)]
    out += ["### How it is measured", "", *method_section(m)]
    return "\n".join(out).rstrip() + "\n"
