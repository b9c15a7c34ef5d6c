"""Schemathesis against the public API of one monolith (SQLite) and one split (PostgreSQL): every check
(``--checks all``: no 500, responses that match the document, status codes the document declares, ...), on
examples it generates from ``/openapi.json`` (NUL and other control characters included), its coverage, fuzzing
and stateful phases, with the run's API key. Bounded (``--max-examples``) and seeded, so it stays a few seconds per variant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.launcher import start

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
RUNS = [("direct-monolith", "sqlite"), ("direct-split-http", "postgres")]


@pytest.mark.parametrize(("variant", "database"), RUNS, ids=[f"{v}@{d}" for v, d in RUNS])
def test_schemathesis_finds_no_failure(variant: str, database: str, tmp_path: Path) -> None:
    with start(variant, database=database, data_dir=tmp_path) as running:
        done = subprocess.run(
            [str(SCHEMATHESIS), "run", f"{running.base_url}/openapi.json", "--checks", "all", "--max-examples", "15",
             "--header", f"Authorization: Bearer {running.api_key}",  # its ignored_auth check also tries without
             "--seed", "1", "--generation-database", "none", "--workers", "1", "--no-color"],
            capture_output=True, text=True, timeout=300, check=False,
        )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
