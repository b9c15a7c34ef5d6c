"""The abstractions the service cores depend on: storage per service, and the two outbound HTTP uses.

Real implementations: ``shared.storage`` (SQLAlchemy) and ``shared.outbound`` (requests). Test fakes
subclass these classes. No framework imports here.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from .domain import Alert, AlertEvent, AlertKind, CheckResult, Notification, Target, TargetPage
from .rules import RuleState


class MonitorStore(ABC):
    """Targets and results, owned by the monitor service."""

    @abstractmethod
    def target_lock(self, target_id: str) -> AbstractContextManager[None]:
        """Hold ``target_id`` for the duration of the ``with`` block, against every other holder of it.

        Holders of one target, in any thread of any process that shares this store's database, run
        their blocks one after the other; holders of different targets do not wait for each other.
        The target need not exist. Not re-entrant: holding the same target again inside the block
        raises ``RuntimeError``. Store calls made inside the block take effect (commit) as they are
        made, not at its end.
        """

    @abstractmethod
    def add_target(self, target: Target) -> None:
        """Store a new target. Raises ``Conflict`` when another target of its tenant has the same name (another
        tenant's target may have it)."""

    @abstractmethod
    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        """``tenant``'s targets, oldest first, with their total count."""

    @abstractmethod
    def get_target(self, target_id: str, tenant: str | None = None) -> Target:
        """Raises ``NotFound``, also when ``tenant`` is given and the target is another tenant's (None: any
        tenant's, for the service's own bookkeeping, never for a client's request)."""

    @abstractmethod
    def remove_target(self, target_id: str, tenant: str) -> None:
        """Remove a target of ``tenant`` and its results. Raises ``NotFound`` (also for another tenant's)."""

    @abstractmethod
    def add_result(self, result: CheckResult, key: str | None) -> tuple[CheckResult, bool]:
        """Store ``result`` unless a result with its id exists; return the stored one and whether it is new.

        Ids are derived from the idempotency key when there is one, so a repeated key finds the first
        result. Raises ``NotFound`` when the target does not exist (any more).
        """

    def add_result_of_target(self, result: CheckResult, key: str | None, tenant: str | None = None
                             ) -> tuple[CheckResult, Target, bool]:
        """:meth:`add_result`, also returning the result's target as it was when the result was stored.

        Raises ``NotFound`` when the target does not exist (any more), or is not ``tenant``'s (when given); then
        nothing is stored. This default reads the target, then stores the result; a store may do both in one
        transaction.
        """
        target = self.get_target(result.target_id, tenant)
        stored, created = self.add_result(result, key)
        return stored, target, created

    @abstractmethod
    def add_unannounced_result(self, result: CheckResult, key: str | None, tenant: str | None = None
                               ) -> tuple[CheckResult, Target, bool, list[CheckResult]]:
        """:meth:`add_result_of_target` (``tenant`` included) for a result that must reach a peer (alerting) before it counts as
        announced: the result is stored with a mark that says so, in the same transaction (an outbox).

        Returns the stored result, its target, whether it is new, and the target's results still marked
        (this one included while it is), oldest first. A result stays marked until :meth:`settle`, so a
        process that dies between storing and announcing leaves the mark, and whoever holds the target next
        announces the result again (the peer applies a result once, by its id).
        """

    @abstractmethod
    def settle(self, result_id: str) -> None:
        """Remove the mark of ``result_id``: the peer has it. No error if it has none."""

    @abstractmethod
    def find_result(self, result_id: str) -> tuple[CheckResult, Target] | None:
        """The result with ``result_id`` and its target, or None."""

    @abstractmethod
    def remove_result(self, result_id: str) -> None:
        """Undo ``add_result`` (compensation when forwarding the result failed for sure), its mark included.
        No error if absent."""

    @abstractmethod
    def list_results(self, target_id: str, limit: int) -> list[CheckResult]:
        """Newest (last accepted) first."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the database cannot be reached."""


class AlertingUnitOfWork(ABC):
    """One transaction on one target's rule state, which it holds locked until it ends.

    Leaving the ``with`` block normally commits; an exception rolls back.
    """

    @abstractmethod
    def is_processed(self, key: str) -> bool:
        """Whether a result/event with this key was applied already (idempotency)."""

    @abstractmethod
    def load_state(self) -> RuleState: ...

    @abstractmethod
    def save_state(self, state: RuleState) -> None: ...

    @abstractmethod
    def mark_processed(self, key: str, previous: RuleState) -> None:
        """Record ``key`` as applied, with the state before it (so ``revert`` can restore it)."""

    @abstractmethod
    def processed_snapshot(self, key: str) -> RuleState | None:
        """The state recorded before ``key`` was applied, or None if it was not applied."""

    @abstractmethod
    def unmark_processed(self, key: str) -> None: ...

    @abstractmethod
    def changes_by(self, key: str) -> list[tuple[Alert, AlertEvent]]:
        """The alerts that applying ``key`` opened or resolved, as they are stored now, oldest first."""

    @abstractmethod
    def add_alert(self, alert: Alert) -> None: ...

    @abstractmethod
    def resolve_alert(self, kind: AlertKind, resolved_at: datetime, by_key: str) -> Alert | None:
        """Resolve this target's open alert of ``kind``; return it resolved (None if none is open)."""

    @abstractmethod
    def remove_alerts_opened_by(self, key: str) -> None: ...

    @abstractmethod
    def reopen_alerts_resolved_by(self, key: str) -> None: ...


class AlertingStore(ABC):
    """Rule state per target and alerts, owned by the alerting service."""

    @abstractmethod
    def unit_of_work(self, target_id: str) -> AbstractContextManager[AlertingUnitOfWork]:
        """A transaction holding ``target_id``'s rule state locked against concurrent evaluation."""

    @abstractmethod
    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        """``tenant``'s alerts, newest first."""

    @abstractmethod
    def ping(self) -> None: ...


class NotificationStore(ABC):
    """Notifications, owned by the notification service."""

    @abstractmethod
    def find(self, alert_id: str, event: str) -> list[Notification]:
        """The notifications already recorded for this alert event (empty if none)."""

    @abstractmethod
    def add_all(self, notifications: list[Notification]) -> list[Notification]:
        """Record them atomically unless the same (alert_id, event, channel) exists; return what is stored."""

    @abstractmethod
    def claim(self, alert_id: str, event: str, channel: str, token: str, now: datetime, lease_s: float) -> Claim:
        """Claim the send of (``alert_id``, ``event``, ``channel``) for ``token``; return the claim as it stands.

        The caller holds it when the returned ``token`` is its own: the key had no claim, or its claim is
        older than ``lease_s`` at ``now`` (its claimant is presumed dead) and no notification is recorded
        for the key (it is taken over). Otherwise the current holder's claim is returned unchanged. The
        claim is committed before this returns, and among concurrent callers, in any process sharing the
        store's database, at most one gets a given claim. Claims stay after the send is recorded.
        """

    @abstractmethod
    def release(self, alert_id: str, event: str, channel: str, token: str) -> None:
        """Remove the claim on the key if ``token`` holds it (a claimant that failed); else do nothing."""

    @abstractmethod
    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        """``tenant``'s notifications, newest first."""

    @abstractmethod
    def ping(self) -> None: ...


@dataclass(frozen=True)
class Claim:
    """Who holds the send of one (alert, event, channel), since when."""

    token: str
    claimed_at: datetime


@dataclass(frozen=True)
class ProbeOutcome:
    ok: bool
    latency_ms: float
    status_code: int | None


class Prober(ABC):
    @abstractmethod
    def probe(self, url: str) -> ProbeOutcome:
        """HTTP GET ``url`` (5 s timeout); ok when the status is below 400. Never raises for network errors."""


@dataclass(frozen=True)
class WebhookOutcome:
    delivered: bool
    """The receiver answered 2xx (to the last attempt)."""
    attempts: int
    """POSTs made, retries included (at least 1)."""


class WebhookSender(ABC):
    @abstractmethod
    def post(self, url: str, payload: dict) -> bool:
        """POST ``payload`` as JSON; True when the receiver answered 2xx. Never raises."""

    def deliver(self, url: str, payload: dict, idempotency_key: str) -> WebhookOutcome:
        """POST ``payload`` as JSON with the header ``Idempotency-Key: <idempotency_key>`` on every attempt,
        retrying as the implementation's policy says, within its time budget. Never raises.

        This default makes one :meth:`post` (1 attempt) and sends no key; real senders override it.
        """
        return WebhookOutcome(delivered=self.post(url, payload), attempts=1)
