"""The alert rules of the public contract, transition by transition."""
import pytest

from shared.domain import RuleParams
from shared.rules import RuleState, Transition, evaluate


def params(threshold=3, latency=None):
    return RuleParams(failure_threshold=threshold, latency_threshold_ms=latency, webhook_url=None)


def run(results, p):
    """Apply (ok, latency) pairs in order; return the final state and every transition in order."""
    state, seen = RuleState(), []
    for ok, latency in results:
        state, transitions = evaluate(state, ok, latency, p)
        seen.extend(transitions)
    return state, seen


def test_failures_below_the_threshold_open_nothing():
    state, seen = run([(False, 1)] * 2, params(3))
    assert seen == [] and state.consecutive_failures == 2 and not state.down_open


def test_the_failure_that_reaches_the_threshold_opens_a_down_alert():
    _, seen = run([(False, 1)] * 3, params(3))
    assert seen == [Transition("down", "open")]


def test_a_threshold_of_one_opens_on_the_first_failure():
    _, seen = run([(False, 1)], params(1))
    assert seen == [Transition("down", "open")]


def test_failures_after_the_alert_opened_do_not_open_another():
    state, seen = run([(False, 1)] * 10, params(3))
    assert seen == [Transition("down", "open")] and state.consecutive_failures == 10


def test_an_ok_result_in_between_resets_the_count():
    _, seen = run([(False, 1), (False, 1), (True, 1), (False, 1), (False, 1)], params(3))
    assert seen == []


def test_the_first_ok_result_resolves_an_open_down_alert():
    state, seen = run([(False, 1)] * 3 + [(True, 1), (True, 1)], params(3))
    assert seen == [Transition("down", "open"), Transition("down", "resolve")]
    assert state == RuleState()


def test_down_can_open_again_after_it_was_resolved():
    _, seen = run([(False, 1)] * 3 + [(True, 1)] + [(False, 1)] * 3, params(3))
    assert seen == [Transition("down", "open"), Transition("down", "resolve"), Transition("down", "open")]


def test_without_a_latency_threshold_slowness_never_alerts():
    _, seen = run([(True, 10_000_000)], params(3, None))
    assert seen == []


@pytest.mark.parametrize("latency, opens", [(100, False), (100.001, True), (99, False), (101, True)])
def test_slow_opens_only_above_the_threshold(latency, opens):
    _, seen = run([(True, latency)], params(3, 100))
    assert seen == ([Transition("slow", "open")] if opens else [])


def test_a_result_at_the_threshold_resolves_an_open_slow_alert():
    state, seen = run([(True, 150), (True, 160), (True, 100)], params(3, 100))
    assert seen == [Transition("slow", "open"), Transition("slow", "resolve")]
    assert not state.slow_open


def test_a_failed_result_does_not_touch_the_slow_alert():
    state, seen = run([(True, 150), (False, 5)], params(3, 100))
    assert seen == [Transition("slow", "open")] and state.slow_open


def test_one_ok_result_can_resolve_down_and_open_slow_in_that_order():
    _, seen = run([(False, 1)] * 3 + [(True, 500)], params(3, 100))
    assert seen == [Transition("down", "open"), Transition("down", "resolve"), Transition("slow", "open")]


def test_order_of_evaluation_matters_and_is_the_order_given():
    # the same multiset of results in two orders gives different outcomes
    _, first = run([(False, 1), (False, 1), (False, 1), (True, 1)], params(3))
    _, second = run([(True, 1), (False, 1), (False, 1), (False, 1)], params(3))
    assert first[-1] == Transition("down", "resolve")
    assert second == [Transition("down", "open")]
