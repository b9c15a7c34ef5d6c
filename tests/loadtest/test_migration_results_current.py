"""The committed migration figures are what ``make diff`` measures now: a change to either app, its tests or its
deployment that moves a number fails here until ``make diff`` is re-run and ``results/migration/`` committed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "results" / "migration" / "migration.json"


def figures(document: dict) -> dict:
    """Every measured number of ``migration.json``, without what names the commit or the working tree's state."""
    apps = {}
    for name, app in document["apps"].items():
        apps[name] = {
            "upfront": app.get("upfront"),
            "migration": app.get("migration"),
            "changes": [(c["key"], c["status"], c["category"], c.get("added"), c.get("removed")) for c in app.get("changes", [])],
            "dependencies": [d["pypi"] for d in app.get("dependencies", [])],
            "operations": [o["name"] for o in app.get("operations", [])],
            "fits": app.get("fits"),
        }
    return {"base": document["base"], "apps": apps, "scopes": document.get("scopes"), "upfront": document.get("upfront_ratios")}


def test_the_committed_migration_figures_are_what_make_diff_measures_now(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.migration_diff", "--out", str(tmp_path), "--no-charts"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    fresh = figures(json.loads((tmp_path / "migration.json").read_text()))
    committed = figures(json.loads(COMMITTED.read_text()))
    stale = [k for k in ("base", "scopes", "upfront") if fresh[k] != committed[k]]
    stale += [f"{app}.{k}" for app in fresh["apps"] for k in fresh["apps"][app]
              if fresh["apps"][app][k] != committed["apps"].get(app, {}).get(k)]
    assert not stale, f"results/migration/ is stale ({', '.join(stale)}): run `make diff` and commit results/migration/"
