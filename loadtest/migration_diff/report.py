"""The migration section of ``results/REPORT.md``, written to ``results/migration/SECTION.md``.

Every number in it is computed by ``measure`` from the trees; the seed's numbers are quoted from the
copy under ``results/seed/`` as parsed at run time.
"""

from __future__ import annotations

from collections.abc import Callable

from .categories import CATEGORIES, CODE_CATEGORIES, DEPLOY, LABELS, TESTS, WIRING
from .results import AppResult, Measurement
from .tree import ADDED, CHANGED, COPIED, REMOVED

NOT_MEASURABLE = {
    "time": "not measurable here: calendar time depends on the team, its process and its reviews; we measure code, not weeks",
    "cost": "not measurable here: dollars are not in the code",
    "risk": "not measurable here: migration risk is a judgement (the fault scenarios elsewhere in this report measure "
    "runtime behaviour, not the risk of the move)",
    "bugs": "not measurable here: bug counts need a project's history after the move",
    "new bugs": "not measurable here: bug counts need a project's history after the move",
    "rollback": "not measurable here: qualitative (both apps keep their monolith variant; rolling back is deploying its "
    "overlay again, for either app)",
    "team morale": "not measurable here: morale is not in the code",
    "customer impact": "not measurable here: no customers; the public contract is identical in every variant (one parity suite)",
    "success rate": "not measurable here: a success rate needs many migrations, we have one per app",
}


def _n(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def _files(app: AppResult) -> str:
    statuses = [status for status, _ in app.files().values()]
    added, removed = statuses.count(ADDED), statuses.count(REMOVED)
    changed = statuses.count(CHANGED) + statuses.count(COPIED)
    return f"{len(statuses)} ({added} added, {changed} changed, {removed} removed)"


def _lines(app: AppResult, changes=None) -> str:
    changes = app.touched if changes is None else changes
    added = sum(c.added.code for c in changes)
    removed = sum(c.removed.code for c in changes)
    return f"+{added:,} / −{removed:,} = {added + removed:,}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b else "—"


def _app_code_files(app: AppResult) -> int:
    return sum(c.category in CODE_CATEGORIES for c in app.touched)


class _Ours:
    """Our counterpart of each seed row, by the row's first cell."""

    def __init__(self, m: Measurement):
        self.m = m
        self.d = m.apps.get("direct_calls")
        self.e = m.apps.get("event_driven")

    def ok(self, *apps: AppResult | None) -> str | None:
        for app in apps:
            if app is None:
                return "not measured: app not selected"
            if not app.measured:
                return app.reason
        return None

    def files(self, app: AppResult | None) -> str:
        missing = self.ok(app)
        if missing:
            return missing
        extra = ""
        if len(app.fits) > 1:
            extra = "; " + ", ".join(f"{f.label}: {f.files}" for f in app.fits[1:])
        return f"{_files(app)} files{extra}; of them {_app_code_files(app)} program code (the rest deployment config and tests)"

    def churn(self, app: AppResult | None) -> str:
        missing = self.ok(app)
        if missing:
            return missing
        extra = ""
        if len(app.fits) > 1:
            extra = "; " + ", ".join(f"{f.label}: {f.churn:,}" for f in app.fits[1:])
        total = sum(c.added.total + c.removed.total for c in app.touched)
        return f"{_lines(app)} code lines{extra} ({total:,} lines with comments and blanks)"

    def bottom_line(self, key: str) -> tuple[str, str, str]:
        if key.startswith("code change"):
            missing = self.ok(self.d, self.e)
            if missing:
                return self.files(self.d), self.files(self.e), missing
            e_files, e_churn = self.e.file_count(), self.e.churn()
            ratios = [
                f"{fit.label}: {_ratio(fit.files, e_files)} the files, {_ratio(fit.churn, e_churn)} the code lines"
                for fit in self.d.fits
            ]
            return self.files(self.d), self.files(self.e), "direct calls ÷ event-driven, " + "; ".join(ratios)
        reason = _reason(key)
        return reason, "(same)", "(same)"

    def metric(self, key: str, app: AppResult | None) -> str:
        if key.startswith("code churn"):
            return self.churn(app)
        if key.startswith("files modified"):
            return self.files(app)
        return _reason(key)


def _reason(key: str) -> str:
    for prefix, reason in NOT_MEASURABLE.items():
        if key.startswith(prefix):
            return reason
    return "not measurable here: no counterpart in the code"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return out + [""]


def _split3(counts: dict[str, int]) -> str:
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
        lambda a: _split3({c: n.code for c, n in a.upfront.by_category().items()}),
        needs_split=False,
    )
    add("migration: files touched", _files)
    add("… program code / deployment config / tests", lambda a: _split3(files_by(a)))
    add("migration: code lines added / removed = churn", _lines)
    add("… churn in program code / deployment config / tests", lambda a: _split3(churn_by(a)))
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
        lambda a: "; ".join(f"{f.label}: {_n(f.at(s.operations))}" for f in a.fits),
    )
    out = _table(["", *(a.app for a in apps)], rows)
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
    return _table(header, rows)


def migration_tables(app: AppResult) -> list[str]:
    out = [f"#### {app.app}", ""]
    if not app.measured:
        return out + [f"**{app.reason}**", ""]
    unchanged = ", ".join(f"`{u.rsplit('/', 1)[-1]}`" for u in app.unchanged) or "none"
    kind = "an overlay on" if app.mode == "overlay" else "a full copy of"
    out.append(f"The split is {kind} the monolith ({len(app.unchanged)} monolith files resolve unchanged: {unchanged}).")
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
    out += _table(
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
    out += _table(["status", "category", "unit", "code lines", "transport", "generated"], rows)
    out += ["</details>", ""]
    return out


def callsite_section(m: Measurement) -> list[str]:
    out = []
    for app in m.apps.values():
        if not app.measured:
            out += [f"- **{app.app}**: {app.reason}"]
            continue
        cs = app.callsites
        by_cat = ", ".join(f"{LABELS[c]}: {n}" for c, n in sorted(app.touched_sites_by_category().items())) or "none"
        out.append(
            f"- **{app.app}**: {app.touched_sites()} call sites touched in app code; {cs.touched_count} in all "
            f"(by category: {by_cat}) in functions present before and after "
            f"(the monolith's modules make {cs.monolith_sites} collaborator calls); "
            f"{sum(cs.new_sites.values())} new call sites in functions only the split has"
            + (f" ({', '.join(f'`{k}`: {v}' for k, v in sorted(cs.new_sites.items()))})" if cs.new_sites else "")
            + (f"; {sum(cs.gone_sites.values())} gone with functions only the monolith had" if cs.gone_sites else "")
            + "."
        )
        for t in cs.touched:
            if t.count:
                moved = f" (moved from `{t.moved_from}`)" if t.moved_from else ""
                before = "; ".join(f"`{x}`" for x in t.removed) or "—"
                after = "; ".join(f"`{x}`" for x in t.added) or "—"
                out.append(f"  - `{t.module}` `{t.function}`{moved}: {before} → {after}")
    return out + [""]


def dependency_section(m: Measurement) -> list[str]:
    out = []
    for app in m.apps.values():
        if not app.measured:
            out.append(f"- **{app.app}**: {app.reason}")
            continue
        deps = (
            ", ".join(
                f"`{d.distribution}`"
                + (f" {d.version}" if d.version else "")
                + f" (import `{d.import_name}` in {', '.join(f'`{p}`' for p in d.modules)})"
                for d in app.dependencies
            )
            or "none"
        )
        out.append(f"- **{app.app}**: third-party packages: {deps}.")
        if app.generated_imports:
            out.append(f"  - generated code imported: {', '.join(f'`{g}`' for g in app.generated_imports)}")
        for item in app.infrastructure:
            out.append(f"  - {item}")
    return out + [""]


def _reach(fit, lines: int) -> str:
    if fit.fixed >= lines:
        return f"none: the fixed cost alone ({fit.fixed:,}) is more"
    n = fit.operations_for(lines)
    return "never (nothing scales)" if n is None else _n(n)


def model_section(m: Measurement) -> list[str]:
    s = m.scenario
    out = []
    for app in m.apps.values():
        ops = ", ".join(o.name for o in app.operations) or "none found"
        sources = sorted({o.source for o in app.operations})
        out.append(
            f"- **{app.app}**: {len(app.operations)} operations ({ops}) from {', '.join(f'`{x}`' for x in sources) or '—'}."
        )
    out.append("")
    rows = []
    for app in m.apps.values():
        fits = ([app.upfront_fit] if app.upfront_fit else []) + (app.fits if app.measured else [])
        for f in fits:
            seed_lines = s.direct_lines if app.app == "direct_calls" else s.event_lines
            reach = _reach(f, seed_lines) if seed_lines and f.label != "monolith (up-front)" else ""
            rows.append(
                [
                    app.app,
                    f.label,
                    str(f.operations),
                    f"{f.churn:,}",
                    f"{f.per_op_lines:,}",
                    f"{f.fixed:,}",
                    f"{f.per_op:.1f}",
                    _n(f.at(s.operations)),
                    reach,
                ]
            )
    seed_col = f"n where the line reaches the seed's {_n(s.direct_lines)} (direct) / {_n(s.event_lines)} (event) lines"
    out += _table(
        [
            "app",
            "what",
            "n (operations)",
            "code lines",
            "per-operation lines",
            "fixed",
            "per operation",
            f"at n = {s.operations}",
            seed_col,
        ],
        rows,
    )
    out.append(
        f'The seed\'s scenario: "{s.operations_quote}" (n = {s.operations}); direct calls: "{s.direct_lines_quote}", '
        f'"{s.direct_files_quote}"; event-driven: "{s.event_lines_quote}", "{s.event_files_quote}".'
    )
    d = m.apps.get("direct_calls")
    if d and d.measured and s.direct_lines:
        implied = s.direct_lines / s.operations
        out.append(
            f"For the seed's {s.direct_lines:,} lines at {s.operations} operations, direct calls would need "
            f"{implied:,.0f} churned lines per operation; we measure {d.fits[0].per_op:.1f} "
            f"(as built, {d.fits[0].fixed:,} fixed)."
        )
    if d and d.measured and s.direct_files:
        out.append(
            f"Files: the move touches {d.file_count()} files for direct calls; in this code's structure (one client, one "
            f"servicer and one server per service, each holding all of that service's operations) the file count grows "
            f"with services, not operations, so the model keeps it constant in n; the seed says {s.direct_files}+."
        )
    out += [
        "",
        "Assumptions of the model:",
        "- cost is code lines churned (added + removed; blank and comment lines, and functions moved unchanged, excluded);",
        "- per-operation lines are the churned code lines that (1) sit in a function named after an operation (`create_target`, "
        "`CreateTarget`, `on_<event>`) or in a `.proto` message named after one (`CreateTargetRequest`), or (2) name an "
        "operation (its CamelCase, snake_case or UPPER_SNAKE spelling, its wire name, or a CamelCase extension like "
        "`CreateTargetRequest`); everything else is fixed, including messages and codecs of domain values (they grow with the "
        "domain, not with the operations);",
        "- every new operation costs what an average existing one cost (linear; no economies or diseconomies of scale);",
        "- the number of services stays 3; more services would add fixed cost (entrypoints, manifests, clients' "
        "scaffolding) per service;",
        "- one measured point per app: the line goes through it, its slope comes from which lines scale, not from a regression;",
        "- operations are counted as each app defines them: rpc methods for direct calls, event types for the event-driven app "
        "(a request/reply is several event types), so n means a little more per unit for direct calls.",
        "",
        "![migration lines by category](migration/lines_by_category.png)",
        "![total cost](migration/total_cost.png)",
        "![extrapolation](migration/extrapolation.png)",
        "",
    ]
    return out


def seed_section(m: Measurement) -> list[str]:
    ours = _Ours(m)
    out = [f"Quoted from `{m.seed_path}` (a copy of the seed, parsed at run time).", ""]
    if not m.seed_tables:
        return out + ["**The seed copy was not found or has no Bottom Line / Success Metrics tables.**", ""]
    for table in m.seed_tables:
        title = f"{table.section}" + (f" — {table.subsection}" if table.subsection else "")
        out += [f"**{title}** (seed line {table.line})", ""]
        if "bottom line" in table.section.lower():
            header = [
                *(f"seed: {h}" for h in table.header),
                "measured: direct calls",
                "measured: event-driven",
                "measured: difference",
            ]
            rows = [[*r, *ours.bottom_line(r[0].lower())] for r in table.rows]
        else:
            app = ours.d if "direct" in table.subsection.lower() else ours.e if "event" in table.subsection.lower() else None
            header = [*(f"seed: {h}" for h in table.header), f"measured here ({app.app if app else '?'})"]
            rows = [[*r, ours.metric(r[0].lower(), app)] for r in table.rows]
        out += _table(header, rows)
    q = m.seed_quotes
    d, e = m.apps.get("direct_calls"), m.apps.get("event_driven")
    rows = []
    if q.get("calls") or q.get("locations") or q.get("hundreds"):
        text = (
            f"{d.touched_sites()} call sites touched in app code ({d.callsites.touched_count} with the composition root); "
            f"{sum(d.callsites.new_sites.values())} new ones in functions only the split has (clients, servicers, servers); "
            f"{len(d.operations)} operations between services"
            if d and d.measured
            else (d.reason if d else "—")
        )
        rows.append(["; ".join(f"“{q[k]}”" for k in ("hundreds", "calls", "locations") if q.get(k)), "direct calls", text])
    if q.get("one_file") or q.get("code_unchanged"):
        if e and e.measured:
            code_files = [c for c in e.touched if c.category in CODE_CATEGORIES]
            churn = {c.key: c.added.code + c.removed.code for c in code_files}
            biggest = max(churn, key=churn.get) if churn else None
            text = (
                f"{e.file_count()} files touched, {len(code_files)} of them program code, with "
                f"{sum(churn.values()):,} code lines churned"
                + (f" ({churn[biggest]:,} of them in `{biggest}`)" if biggest else "")
                + f"; {e.touched_sites()} call sites touched in app code ({e.callsites.touched_count} with the composition "
                f"root); app-code lines churned: {sum(c.added.code + c.removed.code for c in e.touched if c.category == 'app'):,}"
            )
        else:
            text = e.reason if e else "—"
        rows.append(["; ".join(f"“{q[k]}”" for k in ("one_file", "code_unchanged") if q.get(k)), "event-driven", text])
    if q.get("upfront") and d and e:
        du, eu = d.upfront.total().code, e.upfront.total().code
        dp = sum(n.code for c, n in d.upfront.by_category().items() if c in CODE_CATEGORIES)
        ep = sum(n.code for c, n in e.upfront.by_category().items() if c in CODE_CATEGORIES)
        rows.append(
            [
                f"“{q['upfront']}”",
                "both",
                f"program code of the monoliths: event-driven {ep:,} code lines vs direct calls {dp:,}: {ep - dp:+,} "
                f"({_ratio(ep, dp)}); with their deployment config and tests: {eu:,} vs {du:,}: {eu - du:+,} ({_ratio(eu, du)})",
            ]
        )
    for key, app in (("deps_direct", d), ("deps_event", e)):
        if q.get(key) and app:
            text = (
                (", ".join(x.distribution for x in app.dependencies) or "no new packages")
                + ("; " + "; ".join(app.infrastructure) if app.infrastructure else "")
                if app.measured
                else app.reason
            )
            rows.append([f"“{q[key]}”", app.app, text])
    if rows:
        out += ["**Per-step claims**", ""]
        out += _table(["seed", "app", "measured here"], rows)
    return out


def method_section(m: Measurement) -> list[str]:
    out = [
        "- **Trees.** `<app>/split` is resolved the way Python imports it: `split/__init__.py` puts `monolith/` second on the "
        "package `__path__`, so a split module with a monolith module's name is a *changed* file (diffed against it), a new name "
        "is *added*, and a monolith module masked by nothing is *unchanged* (it is the split's too). Outside the app trees the "
        "move counts: `proto/` (when the split imports generated code), the split variants' kustomize overlays (every file "
        "their kustomization uses that the monolith's does not; `k8s/<split>/X` is diffed against `k8s/<monolith>/X`), their "
        "compose services (against the monolith's service of the same role: the name without the variant's) and the tests: "
        "a test module that imports the split at module level (or the split and not the monolith) is added; one that imports "
        "the monolith and the split only inside functions (a conformance suite's fixtures) is changed, its monolith version "
        "being the module without the statements that name the split (found with `ast`); the parity suites import neither "
        "app and count for none.",
        "- **Lines.** Each line is code, comment or blank. Docstrings count as comments (module, class and function "
        "docstrings, and the string statements that document an attribute, found with `ast`); comments are found with "
        "`tokenize`; an empty line is blank, also inside a docstring. YAML, shell and Dockerfile comments start with `#`, "
        "proto comments with `//` or `/*`. A line diff (`difflib`) gives lines added and "
        "removed; a function whose text leaves one place and reappears unchanged elsewhere in the move counts as *moved*, "
        "not as added plus removed.",
        "- **Call sites.** From the AST, per function: the calls `self.<collaborator>...m(...)` and `<parameter or call-bound "
        "variable>.m(...)`, compared between the monolith and split version of each function (a moved function is compared "
        "with itself, so moving it changes no call site).",
        "- **Dependencies.** Absolute imports of the split modules minus the monolith's, without the standard library, the "
        "repository's own packages and protoc-generated modules; mapped to PyPI names with `importlib.metadata`.",
        f"- **Variants** come from {m.variants_source}.",
        "",
        "Classification (first matching pattern wins; `*` also matches `/`; pass `--categories FILE` to use your own table):",
        "",
    ]
    out += _table(["pattern", "category", "why"], [[f"`{p}`", LABELS[c], w] for p, c, w in m.rules])
    return out


def section(m: Measurement) -> str:
    state = f"commit `{m.commit}`" + (" with uncommitted changes in the measured paths" if m.dirty else "")
    out = [
        "## Migration: monolith → split, measured from the code",
        "",
        f"Measured by `make diff` (`python -m loadtest.migration_diff`) from the trees at {state}. "
        "Lines are code lines unless stated (blank and comment lines are counted apart; docstrings count as comments). "
        "Raw numbers: [`migration.json`](migration/migration.json); for workshops: [`index.html`](migration/index.html) "
        "(a side-by-side diff of every file touched), [`WALKTHROUGH.md`](migration/WALKTHROUGH.md) (the files in reading "
        "order, each with its reason), [`direct_calls.diff`](migration/direct_calls.diff) and "
        "[`event_driven.diff`](migration/event_driven.diff) (unified diffs), all under `results/migration/`.",
        "",
        "### Headline",
        "",
        *headline(m),
        "### Up-front cost: each app's monolith, by category",
        "",
        *upfront_table(m),
        "### The move, by category",
        "",
    ]
    for app in m.apps.values():
        out += migration_tables(app)
    out += ["### Call sites touched", "", *callsite_section(m)]
    out += ["### Dependencies added by the move", "", *dependency_section(m)]
    out += ["### Cost model: fixed + per operation", "", *model_section(m)]
    out += ["### The seed's claims beside our numbers", "", *seed_section(m)]
    out += ["### How it is measured", "", *method_section(m)]
    return "\n".join(out).rstrip() + "\n"
