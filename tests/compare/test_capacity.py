"""The capacity search on fake step outcomes: stepping, refining, the one "held" rule, generator saturation."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from loadtest import capacity_run
from loadtest.capacity import Search, SearchPlan, outcome_of, summarize_run
from loadtest.sampler import generator_cpu_frac
from loadtest.stats import HeldRule, Request, Verdict, step_verdict, window_stats

RULE = HeldRule(slo_p95_ms=200.0, max_error_rate=0.01, min_achieved=0.8, gen_cpu_limit=0.9)
HELD, FAILED = Verdict("held", "held"), Verdict("failed", "p95 over the SLO")


def run(search: Search, outcome) -> list[float]:
    """Drive ``search`` with ``outcome(rate) -> Verdict``; returns the rates it tried."""
    rates = []
    while (rate := search.next_rate()) is not None:
        rates.append(rate)
        search.record(rate, outcome(rate))
    return rates


def limit(capacity: float):
    return lambda rate: HELD if rate <= capacity else FAILED


def test_the_search_climbs_geometrically_then_bisects_between_the_last_good_and_first_bad_step():
    search = Search(SearchPlan(start_rps=50, factor=2, refine=3, quantum_rps=1))
    rates = run(search, limit(1000))
    assert rates[:6] == [50, 100, 200, 400, 800, 1600]
    assert len(rates) == 9  # three bisections
    assert all(800 < r < 1600 for r in rates[6:])
    assert search.good <= 1000 < search.bad and search.bad / search.good < 2 ** (1 / 8) + 0.01
    assert search.stopped.startswith("refined 3 time(s)")


def test_there_is_no_top_rate():
    rates = run(Search(SearchPlan(start_rps=50, factor=2, refine=1, max_steps=40)), limit(1e6))
    assert max(rates) > 1e6 and rates[-1] < max(rates)


def test_a_first_step_that_fails_makes_the_search_come_down():
    search = Search(SearchPlan(start_rps=100, factor=2, refine=1, quantum_rps=1))
    rates = run(search, limit(30))
    assert rates[:3] == [100, 50, 25]
    assert search.good == 25 and search.bad == 36 and len(rates) == 4  # 36: the bisection failed too


def test_a_server_failing_at_one_user_ends_the_search():
    search = Search(SearchPlan(start_rps=20, factor=2, refine=2, quantum_rps=4))
    rates = run(search, lambda rate: FAILED)
    assert rates == [20, 12, 8, 4] and search.good is None and "one user" in search.stopped


def test_rates_are_whole_users_and_bisection_stops_at_that_resolution():
    search = Search(SearchPlan(start_rps=10, factor=2, refine=5, quantum_rps=4))
    rates = run(search, limit(45))
    assert all(r % 4 == 0 for r in rates)
    assert search.stopped.startswith("resolution reached") and search.bad - search.good == 4


def test_a_saturated_generator_stops_the_search_and_its_step_is_not_quoted():
    search = Search(SearchPlan(start_rps=50, factor=2, refine=3))
    saturated = Verdict("invalid", "load generator saturated")
    rates = run(search, lambda rate: HELD if rate < 400 else saturated)
    assert rates == [50, 100, 200, 400] and "invalid" in search.stopped
    steps = [
        {"offered_rps": r, "rps": r, "p95_ms": 5.0, "outcome": v, "why": v}
        for r, v in zip(rates, ["held"] * 3 + ["invalid"], strict=True)
    ]
    row = outcome_of(steps)
    assert row["capacity_offered_rps"] == 200 and row["at_least"] and row["generator_bound"]


def test_the_step_limit_is_a_guard():
    search = Search(SearchPlan(start_rps=1, factor=1.01, refine=0, max_steps=5))
    assert len(run(search, limit(1e9))) == 5 and "step limit" in search.stopped


# --------------------------------------------------------------------------- the one rule


def _requests(n: int, ms: float, t0: float = 100.0, rate: float = 50.0, ok=lambda i: True) -> list[Request]:
    return [Request(t0 + i / rate, ms, "x", ok(i), 200) for i in range(n)]


def test_step_verdict_held_failed_and_invalid():
    fast = window_stats(_requests(100, 10.0), 100, 102)
    assert step_verdict(fast, 50, 0.3, RULE) == HELD
    assert step_verdict(fast, 100, 0.3, RULE).why.startswith("achieved")
    assert "SLO" in step_verdict(window_stats(_requests(100, 500.0), 100, 102), 50, None, RULE).why
    failing = window_stats(_requests(100, 10.0, ok=lambda i: i % 10 != 0), 100, 102)
    assert "errors" in step_verdict(failing, 50, None, RULE).why
    # a saturated generator makes the step invalid whatever the server did
    assert step_verdict(fast, 50, 0.95, RULE).outcome == "invalid"
    assert step_verdict(window_stats(_requests(100, 500.0), 100, 102), 50, 0.95, RULE).outcome == "invalid"


def test_generator_saturation_is_per_locust_process():
    samples = [
        {"t": 0.0, "generator": {"cpu_s": 0.0, "rss_bytes": 1, "processes": 3, "procs": {"1": 0.0, "2": 0.0, "3": 0.0}}},
        {"t": 2.0, "generator": {"cpu_s": 2.2, "rss_bytes": 1, "processes": 3, "procs": {"1": 0.1, "2": 1.9, "3": 0.2}}},
    ]
    # 1.1 cores in total would pass a whole-group rule at 0.9 per core... but one worker sat at 95% of its core
    assert generator_cpu_frac(samples, 0.0, 2.0) == pytest.approx(0.95)
    old = [
        {k: v for k, v in s.items()} | {"generator": {k: v for k, v in s["generator"].items() if k != "procs"}} for s in samples
    ]
    assert generator_cpu_frac(old, 0.0, 2.0) == pytest.approx(1.1)


# --------------------------------------------------------------------------- live and summary cannot disagree


def _status(folder: Path, pid: int, as_of: float, inflight: list[float]) -> None:
    (folder / f"requests-{pid}.status.json").write_text(json.dumps({"pid": pid, "as_of": as_of, "inflight": inflight}))


def _log(folder: Path, pid: int, rows: list[Request]) -> None:
    lines = ["start,response_ms,name,ok,status"] + [f"{r.start:.6f},{r.response_ms:.3f},x,{int(r.ok)},{r.status}" for r in rows]
    (folder / f"requests-{pid}.csv").write_text("\n".join(lines) + "\n")


class _Samples:
    samples: list[dict] = []


def test_a_step_with_requests_in_flight_is_judged_only_when_its_outcome_is_certain(tmp_path, monkeypatch):
    monkeypatch.setattr(capacity_run, "JUDGE_WAIT_S", 0.3)
    stream = capacity_run.Stream(tmp_path, workers=2)
    _log(tmp_path, 1, _requests(50, 10.0, rate=50))
    _log(tmp_path, 2, _requests(49, 10.0, rate=50))
    _status(tmp_path, 1, 101.5, [])
    _status(tmp_path, 2, 101.5, [100.99])  # one request of the window still in flight after 510 ms: not enough to fail
    with pytest.raises(RuntimeError, match="could not be judged"):
        capacity_run.judge_live(stream, _Samples(), 100, 101, 99, RULE, lambda: True)
    # lower bounds that already fail the step: the final figures can only be worse, so it is judged now
    _status(tmp_path, 2, 101.5, [100.2 + i / 100 for i in range(10)])
    verdict, stats, _, _ = capacity_run.judge_live(stream, _Samples(), 100, 101, 99, RULE, lambda: True)
    assert verdict.outcome == "failed" and "SLO" in verdict.why


def test_a_step_whose_generator_did_not_run_the_users_asked_for_is_invalid_live_and_in_the_summary(tmp_path):
    # the workers are fine and fast, but together run 12 of the 25 users asked for (another run stole the rest)
    stream = capacity_run.Stream(tmp_path, workers=2)
    _log(tmp_path, 1, _requests(40, 10.0, rate=40))
    _log(tmp_path, 2, _requests(40, 10.0, rate=40))
    for pid, users in ((1, 6), (2, 6)):
        (tmp_path / f"requests-{pid}.status.json").write_text(
            json.dumps({"pid": pid, "as_of": 101.5, "inflight": [], "users": users})
        )
    verdict, _, _, running = capacity_run.judge_live(stream, _Samples(), 100, 101, 100, RULE, lambda: True, users=25)
    assert (verdict.outcome, running) == ("invalid", 12) and "ran 12 of the 25 users" in verdict.why
    fast = window_stats(_requests(100, 10.0), 100, 102)
    assert step_verdict(fast, 50, 0.3, RULE, users=(12, 25)).outcome == "invalid"
    assert step_verdict(fast, 50, 0.3, RULE, users=(25, 25)) == HELD


def test_the_summary_recomputes_the_verdict_the_search_acted_on(tmp_path):
    rows = _requests(100, 10.0) + _requests(200, 400.0, t0=103, rate=100)
    with gzip.open(tmp_path / "requests.csv.gz", "wt") as handle:
        handle.write("start,response_ms,name,ok,status\n")
        handle.writelines(f"{r.start:.6f},{r.response_ms:.3f},x,1,200\n" for r in rows)
    gen = {"cpu_s": 0.0, "rss_bytes": 1, "processes": 1, "procs": {"1": 0.0}}
    (tmp_path / "resources.json").write_text(
        json.dumps({"samples": [{"t": t, "generator": {**gen, "procs": {"1": t * 0.2}}} for t in (100, 102, 103, 105)]})
    )
    steps = [
        {"offered_rps": 50, "users": 10, "t0": 100, "t1": 102, "outcome": "held"},
        {"offered_rps": 100, "users": 20, "t0": 103, "t1": 105, "outcome": "failed"},
    ]
    (tmp_path / "steps.json").write_text(json.dumps({"steps": steps, "stopped": "test"}))
    row = summarize_run(tmp_path, {"slo_ms": 200, "max_error_rate": 0.01, "min_achieved": 0.8, "gen_cpu_limit": 0.9})
    assert [s["outcome"] for s in row["steps"]] == ["held", "failed"] and row["live_agrees"]
    assert row["capacity_offered_rps"] == 50 and row["capacity_rps"] == pytest.approx(50)
    assert row["limited_by"].startswith("100 rps step: p95")


def test_a_search_the_operator_excluded_is_kept_but_not_quoted_and_the_report_says_why(tmp_path):
    from loadtest import summarize

    step = {"status": "ok", "dir": "v/rep1/capacity-mixed", "variant": "v", "scenario": "mixed", "rep": 1, "kind": "capacity"}
    (tmp_path / "run.json").write_text(json.dumps({"options": {"slo_ms": 200}, "variants": ["v"], "scenarios": ["mixed"],
                                                   "steps": [step]}))
    (tmp_path / step["dir"]).mkdir(parents=True)
    (tmp_path / "exclusions.json").write_text(json.dumps([{"dir": step["dir"], "reason": "disturbed"}]))
    summary = summarize.build(tmp_path)
    (run,) = summary["capacity"]["v"]["mixed"]["runs"]
    assert (run["valid"], run["invalid_reason"]) == (False, "excluded: disturbed")
    assert summary["excluded"] == [{"dir": step["dir"], "reason": "disturbed"}]
    assert summarize.exclusions(tmp_path / "elsewhere") == {}
