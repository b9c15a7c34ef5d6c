"""CPU and memory of groups of processes (and all their children), sampled in a background thread.

A group is a callable returning its root pids *now*, so a process restarted during a fault scenario is
followed under its new pid. CPU is counted per process from the moment the sampler first sees it (a
process born after the sampler started counts from zero), so the cumulative figure is the CPU the
group used while the sampler ran, children included (gunicorn workers, the locust process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psutil

PidSource = Callable[[], list[int]]


def broker_pids() -> list[int]:
    """The local RabbitMQ node's processes (Erlang VM), if any run on this machine."""
    pids = []
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("beam.smp", "beam"):
            pids.append(proc.pid)
    return pids


class _Group:
    def __init__(self, roots: PidSource, started: float, per_process: bool = False):
        self.roots = roots
        self.started = started
        self.per_process = per_process
        self.recursive = getattr(roots, "recursive", True)  # a source may say: my roots only, not their children
        self.seen: dict[tuple[int, float], list[float]] = {}  # (pid, create_time) -> [baseline, last]

    def sample(self) -> dict:
        procs: list[psutil.Process] = []
        for pid in self.roots():
            try:
                root = psutil.Process(pid)
                procs.append(root)
                if self.recursive:
                    procs.extend(root.children(recursive=True))
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        rss = 0
        alive = 0
        own: dict[str, float] = {}
        for proc in procs:
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    cpu = times.user + times.system
                    key = (proc.pid, proc.create_time())
                    mem = proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            if key not in self.seen:
                baseline = 0.0 if key[1] >= self.started else cpu
                self.seen[key] = [baseline, cpu]
            else:
                self.seen[key][1] = cpu
            rss += mem
            alive += 1
            own[str(key[0])] = round(cpu - self.seen[key][0], 4)
        used = sum(last - base for base, last in self.seen.values())
        row = {"cpu_s": round(used, 4), "rss_bytes": rss, "processes": alive}
        if self.per_process:
            row["procs"] = own  # CPU seconds of each live process since the sampler first saw it
        return row


class Sampler:
    """``with Sampler({"variant": ..., "generator": ...}) as s:`` then ``s.samples``."""

    def __init__(self, groups: dict[str, PidSource], interval_s: float = 0.5):
        self.interval_s = interval_s
        self.started = time.time()
        self._groups = {name: _Group(source, self.started - 0.001) for name, source in groups.items()}
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def add_group(self, name: str, source: PidSource, per_process: bool = False) -> None:
        """Sample ``source`` too; ``per_process`` also records each process's own CPU (the load generator's rule)."""
        with self._lock:
            self._groups[name] = _Group(source, time.time() - 0.001, per_process)

    def sample_now(self) -> float:
        """Take a sample now (besides the periodic ones); returns its timestamp."""
        with self._lock:
            row: dict = {"t": time.time()}
            for name, group in self._groups.items():
                row[name] = group.sample()
            self.samples.append(row)
            return row["t"]

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample_now()

    def start(self) -> Sampler:
        self.sample_now()
        self._thread.start()
        return self

    def stop(self) -> list[dict]:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample_now()
        return self.samples

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def to_json(self) -> dict:
        return {"interval_s": self.interval_s, "groups": list(self._groups), "samples": self.samples}


def _window_samples(samples: list[dict], group: str, t0: float, t1: float) -> list[dict] | None:
    """The samples of ``group`` inside ``[t0, t1]``, or those enclosing the window when it holds fewer than two."""
    have = [s for s in samples if group in s]
    inside = [s for s in have if t0 - 1e-6 <= s["t"] <= t1 + 1e-6]
    if len(inside) < 2:
        # a window shorter than the sampling interval: take the samples that enclose it
        before = [s for s in have if s["t"] <= t0]
        after = [s for s in have if s["t"] >= t1]
        inside = ([before[-1]] if before else []) + inside + ([after[0]] if after else [])
        if len(inside) < 2:
            return None
    return inside


def window_usage(samples: list[dict], group: str, t0: float, t1: float) -> dict | None:
    """CPU seconds used by ``group`` between the first sample at or after ``t0`` and the last at or before ``t1``
    (the samples enclosing the window when it holds fewer than two), the wall time between those samples, and the
    peak RSS of those samples."""
    inside = _window_samples(samples, group, t0, t1)
    if inside is None:
        return None
    first, last = inside[0], inside[-1]
    wall = last["t"] - first["t"]
    return {
        "t0": first["t"],
        "t1": last["t"],
        "wall_s": wall,
        "cpu_s": last[group]["cpu_s"] - first[group]["cpu_s"],
        "cpu_frac": (last[group]["cpu_s"] - first[group]["cpu_s"]) / wall if wall > 0 else None,
        "peak_rss_bytes": max(s[group]["rss_bytes"] for s in inside),
    }


def generator_cpu_frac(samples: list[dict], t0: float, t1: float) -> float | None:
    """The busiest load-generator process's share of one core over ``[t0, t1]``.

    Each locust process is single-threaded (gevent), so the generator saturates when any one of them nears a full
    core, whatever the others do. Samples without per-process figures (older runs) give the group's total share.
    """
    have = _window_samples(samples, "generator", t0, t1)
    if have is None:
        return None
    if "procs" not in have[0]["generator"]:
        usage = window_usage(samples, "generator", t0, t1)
        return usage["cpu_frac"] if usage else None
    best = None
    for pid in {pid for s in have for pid in s["generator"]["procs"]}:
        seen = [s for s in have if pid in s["generator"]["procs"]]
        wall = seen[-1]["t"] - seen[0]["t"] if len(seen) > 1 else 0.0
        if wall <= 0:
            continue
        frac = (seen[-1]["generator"]["procs"][pid] - seen[0]["generator"]["procs"][pid]) / wall
        best = frac if best is None else max(best, frac)
    return best
