"""The move from a typical monolith: the four moves side by side, each as up-front cost plus move.

The disciplined apps (``direct_calls``, ``event_driven``) were built ready to split; the plain apps (``direct_plain``,
``event_plain``) are the same apps written as a typical monolith (one database and transaction per request, services
calling each other and reading each other's tables) and moved as a team would. Setting the four side by side answers:
what the seams cost up front, what they save at the move, and whether events gave any of that by themselves.

The plain direct app moves to one transport (HTTP), so the disciplined direct app is compared on its HTTP-only subset
(the changes a team building only the HTTP transport would make).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import base_use, scopes
from . import lines as L
from .categories import CATEGORIES, CODE_CATEGORIES, LABELS
from .results import AppResult, Measurement
from .tables import table
from .tree import Change, list_files, read_text

ORDER = ("direct_calls", "direct_plain", "event_driven", "event_plain")
PAIRS = (("direct", "direct_calls", "direct_plain"), ("event", "event_driven", "event_plain"))
PROGRAM = next(s for s in scopes.SCOPES if s.name == "program code only")
COMPARED_TRANSPORT = "http"
"""The disciplined direct app is measured on this transport's subset: the plain direct app moves to it alone."""


@dataclass(frozen=True)
class Move:
    """One app's monolith and move, as compared here."""

    app: str
    label: str
    changes: list[Change]
    result: AppResult
    base_only: tuple[str, ...] = ()
    """Modules of ``shared/`` this app's monolith runs on and not every compared app does (its seams, when they
    live in the common base)."""
    base_only_code: int = 0
    base_new: tuple[str, ...] = ()
    """Modules of ``shared/`` the split runs on and the monolith did not: the move starts using them, so it pays
    for them as if it had written them (they are common code only because some other app had them already)."""
    base_new_code: int = 0

    def upfront(self, program_only: bool = False) -> int:
        cats = self.result.upfront.by_category()
        return sum(n.code for c, n in cats.items() if not program_only or c in CODE_CATEGORIES)

    def upfront_program(self) -> int:
        """The monolith's program code with the base modules only it runs on: what its design costs up front."""
        return self.upfront(program_only=True) + self.base_only_code

    def move_program(self) -> int:
        """The move's program code with the base modules the split starts using: what the move costs in code."""
        return self.churn(PROGRAM.keep) + self.base_new_code

    def churn(self, keep=lambda c: True) -> int:
        return sum(c.added.code + c.removed.code for c in self.changes if keep(c))

    def files(self) -> int:
        return self.result.file_count(self.changes)

    def by_category(self) -> dict[str, int]:
        out = dict.fromkeys(CATEGORIES, 0)
        for c in self.changes:
            out[c.category] += c.added.code + c.removed.code
        return out


def moves(m: Measurement) -> dict[str, Move]:
    """The measured moves among the four, keyed by app."""
    apps = [app for app in ORDER if (r := m.apps.get(app)) and r.measured]
    uses = {app: base_use.used(m.root, list_files(m.root / app / "monolith")) for app in apps}
    common = set.intersection(*uses.values()) if uses else set()

    def code_of(paths: tuple[str, ...]) -> int:
        return sum(L.count(p, read_text(m.root / p)).code for p in paths)

    out = {}
    for app in apps:
        result = m.apps[app]
        own = tuple(sorted(uses[app] - common))
        split_uses = base_use.used(m.root, [*list_files(m.root / app / "monolith"), *list_files(m.root / app / "split")])
        new = tuple(sorted(split_uses - uses[app]))
        if COMPARED_TRANSPORT in result.transports():
            label, changes = f"{app} ({COMPARED_TRANSPORT} only)", result.subset(COMPARED_TRANSPORT)
        else:
            label, changes = app, result.touched
        out[app] = Move(app, label, changes, result, own, code_of(own), new, code_of(new))
    return out


def rows(m: Measurement) -> list[dict]:
    """``migration.json``'s side-by-side table: per move, the up-front size, the churn per scope and by category."""
    return [
        {
            "app": mv.app,
            "label": mv.label,
            "upfront_code": mv.upfront(),
            "upfront_program_code": mv.upfront(program_only=True),
            "base_only_modules": list(mv.base_only),
            "base_only_code": mv.base_only_code,
            "base_new_modules": list(mv.base_new),
            "base_new_code": mv.base_new_code,
            "files_touched": mv.files(),
            "churn_by_scope": {s.name: mv.churn(s.keep) for s in scopes.SCOPES},
            "churn_by_category": mv.by_category(),
            "upfront_plus_move": mv.upfront() + mv.churn(),
        }
        for mv in moves(m).values()
    ]


def section(m: Measurement) -> list[str]:
    """The side-by-side section of the report, or a line saying what is missing."""
    found = moves(m)
    if not any(app in found for app in ("direct_plain", "event_plain")):
        return ["Not measured: the plain apps' moves are not in this tree.", ""]
    out = [
        "Each app as a typical team would write it (**plain**: one database and one transaction per request, services "
        "calling each other and reading each other's tables) beside the same app **built ready to split** "
        "(**disciplined**: ports, a database per service, data travelling with each call or event). Each move is "
        "up-front (the monolith) plus the move, counted by the same rules. The disciplined direct app is counted on "
        f"its {COMPARED_TRANSPORT.upper()}-only changes, since the plain direct app moves to {COMPARED_TRANSPORT.upper()} "
        "alone.",
        "",
    ]
    header = ["", *(found[a].label for a in ORDER if a in found)]
    shown = [found[a] for a in ORDER if a in found]
    body = [
        ["up-front: the monolith, code lines", *(f"{mv.upfront():,}" for mv in shown)],
        ["… program code only", *(f"{mv.upfront(program_only=True):,}" for mv in shown)],
        ["… plus the base modules only it runs on (`shared/`)", *(f"+{mv.base_only_code:,}" for mv in shown)],
        ["**up-front, program code with those**", *(f"**{mv.upfront_program():,}**" for mv in shown)],
        ["the split scales out (several copies of each service)", *(_scales(mv) for mv in shown)],
        ["move: files touched", *(str(mv.files()) for mv in shown)],
        *([f"move: churn, {s.name}", *(f"{mv.churn(s.keep):,}" for mv in shown)] for s in scopes.SCOPES),
        ["… plus the base modules the split starts using (`shared/`)", *(f"+{mv.base_new_code:,}" for mv in shown)],
        ["**move, program code with those**", *(f"**{mv.move_program():,}**" for mv in shown)],
        *([f"… {LABELS[c]}", *(f"{mv.by_category()[c]:,}" for mv in shown)] for c in CATEGORIES),
        ["**up-front + move** (as built)", *(f"**{mv.upfront() + mv.churn():,}**" for mv in shown)],
    ]
    out += table(header, body)
    single = [mv.label for mv in shown if _scales(mv) == "no"]
    if single:
        out += [
            f"Not like for like: {', '.join(single)} runs one copy of each service after its move, so it bought less "
            "than a move whose services scale out (several copies, per-target order kept across them); its churn is "
            "not the whole price of scaling out.",
            "",
        ]
    out += _answers(found)
    return out


def _scales(mv: Move) -> str:
    variants = mv.result.variants
    split = [v for v in variants.split if variants.transport.get(v, COMPARED_TRANSPORT) == COMPARED_TRANSPORT]
    known = [variants.scales[v] for v in split if v in variants.scales]
    return "–" if not known else ("yes" if all(known) else "no")


def _answers(found: dict[str, Move]) -> list[str]:
    out = [
        "What the seams cost and save, in program code (the monolith with the base modules only it runs on, and the "
        "move's program code with the base modules it starts using; tests and manifests grow with each author's "
        "thoroughness, so they are left out here and given in the table):",
        "",
    ]
    for name, disciplined, plain in PAIRS:
        d, p = found.get(disciplined), found.get(plain)
        if not d or not p:
            out.append(f"- {name}: not measured ({plain if not p else disciplined} has no measured move).")
            continue
        d_move, p_move = d.move_program(), p.move_program()
        d_total, p_total = d.upfront_program() + d_move, p.upfront_program() + p_move
        verdict = "paid for themselves" if d_total < p_total else "did not pay for themselves"
        out.append(
            f"- **{name}**: the seams cost {d.upfront_program() - p.upfront_program():+,} lines up front (disciplined "
            f"monolith {d.upfront_program():,}, plain {p.upfront_program():,}). At the move the plain app churns "
            f"{p_move:,} lines against the disciplined app's {d_move:,} ({p_move - d_move:+,}). Up-front plus move: "
            f"plain {p_total:,}, disciplined {d_total:,}: by the end of the first move the seams {verdict}. "
            f"As built (tests and manifests included): plain {p.upfront() + p.churn():,}, disciplined "
            f"{d.upfront() + d.churn():,}."
        )
    dp, ep = found.get("direct_plain"), found.get("event_plain")
    if dp and ep:
        e_move, d_move = ep.move_program(), dp.move_program()
        out.append(
            f"- **Did events give any of that by themselves?** Without the seams, the event app's move churns "
            f"{e_move:,} lines of program code against the direct app's {d_move:,}"
            + (f" (event ÷ direct {e_move / d_move:.2f})" if d_move else "")
            + f"; as built {ep.churn():,} against {dp.churn():,}."
        )
    return out + [""]
