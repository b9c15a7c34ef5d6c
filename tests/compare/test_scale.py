"""The scale section's pure parts: CPU by process kind on fake samples, the window of steps counted, the model's
arithmetic, the plan's scale steps, and the section and charts rendered from a fake summary."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.topology import VARIANTS
from loadtest import compare, scale_model
from loadtest.reporting import scale as scale_section
from loadtest.reporting import scale_charts
from loadtest.reporting.charts import Canvas
from loadtest.sampler import Sampler
from loadtest.scale import kind_sources
from loadtest.stats import REQUEST_LOG_FIELDS

OPTIONS = {"slo_ms": 200.0, "scale": True, "scale_scenario": "mixed", "scale_replicas": [1, 2], "model_users": 1_000_000,
           "model_requests_per_user_day": 50, "model_peak_factor": 5, "model_utilisation": 0.6}


def sample(t: float, **cpu: float) -> dict:
    return {"t": t, **{kind: {"cpu_s": value, "rss_bytes": 1, "processes": 1} for kind, value in cpu.items()}}


# --------------------------------------------------------------------------- CPU by kind


def test_cpu_by_kind_sums_the_windows_and_divides_by_their_requests():
    samples = [
        sample(10, api=1.0, database=0.5, generator=0.2),
        sample(12, api=2.0, database=0.9, generator=0.4),  # window 1: api 1.0, database 0.4, generator 0.2 in 2 s
        sample(13, api=2.6, database=1.0, generator=0.5),  # between the windows (a ramp): not counted
        sample(15, api=3.6, database=1.6, generator=0.7),  # window 2: api 1.0, database 0.6, generator 0.2 in 2 s
    ]
    windows = [{"t0": 10, "t1": 12, "requests": 200}, {"t0": 13, "t1": 15, "requests": 300}]
    out = scale_model.cpu_by_kind(samples, windows)
    assert out["requests"] == 500 and out["wall_s"] == 4
    assert out["kinds"]["api"]["cpu_s"] == pytest.approx(2.0)
    assert out["kinds"]["api"]["cpu_s_per_1k"] == pytest.approx(4.0)  # 2 CPU-s over 500 requests
    assert out["kinds"]["database"]["cpu_s_per_1k"] == pytest.approx(2.0)
    assert out["kinds"]["api"]["cores"] == pytest.approx(0.5)
    assert out["server_cpu_s_per_1k"] == pytest.approx(6.0)  # the load generator is not part of the server
    assert out["kinds"]["generator"]["cpu_s_per_1k"] == pytest.approx(0.8)
    assert out["cores_busy"] == pytest.approx(0.5 + 0.25 + 0.1)
    assert "broker" not in out["kinds"] and "monitor" not in out["kinds"]  # never sampled: absent, not zero


def test_only_steps_that_held_at_or_below_capacity_are_counted():
    steps = [
        {"offered_rps": 100, "outcome": "held", "why": "held", "rps": 100, "p95_ms": 10},
        {"offered_rps": 300, "outcome": "failed", "why": "p95", "rps": 200, "p95_ms": 900},
        {"offered_rps": 175, "outcome": "held", "why": "held", "rps": 175, "p95_ms": 50},
        {"offered_rps": 400, "outcome": "held", "why": "held", "rps": 400, "p95_ms": 50},  # above a failed step
        {"offered_rps": 50, "outcome": "invalid", "why": "generator", "rps": 50, "p95_ms": 5},
    ]
    assert [s["offered_rps"] for s in scale_model.steps_at_or_below_capacity(steps)] == [100, 175]
    assert scale_model.steps_at_or_below_capacity([{**steps[1]}]) == []


def test_processes_are_grouped_by_kind_over_their_replicas():
    def proc(kind: str, pid: int):
        return SimpleNamespace(spec=SimpleNamespace(name=kind), popen=SimpleNamespace(pid=pid, poll=lambda: None))

    rv = SimpleNamespace(processes={"api-1": proc("api", 1), "api-2": proc("api", 2), "monitor-1": proc("monitor", 3),
                                    "balancer": proc("balancer", 4)})
    sources = kind_sources(rv)
    assert sorted(sources) == ["api", "balancer", "monitor"]
    assert sources["api"]() == [1, 2] and sources["balancer"]() == [4]


def test_a_source_that_is_not_recursive_counts_its_roots_without_their_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        def roots_only():
            return [os.getpid()]

        roots_only.recursive = False
        sampler = Sampler({"with": lambda: [os.getpid()], "without": roots_only})
        row = sampler.sample_now()
        last = sampler.samples[-1]
        assert row and last["with"]["processes"] >= 2 and last["without"]["processes"] == 1
    finally:
        child.kill()
        child.wait()


# --------------------------------------------------------------------------- the model


def test_the_model_turns_cpu_per_request_into_cores_and_pods():
    basis = scale_model.assumptions(OPTIONS)
    assert basis["mean_rps"] == pytest.approx(1_000_000 * 50 / 86_400)
    assert basis["peak_rps"] == pytest.approx(2893.5185, rel=1e-6)
    rows = scale_model.cores_needed(basis["peak_rps"], {"api": 2.0, "database": 0.5, "generator": 9.0, "broker": None}, 0.6)
    assert rows["kinds"]["api"]["cores"] == pytest.approx(2893.5185 * 0.002 / 0.6, rel=1e-6)  # 9.65 cores
    assert rows["kinds"]["api"]["pods"] == 10 and rows["kinds"]["database"]["pods"] == 3  # 2.41 cores -> 3
    assert set(rows["kinds"]) == {"api", "database"}  # the load generator and unmeasured kinds are left out
    assert rows["total_cores"] == pytest.approx(2893.5185 * 0.0025 / 0.6, rel=1e-6) and rows["total_pods"] == 13
    assert scale_model.cores_needed(1000, {"api": 0.6}, 0.6)["kinds"]["api"]["pods"] == 1  # exactly 1 core: 1 pod


def test_the_model_uses_the_run_with_the_most_replicas_that_measured_a_demand():
    def run(api: float, requests: int) -> dict:
        return {"demand": {"requests": requests, "kinds": {"api": {"cpu_s_per_1k": api}}}}

    out = scale_model.model({"v": {"1": run(1.0, 100), "2": run(2.0, 100), "3": run(9.0, 0)}}, OPTIONS)
    assert out["variants"]["v"]["from_replicas"] == 2
    assert out["variants"]["v"]["kinds"]["api"]["cpu_s_per_1k"] == 2.0


# --------------------------------------------------------------------------- from fake raw files to the report


def _fake_run(run_dir: Path) -> None:
    run_dir.mkdir(parents=True)
    steps = [
        {"offered_rps": 100, "users": 20, "t0": 100.0, "t1": 102.0, "outcome": "held"},
        {"offered_rps": 300, "users": 60, "t0": 103.0, "t1": 105.0, "outcome": "failed"},
    ]
    (run_dir / "steps.json").write_text(json.dumps({"steps": steps, "stopped": "refined 0 time(s)"}))
    with gzip.open(run_dir / "requests.csv.gz", "wt") as handle:
        handle.write(",".join(REQUEST_LOG_FIELDS) + "\n")
        handle.writelines(f"{100 + i / 100:.6f},10.0,x,1,200\n" for i in range(200))  # 100 rps, fast
        handle.writelines(f"{103 + i / 300:.6f},900.0,x,1,200\n" for i in range(600))  # 300 rps, slow
    samples = [
        {**sample(100.0, api=1.0, balancer=0.1, database=0.2), "generator": {"cpu_s": 0, "rss_bytes": 1, "processes": 1,
                                                                             "procs": {"1": 0.0}}},
        {**sample(102.0, api=1.6, balancer=0.14, database=0.3), "generator": {"cpu_s": 0.1, "rss_bytes": 1, "processes": 1,
                                                                              "procs": {"1": 0.1}}},
        {**sample(105.0, api=3.0, balancer=0.2, database=0.5), "generator": {"cpu_s": 0.3, "rss_bytes": 1, "processes": 1,
                                                                             "procs": {"1": 0.3}}},
    ]
    (run_dir / "resources.json").write_text(json.dumps({"samples": samples}))
    (run_dir / "scale.json").write_text(json.dumps({"start_rps": 100, "database_error": None}))


def test_the_summary_block_counts_cpu_by_kind_over_the_held_steps_only(tmp_path: Path):
    _fake_run(tmp_path / "v" / "scale" / "replicas2" / "scale-mixed")
    steps = [{"kind": "scale", "status": "ok", "variant": "v", "replicas": 2, "dir": "v/scale/replicas2/scale-mixed"}]
    block = scale_model.summarize(tmp_path, steps, OPTIONS, {"logical_cores": 2})
    run = block["variants"]["v"]["2"]
    assert run["capacity_rps"] == pytest.approx(100) and run["window_steps"] == 1
    assert run["capacity_per_core"] == pytest.approx(50)
    kinds = run["demand"]["kinds"]
    assert kinds["api"]["cpu_s_per_1k"] == pytest.approx(3.0)  # 0.6 CPU-s over the 200 requests of the held step
    assert kinds["balancer"]["cpu_s_per_1k"] == pytest.approx(0.2)
    assert kinds["database"]["cpu_s_per_1k"] == pytest.approx(0.5)
    assert run["requests_per_cpu_s"] == pytest.approx(1000 / 3.7)
    model = block["model"]["variants"]["v"]
    assert model["from_replicas"] == 2 and model["kinds"]["api"]["cores"] == pytest.approx(2893.5185 * 0.003 / 0.6, rel=1e-6)

    summary = {"options": {**OPTIONS, "scale_refine": 0, "capacity_step_s": 0.8}, "scale": block, "quick": True,
               "env": {"logical_cores": 2, "cpu_model": "fake"}, "variants": ["v"], "not_run": {}}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts: dict[str, str] = {}
    scale_charts.make(Canvas(plt, tmp_path, summary, ["v"], ["mixed"], ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7"]),
                      charts)
    assert set(charts) == {"scale_capacity", "scale_model"} and (tmp_path / "scale_model.png").stat().st_size > 1000
    text = "\n".join(scale_section.section(tmp_path, summary, charts))
    assert "## Scale" in text and "This machine has 2 cores" in text and "QUICK run" in text
    assert "cores of kind k = peak rps × CPU-seconds per request of k ÷ utilisation" in text
    assert "1,000,000" in text and "peak 2,894 requests/s" in text and "60%" in text
    assert "scale_model.png" in text and "clustered" in text


# --------------------------------------------------------------------------- the plan


def test_the_scale_runs_come_after_the_repetitions_one_block_per_variant_and_replica_count():
    options, _ = compare.parse_args([])
    plan = compare.make_plan(options, options.variants)
    scaled = [s for s in plan if s.replicas is not None]
    assert options.scale_replicas == [1, 2, 3] and options.scale_scenario == "mixed"
    assert [s.kind for s in scaled[:3]] == ["start", "scale", "stop"]
    scaled_variants = [v for v in options.variants if not VARIANTS[v].is_plain]  # the plain apps: fixed rate only
    splits = [v for v in scaled_variants if "split" in v]
    # each split's database is restarted under load once, at 2 replicas, after its scale search
    assert [(s.variant, s.replicas) for s in scaled if s.kind == "faults"] == [(v, 2) for v in splits]
    assert len(scaled) == 3 * 3 * len(scaled_variants) + len(splits)
    first = plan.index(scaled[0])
    assert all(s.replicas is not None for s in plan[first:-1]) and plan[-1].kind == "report"
    assert {(s.variant, s.replicas) for s in scaled if s.kind == "scale"} == {(v, n) for v in scaled_variants for n in (1, 2, 3)}
    assert "×2 on postgres" in scaled[3].label
    assert not [s for s in compare.make_plan(compare.parse_args(["--no-scale"])[0], options.variants) if s.replicas]


def test_quick_scales_one_variant_at_one_and_two_replicas():
    options, _ = compare.parse_args(["--quick"])
    scaled = [s for s in compare.make_plan(options, options.variants) if s.kind == "scale"]
    assert [(s.variant, s.replicas) for s in scaled] == [("direct-monolith", 1), ("direct-monolith", 2)]
    options, _ = compare.parse_args(["--quick", "--scale-variants", "event-split", "--scale-replicas", "2,1"])
    assert options.scale_variants == ["event-split"] and options.scale_replicas == [1, 2]


def test_model_options_are_validated():
    with pytest.raises(SystemExit):
        compare.parse_args(["--model-utilisation", "1.5"])
    with pytest.raises(SystemExit):
        compare.parse_args(["--scale-replicas", "0"])
    options, _ = compare.parse_args(["--model-users", "2000000", "--model-peak-factor", "3"])
    assert options.model_users == 2_000_000 and options.model_peak_factor == 3
