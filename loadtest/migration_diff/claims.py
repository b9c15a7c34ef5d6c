"""The seed's claims beside our numbers: its Bottom Line and Success Metrics tables, and its per-step claims.

The seed's numbers are quoted from the copy under ``results/seed/`` as parsed at run time; each of its rows
gets our counterpart, or the reason it has none in the code (``NOT_MEASURABLE``).
"""

from __future__ import annotations

from .categories import CODE_CATEGORIES
from .results import AppResult, Measurement
from .tables import code_lines, files_touched, ratio, table

NOT_MEASURABLE = {
    "time": "not measurable here: calendar time depends on the team, its process and its reviews; we measure code, not weeks",
    "cost": "not measurable here: dollars are not in the code",
    "risk": "not measurable here: migration risk is a judgement (the fault scenarios elsewhere in this report measure "
    "runtime behaviour, not the risk of the move)",
    "bugs": "not measurable here: bug counts need a project's history after the move",
    "new bugs": "not measurable here: bug counts need a project's history after the move",
    "rollback": "not measurable here: qualitative (both apps keep their monolith variant; rolling back is deploying that "
    "variant again, for either app)",
    "team morale": "not measurable here: morale is not in the code",
    "customer impact": "not measurable here: no customers; the public contract is identical in every variant (one parity suite)",
    "success rate": "not measurable here: a success rate needs many migrations, we have one per app",
}


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
        code = _app_code_files(app)
        return f"{files_touched(app)} files{extra}; of them {code} program code (the rest deployment config and tests)"

    def churn(self, app: AppResult | None) -> str:
        missing = self.ok(app)
        if missing:
            return missing
        extra = ""
        if len(app.fits) > 1:
            extra = "; " + ", ".join(f"{f.label}: {f.churn:,}" for f in app.fits[1:])
        total = sum(c.added.total + c.removed.total for c in app.touched)
        return f"{code_lines(app)} code lines{extra} ({total:,} lines with comments and blanks)"

    def bottom_line(self, key: str) -> tuple[str, str, str]:
        if key.startswith("code change"):
            missing = self.ok(self.d, self.e)
            if missing:
                return self.files(self.d), self.files(self.e), missing
            e_files, e_churn = self.e.file_count(), self.e.churn()
            ratios = [
                f"{fit.label}: {ratio(fit.files, e_files)} the files, {ratio(fit.churn, e_churn)} the code lines"
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


def seed_section(m: Measurement) -> list[str]:
    ours = _Ours(m)
    out = [f"Quoted from `{m.seed_path}` (a copy of the seed, parsed at run time).", ""]
    if not m.seed_tables:
        return out + ["**The seed copy was not found or has no Bottom Line / Success Metrics tables.**", ""]
    for seed_table in m.seed_tables:
        title = f"{seed_table.section}" + (f" — {seed_table.subsection}" if seed_table.subsection else "")
        out += [f"**{title}** (seed line {seed_table.line})", ""]
        if "bottom line" in seed_table.section.lower():
            header = [
                *(f"seed: {h}" for h in seed_table.header),
                "measured: direct calls",
                "measured: event-driven",
                "measured: difference",
            ]
            rows = [[*r, *ours.bottom_line(r[0].lower())] for r in seed_table.rows]
        else:
            sub = seed_table.subsection.lower()
            app = ours.d if "direct" in sub else ours.e if "event" in sub else None
            header = [*(f"seed: {h}" for h in seed_table.header), f"measured here ({app.app if app else '?'})"]
            rows = [[*r, ours.metric(r[0].lower(), app)] for r in seed_table.rows]
        out += table(header, rows)
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
                f"({ratio(ep, dp)}); with their deployment config and tests: {eu:,} vs {du:,}: {eu - du:+,} ({ratio(eu, du)})",
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
        out += table(["seed", "app", "measured here"], rows)
    return out
