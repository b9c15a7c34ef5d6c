"""In-memory stores with the semantics of ``shared.storage``, for the unit tests of the services.

Thread-safe. Like the SQL stores they refuse naive datetimes, hand datetimes back in UTC, list in
insertion order, and roll a unit of work back when its block raises. Set ``reachable = False`` to
make ``ping`` raise ``ConnectionError`` (a database that is down).
"""
from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from shared.domain import Alert, AlertEvent, AlertKind, CheckResult, Conflict, NotFound, Notification, Target, TargetPage
from shared.locks import KeyedLock
from shared.ports import AlertingStore, AlertingUnitOfWork, Claim, MonitorStore, NotificationStore
from shared.rules import RuleState

__all__ = ["InMemoryMonitorStore", "InMemoryAlertingStore", "InMemoryAlertingUnitOfWork", "InMemoryNotificationStore"]

V = TypeVar("V")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the storage only accepts timezone-aware datetimes")
    return moment.astimezone(UTC)


def _as_stored(value: V) -> V:
    """``value`` (a domain dataclass) with its datetimes in UTC, as a SQL store would read it back."""
    changes = {
        field.name: _utc(getattr(value, field.name))
        for field in dataclasses.fields(value)  # type: ignore[arg-type]
        if isinstance(getattr(value, field.name), datetime)
    }
    return dataclasses.replace(value, **changes)  # type: ignore[type-var]


class _Pingable:
    reachable: bool = True

    def ping(self) -> None:
        if not self.reachable:
            raise ConnectionError("database unreachable (fake)")


class InMemoryMonitorStore(_Pingable, MonitorStore):
    """Target locks are an in-process ``KeyedLock``: this store lives in one process."""

    def __init__(self) -> None:
        self._held = KeyedLock()
        self._lock = threading.Lock()
        self._targets: dict[str, Target] = {}
        self._results: dict[str, tuple[int, CheckResult]] = {}  # id -> (acceptance seq, result)
        self._seq = itertools.count(1)
        self._marked: set[str] = set()  # results not yet known to have reached alerting

    def target_lock(self, target_id: str) -> AbstractContextManager[None]:
        return self._held.hold(target_id)

    def add_target(self, target: Target) -> None:
        with self._lock:
            if any(existing.name == target.name and existing.tenant == target.tenant for existing in self._targets.values()):
                raise Conflict(f"a target named {target.name!r} exists already")
            if target.id in self._targets:
                raise ValueError(f"duplicate target id {target.id}")
            self._targets[target.id] = _as_stored(target)

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        with self._lock:
            mine = [target for target in self._targets.values() if target.tenant == tenant]
        ordered = sorted(mine, key=lambda target: (target.created_at, target.id))
        return TargetPage(items=ordered[offset:offset + limit], total=len(ordered))

    def get_target(self, target_id: str, tenant: str | None = None) -> Target:
        with self._lock:
            found = self._targets.get(target_id)
            if found is None or (tenant is not None and found.tenant != tenant):
                raise NotFound(f"target {target_id} not found")
            return found

    def remove_target(self, target_id: str, tenant: str) -> None:
        with self._lock:
            found = self._targets.get(target_id)
            if found is None or found.tenant != tenant:
                raise NotFound(f"target {target_id} not found")
            del self._targets[target_id]
            for result_id in [rid for rid, (_, r) in self._results.items() if r.target_id == target_id]:
                del self._results[result_id]
                self._marked.discard(result_id)

    def add_result(self, result: CheckResult, key: str | None, tenant: str | None = None) -> tuple[CheckResult, bool]:
        with self._lock:
            found = self._targets.get(result.target_id)
            if found is None or (tenant is not None and found.tenant != tenant):
                raise NotFound(f"target {result.target_id} not found")
            if result.id in self._results:
                return self._results[result.id][1], False
            stored = _as_stored(result)
            self._results[result.id] = (next(self._seq), stored)
            return stored, True

    def add_result_of_target(self, result: CheckResult, key: str | None, tenant: str | None = None
                             ) -> tuple[CheckResult, Target, bool]:
        target = self.get_target(result.target_id, tenant)
        stored, created = self.add_result(result, key, tenant)
        return stored, target, created

    def add_unannounced_result(self, result: CheckResult, key: str | None, tenant: str | None = None
                               ) -> tuple[CheckResult, Target, bool, list[CheckResult]]:
        target = self.get_target(result.target_id, tenant)
        stored, created = self.add_result(result, key, tenant)
        with self._lock:
            if created:
                self._marked.add(result.id)
            marked = sorted((self._results[rid] for rid in self._marked if self._results[rid][1].target_id == target.id),
                            key=lambda pair: pair[0])
            return stored, target, created, [r for _, r in marked]

    def settle(self, result_id: str) -> None:
        with self._lock:
            self._marked.discard(result_id)

    def find_result(self, result_id: str) -> tuple[CheckResult, Target] | None:
        with self._lock:
            if result_id not in self._results:
                return None
            result = self._results[result_id][1]
            target = self._targets.get(result.target_id)
        return (result, target) if target is not None else None

    def remove_result(self, result_id: str) -> None:
        with self._lock:
            self._results.pop(result_id, None)
            self._marked.discard(result_id)

    def list_results(self, target_id: str, limit: int) -> list[CheckResult]:
        with self._lock:
            mine = [(seq, r) for seq, r in self._results.values() if r.target_id == target_id]
        return [result for _, result in sorted(mine, key=lambda pair: pair[0], reverse=True)[:limit]]


@dataclasses.dataclass
class _TargetAlerting:
    """One target's alerting data; a unit of work edits a copy and swaps it in on commit."""

    state: RuleState = dataclasses.field(default_factory=RuleState)
    processed: dict[str, RuleState] = dataclasses.field(default_factory=dict)
    alerts: dict[str, tuple[int, Alert, str | None]] = dataclasses.field(default_factory=dict)  # id -> (seq, alert, resolved_by)

    def copy(self) -> _TargetAlerting:
        return _TargetAlerting(self.state, dict(self.processed), dict(self.alerts))


class InMemoryAlertingUnitOfWork(AlertingUnitOfWork):
    def __init__(self, store: InMemoryAlertingStore, target_id: str, data: _TargetAlerting) -> None:
        self._store = store
        self._target_id = target_id
        self._data = data

    def is_processed(self, key: str) -> bool:
        return key in self._data.processed

    def load_state(self) -> RuleState:
        return self._data.state

    def save_state(self, state: RuleState) -> None:
        self._data.state = state

    def mark_processed(self, key: str, previous: RuleState) -> None:
        self._data.processed.setdefault(key, previous)

    def processed_snapshot(self, key: str) -> RuleState | None:
        return self._data.processed.get(key)

    def unmark_processed(self, key: str) -> None:
        self._data.processed.pop(key, None)

    def changes_by(self, key: str) -> list[tuple[Alert, AlertEvent]]:
        changes: list[tuple[Alert, AlertEvent]] = []
        for _, alert, resolved_by in sorted(self._data.alerts.values(), key=lambda entry: entry[0]):
            if alert.opened_by_result_id == key:
                changes.append((alert, "alert_opened"))
            if resolved_by == key:
                changes.append((alert, "alert_resolved"))
        return changes

    def add_alert(self, alert: Alert) -> None:
        if self._store._alert_id_taken(alert.id) or alert.id in self._data.alerts:
            raise ValueError(f"duplicate alert id {alert.id}")
        self._data.alerts[alert.id] = (self._store._next_seq(), _as_stored(alert), None)

    def resolve_alert(self, kind: AlertKind, resolved_at: datetime, by_key: str) -> Alert | None:
        open_ones = [(seq, a) for seq, a, _ in self._data.alerts.values() if a.kind == kind and a.state == "open"]
        if not open_ones:
            return None
        seq, alert = max(open_ones, key=lambda pair: pair[0])
        resolved = dataclasses.replace(alert, state="resolved", resolved_at=_utc(resolved_at))
        self._data.alerts[alert.id] = (seq, resolved, by_key)
        return resolved

    def remove_alerts_opened_by(self, key: str) -> None:
        for alert_id in [i for i, (_, a, _) in self._data.alerts.items() if a.opened_by_result_id == key]:
            del self._data.alerts[alert_id]

    def reopen_alerts_resolved_by(self, key: str) -> None:
        for alert_id, (seq, alert, by) in list(self._data.alerts.items()):
            if by == key:
                self._data.alerts[alert_id] = (seq, dataclasses.replace(alert, state="open", resolved_at=None), None)


class InMemoryAlertingStore(_Pingable, AlertingStore):
    """Units of work on one target serialise on a per-target ``threading.Lock``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the dicts and the sequence, never held during a unit of work
        self._target_locks: dict[str, threading.Lock] = {}
        self._targets: dict[str, _TargetAlerting] = {}
        self._seq = itertools.count(1)

    @contextmanager
    def unit_of_work(self, target_id: str) -> Iterator[AlertingUnitOfWork]:
        with self._lock:
            target_lock = self._target_locks.setdefault(target_id, threading.Lock())
        with target_lock:
            with self._lock:
                working = self._targets.get(target_id, _TargetAlerting()).copy()
            yield InMemoryAlertingUnitOfWork(self, target_id, working)
            with self._lock:  # reached only when the block did not raise: commit
                self._targets[target_id] = working

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        with self._lock:
            everything = [(seq, a) for data in self._targets.values() for seq, a, _ in data.alerts.values()]
        chosen = [
            (seq, a) for seq, a in everything
            if a.tenant == tenant and (target_id is None or a.target_id == target_id) and (state is None or a.state == state)
        ]
        return [alert for _, alert in sorted(chosen, key=lambda pair: pair[0], reverse=True)]

    def _next_seq(self) -> int:
        with self._lock:
            return next(self._seq)

    def _alert_id_taken(self, alert_id: str) -> bool:
        with self._lock:
            return any(alert_id in data.alerts for data in self._targets.values())


class InMemoryNotificationStore(_Pingable, NotificationStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[Notification] = []  # insertion order
        self._claims: dict[tuple[str, str, str], Claim] = {}

    def find(self, alert_id: str, event: str) -> list[Notification]:
        with self._lock:
            return [n for n in self._rows if n.alert_id == alert_id and n.event == event]

    def add_all(self, notifications: list[Notification]) -> list[Notification]:
        with self._lock:
            taken = {(n.alert_id, n.event, n.channel) for n in self._rows}
            new: dict[tuple[str, str, str], Notification] = {}
            for item in notifications:
                unique = (item.alert_id, item.event, item.channel)
                if unique not in taken:
                    new.setdefault(unique, _as_stored(item))
            if any(n.id in {row.id for row in self._rows} for n in new.values()):
                raise ValueError("duplicate notification id")
            self._rows.extend(new[unique] for unique in sorted(new))
            events = {(n.alert_id, n.event) for n in notifications}
            return [n for n in self._rows if (n.alert_id, n.event) in events]

    def claim(self, alert_id: str, event: str, channel: str, token: str, now: datetime, lease_s: float) -> Claim:
        unique = (alert_id, event, channel)
        with self._lock:
            held = self._claims.get(unique)
            recorded = any((n.alert_id, n.event, n.channel) == unique for n in self._rows)
            if held is None or (held.claimed_at < _utc(now) - timedelta(seconds=lease_s) and not recorded):
                self._claims[unique] = held = Claim(token=token, claimed_at=_utc(now))
            return held

    def release(self, alert_id: str, event: str, channel: str, token: str) -> None:
        with self._lock:
            held = self._claims.get((alert_id, event, channel))
            if held is not None and held.token == token:
                del self._claims[(alert_id, event, channel)]

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        with self._lock:
            return [
                n for n in reversed(self._rows)
                if n.tenant == tenant and (target_id is None or n.target_id == target_id)
                and (alert_id is None or n.alert_id == alert_id)
            ]
