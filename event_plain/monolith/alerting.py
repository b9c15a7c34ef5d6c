"""Alerting's event handler: apply each recorded result to its target's rule state; open and resolve alerts."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert, select, update

from shared import rules
from shared.domain import RuleParams, derived_id
from shared.rules import RuleState

from .messages import AlertOpened, AlertResolved, ResultRecorded
from .tables import alerts, rule_states, targets
from .unit_of_work import UnitOfWork

Clock = Callable[[], datetime]


def on_result_recorded(event: ResultRecorded, uow: UnitOfWork, clock: Clock) -> None:
    """Evaluate the rules on ``event.result`` with the thresholds read from the targets table, save the rule state,
    and raise ``AlertOpened``/``AlertResolved`` for each transition. Runs in the unit of work that recorded the
    result, which holds the target's lock: one result at a time per target, exactly one alert per transition."""
    result, connection = event.result, uow.connection
    target = connection.execute(
        select(targets.c.failure_threshold, targets.c.latency_threshold_ms).where(targets.c.id == result.target_id)
    ).one()
    row = connection.execute(
        select(rule_states.c.consecutive_failures, rule_states.c.down_open, rule_states.c.slow_open)
        .where(rule_states.c.target_id == result.target_id).with_for_update()).first()
    before = RuleState(*row) if row else RuleState()
    params = RuleParams(target.failure_threshold, target.latency_threshold_ms, None)
    after, transitions = rules.evaluate(before, result.ok, result.latency_ms, params)
    state = {"consecutive_failures": after.consecutive_failures, "down_open": after.down_open,
             "slow_open": after.slow_open}
    if row:
        connection.execute(update(rule_states).where(rule_states.c.target_id == result.target_id).values(state))
    else:
        connection.execute(insert(rule_states).values(target_id=result.target_id, **state))
    now = clock()
    for transition in transitions:
        if transition.action == "open":
            alert_id = derived_id(result.id, transition.kind)
            connection.execute(insert(alerts).values(
                id=alert_id, target_id=result.target_id, kind=transition.kind, state="open", opened_at=now,
                resolved_at=None, opened_by_result_id=result.id))
            uow.publish(AlertOpened(alert_id, result.target_id))
            continue
        open_alert = connection.execute(select(alerts.c.id).where(
            alerts.c.target_id == result.target_id, alerts.c.kind == transition.kind, alerts.c.state == "open",
        )).first()
        if open_alert is not None:
            connection.execute(update(alerts).where(alerts.c.id == open_alert.id).values(state="resolved",
                                                                                       resolved_at=now))
            uow.publish(AlertResolved(open_alert.id, result.target_id))
