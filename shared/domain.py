"""The monitoring domain: value objects and the errors every variant maps to the same HTTP answer.

Pure data: no framework imports. Times are timezone-aware UTC ``datetime`` objects; the edge and the
wire codecs turn them into ISO 8601 strings with :func:`iso`.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

AlertKind = Literal["down", "slow"]
AlertState = Literal["open", "resolved"]
AlertEvent = Literal["alert_opened", "alert_resolved"]
Channel = Literal["log", "webhook"]
DeliveryStatus = Literal["sent", "failed"]

DEFAULT_TENANT = "dev"
MAX_PAGE = 500
"""The most items one listing returns (``limit``), at the edge and in every service."""
MAX_OFFSET = 2**63 - 1
"""The largest ``offset`` a listing takes (a database's signed 64-bit integer)."""

"""The tenant of the development key (``make run``, the harness), and of a value built without one."""

# Namespace for ids derived from other ids, so a retried operation re-creates the same id.
_ID_NAMESPACE = uuid.UUID("8f0b6f4e-5c39-4f47-9a51-3c1c4e0c9d2a")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and a ``Z`` suffix, the one format of the public contract."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def derived_id(*parts: str) -> str:
    """A stable id for something that exists because of ``parts`` (an idempotency key, a result)."""
    return str(uuid.uuid5(_ID_NAMESPACE, "\x1f".join(parts)))


# --------------------------------------------------------------------------- errors

class DomainError(Exception):
    """Base of the errors a service may raise; ``code`` is the public error code."""

    code = "internal"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    code = "invalid_argument"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Unavailable(DomainError):
    """A service, peer or broker that the operation needs is down."""

    code = "unavailable"


class DeadlineExceeded(DomainError):
    """A downstream did not answer within its deadline."""

    code = "timeout"


ERRORS_BY_CODE: dict[str, type[DomainError]] = {
    cls.code: cls for cls in (DomainError, InvalidArgument, NotFound, Conflict, Unavailable, DeadlineExceeded)
}


def check_page(limit: int, offset: int = 0) -> None:
    """``InvalidArgument`` unless ``limit`` is in [1, MAX_PAGE] and ``offset`` in [0, MAX_OFFSET]: what the edge
    accepts, checked again where an internal call arrives."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidArgument(f"limit must be in [1, {MAX_PAGE}], not {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidArgument(f"offset must be in [0, {MAX_OFFSET}], not {offset}")


def error_from_code(code: str, message: str) -> DomainError:
    """Rebuild a domain error that crossed a process boundary as ``(code, message)``."""
    return ERRORS_BY_CODE.get(code, DomainError)(message)


# --------------------------------------------------------------------------- values

@dataclass(frozen=True)
class NewTarget:
    name: str
    url: str
    interval_s: int = 60
    failure_threshold: int = 3
    latency_threshold_ms: int | None = None
    webhook_url: str | None = None


@dataclass(frozen=True)
class Target:
    id: str
    name: str
    url: str
    interval_s: int
    failure_threshold: int
    latency_threshold_ms: int | None
    webhook_url: str | None
    created_at: datetime
    tenant: str = DEFAULT_TENANT
    """Whose target it is: only its tenant's API keys see it; its name is unique within the tenant."""

    @property
    def rule_params(self) -> RuleParams:
        return RuleParams(self.failure_threshold, self.latency_threshold_ms, self.webhook_url, self.tenant)


@dataclass(frozen=True)
class TargetPage:
    items: list[Target]
    total: int


@dataclass(frozen=True)
class NewResult:
    """A check result as submitted; ``key`` is the client's optional idempotency key."""

    ok: bool
    latency_ms: float
    status_code: int | None = None
    checked_at: datetime | None = None
    key: str | None = None


@dataclass(frozen=True)
class CheckResult:
    id: str
    target_id: str
    ok: bool
    latency_ms: float
    status_code: int | None
    checked_at: datetime
    received_at: datetime


@dataclass(frozen=True)
class RuleParams:
    """What alerting needs of a target; it travels with each result (alerting never reads targets)."""

    failure_threshold: int
    latency_threshold_ms: int | None
    webhook_url: str | None
    tenant: str = DEFAULT_TENANT
    """The target's tenant, which the alerts it causes belong to."""


@dataclass(frozen=True)
class Alert:
    id: str
    target_id: str
    kind: AlertKind
    state: AlertState
    opened_at: datetime
    resolved_at: datetime | None
    opened_by_result_id: str
    tenant: str = DEFAULT_TENANT
    """The tenant of the alert's target (from the result's ``RuleParams``); its notifications belong to it too."""


@dataclass(frozen=True)
class AlertChange:
    """An alert that was just opened or resolved, with where to deliver it (the webhook URL travels along)."""

    alert: Alert
    event: AlertEvent
    webhook_url: str | None


@dataclass(frozen=True)
class Notification:
    id: str
    alert_id: str
    target_id: str
    event: AlertEvent
    channel: Channel
    status: DeliveryStatus
    message: str
    created_at: datetime
    attempts: int = 1
    """How many times the channel tried to deliver it: 1 for ``log``; for ``webhook`` the POSTs made,
    retries included (the last one succeeded when ``status`` is ``sent``)."""
    tenant: str = DEFAULT_TENANT
    """The tenant of the alert (and target) it is about."""
