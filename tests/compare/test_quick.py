"""``make compare QUICK=1`` end to end: every step with tiny loads, on direct-monolith plus whatever exists; the
network section on direct-split-http only (~20 s; the other variants' network runs are the same steps)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_quick_compare_runs_every_step_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "quick"
    done = subprocess.run(
        # two variants stand for the others, a monolith and a split, to keep make test short: the harness runs every
        # variant through the same steps (the broker's faults and event-split's traces have tests of their own in
        # tests/faults and tests/integration/test_telemetry.py)
        [sys.executable, "-m", "loadtest.compare", "--quick", "--out", str(out), "--network-variants", "direct-split-http",
         "--variants", "direct-monolith,direct-split-http"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,  # a hang guard, not a performance assertion (the harness reports its own duration)
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "planned total" in done.stdout and "left]" in done.stdout  # plan and progress on the terminal

    summary = json.loads((out / "summary.json").read_text())
    report = (out / "REPORT.md").read_text()
    raw = out / "raw" / "latest"
    assert (raw / "run.json").exists() and (raw / "env.json").exists()

    # direct-monolith is the variant that always exists: every figure is there
    assert "direct-monolith" not in summary["not_run"]
    for scenario in ("crud", "ingest", "mixed"):
        block = summary["fixed"]["direct-monolith"][scenario]
        assert block["valid_runs"] == 1 and block["rps"]["median"] > 0 and block["p95_ms"]["median"] is not None
        assert block["cpu_s_per_1k"]["median"] is not None and block["peak_rss_mb"]["median"] > 0
        assert (raw / "direct-monolith" / "rep1" / f"fixed-{scenario}" / "locust_final_stats.csv").exists()
    ingest = summary["fixed"]["direct-monolith"]["ingest"]["notifications"]
    assert ingest["lost"] == 0 and ingest["duplicated"] == 0
    seq = summary["sequential"]["direct-monolith"]
    assert seq["get_p50_ms"]["median"] > 0 and seq["alert_delay_p50_ms"]["median"] is not None
    assert any(summary["capacity"]["direct-monolith"].values())
    # capacity: a search with no top, the HTTP ceiling measured the same way, one verdict live and in the summary
    cap = summary["capacity"]["direct-monolith"]["mixed"]
    assert cap["capacity_rps"]["median"] > 0 and cap["live_agrees"]
    run = cap["runs"][0]
    assert run["steps"][0]["offered_rps"] == summary["options"]["capacity_start"]
    assert any(s["outcome"] == "failed" for s in run["steps"]) or run.get("generator_bound")
    assert all(s["gen_cpu_frac"] is not None for s in run["steps"])
    ceiling = summary["ceiling"]["mixed"]
    assert ceiling["capacity_rps"]["median"] > 0 and ceiling["live_agrees"]
    assert "HTTP ceiling" in report and "of ceiling" in report and "latency_throughput.png" in report
    assert summary["floors"]["grpc"]["p50_ms"]["median"] > 0 and summary["floors"]["flask"]["p50_ms"]["median"] > 0

    # every other variant either ran or says why not; every step ran or says why not
    for variant in summary["variants"]:
        assert variant in summary["fixed"] or summary["not_run"].get(variant, "").startswith("not run: ")
    for step in summary["steps"]:
        assert step["status"] in ("ok", "skipped", "failed")
        assert step["status"] == "ok" or step["reason"] or step["kind"] == "stop"
    for why in summary["not_run"].values():
        assert why in report

    # scale: direct-monolith on PostgreSQL at 1 and 2 replicas, CPU by process kind, the model and its chart
    scaled = summary["scale"]["variants"]["direct-monolith"]
    assert sorted(scaled) == ["1", "2"] and scaled["1"]["capacity_rps"] > 0
    assert {"api", "database", "generator"} <= set(scaled["1"]["demand"]["kinds"])
    assert "balancer" in scaled["2"]["demand"]["kinds"]
    assert summary["scale"]["model"]["variants"]["direct-monolith"]["total_cores"] > 0
    assert "## Scale" in report and "peak rps" in report and "scale_model.png" in report

    # the slow network: direct-split-http behind the delay relay at 0 and 5 ms, a GET pays about one round trip
    slow = summary["network"]["variants"]["direct-split-http"]
    assert sorted(slow) == ["0", "5"] and slow["5"]["sequential"]["failures"] == {"get": 0, "post": 0}
    assert 0.5 < slow["5"]["added_get_rtts"] < 2.5 and slow["5"]["added_post_rtts"] > slow["5"]["added_get_rtts"]
    assert slow["0"]["capacity"]["capacity_rps"] > 0 and slow["5"]["capacity"]["capacity_rps"] > 0
    assert (raw / "direct-split-http" / "network" / "rtt5ms" / "sequential" / "sequential.json").exists()
    assert "## Slow network (split variants)" in report and "network.png" in report

    for chart in ("latency.png", "resources.png", "capacity.png", "latency_throughput.png", "sequential.png",
                  "scale_capacity.png", "scale_model.png", "network.png"):
        assert (out / chart).stat().st_size > 1000
    assert "## Environment" in report and "## Migration diff" in report
    assert not (ROOT / "results" / "raw" / "latest" / "run.json").exists() or out != ROOT / "results"
