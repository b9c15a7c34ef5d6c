"""Closed-loop throughput of one process: ``wrk`` against the HTTP ceiling and every variant, GET and POST.

    python -m loadtest.closed_loop [--variants a,b] [--seconds 10] [--connections 16] [--out results/closed_loop]

Each server in turn (the HTTP ceiling app first, then each variant with one process per service on SQLite) gets
``--targets`` targets, then two ``wrk`` runs of ``--seconds`` each with 2 threads and ``--connections`` connections,
every connection sending its next request as soon as the last one answered (closed loop):

- ``GET /targets/{id}``, rotating over the targets;
- ``POST /targets/{id}/results`` with ok results that change no alert, rotating over the targets.

It prints and writes (``closed_loop.json``, ``CLOSED_LOOP.md``) requests/s, p50 and p99, and each server's rate as a
share of the ceiling's. ``wrk``'s own CPU is measured: a run where it used more than 90% of its 2 threads'
cores is marked invalid (the generator, not the server, was the limit). ``wrk`` is a Debian package
(``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from harness import launcher
from harness.topology import VARIANTS
from loadtest import envinfo, floors
from shared.config import DEFAULT_RABBITMQ_URL

CEILING = "HTTP ceiling"
THREADS = 2
GEN_CPU_LIMIT = 0.9

GET_SCRIPT = """
local ids = {%(ids)s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/targets/" .. ids[(i %% #ids) + 1])
end
"""

POST_SCRIPT = """
local ids = {%(ids)s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  return wrk.format("POST", "/targets/" .. ids[(i %% #ids) + 1] .. "/results", nil, '{"ok": true, "latency_ms": 12.5}')
end
"""

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(text: str) -> dict:
    """Requests/s, p50 and p99 (ms), socket errors and non-2xx responses from ``wrk --latency`` output."""

    def latency(label: str) -> float | None:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return float(match.group(1)) * _UNIT_MS[match.group(2)] if match else None

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    total = re.search(r"(\d+) requests in", text)
    return {
        "rps": float(rps.group(1)) if rps else None,
        "p50_ms": latency("50%"),
        "p99_ms": latency("99%"),
        "requests": int(total.group(1)) if total else None,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
    }


def run_wrk(base_url: str, script: str, seconds: float, connections: int, api_key: str = "") -> dict:
    """One closed-loop ``wrk`` run; adds ``gen_cpu_frac``: wrk's CPU time ÷ (threads × wall time). With ``api_key``
    every request carries ``Authorization: Bearer <key>`` (``-H``; the scripts' ``wrk.format`` keeps it)."""
    auth = ["-H", f"Authorization: Bearer {api_key}"] if api_key else []
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.monotonic()
        done = subprocess.run(
            ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--latency", *auth, "-s", lua.name,
             base_url],
            capture_output=True, text=True, timeout=seconds + 60, check=False,
        )
        wall = time.monotonic() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        os.unlink(lua.name)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip()[:300]}")
    row = parse_wrk(done.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    row["gen_cpu_frac"] = cpu / (THREADS * wall) if wall > 0 else None
    row["valid"] = row["rps"] is not None and (row["gen_cpu_frac"] or 0) <= GEN_CPU_LIMIT
    return row


def create_targets(base_url: str, count: int, api_key: str = "") -> list[str]:
    ids = []
    with requests.Session() as session:
        if api_key:
            session.headers["Authorization"] = f"Bearer {api_key}"
        for k in range(count):
            response = session.post(
                f"{base_url}/targets",
                json={"name": f"closed-loop-{k}", "url": "https://example.com/health", "failure_threshold": 3},
                timeout=10,
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
    return ids


@contextmanager
def serving(name: str, log_dir: Path):
    """``(base_url, target_ids, api_key)`` of the ceiling app (no key: it checks none) or a variant, for the
    duration of the ``with`` block."""
    if name == CEILING:
        with floors.ceiling_server(log_dir / "ceiling.log") as server:
            yield server.base_url, [f"t{k}" for k in range(20)], ""
        return
    rv = launcher.start(name, data_dir=log_dir / name)
    try:
        yield rv.base_url, None, rv.api_key
    finally:
        rv.stop()


def measure(names: list[str], seconds: float, connections: int, targets: int, log_dir: Path) -> dict:
    rows: dict[str, dict] = {}
    for name in names:
        print(f"[closed loop] {name}: GET and POST, {seconds:g} s each, {connections} connections", flush=True)
        with serving(name, log_dir) as (base_url, ids, key):
            ids = ids or create_targets(base_url, targets, key)
            quoted = ", ".join(f'"{i}"' for i in ids)
            get = run_wrk(base_url, GET_SCRIPT % {"ids": quoted}, seconds, connections, key)
            post = run_wrk(base_url, POST_SCRIPT % {"ids": quoted}, seconds, connections, key)
        rows[name] = {"get": get, "post": post}
        print(f"    GET {_brief(get)}; POST {_brief(post)}", flush=True)
    return rows


def _brief(row: dict) -> str:
    text = f"{row['rps']:,.0f} rps, p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms"
    if row["non_2xx"] or row["socket_errors"]:
        text += f", {row['non_2xx']} non-2xx, {row['socket_errors']} socket errors"
    return text + ("" if row["valid"] else " (INVALID: wrk saturated)")


def markdown(result: dict) -> str:
    rows, ceiling = result["rows"], result["rows"].get(CEILING)
    lines = [
        "# Closed-loop throughput of one process",
        "",
        f"`wrk` with {THREADS} threads and {result['connections']} connections, {result['seconds']:g} s per run, over "
        f"{result['targets']} targets: `GET /targets/{{id}}`, and `POST /targets/{{id}}/results` with ok results that "
        "change no alert. One process per service, SQLite; the HTTP ceiling is a trivial Flask app on the variants' "
        "gunicorn settings that parses the body and stores nothing.",
        "",
        f"Run {result['started']} on {result['env'].get('cpu_model', '?')} ({result['env'].get('logical_cores', '?')} logical "
        f"cores), Python {result['env'].get('python', '?')}, SQLite {result['env'].get('sqlite', '?')}, "
        f"revision `{result['env'].get('git_revision', '?')}`. Command: `{result['command']}`.",
        "",
        "| server | GET rps | GET p99 ms | GET ÷ ceiling | POST rps | POST p99 ms | POST ÷ ceiling | wrk CPU (GET/POST) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        cells = [f"**{name}**" if name == CEILING else f"`{name}`"]
        for kind in ("get", "post"):
            r = row[kind]
            share = r["rps"] / ceiling[kind]["rps"] if ceiling and ceiling[kind]["rps"] else None
            mark = "" if r["valid"] else " (invalid)"
            cells += [f"{r['rps']:,.0f}{mark}", f"{r['p99_ms']:.1f}", "–" if share is None or name == CEILING else f"{share:.0%}"]
        cells.append(f"{row['get']['gen_cpu_frac']:.0%} / {row['post']['gen_cpu_frac']:.0%}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "A run where wrk used more than 90% of its threads' cores is marked invalid and not quoted.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.closed_loop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated variants (default: all)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--targets", type=int, default=20, help="targets to rotate over (default 20)")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the HTTP ceiling")
    parser.add_argument("--out", type=Path, default=Path("results/closed_loop"), help="output folder")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("closed_loop: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        print(f"closed_loop: unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    if not args.no_ceiling:
        names.insert(0, CEILING)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="closed-loop-") as logs:
        rows = measure(names, args.seconds, args.connections, args.targets, Path(logs))
    result = {
        "started": started,
        "command": "python -m loadtest.closed_loop" + ("" if argv is None else " " + " ".join(argv)),
        "seconds": args.seconds,
        "connections": args.connections,
        "targets": args.targets,
        "env": envinfo.collect(os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL)),
        "rows": rows,
    }
    (args.out / "closed_loop.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "CLOSED_LOOP.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
