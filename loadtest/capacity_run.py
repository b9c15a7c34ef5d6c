"""One capacity search against a running server, live: locust runs for the whole search, the harness drives it.

Locust (``--processes N``: one master, N worker processes) follows a control file (the user count); every worker
streams its requests to its own log (see ``LOADTEST_CONTROL`` / ``LOADTEST_STREAM_DIR`` in the locustfile). For each
step the harness sets the users, lets the rate settle (``ramp``), takes a resource sample at the start and at the
end of the step's window, and judges the window with :func:`loadtest.capacity.judge` once the data it needs is in:

- every worker's log is complete up to the end of the window and no request of the window is in flight: the data
  is final, exactly what the summary will read afterwards; or
- requests are still in flight, but counting each at the time it has already taken (a lower bound) and as a
  success already fails the step: their final figures can only be worse, so the summary fails it too.

Afterwards the worker logs are merged into ``requests.csv.gz`` and the steps written to ``steps.json``.
"""

from __future__ import annotations

import csv
import gzip
import json
import time
from pathlib import Path

from loadtest.capacity import REQUESTS_FILE, STEPS_FILE, Search, SearchPlan, judge
from loadtest.rawdata import write_json
from loadtest.sampler import Sampler
from loadtest.stats import REQUEST_LOG_FIELDS, HeldRule, Request, Verdict

JUDGE_WAIT_S = 15.0  # longer than locust's network timeout (10 s): by then every request of a window has ended
ACK_WAIT_S = 30.0  # the master waits for its workers before it starts


class Control:
    """The control file locust's master follows, and its acknowledgements."""

    def __init__(self, folder: Path):
        self.path = folder / "control.json"
        self.ack = folder / "control.json.ack"
        self.seq = 0

    def _write(self, command: dict) -> int:
        self.seq += 1
        tmp = self.path.with_suffix(".new")
        tmp.write_text(json.dumps({"seq": self.seq, **command}))
        tmp.replace(self.path)
        return self.seq

    def set_users(self, users: int, alive) -> float:
        """Ask for ``users`` users; returns when the master applied it (its timestamp)."""
        seq = self._write({"users": users, "spawn_rate": max(50, users * 4)})
        deadline = time.monotonic() + ACK_WAIT_S
        while time.monotonic() < deadline:
            try:
                ack = json.loads(self.ack.read_text())
                if ack.get("seq") == seq:
                    return float(ack["t"])
            except (OSError, ValueError):
                pass
            if not alive():
                raise RuntimeError("locust exited during the capacity search")
            time.sleep(0.02)
        raise RuntimeError(f"locust did not apply {users} users within {ACK_WAIT_S:g} s")

    def stop(self) -> None:
        self._write({"stop": True})


class Stream:
    """The workers' request logs, read as they grow (complete lines only), and their status files."""

    def __init__(self, folder: Path, workers: int):
        self.folder = folder
        self.workers = workers
        self.offsets: dict[Path, int] = {}
        self.rows: list[Request] = []

    def statuses(self) -> list[dict]:
        out = []
        for path in self.folder.glob("requests-*.status.json"):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return out

    def refresh(self) -> None:
        for path in sorted(self.folder.glob("requests-*.csv")):
            with path.open("rb") as handle:
                handle.seek(self.offsets.get(path, 0))
                chunk = handle.read()
            end = chunk.rfind(b"\n") + 1
            self.offsets[path] = self.offsets.get(path, 0) + end
            for line in chunk[:end].decode().splitlines():
                if not line or line.startswith(REQUEST_LOG_FIELDS[0]):
                    continue
                start, ms, name, ok, status = line.split(",")
                self.rows.append(Request(float(start), float(ms), name, ok == "1", int(status)))

    def merge(self, target: Path) -> int:
        """All workers' logs into one gzipped log ordered by start; the per-process files are removed."""
        self.refresh()
        rows = sorted(self.rows, key=lambda r: r.start)
        with gzip.open(target, "wt", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(REQUEST_LOG_FIELDS)
            for r in rows:
                writer.writerow((f"{r.start:.6f}", f"{r.response_ms:.3f}", r.name, 1 if r.ok else 0, r.status))
        for path in [*self.folder.glob("requests-*.csv"), *self.folder.glob("requests-*.status.json")]:
            path.unlink()
        return len(rows)


def judge_live(
    stream: Stream, sampler: Sampler, t0: float, t1: float, offered: float, rule: HeldRule, alive, users: int = 0
) -> tuple[Verdict, dict, float | None, int | None]:
    """Wait until the window ``[t0, t1)`` can be judged for good (see the module docstring), then judge it; also
    returns the users the workers said they ran (None when they do not say), judged against ``users`` asked for."""
    deadline = time.monotonic() + JUDGE_WAIT_S
    while True:
        statuses = stream.statuses()
        if len(statuses) >= stream.workers and all(s["as_of"] >= t1 for s in statuses):
            stream.refresh()
            pending = [
                Request(started, max(0.0, (s["as_of"] - started) * 1000.0 - 1.0), "(in flight)", True, 0)
                for s in statuses
                for started in s["inflight"]
                if t0 <= started < t1
            ]
            running = sum(s["users"] for s in statuses) if all("users" in s for s in statuses) else None
            counts = (running, users) if running is not None and users else None
            verdict, stats, gen = judge([*stream.rows, *pending], t0, t1, offered, list(sampler.samples), rule, counts)
            if not pending or not verdict.held:
                return verdict, stats, gen, running
        if time.monotonic() > deadline or not alive():
            raise RuntimeError(f"the {offered:g} rps step could not be judged: request logs incomplete")
        time.sleep(0.05)


def search(
    outdir: Path, sampler: Sampler, plan: SearchPlan, rule: HeldRule, user_rate: float, timing: dict, workers: int, alive
) -> dict:
    """Run the search while locust runs (``alive()`` says it still does); returns and writes the step record."""
    control = Control(outdir)
    stream = Stream(outdir, workers)
    finder = Search(plan)
    record: dict = {"plan": plan.__dict__, "rule": rule.__dict__, "timing": timing, "steps": [], "stopped": None}
    try:
        while (rate := finder.next_rate()) is not None:
            users = max(1, round(rate / user_rate))
            offered = users * user_rate
            applied = control.set_users(users, alive)
            time.sleep(max(0.0, applied + timing["ramp_s"] - time.time()))
            t0 = sampler.sample_now()
            time.sleep(timing["step_s"])
            t1 = sampler.sample_now()
            verdict, stats, gen, running = judge_live(stream, sampler, t0, t1, offered, rule, alive, users)
            finder.record(offered, verdict)
            record["steps"].append(
                {
                    "offered_rps": offered,
                    "users": users,
                    "gen_users": running,
                    "applied": applied,
                    "t0": t0,
                    "t1": t1,
                    "outcome": verdict.outcome,
                    "why": verdict.why,
                    "rps": stats["rps"],
                    "p50_ms": stats["p50_ms"],
                    "p95_ms": stats["p95_ms"],
                    "gen_cpu_frac": gen,
                }
            )
        record["stopped"] = finder.stopped
    finally:
        write_json(outdir / STEPS_FILE, record)
        control.stop()
    return record


def finish(outdir: Path, workers: int) -> int:
    """After locust exited: the merged request log."""
    return Stream(outdir, workers).merge(outdir / REQUESTS_FILE)


def brief(record: dict) -> str:
    """One line for the terminal."""
    held = [s for s in record["steps"] if s["outcome"] == "held"]
    best = max(held, key=lambda s: s["offered_rps"]) if held else None
    text = f"{best['rps']:.0f} rps achieved at {best['offered_rps']:g} offered" if best else "no step held"
    return f"{text}; {len(record['steps'])} steps; stopped: {record.get('stopped')}"
