"""The read side: what the public API lists and shows, read where it lives, joining across services' tables.

Every read names its tenant: another tenant's target is ``NotFound`` as one that does not exist, and listings only
hold the tenant's rows (alerts and notifications through the target they belong to).
"""
from __future__ import annotations

from sqlalchemy import Engine, Select, func, select

from shared.domain import Alert, CheckResult, NotFound, Notification, Target, TargetPage
from shared.storage.database import domain_columns, read_transaction, to_domain, to_domain_list

from .tables import alerts, notifications, results, targets

_TARGET_COLUMNS = domain_columns(targets, Target)
_RESULT_COLUMNS = domain_columns(results, CheckResult)
_ALERT_COLUMNS = (alerts.c.id, alerts.c.target_id, alerts.c.kind, alerts.c.state, alerts.c.opened_at,
                  alerts.c.resolved_at, alerts.c.opened_by_result_id, targets.c.tenant)
_NOTIFICATION_COLUMNS = (notifications.c.id, notifications.c.alert_id, alerts.c.target_id, notifications.c.event,
                         notifications.c.channel, notifications.c.status, notifications.c.message,
                         notifications.c.created_at, notifications.c.attempts, targets.c.tenant)


def alerts_with_targets(*columns) -> Select:
    """``SELECT`` the alert's public fields (with its target's tenant) and ``columns`` from alerts joined to targets."""
    return select(*_ALERT_COLUMNS, *columns).join(targets, targets.c.id == alerts.c.target_id)


def alert_of(row) -> Alert:
    """The ``Alert`` of a row selected with :func:`alerts_with_targets`."""
    return Alert(*row[:len(_ALERT_COLUMNS)])


def list_targets(engine: Engine, tenant: str, limit: int, offset: int) -> TargetPage:
    with read_transaction(engine) as connection:
        total = connection.execute(select(func.count()).select_from(targets).where(targets.c.tenant == tenant)).scalar_one()
        rows = connection.execute(select(*_TARGET_COLUMNS).where(targets.c.tenant == tenant)
                                  .order_by(targets.c.created_at, targets.c.id).limit(limit).offset(offset))
        return TargetPage(to_domain_list(Target, rows), total)


def get_target(engine: Engine, tenant: str, target_id: str) -> Target:
    with read_transaction(engine) as connection:
        row = connection.execute(select(*_TARGET_COLUMNS).where(targets.c.id == target_id,
                                                                targets.c.tenant == tenant)).first()
    if row is None:
        raise NotFound(f"target {target_id} not found")
    return to_domain(Target, row)


def list_results(engine: Engine, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
    with read_transaction(engine) as connection:
        found = connection.execute(select(targets.c.id).where(targets.c.id == target_id,
                                                              targets.c.tenant == tenant)).first()
        if found is None:
            raise NotFound(f"target {target_id} not found")
        rows = connection.execute(select(*_RESULT_COLUMNS).where(results.c.target_id == target_id)
                                  .order_by(results.c.seq.desc()).limit(limit))
        return to_domain_list(CheckResult, rows)


def list_alerts(engine: Engine, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
    query = alerts_with_targets().where(targets.c.tenant == tenant)
    if target_id is not None:
        query = query.where(alerts.c.target_id == target_id)
    if state is not None:
        query = query.where(alerts.c.state == state)
    with read_transaction(engine) as connection:
        return [alert_of(row) for row in connection.execute(query.order_by(alerts.c.opened_at.desc(),
                                                                           alerts.c.seq.desc()))]


def list_notifications(engine: Engine, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
    query = (select(*_NOTIFICATION_COLUMNS).join(alerts, alerts.c.id == notifications.c.alert_id)
             .join(targets, targets.c.id == alerts.c.target_id).where(targets.c.tenant == tenant))
    if target_id is not None:
        query = query.where(alerts.c.target_id == target_id)
    if alert_id is not None:
        query = query.where(notifications.c.alert_id == alert_id)
    with read_transaction(engine) as connection:
        rows = connection.execute(query.order_by(notifications.c.created_at.desc(), notifications.c.seq.desc()))
        return [Notification(**row._mapping) for row in rows]
