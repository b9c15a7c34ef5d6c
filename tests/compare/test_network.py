"""The network section's pure parts: its steps in the plan, its options, its summary block from fake raw files, and
the report section and chart drawn from it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from loadtest import compare, network
from loadtest.reporting import network as network_section
from loadtest.reporting.charts import Canvas
from loadtest.stats import REQUEST_LOG_FIELDS

SPLITS = ["direct-split-grpc", "direct-split-http", "event-split"]


# --------------------------------------------------------------------------- the plan and the options


def test_each_split_variant_runs_once_at_each_rtt_between_the_repetitions_and_the_scale_runs():
    options, _ = compare.parse_args([])
    plan = [s for s in compare.make_plan(options, options.variants) if s.kind != "traces"]  # the traced pass: apart
    steps = [s for s in plan if s.rtt_ms is not None]
    assert options.network_rtts == [0.0, 1.0, 5.0] and options.network_variants == SPLITS
    assert {(s.variant, s.rtt_ms) for s in steps if s.kind == "start"} == {(v, r) for v in SPLITS for r in (0, 1, 5)}
    assert all(s.rep == 0 and s.replicas is None for s in steps)
    first, last = plan.index(steps[0]), plan.index(steps[-1])
    assert all(s.rep >= 1 for s in plan[:first]) and all(s.replicas is not None for s in plan[last + 1:-1])
    assert [s.kind for s in steps[:4]] == ["start", "sequential", "capacity", "stop"]
    # the capacity search in ingest at the lowest and the highest RTT only
    assert {(s.variant, s.rtt_ms) for s in steps if s.kind == "capacity"} == {(v, r) for v in SPLITS for r in (0, 5)}
    assert {s.scenario for s in steps if s.kind == "capacity"} == {"ingest"}
    assert "network RTT 5 ms" in steps[-1].label
    # a sequential step costs more the longer the path and the RTT
    seq = {(s.variant, s.rtt_ms): s.est_s for s in steps if s.kind == "sequential"}
    assert seq[("direct-split-http", 0)] < seq[("direct-split-http", 5)] < seq[("event-split", 5)]
    assert sum(s.est_s for s in plan) < options.budget_s


def test_network_options_choose_the_rtts_and_variants_and_no_network_plans_none():
    options, _ = compare.parse_args(["--quick"])
    assert options.network_rtts == [0.0, 5.0] and options.network_variants == ["direct-split-http", "event-split"]
    options, _ = compare.parse_args(["--network-rtts", "5,0.5,5", "--network-variants", "event-split"])
    assert options.network_rtts == [0.5, 5.0] and options.network_variants == ["event-split"]
    plan = compare.make_plan(options, options.variants)
    assert {(s.kind, s.rtt_ms) for s in plan if s.rtt_ms is not None and s.kind == "capacity"} == {("capacity", 0.5),
                                                                                                   ("capacity", 5.0)}
    options, _ = compare.parse_args(["--variants", "direct-monolith,direct-split-grpc"])
    assert options.network_variants == ["direct-split-grpc"]  # only the split variants asked for
    none, _ = compare.parse_args(["--no-network"])
    assert not [s for s in compare.make_plan(none, none.variants) if s.rtt_ms is not None]
    for wrong in (["--network-rtts", "-1"], ["--network-rtts", "fast"], ["--network-variants", "direct-monolith"]):
        with pytest.raises(SystemExit):
            compare.parse_args(wrong)


def test_the_first_network_search_is_warm_only_when_the_repetitions_searched_ingest():
    options, _ = compare.parse_args([])
    searches = [s.est_s for s in compare.make_plan(options, options.variants) if s.rtt_ms is not None and s.kind == "capacity"]
    assert len(set(searches)) == 1  # every search starts at a capacity found before
    quick, _ = compare.parse_args(["--quick"])  # one scenario per repetition, mixed: the first search is a cold one
    searches = [s.est_s for s in compare.make_plan(quick, quick.variants) if s.rtt_ms is not None and s.kind == "capacity"]
    assert searches[0] > searches[1]


# --------------------------------------------------------------------------- from fake raw files to the report


def _sequential(run_dir: Path, get_ms: float, post_ms: float) -> None:
    run_dir.mkdir(parents=True)
    data = {"calls": 5, "warmup": 1, "get_ms": [get_ms] * 5, "post_ms": [post_ms] * 5, "failures": {"get": 0, "post": 0},
            "probe_ledger": {"run_tag": "t", "streams": []}}
    (run_dir / "sequential.json").write_text(json.dumps(data))


def _capacity(run_dir: Path, rps: float) -> None:
    run_dir.mkdir(parents=True)
    steps = [{"offered_rps": rps, "users": 20, "t0": 100.0, "t1": 102.0, "outcome": "held"}]
    (run_dir / "steps.json").write_text(json.dumps({"steps": steps, "stopped": "refined 0 time(s)"}))
    with gzip.open(run_dir / "requests.csv.gz", "wt") as handle:
        handle.write(",".join(REQUEST_LOG_FIELDS) + "\n")
        handle.writelines(f"{100 + i / rps:.6f},10.0,x,1,202\n" for i in range(int(2 * rps)))


def test_the_summary_gives_the_latency_added_in_rtts_and_the_report_shows_it(tmp_path: Path):
    raw = tmp_path / "raw" / "latest"
    figures = {("direct-split-http", 0): (2.0, 5.0), ("direct-split-http", 5): (7.0, 15.0),
               ("event-split", 0): (3.0, 6.0), ("event-split", 5): (13.0, 21.0)}
    steps = []
    for (variant, rtt), (get_ms, post_ms) in figures.items():
        where = f"{variant}/network/{network.rtt_dir(rtt)}"
        _sequential(raw / where / "sequential", get_ms, post_ms)
        _capacity(raw / where / "capacity-ingest", 200.0 if rtt == 0 else 150.0)
        steps += [{"kind": "sequential", "status": "ok", "variant": variant, "rtt_ms": rtt, "dir": f"{where}/sequential"},
                  {"kind": "capacity", "status": "ok", "variant": variant, "rtt_ms": rtt, "scenario": "ingest",
                   "dir": f"{where}/capacity-ingest"}]
    options = {"network": True, "network_rtts": [0.0, 5.0], "network_seq_calls": 5, "network_probe_results": 0,
               "seq_warmup": 1, "slo_ms": 200.0, "max_error_rate": 0.01, "min_achieved": 0.8, "gen_cpu_limit": 0.9}
    block = network.summarize(raw, steps, options)
    five = block["variants"]["event-split"]["5"]
    assert five["added_get_ms"] == pytest.approx(10.0) and five["added_get_rtts"] == pytest.approx(2.0)
    assert five["added_post_rtts"] == pytest.approx(3.0)
    assert block["variants"]["direct-split-http"]["5"]["added_post_rtts"] == pytest.approx(2.0)
    assert five["capacity"]["capacity_rps"] == pytest.approx(150.0, rel=0.02)
    assert block["path_rtts"] == {"direct-split-http": {"get": 1, "post": 2}, "event-split": {"get": 2, "post": 3}}

    summary = {"options": options, "network": block, "sequential": {}, "capacity": {}, "variants": list(block["variants"]),
               "not_run": {}, "scenarios": ["ingest"]}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    canvas = Canvas(plt, tmp_path, summary, summary["variants"], ["ingest"], [f"C{i}" for i in range(8)])
    chart = network_section.chart(canvas)
    assert (tmp_path / chart).stat().st_size > 1000
    text = "\n".join(network_section.section(tmp_path, summary, {"network": chart}))
    assert "## Slow network (split variants)" in text and "netem" in text and "RTT/2" in text
    assert "+10.00 ms (+2.0 RTT)" in text and "+3.0 RTT" in text and "(-25%)" in text
    assert "broker → receiver" in text and "network.png" in text
    assert "at 5 ms a GET pays 2.0 RTT (path: 2) and a POST 3.0 RTT (path: 3)" in text


def test_the_section_is_absent_when_the_network_runs_were_switched_off(tmp_path: Path):
    summary = {"options": {"network": False}, "network": {"variants": {}}}
    assert network_section.section(tmp_path, summary, {}) == []
