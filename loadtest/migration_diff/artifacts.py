"""Workshop artifacts: each app's unified diff, side-by-side HTML per touched file, an index, a walkthrough.

- ``<app>.diff``: ``git diff``-style unified diff of every unit of the move (monolith path -> split path;
  ``/dev/null`` for added and removed units; a compose service is ``docker-compose.yml#<service>``).
- ``html/<app>/<unit>.html``: ``difflib.HtmlDiff`` side by side, one per added/changed/removed unit.
- ``index.html``: links every one of them, by app and category, with its line counts.
- ``WALKTHROUGH.md``: the touched units in reading order (interfaces, infrastructure, app code, wiring,
  deployment, tests), each with the first line of its own docstring (or leading comment) saying why.
"""

from __future__ import annotations

import difflib
import html
import re
from pathlib import Path

from .categories import LABELS
from .results import AppResult, Measurement, reading_order
from .tree import ADDED, COPIED, REMOVED, Change


def unified_diff(change: Change) -> str:
    old = change.old_lines
    new = change.new_lines
    fromfile = f"a/{change.old_path}" if change.old_path else "/dev/null"
    tofile = f"b/{change.new_path}" if change.new_path else "/dev/null"
    header = f"diff --migration {change.old_path or change.new_path} {change.new_path or change.old_path}\n"
    if change.status == COPIED:
        return header + f"# identical copy: {change.new_path} repeats {change.old_path} unchanged\n"
    body = "".join(line + "\n" for line in difflib.unified_diff(old, new, fromfile, tofile, lineterm="", n=3))
    return header + body


def app_diff(result: AppResult) -> str:
    return "".join(unified_diff(c) for c in reading_order(result.touched))


def html_name(change: Change) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "__", change.key) + ".html"


def side_by_side(change: Change) -> str:
    """``difflib.HtmlDiff`` of the unit (monolith left, split right), with a header linking back to the index."""
    differ = difflib.HtmlDiff(tabsize=4, wrapcolumn=90)
    page = differ.make_file(
        change.old_lines,
        change.new_lines,
        change.old_path or "(none: added by the move)",
        change.new_path or "(none: removed by the move)",
        context=False,
    )
    header = (
        f'<p style="font-family:sans-serif"><a href="../../index.html">&larr; all files</a> &middot; '
        f"<strong>{html.escape(change.key)}</strong> ({change.status}, {html.escape(LABELS[change.category])}; "
        f"{html.escape(_counts(change))})<br>{html.escape(change.why or '')}</p>"
    )
    return page.replace("<body>", "<body>\n" + header, 1)


def _counts(change: Change) -> str:
    a, r = change.added, change.removed
    return f"+{a.code} / -{r.code} code, +{a.comment} / -{r.comment} comment, +{a.blank} / -{r.blank} blank" + (
        f", {change.moved} moved" if change.moved else ""
    )


def _compact(change: Change) -> str:
    a, r = change.added, change.removed
    moved = f"<br>{change.moved} moved" if change.moved else ""
    return f"code +{a.code} −{r.code}<br>comment +{a.comment} −{r.comment}<br>blank +{a.blank} −{r.blank}{moved}"


def index_html(measurement: Measurement) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Migration diff: monolith to split</title>',
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f3f3f3}"
        "td.n{white-space:nowrap;font-size:90%}.added{color:#1a7f37}.removed{color:#cf222e}.changed{color:#9a6700}.copied{color:#6e7781}</style></head><body>",
        "<h1>Migration diff: monolith &rarr; split</h1>",
        f"<p>Measured at commit <code>{html.escape(measurement.commit)}</code>"
        + (" (with uncommitted changes)" if measurement.dirty else "")
        + ". Each link opens a side-by-side diff (monolith left, split right). "
        '<a href="WALKTHROUGH.md">Walkthrough</a> &middot; <a href="SECTION.md">report section</a> &middot; '
        + " &middot; ".join(f'<a href="{app}.diff">{app}.diff</a>' for app in measurement.apps)
        + "</p>",
    ]
    for app, result in measurement.apps.items():
        parts.append(f"<h2>{html.escape(app)}</h2>")
        if not result.measured:
            parts.append(f"<p><strong>{html.escape(result.reason)}</strong></p>")
            continue
        parts.append(
            f"<p>{result.file_count()} files ({len(result.touched)} units: a compose service is a unit) touched; "
            f"{result.churn()} code lines churned (added + removed).</p>"
        )
        parts.append("<table><tr><th>category</th><th>status</th><th>file</th><th>lines</th><th>why (from the file)</th></tr>")
        for c in reading_order(result.touched):
            link = f"html/{app}/{html_name(c)}"
            parts.append(
                f'<tr><td>{html.escape(LABELS[c.category])}</td><td class="{c.status}">{c.status}</td>'
                f'<td><a href="{html.escape(link)}">{html.escape(c.key)}</a></td><td class="n">{_compact(c)}</td>'
                f"<td>{html.escape(c.why or '—')}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def walkthrough(measurement: Measurement) -> str:
    out = [
        "# Walkthrough: what the move from monolith to split changes",
        "",
        f"Generated by `make diff` from the trees at commit `{measurement.commit}`"
        + (" (with uncommitted changes)" if measurement.dirty else "")
        + ". Read in this order: interface definitions, reusable infrastructure, app code, entrypoints and wiring, "
        "deployment config, tests. The line after each file is the first line of that file's own docstring "
        "(or leading comment), so the reason comes from the code.",
        "",
    ]
    for app, result in measurement.apps.items():
        out += [f"## {app}", ""]
        if not result.measured:
            out += [f"**{result.reason}**", ""]
            continue
        current = None
        step = 0
        for c in reading_order(result.touched):
            if c.category != current:
                current = c.category
                out += ["", f"### {LABELS[current]}", ""]
            step += 1
            link = f"html/{app}/{html_name(c)}"
            why = c.why or "(no docstring or leading comment)"
            verb = {ADDED: "added", REMOVED: "removed", COPIED: "copied unchanged"}.get(c.status, "changed")
            base = f" (from `{c.old_path}`)" if c.status != ADDED and c.old_path and c.old_path != c.key else ""
            out.append(f"{step}. [`{c.key}`]({link}) — {verb}{base}, {_counts(c)}.  ")
            out.append(f"   {why}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def write(measurement: Measurement, out: Path) -> list[Path]:
    """Write the diffs, the HTML pages and the walkthrough under ``out``; return the paths written."""
    written = []
    html_dir = out / "html"
    for app, result in measurement.apps.items():
        diff_path = out / f"{app}.diff"
        if result.measured:
            diff_path.write_text(app_diff(result), encoding="utf-8")
        else:
            diff_path.write_text(f"# {result.reason}\n", encoding="utf-8")
        written.append(diff_path)
        app_dir = html_dir / app
        app_dir.mkdir(parents=True, exist_ok=True)
        for stale in app_dir.glob("*.html"):
            stale.unlink()
        for c in result.touched:
            page = app_dir / html_name(c)
            page.write_text(side_by_side(c), encoding="utf-8")
            written.append(page)
    index = out / "index.html"
    index.write_text(index_html(measurement), encoding="utf-8")
    walk = out / "WALKTHROUGH.md"
    walk.write_text(walkthrough(measurement), encoding="utf-8")
    return [*written, index, walk]
