"""One headless locust run against a running variant, with CPU/RSS sampled meanwhile."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from harness.launcher import RunningVariant
from harness.processes import dying_with_parent
from loadtest.options import ROOT
from loadtest.rawdata import write_json
from loadtest.sampler import Sampler, broker_pids


def locust_env(scenario: str, outdir: Path, user_rate: float) -> dict[str, str]:
    return {
        "LOADTEST_SCENARIO": scenario,
        "LOADTEST_USER_RATE": f"{user_rate:g}",
        "LOADTEST_RUN_TAG": uuid.uuid4().hex[:8],
        "LOADTEST_LEDGER": str(outdir / "ledger.json"),
        "LOADTEST_REQUEST_LOG": str(outdir / "requests.csv"),
    }


def locust_argv(rv: RunningVariant, outdir: Path, extra_args: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "loadtest" / "locustfile.py"),
        "--headless",
        "--csv",
        str(outdir / "locust"),
        "--only-summary",
        "--stop-timeout",
        "2",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
        "--host",
        rv.base_url,
        *extra_args,
    ]


def run_locust(
    rv: RunningVariant,
    outdir: Path,
    scenario: str,
    env: dict[str, str],
    extra_args: list[str],
    hard_timeout_s: float,
    with_broker: bool,
    during=None,
    groups: dict | None = None,
) -> dict:
    """Run locust headless as a subprocess while sampling CPU/RSS; ``during(popen, started, sampler)`` runs alongside.

    The load generator's CPU is sampled per process (the master and every ``--processes`` worker). ``groups``: more
    named pid sources to sample (a source with ``recursive = False`` counts its roots without their children)."""
    outdir.mkdir(parents=True, exist_ok=True)
    argv = locust_argv(rv, outdir, extra_args)
    sources = {"variant": lambda: rv.pids}
    if with_broker:
        pids = broker_pids()
        sources["broker"] = lambda: pids
    sampler = Sampler({**sources, **(groups or {})}).start()
    started = time.time()
    with open(outdir / "locust.log", "wb") as log:
        popen = subprocess.Popen(
            **dying_with_parent(argv),
            cwd=ROOT,
            env={**os.environ, **env, "LOADTEST_API_KEY": rv.api_key},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    sampler.add_group("generator", lambda: [popen.pid] if popen.poll() is None else [], per_process=True)
    timeline = None
    try:
        if during is not None:
            timeline = during(popen, started, sampler)
        _wait(popen, max(5.0, hard_timeout_s - (time.time() - started)))
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()
        ended = time.time()
        sampler.stop()
    meta = {
        "scenario": scenario,
        "argv": argv[1:],
        "env": env,
        "started": started,
        "ended": ended,
        "returncode": popen.returncode,
        "base_url": rv.base_url,
    }
    if timeline is not None:
        meta["timeline"] = timeline
    write_json(outdir / "meta.json", meta)
    write_json(outdir / "resources.json", sampler.to_json())
    return meta


def _wait(popen: subprocess.Popen, timeout_s: float) -> None:
    """Wait for locust to end; past the timeout, SIGTERM, then SIGKILL 10 s later."""
    try:
        popen.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


def brief_locust(outdir: Path) -> str:
    path = outdir / "locust_final_stats.csv"
    if not path.exists():
        path = outdir / "locust_stats.csv"
    if not path.exists():
        return "no locust stats"
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                n, f = int(row["Request Count"]), int(row["Failure Count"])
                return f"{n} req, {float(row['Requests/s']):.1f} rps, p50 {row['50%']} ms, p95 {row['95%']} ms, {f} failed"
    return "no aggregated row"
