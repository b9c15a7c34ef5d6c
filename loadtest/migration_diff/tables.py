"""The tables of the migration section: the headline, each monolith's size, each app's move by category.

Also the small formatters the other parts of the section share (``table``, ``number``, ``ratio``...).
"""

from __future__ import annotations

from collections.abc import Callable

from .categories import CATEGORIES, CODE_CATEGORIES, DEPLOY, LABELS, TESTS, WIRING
from .results import AppResult, Measurement
from .tree import ADDED, CHANGED, COPIED, REMOVED


def number(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def files_touched(app: AppResult) -> str:
    statuses = [status for status, _ in app.files().values()]
    added, removed = statuses.count(ADDED), statuses.count(REMOVED)
    changed = statuses.count(CHANGED) + statuses.count(COPIED)
    return f"{len(statuses)} ({added} added, {changed} changed, {removed} removed)"


def code_lines(app: AppResult, changes=None) -> str:
    changes = app.touched if changes is None else changes
    added = sum(c.added.code for c in changes)
    removed = sum(c.removed.code for c in changes)
    return f"+{added:,} / −{removed:,} = {added + removed:,}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b else "—"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return out + [""]


def split3(counts: dict[str, int]) -> str:
    code = sum(counts.get(c, 0) for c in CODE_CATEGORIES)
    return f"{code:,} / {counts.get(DEPLOY, 0):,} / {counts.get(TESTS, 0):,}"


def headline(m: Measurement) -> list[str]:
    apps = list(m.apps.values())
    s = m.scenario
    rows: list[list[str]] = []

    def add(label: str, fn: Callable[[AppResult], str], needs_split: bool = True) -> None:
        rows.append([label, *((fn(a) if (a.measured or not needs_split) else f"*{a.reason}*") for a in apps)])

    def churn_by(a: AppResult) -> dict[str, int]:
        return {c: v["added"]["code"] + v["removed"]["code"] for c, v in a.by_category().items()}

    def files_by(a: AppResult) -> dict[str, int]:
        return {c: v["files_added"] + v["files_changed"] + v["files_removed"] for c, v in a.by_category().items()}

    add(
        "up-front: the monolith, code lines (files)",
        lambda a: f"{a.upfront.total().code:,} ({a.upfront.file_count()})",
        needs_split=False,
    )
    add(
        "… program code / deployment config / tests",
        lambda a: split3({c: n.code for c, n in a.upfront.by_category().items()}),
        needs_split=False,
    )
    add("migration: files touched", files_touched)
    add("… program code / deployment config / tests", lambda a: split3(files_by(a)))
    add("migration: code lines added / removed = churn", code_lines)
    add("… churn in program code / deployment config / tests", lambda a: split3(churn_by(a)))
    if any(len(a.fits) > 1 for a in apps):
        add(
            "… one transport only: churn (files)",
            lambda a: "; ".join(f"{f.label}: {f.churn:,} ({f.files})" for f in a.fits[1:]) or "—",
        )
    add(
        "migration: comment / blank lines added",
        lambda a: f"{sum(c.added.comment for c in a.touched):,} / {sum(c.added.blank for c in a.touched):,}",
    )
    add(
        "call sites touched in app code (in wiring)",
        lambda a: (
            f"{a.touched_sites()} ({a.touched_sites((WIRING,))}) "
            f"of {a.callsites.monolith_sites} collaborator calls in the monolith"
        ),
    )
    add("new call sites (functions only in the split)", lambda a: f"{sum(a.callsites.new_sites.values())}")
    add("new third-party dependencies", lambda a: ", ".join(d.distribution for d in a.dependencies) or "none")
    add("operations between services", lambda a: f"{len(a.operations)}", needs_split=False)
    add(
        "model: fixed + per operation (code lines)",
        lambda a: "; ".join(f"{f.label}: {f.fixed:,} + {f.per_op:.1f}·n" for f in a.fits),
    )
    add(
        f"extrapolated to n = {s.operations} operations",
        lambda a: "; ".join(f"{f.label}: {number(f.at(s.operations))}" for f in a.fits),
    )
    out = table(["", *(a.app for a in apps)], rows)
    base = m.base.total()
    out.append(
        "Program code = interface definitions, reusable infrastructure, app code, entrypoints and wiring. "
        f"Common base (both apps, not part of either move): `shared/` and the deployment units every variant uses: "
        f"{base.code:,} code lines, {base.comment:,} comment lines, {base.blank:,} blank lines in {m.base.file_count()} files."
    )
    return out + [""]


def upfront_table(m: Measurement) -> list[str]:
    apps = list(m.apps.values())
    header = [
        "category",
        *(f"{a.app}: files, code / comment / blank" for a in apps),
        "common base: files, code / comment / blank",
    ]
    sizes = [(a.upfront.files(), a.upfront.by_category()) for a in apps] + [(m.base.files(), m.base.by_category())]
    rows = []
    for cat in CATEGORIES:
        rows.append(
            [LABELS[cat], *(f"{files[cat]}, {c[cat].code:,} / {c[cat].comment:,} / {c[cat].blank:,}" for files, c in sizes)]
        )
    totals = [a.upfront for a in apps] + [m.base]
    rows.append(
        [
            "**total**",
            *(f"**{s.file_count()}, {s.total().code:,} / {s.total().comment:,} / {s.total().blank:,}**" for s in totals),
        ]
    )
    return table(header, rows)


def migration_tables(app: AppResult) -> list[str]:
    out = [f"#### {app.app}", ""]
    if not app.measured:
        return out + [f"**{app.reason}**", ""]
    unchanged = ", ".join(f"`{u.rsplit('/', 1)[-1]}`" for u in app.unchanged) or "none"
    out.append(
        "The split holds what the move adds or changes and imports the rest from the monolith "
        f"({len(app.unchanged)} monolith files unchanged: {unchanged})."
    )
    out.append("")
    rows = []
    cats = app.by_category()
    for cat in CATEGORIES:
        c = cats[cat]
        rows.append(
            [
                LABELS[cat],
                f"{c['files_added']} / {c['files_changed']} / {c['files_removed']}",
                f"+{c['added']['code']} / −{c['removed']['code']}",
                f"+{c['added']['comment']} / −{c['removed']['comment']}",
                f"+{c['added']['blank']} / −{c['removed']['blank']}",
                str(c["moved_code_lines"]),
            ]
        )
    out += table(
        ["category", "files added / changed / removed", "code lines", "comment lines", "blank lines", "moved (code)"], rows
    )
    rows = [
        [
            c.status,
            LABELS[c.category],
            f"`{c.key}`"
            + (
                f" (vs `{c.old_path}`)"
                if c.old_path and c.new_path and c.old_path != c.key.replace("/split/", "/monolith/")
                else ""
            ),
            f"+{c.added.code} / −{c.removed.code}",
            c.transport or "",
            "yes" if c.generated else "",
        ]
        for c in sorted(app.touched, key=lambda c: (CATEGORIES.index(c.category), c.key))
    ]
    generated = [c for c in app.touched if c.generated]
    if generated:
        files = sorted({c.key.partition("#")[0] for c in generated})
        churn = sum(c.added.code + c.removed.code for c in generated)
        out += [
            f"{len(files)} of the files touched ({churn:,} churned code lines) say they are generated "
            f'(e.g. `{files[0]}`: "{generated[0].why}"): they are counted like the others, as files the move adds to '
            "the repository, but nobody wrote them by hand; their generator is in the common base.",
            "",
        ]
    out += ["<details><summary>Every file touched</summary>", ""]
    out += table(["status", "category", "unit", "code lines", "transport", "generated"], rows)
    out += ["</details>", ""]
    return out
