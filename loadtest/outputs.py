"""The end of a compare run: the migration diff, ``OUT/raw/latest``, then ``summary.json``, charts and REPORT.md."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness.processes import dying_with_parent
from loadtest.options import ROOT
from loadtest.rawdata import write_json


def run_migration_diff(raw: Path, out: Path, timeout_s: float) -> dict:
    """``python -m loadtest.migration_diff --out OUT/migration`` (results/migration for the reference run)."""
    package = ROOT / "loadtest" / "migration_diff"
    if not package.exists():
        return {"status": "not run", "reason": "loadtest/migration_diff does not exist"}
    started = time.time()
    argv = [sys.executable, "-m", "loadtest.migration_diff", "--out", str(out / "migration")]
    try:
        done = subprocess.run(**dying_with_parent(argv), cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"timed out after {timeout_s:.0f} s"}
    (raw / "migration_diff.log").write_text(done.stdout + done.stderr)
    status = "ok" if done.returncode == 0 else "failed"
    return {
        "status": status,
        "returncode": done.returncode,
        "seconds": time.time() - started,
        "out": str(out / "migration"),
        "reason": None if status == "ok" else (done.stderr.strip().splitlines() or ["?"])[-1][:300],
    }


def make_latest(raw: Path, raw_root: Path) -> None:
    """Rename the finished run's folder to ``raw_root/latest``, replacing the previous one."""
    latest = raw_root / "latest"
    if latest.is_symlink() or latest.is_file():
        latest.unlink()
    elif latest.exists():
        shutil.rmtree(latest)
    raw.rename(latest)


def build_outputs(out: Path) -> None:
    from loadtest import report, summarize

    raw = out / "raw" / "latest"
    summary = summarize.build(raw)
    write_json(out / "summary.json", summary)
    report.write(out, summary)
