"""The compare harness's pure parts: notification accounting, capacity verdicts, the plan and its budget."""

from __future__ import annotations

import pytest

from loadtest import compare, readback
from loadtest.pattern import params_for, result_for
from loadtest.stats import percentile, spread
from shared.domain import RuleParams
from shared.rules import RuleState, evaluate

T0 = "2026-01-01T00:00:00.000000Z"


def _iso(ms: int) -> str:
    return f"2026-01-01T00:00:{ms // 1000:02d}.{(ms % 1000) * 1000:06d}Z"


def _stream(k: int, statuses: list[int]) -> tuple[dict, dict]:
    """A ledger stream for pattern target ``k`` and the snapshot a correct server would hold for it."""
    p = params_for(k)
    target = f"t{k}"
    posts, results, alerts, notes = [], [], [], []
    state = RuleState()
    open_alert: dict[str, dict] = {}
    for seq, status in enumerate(statuses):
        checked = _iso(seq * 10)
        result_id = f"{target}-r{seq}" if status == 202 else None
        posts.append([seq, checked, status, result_id, float(seq), float(seq) + 0.01, False])
        if status != 202:
            continue
        received = _iso(seq * 10 + 1)
        results.append({"id": result_id, "checked_at": checked, "received_at": received})
        ok, latency = result_for(k, seq)
        state, transitions = evaluate(state, ok, latency, RuleParams(p.failure_threshold, p.latency_threshold_ms, None))
        for tr in transitions:
            if tr.action == "open":
                alert = {"id": f"{target}-a{seq}-{tr.kind}", "kind": tr.kind, "opened_by_result_id": result_id}
                alerts.append(alert)
                open_alert[tr.kind] = alert
                event = "alert_opened"
            else:
                alert = open_alert.pop(tr.kind)
                event = "alert_resolved"
            notes.append({"alert_id": alert["id"], "event": event, "channel": "log", "created_at": _iso(seq * 10 + 5)})
    stream = {
        "target_id": target,
        "k": k,
        "params": {"failure_threshold": p.failure_threshold, "latency_threshold_ms": p.latency_threshold_ms, "webhook_url": None},
        "posts": posts,
    }
    return stream, {target: {"results": results, "alerts": alerts, "notifications": notes}}


def test_a_correct_server_delivers_exactly_what_the_rules_predict():
    stream, snapshot = _stream(0, [202] * 32)
    outcome = readback.account({"streams": [stream]}, snapshot)
    totals = outcome["totals"]
    assert totals["expected"] > 0
    assert totals["delivered"] == totals["expected"] == len(snapshot["t0"]["notifications"])
    assert totals["lost"] == 0 and totals["duplicated"] == 0 and totals.get("unexpected", 0) == 0
    assert outcome["delay_ms"]["p50"] == pytest.approx(4.0)  # received at +1 ms, notified at +5 ms


def test_rejected_results_are_not_expected_to_notify():
    statuses = [202] * 32
    statuses[1] = 503  # the post that would open the first down alert of stream 0 (threshold 2)
    stream, snapshot = _stream(0, statuses)
    totals = readback.account({"streams": [stream]}, snapshot)["totals"]
    assert totals["rejected"] == 1 and totals["lost"] == 0 and totals["delivered"] == totals["expected"]


def test_missing_and_duplicated_notifications_are_counted():
    stream, snapshot = _stream(0, [202] * 32)
    notes = snapshot["t0"]["notifications"]
    dropped = notes.pop(0)
    notes.append(dict(notes[0]))  # a second copy of another notification
    totals = readback.account({"streams": [stream]}, snapshot)["totals"]
    assert totals["lost"] == 1 and totals["duplicated"] == 1
    assert totals["delivered"] == totals["expected"] - 1
    assert dropped["event"] in ("alert_opened", "alert_resolved")


def test_an_accepted_result_the_server_lost_is_reported():
    stream, snapshot = _stream(0, [202] * 8)
    snapshot["t0"]["results"].pop()
    totals = readback.account({"streams": [stream]}, snapshot)["totals"]
    assert totals["accepted_results_missing"] == 1


def test_a_timed_out_post_the_server_applied_counts_as_accepted():
    stream, snapshot = _stream(0, [202] * 8)
    stream["posts"][3][readback.STATUS] = 0  # the client saw no answer, but the server holds the result
    stream["posts"][3][readback.RESULT_ID] = None
    totals = readback.account({"streams": [stream]}, snapshot)["totals"]
    assert totals["ambiguous_applied"] == 1 and totals["lost"] == 0


def test_the_pattern_opens_and_resolves_alerts_on_every_kind_of_stream():
    for k in range(6):
        p = params_for(k)
        state, seen = RuleState(), []
        for seq in range(48):
            ok, latency = result_for(k, seq)
            state, transitions = evaluate(state, ok, latency, RuleParams(p.failure_threshold, p.latency_threshold_ms, None))
            seen += transitions
        assert {t.action for t in seen} == {"open", "resolve"}


def test_percentiles_and_spread():
    assert percentile([], 0.5) is None
    assert percentile([1, 2, 3, 4], 0.5) == pytest.approx(2.5)
    assert percentile([5], 0.95) == 5
    assert spread([3, None, 1, 2]) == {"median": 2, "min": 1, "max": 3, "n": 3}


def test_every_scenario_gets_a_capacity_search_in_every_repetition_so_medians_can_be_quoted():
    options, _ = compare.parse_args([])
    for rep in (1, 2, 3):
        assert sorted(compare.capacity_scenarios(options, rep)) == sorted(compare.SCENARIOS)
    one, _ = compare.parse_args(["--capacity-per-rep", "1"])
    assert sorted(s for rep in (1, 2, 3) for s in compare.capacity_scenarios(one, rep)) == sorted(compare.SCENARIOS)


def test_the_ceiling_is_searched_for_each_capacity_scenario_of_a_repetition():
    options, _ = compare.parse_args([])
    plan = compare.make_plan(options, options.variants)
    ceilings = [(s.rep, s.scenario) for s in plan if s.kind == "ceiling"]
    capacities = {(s.rep, s.scenario) for s in plan if s.kind == "capacity" and s.rep}  # not the network runs
    assert set(ceilings) == capacities and len(ceilings) == 9
    assert not [s for s in compare.make_plan(compare.parse_args(["--no-ceiling"])[0], options.variants) if s.kind == "ceiling"]


def test_later_repetitions_plan_warm_searches_that_start_at_the_capacity_found_before():
    options, _ = compare.parse_args([])
    plan = compare.make_plan(options, options.variants)
    first = {(s.kind, s.variant, s.scenario): s.est_s for s in plan if s.kind in ("capacity", "ceiling") and s.rep == 1}
    later = [s for s in plan if s.kind in ("capacity", "ceiling") and s.rep > 1]
    assert later and all(s.est_s < first[(s.kind, s.variant, s.scenario)] for s in later)


def test_the_default_plan_with_every_variant_fits_the_budget():
    options, _ = compare.parse_args([])
    plan = compare.make_plan(options, options.variants)
    assert sum(step.est_s for step in plan) < options.budget_s
    assert options.reps == 3 and len(options.scenarios) == 3
    assert {s.kind for s in plan} >= {"floors", "ceiling", "start", "sequential", "fixed", "capacity", "faults", "stop", "report"}
    faults = [s.variant for s in plan if s.kind == "faults" and s.replicas is None]
    assert sorted(faults) == ["direct-split-grpc", "direct-split-http", "event-split"]


def test_variants_are_interleaved_and_rotate():
    options, _ = compare.parse_args([])
    plan = compare.make_plan(options, options.variants)
    starts = [(s.rep, s.variant) for s in plan if s.kind == "start" and s.rep]  # network and scale runs come last
    assert [rep for rep, _ in starts] == sorted(rep for rep, _ in starts)
    firsts = [next(v for r, v in starts if r == rep) for rep in (1, 2, 3)]
    assert len(set(firsts)) == 3


def test_quick_mode_writes_elsewhere_and_is_small():
    options, _ = compare.parse_args(["--quick"])
    assert options.out != compare.DEFAULT_OUT and options.reps == 1
    assert sum(s.est_s for s in compare.make_plan(options, options.variants)) < options.budget_s
    assert options.capacity_step_s < 2 and compare.PROFILES["full"]["capacity_step_s"] >= 10


def test_the_plain_apps_variants_run_the_fixed_rate_scenarios_and_the_traced_pass_only_and_quick_skips_them():
    from harness.topology import VARIANTS

    plain = [name for name, spec in VARIANTS.items() if spec.is_plain]
    assert plain, "the plain apps' variants are in the topology"
    options, _ = compare.parse_args([])
    assert set(plain) <= set(options.variants)
    plan = compare.make_plan(options, options.variants)
    kinds = {s.kind for s in plan if s.variant in plain}
    assert kinds == {"start", "fixed", "stop", "traces"}
    assert {(s.rep, s.variant, s.scenario) for s in plan if s.kind == "fixed" and s.variant in plain} == {
        (rep, v, sc) for rep in (1, 2, 3) for v in plain for sc in options.scenarios
    }
    quick, _ = compare.parse_args(["--quick"])
    assert not set(plain) & set(quick.variants)
