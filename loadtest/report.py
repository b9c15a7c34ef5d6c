"""``REPORT.md`` and the PNG charts, filled from ``summary.json`` (itself computed from the raw files).

Nothing here is a measured constant: every number printed comes from the summary, every sentence
that depends on the run is conditional on it. Each section lives in its own module under
``loadtest/reporting/``; ``render`` composes them in the order the report reads.
"""

from __future__ import annotations

from pathlib import Path

from loadtest.reporting import (
    alerts,
    capacity,
    environment,
    faults,
    goals,
    latency,
    migration,
    network,
    overview,
    scale,
    traces,
)
from loadtest.reporting.charts import make_charts
from loadtest.reporting.faults import FAULT_TEXT
from loadtest.reporting.latency import SCENARIO_TEXT
from loadtest.reporting.tables import fmt, pct

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["FAULT_TEXT", "ROOT", "SCENARIO_TEXT", "SECTIONS", "fmt", "pct", "render", "write"]

# every section is ``section(out, summary, charts) -> list of markdown lines``
SECTIONS = (
    overview.intro,
    environment.section,
    overview.what_ran,
    overview.not_run,
    latency.sequential,
    latency.fixed_rate,
    alerts.section,
    capacity.section,
    goals.section,
    scale.section,
    network.section,
    traces.section,
    faults.section,
    migration.section,
    overview.raw_data,
)


def render(out: Path, summary: dict, charts: dict[str, str]) -> str:
    md: list[str] = []
    for section in SECTIONS:
        md += section(out, summary, charts)
    return "\n".join(md)


def write(out: Path, summary: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    charts = make_charts(out, summary)
    (out / "REPORT.md").write_text(render(out, summary, charts))
