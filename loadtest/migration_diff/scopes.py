"""One ratio hides a range: the move's churn, direct ÷ event, under each defensible scope, and the discipline both
apps were built with (which is what makes the moves this small).

A scope is a filter on the changes of the move: which transports of a two-transport app count, which categories
count (program code only, as the seed counts when it calls manifests "no code changes"), whether reusable
infrastructure counts (or is a library someone else maintains), whether files a generator writes count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .categories import CODE_CATEGORIES, INFRA
from .results import AppResult, Measurement
from .tree import Change

DIRECT, EVENT = "direct_calls", "event_driven"

DISCIPLINE = (
    "**Both monoliths were built ready to split.** Their services take their collaborators as injected ports, each "
    "service has its own database even inside one process, the data a service needs travels with each call or event "
    "(no service reads another's tables), and every cross-service effect carries an idempotency key or a "
    "compensation. So \"0 call sites touched\" below is a design input, not a finding: what is measured is the cost of "
    "swapping the transport under that design, for both apps alike. A monolith written without those seams would "
    "pay for them in its move (splitting one database, replacing cross-service transactions and joins)."
)
PLAIN_MEASURED = " That move is measured below: *The move from a typical monolith* sets the four moves side by side."
PLAIN_MISSING = " That move is not measured in this tree."


@dataclass(frozen=True)
class Scope:
    name: str
    why: str
    keep: Callable[[Change], bool]
    transports: bool = True  # whether the two-transport app's rows are given per transport too


def _program(c: Change) -> bool:
    return c.category in CODE_CATEGORIES


SCOPES: tuple[Scope, ...] = (
    Scope("as built", "every file the move touched: program code, deployment config, tests", lambda c: True),
    Scope("program code only", "the seed's own definition: it calls manifests \"no code changes\"", _program),
    Scope(
        "program code, reusable infrastructure as a library",
        "the bus, transports' generic parts, discovery: maintained once per organisation (or bought), not per move",
        lambda c: _program(c) and c.category != INFRA,
    ),
    Scope("hand-written only", "without the files a generator writes (manifests from the topology)",
          lambda c: not c.generated),
)


def _kept(app: AppResult, keep: Callable[[Change], bool], transport: str | None = None) -> list[Change]:
    return [c for c in (app.subset(transport) if transport else app.touched) if keep(c)]


def churn(app: AppResult, keep: Callable[[Change], bool], transport: str | None = None) -> int:
    return sum(c.added.code + c.removed.code for c in _kept(app, keep, transport))


def files(app: AppResult, keep: Callable[[Change], bool], transport: str | None = None) -> int:
    return app.file_count(_kept(app, keep, transport))


def rows(m: Measurement) -> list[dict]:
    """Each scope: the direct app's churn as built and per transport, the event app's, and the ratios."""
    direct, event = m.apps.get(DIRECT), m.apps.get(EVENT)
    if not direct or not event or not direct.measured or not event.measured:
        return []
    out = []
    for scope in SCOPES:
        e = churn(event, scope.keep)
        both = churn(direct, scope.keep)
        per = {t: churn(direct, scope.keep, t) for t in direct.transports()}
        out.append({
            "scope": scope.name,
            "why": scope.why,
            "direct": both,
            "direct_per_transport": per,
            "event": e,
            "direct_files": files(direct, scope.keep),
            "direct_files_per_transport": {t: files(direct, scope.keep, t) for t in direct.transports()},
            "event_files": files(event, scope.keep),
            "ratio": both / e if e else None,
            "ratio_per_transport": {t: (n / e if e else None) for t, n in per.items()},
        })
    return out


def upfront(m: Measurement) -> dict | None:
    """The monoliths' up-front size (code lines), event ÷ direct, the glue alone and with the common base."""
    direct, event = m.apps.get(DIRECT), m.apps.get(EVENT)
    if not direct or not event:
        return None
    d, e, base = direct.upfront.total().code, event.upfront.total().code, m.base.total().code
    dp = sum(n.code for c, n in direct.upfront.by_category().items() if c in CODE_CATEGORIES)
    ep = sum(n.code for c, n in event.upfront.by_category().items() if c in CODE_CATEGORIES)
    bp = sum(n.code for c, n in m.base.by_category().items() if c in CODE_CATEGORIES)
    return {
        "direct": d, "event": e, "base": base,
        "glue_ratio": e / d if d else None,
        "with_base_ratio": (e + base) / (d + base) if d + base else None,
        "program_glue_ratio": ep / dp if dp else None,
        "program_with_base_ratio": (ep + bp) / (dp + bp) if dp + bp else None,
    }


def section(m: Measurement) -> list[str]:
    """The discipline statement and the scope table: the first lines of the migration section."""
    plain = any(a.measured for name, a in m.apps.items() if name not in (DIRECT, EVENT))
    out = [DISCIPLINE + (PLAIN_MEASURED if plain else PLAIN_MISSING), ""]
    table_rows = rows(m)
    if table_rows:
        transports = sorted({t for r in table_rows for t in r["direct_per_transport"]})
        header = ["scope", "direct_calls churn", *(f"{t} only" for t in transports), "event_driven churn",
                  "direct ÷ event", *(f"{t} only ÷ event" for t in transports)]
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        for r in table_rows:
            cells = [f"**{r['scope']}**: {r['why']}", f"{r['direct']:,}",
                     *(f"{r['direct_per_transport'].get(t, 0):,}" for t in transports), f"{r['event']:,}",
                     _ratio(r["ratio"]), *(_ratio(r["ratio_per_transport"].get(t)) for t in transports)]
            lines.append("| " + " | ".join(cells) + " |")
        ratios = [x for r in table_rows for x in (r["ratio"], *r["ratio_per_transport"].values()) if x is not None]
        out += [
            "Churned code lines of the move, direct ÷ event, by scope (a real team would build one transport, so the "
            "per-transport columns are the likelier comparison):",
            "",
            *lines,
            "",
            f"Depending on scope, direct ÷ event runs from {min(ratios):.2f} to {max(ratios):.2f}." if ratios else "",
            "",
        ]
    up = upfront(m)
    if up and up["glue_ratio"] and up["with_base_ratio"]:
        out += [
            f"Up-front, the event app's monolith is {up['glue_ratio']:.1f}× the direct app's when only each app's own "
            f"glue is counted ({up['event']:,} against {up['direct']:,} code lines), and {up['with_base_ratio']:.2f}× "
            f"with the common base both run on ({up['base']:,} lines of `shared/` and common deployment units); "
            f"program code only: {up['program_glue_ratio']:.1f}× and {up['program_with_base_ratio']:.2f}×.",
            "",
        ]
    return out


def _above_one(table_rows: dict[str, dict]) -> list[str]:
    """Scopes where some direct ÷ event ratio (both transports or one) exceeds 1, in table order."""
    return [name for name, r in table_rows.items() if any(x and x > 1 for x in (r["ratio"], *r["ratio_per_transport"].values()))]


def _ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def verdicts(m: Measurement) -> list[str]:
    """Which of the seed's migration claims holds, on which definition of the move (from the scope table)."""
    table_rows = {r["scope"]: r for r in rows(m)}
    if not table_rows:
        return []
    built, program, library = table_rows["as built"], table_rows["program code only"], table_rows[SCOPES[2].name]
    ratios = [x for r in table_rows.values() for x in (r["ratio"], *r["ratio_per_transport"].values()) if x is not None]
    direct_max = max(r["direct"] for r in table_rows.values())
    direct_files_max = max(r["direct_files"] for r in table_rows.values())
    near = [name for name, r in table_rows.items() if 250 <= r["event"] <= 1000]
    out = [
        "Which claim holds, on whose definition:",
        "",
        f"- **Event-driven, ~500 lines changed**: holds only when the move's reusable infrastructure (the RabbitMQ bus) "
        f"counts as a library and manifests and tests as no code: {library['event']:,} code lines in "
        f"{library['event_files']} files. Program code with the bus: {program['event']:,} lines; everything the move "
        f"touched: {built['event']:,} lines in {built['event_files']} files"
        + (f" (scopes within 2× of 500: {', '.join(near)})" if near else " (no scope within 2× of 500)") + ".",
        f"- **Event-driven, 1–2 (or 5–10) files**: the fewest files on any scope here is "
        f"{min(r['event_files'] for r in table_rows.values())}; the claim does not hold on any of these definitions.",
        f"- **Direct calls, 50,000+ lines and 500+ files**: does not hold on any definition: at most {direct_max:,} code "
        f"lines and {direct_files_max} files (both transports, everything counted).",
        f"- **250× less work** (files) or 10× (time): direct ÷ event churn runs from {min(ratios):.2f} to "
        f"{max(ratios):.2f} across the scopes; above 1 on "
        + (", ".join(f"*{name}*" for name in _above_one(table_rows)) or "no scope")
        + ".",
    ]
    return out + [""]
