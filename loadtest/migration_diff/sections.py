"""The explaining parts of the migration section: call sites touched, dependencies added, the cost model,
and how it is all measured."""

from __future__ import annotations

from .categories import LABELS
from .measure import family
from .results import Measurement
from .tables import number, table


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
    return "never (nothing scales)" if n is None else number(n)


def model_section(m: Measurement) -> list[str]:
    s = m.scenario
    out = []
    for app in m.apps.values():
        ops = ", ".join(o.name for o in app.operations) or "none found"
        sources = sorted({o.source for o in app.operations})
        out.append(
            f"- **{app.app}**: {len(app.operations)} operations ({ops}) from {', '.join(f'`{x}`' for x in sources) or '—'}."
        )
    out += [
        "",
        "One unit for both apps: an operation is one kind of message a service accepts from another, which it serves "
        "or handles: an RPC method (direct calls), or a method served over the bus's request/reply and each domain "
        "event type (event-driven; the request/reply envelope is generic, so it adds no type per method). The direct "
        "app's `Evaluate` and `Notify` are the event app's `CheckCompleted` and `AlertOpened`/`AlertResolved`: the same "
        "interactions, one more event type on the event side because opening and resolving are two announcements.",
        "",
    ]
    rows = []
    for app in m.apps.values():
        fits = ([app.upfront_fit] if app.upfront_fit else []) + (app.fits if app.measured else [])
        for f in fits:
            seed_lines = s.direct_lines if family(app.app) == "direct" else s.event_lines
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
                    number(f.at(s.operations)),
                    reach,
                ]
            )
    seed_col = f"n where the line reaches the seed's {number(s.direct_lines)} (direct) / {number(s.event_lines)} (event) lines"
    out += table(
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


def method_section(m: Measurement) -> list[str]:
    out = [
        "- **Trees.** `<app>/monolith` is the app before the move; `<app>/split` holds what the move adds or changes and "
        "imports everything else from the monolith with plain absolute imports. A split file with the path of a monolith file is "
        "a *changed* file (diffed against it), any other split file is *added*, and a monolith file without a split twin is "
        "*unchanged*. Outside the app trees the "
        "move counts: `proto/` (when the split imports generated code), the split variants' kustomize overlays (every file "
        "their kustomization uses that the monolith's does not; `k8s/<split>/X` is diffed against `k8s/<monolith>/X`), their "
        "compose services (against the monolith's service of the same role: the name without the variant's) and the tests: "
        "a test module that imports the split at module level (or the split and not the monolith) is added; one that imports "
        "the monolith and the split only inside functions (a conformance suite's fixtures) is changed, its monolith version "
        "being the module without the statements that name the split (found with `ast`); a test module that imports neither "
        "tree but starts, through the launcher, only split variants of the app (their names as string literals: a failure "
        "suite) is added too; the parity suites import neither app, name every variant and count for none.",
        "- **Lines.** Each line is code, comment or blank. Docstrings count as comments (module, class and function "
        "docstrings, and the string statements that document an attribute, found with `ast`); comments are found with "
        "`tokenize`; an empty line is blank, also inside a docstring. YAML, shell and Dockerfile comments start with `#`, "
        "proto comments with `//` or `/*`. A line diff (`difflib`) gives lines added and "
        "removed; a function whose text leaves one place and reappears unchanged elsewhere in the move counts as *moved*, "
        "not as added plus removed.",
        "- **Call sites.** From the AST, per function: the calls `self.<collaborator>...m(...)` and `<parameter or call-bound "
        "variable>.m(...)`, compared between the monolith and split version of each function (a moved function is compared "
        "with itself, so moving it changes no call site).",
        "- **Dependencies.** Absolute imports of the split modules minus those the monolith already runs with (its own "
        "modules' and the common base's, `shared/`), without the standard library, the repository's own packages and "
        "protoc-generated modules; mapped to PyPI names with `importlib.metadata`.",
        f"- **Variants** come from {m.variants_source}.",
        "",
        "Classification (first matching pattern wins; `*` also matches `/`; pass `--categories FILE` to use your own table):",
        "",
    ]
    out += table(["pattern", "category", "why"], [[f"`{p}`", LABELS[c], w] for p, c, w in m.rules])
    out += [
        "",
        "No pattern names a transport, client, server or bus. A Python module the table leaves to app code (or puts in "
        "reusable infrastructure) is then classed by what it does, by one rule for both apps and the common base: **app "
        "code** when a code line names one of the app's operations (an RPC method, an event type, a method served over "
        "the bus) or one of the domain's value types (the non-error classes of `shared/domain.py`, such as `Target`); "
        "**reusable infrastructure** otherwise, since it could carry another app's calls or events unchanged.",
    ]
    return out
