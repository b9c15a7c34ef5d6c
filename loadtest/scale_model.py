"""What the scale runs measured, and the model built on it (pure: numbers in, numbers out; the raw files are read
only by :func:`summarize`).

**Window.** A scale run's CPU is counted over the measured windows ``[t0, t1]`` of the search's steps at or below
capacity: the steps that held at an offered rate no higher than the capacity (the highest held rate below the
first failed one). Ramps, failed and invalid steps, and steps above a failed one are left out: their cost per
request includes queueing and timeouts. The sampler takes a sample exactly at each ``t0`` and ``t1``.

**CPU per 1,000 requests of kind k** = 1000 × (CPU seconds of k's processes summed over the window's steps) ÷
(requests started in those steps).

**Model.** peak rps = users × requests per user per day ÷ 86,400 × peak factor; cores of kind k = peak rps × CPU
seconds per request of k ÷ target utilisation; pods = cores rounded up (one core per pod: each app process is one
Python process, which runs Python code on one core at a time). The load generator is measured but is not part
of a deployment (the users' clients), so it is left out of the totals.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from loadtest import capacity as capacity_search
from loadtest.sampler import window_usage

VARIANT_KINDS = ("api", "monitor", "alerting", "notification", "balancer")
KINDS = (*VARIANT_KINDS, "broker", "database", "generator")
SERVER_KINDS = tuple(k for k in KINDS if k != "generator")
SECONDS_PER_DAY = 86_400.0


def steps_at_or_below_capacity(steps: list[dict]) -> list[dict]:
    """The steps whose windows are counted: held, at an offered rate no higher than the capacity's."""
    outcome = capacity_search.outcome_of(steps)
    top = outcome.get("capacity_offered_rps") or 0.0
    return [s for s in steps if s["outcome"] == "held" and s["offered_rps"] <= top + 1e-9]


def cpu_by_kind(samples: list[dict], windows: list[dict], kinds=KINDS) -> dict:
    """CPU of each kind over ``windows`` (each with ``t0``, ``t1``, ``requests``): seconds, per 1,000 requests, and
    the mean number of cores busy. A kind never sampled is absent; one sampled in only some windows is counted where
    it was."""
    requests = sum(w["requests"] for w in windows)
    wall = sum(w["t1"] - w["t0"] for w in windows)
    out: dict = {"requests": requests, "wall_s": wall, "kinds": {}}
    for kind in kinds:
        used = [u for w in windows if (u := window_usage(samples, kind, w["t0"], w["t1"])) is not None]
        if not used:
            continue
        cpu = sum(u["cpu_s"] for u in used)
        out["kinds"][kind] = {
            "cpu_s": cpu,
            "cpu_s_per_1k": cpu / requests * 1000 if requests else None,
            "cores": cpu / wall if wall > 0 else None,
        }
    server = [v["cpu_s_per_1k"] for k, v in out["kinds"].items() if k in SERVER_KINDS and v["cpu_s_per_1k"] is not None]
    out["server_cpu_s_per_1k"] = sum(server) if server else None
    busy = [v["cores"] for v in out["kinds"].values() if v["cores"] is not None]
    out["cores_busy"] = sum(busy) if busy else None  # every kind, the load generator included: what the machine ran
    return out


def peak_rps(users: float, requests_per_user_day: float, peak_factor: float) -> float:
    return users * requests_per_user_day / SECONDS_PER_DAY * peak_factor


def cores_needed(peak: float, cpu_s_per_1k: dict[str, float | None], utilisation: float) -> dict:
    """Cores and pods of each server kind at ``peak`` requests/s, from its CPU seconds per 1,000 requests."""
    rows = {}
    for kind, per_1k in cpu_s_per_1k.items():
        if kind not in SERVER_KINDS or per_1k is None:
            continue
        cores = peak * per_1k / 1000 / utilisation
        rows[kind] = {"cpu_s_per_1k": per_1k, "cores": cores, "pods": math.ceil(cores - 1e-9) if cores > 0 else 0}
    return {
        "kinds": rows,
        "total_cores": sum(r["cores"] for r in rows.values()),
        "total_pods": sum(r["pods"] for r in rows.values()),
    }


def assumptions(options: dict) -> dict:
    users = float(options.get("model_users", 1_000_000))
    per_day = float(options.get("model_requests_per_user_day", 50.0))
    factor = float(options.get("model_peak_factor", 5.0))
    return {
        "users": users,
        "requests_per_user_day": per_day,
        "peak_factor": factor,
        "utilisation": float(options.get("model_utilisation", 0.6)),
        "mean_rps": users * per_day / SECONDS_PER_DAY,
        "peak_rps": peak_rps(users, per_day, factor),
    }


def model(per_variant: dict, options: dict) -> dict:
    """The model for every variant, from the demand of its run with the most replicas that measured one."""
    basis = assumptions(options)
    rows = {}
    for variant, runs in per_variant.items():
        measured = [(int(n), r) for n, r in runs.items() if (r.get("demand") or {}).get("requests")]
        if not measured:
            continue
        replicas, run = max(measured, key=lambda item: item[0])
        per_1k = {k: v["cpu_s_per_1k"] for k, v in run["demand"]["kinds"].items()}
        rows[variant] = {"from_replicas": replicas, **cores_needed(basis["peak_rps"], per_1k, basis["utilisation"])}
    return {"assumptions": basis, "variants": rows}


# --------------------------------------------------------------------------- from the raw files


def scale_run(run_dir: Path, options: dict, cores: int | None) -> dict:
    """One scale run: the capacity search recomputed from its raw files, and the CPU of each kind over its window."""
    row = capacity_search.summarize_run(run_dir, options)
    meta = json.loads((run_dir / "scale.json").read_text()) if (run_dir / "scale.json").exists() else {}
    resources = json.loads((run_dir / "resources.json").read_text()) if (run_dir / "resources.json").exists() else {}
    window = steps_at_or_below_capacity(row["steps"]) if row.get("steps") else []
    demand = cpu_by_kind(resources.get("samples", []), [s for s in window if "t0" in s])
    capacity = row.get("capacity_rps")
    out = {
        **{k: row.get(k) for k in ("valid", "capacity_rps", "capacity_offered_rps", "p95_at_capacity_ms", "at_least",
                                   "below_first_step", "generator_bound", "limited_by", "stopped", "live_agrees")},
        "steps": [{k: s.get(k) for k in ("offered_rps", "rps", "p95_ms", "outcome", "why", "requests")} for s in row["steps"]],
        "window_steps": len(window),
        "demand": demand,
        "capacity_per_core": capacity / cores if capacity and cores else None,
        "requests_per_cpu_s": 1000 / demand["server_cpu_s_per_1k"] if demand.get("server_cpu_s_per_1k") else None,
        "start_rps": meta.get("start_rps"),
        "database_error": meta.get("database_error"),
        "database_source": meta.get("database_source"),
        "processes": meta.get("processes"),
    }
    return out


def summarize(raw: Path, steps: list[dict], options: dict, env: dict) -> dict:
    """The summary's ``scale`` block: every scale run by variant and replica count, and the model."""
    cores = env.get("logical_cores")
    per_variant: dict = {}
    for step in steps:
        if step["kind"] != "scale" or step["status"] != "ok" or not step.get("dir"):
            continue
        per_variant.setdefault(step["variant"], {})[str(step["replicas"])] = {
            **scale_run(raw / step["dir"], options, cores),
            "dir": step["dir"],
        }
    return {
        "enabled": bool(options.get("scale")),
        "scenario": options.get("scale_scenario"),
        "replicas": options.get("scale_replicas") or [],
        "machine_cores": cores,
        "variants": per_variant,
        "model": model(per_variant, options),
    }
