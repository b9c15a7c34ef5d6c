"""The migration diff (monolith → split, measured from the code), with the seed's claims beside it.

``results/migration/SECTION.md`` (written by ``loadtest.migration_diff``) is included verbatim, its links
rewritten to the report's folder and its headings nested under this section.
"""

from __future__ import annotations

import re
from pathlib import Path

from loadtest.reporting.tables import abs_path, rel

ROOT = Path(__file__).resolve().parents[2]


def section(out: Path, summary: dict, charts: dict[str, str]) -> list[str]:
    return [migration_section(out, summary), ""]


def migration_section(out: Path, summary: dict) -> str:
    mig = summary["migration"]
    run = mig.get("run") or {}
    lines = ["## Migration diff (monolith → split, measured from the code)", ""]
    if run.get("status") == "not run":
        lines += [
            f"This run did not regenerate the migration diff ({run.get('reason')}); below is what `make diff` last wrote.",
            "",
        ]
    elif run.get("status") == "failed":
        lines += [f"Regenerating the migration diff failed ({run.get('reason')}); below is what it last wrote.", ""]
    if not mig.get("section_md"):
        lines.append(
            "Not available: `results/migration/SECTION.md` does not exist yet (`make diff` / "
            "`python -m loadtest.migration_diff` writes it). The seed's claims are compared there."
        )
        return "\n".join(lines)
    section_path = abs_path(mig["section_md"], out)
    lines.append(
        f"From [{rel(section_path, out)}]({rel(section_path, out)}) (the seed's claims beside the measured diff; "
        + (f"data: [{rel(mig['json'], out)}]({rel(mig['json'], out)})" if mig.get("json") else "no migration.json")
        + "). Included verbatim below, links rewritten to this folder."
    )
    lines.append("")
    text = section_path.read_text()
    base = section_path.parent

    referenced: set[Path] = set()

    def fix(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return match.group(0)
        # SECTION.md is written for results/REPORT.md; accept links relative to its own folder too
        for anchor in (out, base, ROOT / "results"):
            resolved = (anchor / target).resolve()
            if resolved.exists():
                referenced.add(resolved)
                return f"{match.group(1)}({rel(resolved, out)})"
        return match.group(0)

    text = re.sub(r"(!?\[[^\]]*\])\(([^)\s]+)\)", fix, text)
    text = re.sub(r"^(#{1,5}) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)  # nest under this section
    lines.append(text.strip())
    extra = [c for c in mig.get("charts", []) if abs_path(c, out).resolve() not in referenced]
    for chart in extra:
        lines += ["", f"![{Path(chart).stem}]({rel(chart, out)})"]
    return "\n".join(lines)
