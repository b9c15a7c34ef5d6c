"""Where one process's time goes under closed-loop load: a py-spy sampling profile of every process of a variant.

    python -m loadtest.profile [--variant direct-monolith] [--kind post|get] [--seconds 15] [--py-spy PATH]

The variant runs as in :mod:`loadtest.closed_loop` (one process per service, SQLite); ``wrk`` drives ``GET
/targets/{id}`` or ``POST /targets/{id}/results`` (ok results that change no alert) with 16 connections while
``py-spy record`` samples each process (``--nonblocking``: the process is not paused to be read, so the profile
costs it little; idle threads are not sampled). For each process it writes ``<variant>-<kind>-<process>.txt``
(and ``.json``) under ``--out``: the busy samples by layer (HTTP server and framework, validation, SQLAlchemy, database calls,
serialisation, metrics, transport, the app's own code, other) and the 25 functions with the largest inclusive share.

py-spy is a separate install, kept out of the project's requirements: ``python -m venv /tmp/spy &&
/tmp/spy/bin/pip install py-spy``, then ``--py-spy /tmp/spy/bin/py-spy`` (or put it on PATH). Sampling another
process needs ptrace permission (root, or ``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from harness import launcher
from harness.topology import VARIANTS
from loadtest import envinfo
from loadtest.closed_loop import GET_SCRIPT, POST_SCRIPT, create_targets, run_wrk

LAYERS: tuple[tuple[str, re.Pattern], ...] = (
    # the first layer whose pattern matches a frame, looking from the innermost frame outwards, gets the sample
    ("database calls (execute, commit)", re.compile(r"\b(do_execute|do_commit|do_rollback)\b|sqlite3|psycopg")),
    ("SQLAlchemy (statement building, pooling, results)", re.compile(r"sqlalchemy")),
    ("validation (pydantic)", re.compile(r"pydantic")),
    ("serialisation (json, codecs)", re.compile(r"[/ (]json[/.]|serialize\.py|codec\.py|protobuf")),
    ("metrics (prometheus_client, the telemetry hooks)",
     re.compile(r"prometheus_client|shared/telemetry|shared/http/metrics|grpc_metrics")),
    ("transport (gRPC, HTTP client, AMQP)", re.compile(r"grpc|urllib3|requests/|pika")),
    ("HTTP server and framework (gunicorn, werkzeug, flask)", re.compile(r"gunicorn|werkzeug|flask")),
    ("the app's own code", re.compile(r"(shared|direct_calls|event_driven|direct_plain|event_plain)/")),
)
OTHER = "other (standard library, threading, logging)"


def parse_collapsed(text: str) -> Counter:
    """``frame;frame;... count`` lines (py-spy ``--format raw``) -> Counter of stack tuples (outermost first)."""
    stacks: Counter = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def layer_of(stack: tuple[str, ...]) -> str:
    for frame in reversed(stack):
        for name, pattern in LAYERS:
            if pattern.search(frame):
                return name
    return OTHER


def summarize(stacks: Counter, top: int = 25) -> dict:
    total = sum(stacks.values())
    layers: Counter = Counter()
    inclusive: Counter = Counter()
    for stack, count in stacks.items():
        layers[layer_of(stack)] += count
        for frame in set(stack):
            if not frame.startswith(("process ", "thread ")):
                inclusive[frame] += count
    return {
        "samples": total,
        "layers": [(name, n / total if total else 0.0) for name, n in layers.most_common()],
        "functions": [(frame, n / total if total else 0.0) for frame, n in inclusive.most_common(top)],
    }


def render(variant: str, kind: str, process: str, summary: dict, wrk: dict | None) -> str:
    lines = [
        f"py-spy profile of {variant} · process {process} · {kind.upper()} under closed-loop wrk load",
        f"busy samples: {summary['samples']}"
        + (f"; wrk under the profiler: {wrk['rps']:,.0f} rps, p99 {wrk['p99_ms']:.1f} ms (not a capacity figure)" if wrk else ""),
        "",
        "share of busy samples by layer (each sample goes to the innermost frame's layer):",
    ]
    lines += [f"  {share:6.1%}  {name}" for name, share in summary["layers"]]
    lines += ["", "functions by inclusive share (on the stack in that share of busy samples):"]
    lines += [f"  {share:6.1%}  {frame}" for frame, share in summary["functions"]]
    return "\n".join(lines) + "\n"


def record(py_spy: str, pid: int, seconds: float, output: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--format", "raw", "--rate", "200",
         "--duration", f"{int(seconds)}", "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="direct-monolith", choices=list(VARIANTS))
    parser.add_argument("--kind", default="post", choices=["get", "post"])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy", help="the py-spy executable")
    parser.add_argument("--out", type=Path, default=Path("results/profiles"))
    args = parser.parse_args(argv)
    missing = [tool for tool in (args.py_spy, "wrk") if shutil.which(tool) is None]
    if missing:
        print(f"profile: not found: {', '.join(missing)} (see python -m loadtest.profile --help)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        rv = launcher.start(args.variant, data_dir=Path(tmp) / "data")
        try:
            ids = create_targets(rv.base_url, 20, rv.api_key)
            quoted = ", ".join(f'"{i}"' for i in ids)
            script = (POST_SCRIPT if args.kind == "post" else GET_SCRIPT) % {"ids": quoted}
            run_wrk(rv.base_url, script, 3, args.connections, rv.api_key)  # warm-up
            spies = {name: (record(args.py_spy, p.popen.pid, args.seconds, Path(tmp) / f"{name}.txt"), Path(tmp) / f"{name}.txt")
                     for name, p in rv.processes.items()}
            wrk = run_wrk(rv.base_url, script, args.seconds + 1, args.connections, rv.api_key)
            revision = envinfo.collect(None).get("git_revision")
            for name, (spy, path) in spies.items():
                _, err = spy.communicate(timeout=args.seconds + 60)
                if spy.returncode != 0 or not path.is_file():
                    print(f"profile: py-spy failed on {name}: {err.strip()[-300:]}", file=sys.stderr)
                    continue
                summary = summarize(parse_collapsed(path.read_text()))
                text = render(args.variant, args.kind, name, summary, wrk)
                target = args.out / f"{args.variant}-{args.kind}-{name}.txt"
                target.write_text(text)
                data = {"variant": args.variant, "kind": args.kind, "process": name, "wrk": wrk,
                        "revision": revision, **summary}
                target.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
                print(text)
                print(f"wrote {target}")
        finally:
            rv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
