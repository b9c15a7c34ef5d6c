"""Writing a compare run's raw files (everything the summary and the report are later built from)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.launcher import RunningVariant


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str))


def copy_log_tails(rv: RunningVariant, outdir: Path, lines: int = 60) -> None:
    for name, proc in rv.processes.items():
        tail = proc.log_tail(lines)
        (outdir / "logs").mkdir(parents=True, exist_ok=True)
        (outdir / "logs" / f"{name}.log.tail").write_text(tail)
