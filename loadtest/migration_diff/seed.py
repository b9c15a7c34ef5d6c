"""The seed's claims, parsed at run time from the copy committed under ``results/seed/``.

``tables`` finds the Markdown tables under the "Bottom Line" and "Success Metrics" headings (and the
``###`` sub-heading each table sits under), so every row quoted in the report is the seed's own text.
``scenario`` reads the numbers of the seed's scenario ("50+ service calls", "500+ files",
"50,000+ lines") out of the same text; ``quotes`` finds the per-step claims we can check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .model import Scenario

DEFAULT_SEED = Path("results/seed/000_53a70531db63fba4.txt")
SECTIONS = ("Bottom Line", "Success Metrics")


@dataclass
class Table:
    section: str
    """The ``##`` heading the table is under (emoji and markup removed)."""
    subsection: str
    """The nearest ``###`` heading above it within the section ("" if none)."""
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    line: int = 0
    """1-based line of the header row in the seed."""

    def as_dict(self) -> dict:
        return {
            "section": self.section,
            "subsection": self.subsection,
            "header": self.header,
            "rows": self.rows,
            "line": self.line,
        }


def clean(cell: str) -> str:
    """A cell or heading without Markdown emphasis, emoji or surrounding space."""
    text = re.sub(r"\*\*|__|`", "", cell)
    text = "".join(ch for ch in text if ord(ch) < 0x2190 or ch in "–—×")
    return re.sub(r"\s+", " ", text).strip()


def _cells(line: str) -> list[str]:
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|"):
        inner = inner[:-1]
    return [clean(c) for c in inner.split("|")]


def tables(text: str, sections: tuple[str, ...] = SECTIONS) -> list[Table]:
    """Every Markdown table under a ``##`` heading that contains one of ``sections``."""
    out: list[Table] = []
    section = subsection = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section, subsection = clean(line[3:]), ""
        elif line.startswith("### "):
            subsection = clean(line[4:])
        elif line.lstrip().startswith("|") and any(s.lower() in section.lower() for s in sections):
            header = _cells(line)
            table = Table(section, subsection, header, line=i + 1)
            i += 1
            if i < len(lines) and re.match(r"^\s*\|?\s*:?-{2,}", lines[i]):
                i += 1
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                table.rows.append(_cells(lines[i]))
                i += 1
            out.append(table)
            continue
        i += 1
    return out


def number(text: str) -> int | None:
    """The first number of a cell such as "50,000+ lines changed" (None if there is none)."""
    m = re.search(r"\d[\d,]*", text)
    return int(m.group(0).replace(",", "")) if m else None


def number_range(text: str) -> tuple[int, int] | None:
    m = re.search(r"(\d[\d,]*)\s*[-–]\s*(\d[\d,]*)", text)
    if m:
        return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))
    n = number(text)
    return (n, n) if n is not None else None


def row(tables_: list[Table], section: str, subsection: str, key: str) -> tuple[Table, list[str]] | None:
    """The first row whose first cell starts with ``key``, in a table whose headings contain the given words."""
    for table in tables_:
        if section.lower() in table.section.lower() and subsection.lower() in table.subsection.lower():
            for r in table.rows:
                if r and r[0].lower().startswith(key.lower()):
                    return table, r
    return None


def find_line(text: str, pattern: str) -> str:
    """The first line of the seed matching ``pattern`` (a regex), stripped; "" if none does."""
    for line in text.splitlines():
        if re.search(pattern, line):
            return line.strip()
    return ""


def scenario(text: str, tables_: list[Table]) -> Scenario:
    """The seed's scenario numbers: service calls, and the churn and files it claims for each app."""
    notes = []
    ops_quote = find_line(text, r"\d+\+?\s+more service calls")
    ops = number(ops_quote) if ops_quote else None
    if ops is None:
        notes.append('"N+ more service calls" not found in the seed; the scenario uses 50 operations')
        ops = 50
    s = Scenario(operations=ops, operations_quote=ops_quote)
    found = row(tables_, "Success Metrics", "Direct", "Code churn")
    if found:
        s.direct_lines, s.direct_lines_quote = number(found[1][1]), " | ".join(found[1])
    found = row(tables_, "Success Metrics", "Direct", "Files modified")
    if found:
        s.direct_files, s.direct_files_quote = number(found[1][1]), " | ".join(found[1])
    found = row(tables_, "Success Metrics", "Event", "Code churn")
    if found:
        s.event_lines, s.event_lines_quote = number(found[1][1]), " | ".join(found[1])
    found = row(tables_, "Success Metrics", "Event", "Files modified")
    if found:
        s.event_files, s.event_files_quote = number_range(found[1][1]), " | ".join(found[1])
    s.notes = notes
    return s


QUOTES = {
    "calls": r"\d+\+?\s+more service calls",
    "locations": r"EVERY service call \(",
    "hundreds": r"HUNDREDS of locations",
    "one_file": r"ONE FILE TO CHANGE",
    "upfront": r"Initial Development Time: \+",
    "deps_direct": r"^\|\s*\*\*New Dependencies\*\*\s*\|\s*gRPC",
    "deps_event": r"^\|\s*\*\*New Dependencies\*\*\s*\|\s*Message broker",
    "code_unchanged": r"All other code: NO CHANGES",
}
"""Per-step claims the migration diff can check, located in the seed by these patterns."""


def quotes(text: str) -> dict[str, str]:
    return {key: find_line(text, pattern) for key, pattern in QUOTES.items()}


def load(path: Path) -> tuple[str, list[Table]]:
    text = path.read_text(encoding="utf-8")
    return text, tables(text)
