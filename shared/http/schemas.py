"""The one schema source of the public contract, as pydantic v2 models.

Request models validate what clients send: bodies (strict JSON: booleans are not integers, a float
is an integer only when it is integer-valued, as JSON Schema's ``integer`` says (``242.0``, not ``242.5``),
unknown fields are rejected, numbers are finite) and query strings (text converted to integers, unknown
parameters rejected). No string input, body field or query parameter, may hold a control character
(U+0000 to U+001F, U+007F): PostgreSQL cannot store NUL, and none of these fields can sensibly hold one.
Response models only feed the OpenAPI document; the serialisers in :mod:`shared.serialize` produce exactly
their fields, in their order.
Each constraint is written once, as an ``Annotated`` type, and used by every model that needs it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from .. import domain
from ..auth import check_tenant
from ..domain import (
    MAX_OFFSET,
    MAX_PAGE,
    AlertEvent,
    AlertKind,
    AlertState,
    Channel,
    DeliveryStatus,
    InvalidArgument,
    NewResult,
    NewTarget,
)

_STRICT_BODY = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
_QUERY = ConfigDict(extra="forbid")

# --------------------------------------------------------------------------- constrained types

# No C0 control character (NUL included) nor DEL; the same text in Python's and in JSON Schema's regex dialect.
_NO_CONTROL_PATTERN = r"^[^\u0000-\u001F\u007F]*$"
_CONTROL = re.compile(r"[\u0000-\u001F\u007F]")

_HTTP_URL = TypeAdapter(HttpUrl)
# "http(s)://", then a host (not a further slash: "http:///x" would silently become "http://x/"), no whitespace
# and no control character.
_HTTP_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/\\\u0000-\u001F\u007F][^\s\u0000-\u001F\u007F]*$"
_HTTP_URL_SHAPE = re.compile(_HTTP_URL_PATTERN)


def _http_url_problem(value: str) -> str | None:
    """Why ``value`` is not an absolute http(s) URL with a host; None when it is one."""
    if _HTTP_URL_SHAPE.fullmatch(value) is None:
        return "it must start with http:// or https:// and a host, without spaces"
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError as error:
        return str(error.errors()[0]["msg"])
    return None


def _require_http_url(value: str) -> str:
    """Return ``value`` unchanged when it is an absolute http(s) URL with a host, else a readable error.

    The client's spelling is kept (no normalisation), so a target's ``url`` reads back as it was sent.
    """
    problem = _http_url_problem(value)
    if problem is not None:
        raise PydanticCustomError(
            "url_parsing", "Input should be an absolute http(s) URL with a host ({reason})", {"reason": problem},
        )
    return value


def _refuse_control(value: str) -> str:
    """``value`` unchanged unless it holds a control character (U+0000 to U+001F, U+007F)."""
    if _CONTROL.search(value) is not None:
        raise PydanticCustomError(
            "string_control_character", "Input should not contain control characters (U+0000 to U+001F, U+007F)",
        )
    return value


def _whole_float_as_int(value: object) -> object:
    """An integer-valued JSON number (``242.0``) is that integer, as JSON Schema's ``integer`` allows; a boolean stays
    a boolean (refused) and ``242.5`` stays a float (refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _as_utc(moment: datetime) -> datetime:
    """Timezone-aware UTC; a naive time is taken to be UTC already."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return aware.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_range", "Input should be a time between years 1 and 9999 in UTC") from None


def _blank_as_absent(value: object) -> object:
    """An empty query parameter (``?state=``) means the parameter was not given."""
    return None if value == "" else value


PlainText = Annotated[str, Field(json_schema_extra={"pattern": _NO_CONTROL_PATTERN}), AfterValidator(_refuse_control)]
"""Text without control characters: the base of every string a client sends (but enums and fixed patterns)."""
Name = Annotated[PlainText, Field(min_length=1, max_length=100)]
HttpUrlText = Annotated[
    str,
    Field(max_length=2048, json_schema_extra={"format": "uri", "pattern": _HTTP_URL_PATTERN}),
    AfterValidator(_refuse_control),
    AfterValidator(_require_http_url),
]
_WHOLE = BeforeValidator(_whole_float_as_int)
"""On an ``int`` of a body: an integer-valued float such as ``242.0`` is accepted (JSON Schema's ``integer``)."""
IntervalS = Annotated[int, Field(ge=5, le=86400), _WHOLE]
FailureThreshold = Annotated[int, Field(ge=1, le=100), _WHOLE]
LatencyThresholdMs = Annotated[int, Field(ge=1, le=600000), _WHOLE]
LatencyMs = Annotated[float, Field(ge=0, allow_inf_nan=False)]
StatusCode = Annotated[int, Field(ge=100, le=599), _WHOLE]
UtcTime = Annotated[datetime, AfterValidator(_as_utc), Field(description="ISO 8601; a time without an offset is UTC")]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE)]
# Bounded by the signed 64-bit range so that no SQL backend overflows on it.
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
Filter = Annotated[PlainText | None, BeforeValidator(_blank_as_absent)]
"""An id filter; empty (``?target_id=``) means not given."""
Attempts = Annotated[int, Field(ge=1, description="Delivery attempts made: 1 for log; for webhook the POSTs, retries included")]

# --------------------------------------------------------------------------- request bodies


class TargetCreate(BaseModel):
    """Body of ``POST /targets``."""

    model_config = _STRICT_BODY

    name: Name
    url: HttpUrlText
    interval_s: IntervalS = 60
    failure_threshold: FailureThreshold = 3
    latency_threshold_ms: LatencyThresholdMs | None = None
    webhook_url: HttpUrlText | None = None

    def to_domain(self) -> NewTarget:
        return NewTarget(**self.model_dump())


class ResultCreate(BaseModel):
    """Body of ``POST /targets/{target_id}/results``; ``id`` is the client's optional idempotency key."""

    model_config = _STRICT_BODY

    ok: bool
    latency_ms: LatencyMs
    status_code: StatusCode | None = None
    checked_at: UtcTime | None = None
    id: IdempotencyKey | None = None

    def to_domain(self) -> NewResult:
        return NewResult(
            ok=self.ok, latency_ms=self.latency_ms, status_code=self.status_code,
            checked_at=self.checked_at, key=self.id,
        )


class RuleParamsCheck(BaseModel):
    """What alerting receives with each result (from a target of :class:`TargetCreate`): the same constraints."""

    model_config = _STRICT_BODY

    failure_threshold: FailureThreshold
    latency_threshold_ms: LatencyThresholdMs | None = None
    webhook_url: HttpUrlText | None = None


class WebhookCheck(BaseModel):
    """Where an alert change is delivered: a webhook URL as :class:`TargetCreate` takes one."""

    model_config = _STRICT_BODY

    webhook_url: HttpUrlText


class CheckRequest(BaseModel):
    """Optional body of ``POST /targets/{target_id}/check``: nothing, or an empty object."""

    model_config = _STRICT_BODY


# --------------------------------------------------------------------------- query strings


class TargetsQuery(BaseModel):
    model_config = _QUERY

    limit: Limit = 50
    offset: Offset = 0


class ResultsQuery(BaseModel):
    model_config = _QUERY

    limit: Limit = 50


class AlertsQuery(BaseModel):
    model_config = _QUERY

    target_id: Filter = None
    state: AlertState | None = None  # empty (``?state=``) is not a state: 400


class NotificationsQuery(BaseModel):
    model_config = _QUERY

    target_id: Filter = None
    alert_id: Filter = None


# --------------------------------------------------------------------------- responses (documentation only)


class Target(BaseModel):
    id: UUID
    name: Name
    url: HttpUrlText
    interval_s: IntervalS
    failure_threshold: FailureThreshold
    latency_threshold_ms: LatencyThresholdMs | None
    webhook_url: HttpUrlText | None
    created_at: datetime


class CheckResult(BaseModel):
    id: UUID
    target_id: UUID
    ok: bool
    latency_ms: LatencyMs
    status_code: StatusCode | None
    checked_at: datetime
    received_at: datetime


class Alert(BaseModel):
    id: UUID
    target_id: UUID
    kind: AlertKind
    state: AlertState
    opened_at: datetime
    resolved_at: datetime | None
    opened_by_result_id: UUID


class Notification(BaseModel):
    id: UUID
    alert_id: UUID
    target_id: UUID
    event: AlertEvent
    channel: Channel
    status: DeliveryStatus
    attempts: Attempts
    message: str
    created_at: datetime


class TargetPage(BaseModel):
    items: list[Target]
    total: int


class ResultList(BaseModel):
    items: list[CheckResult]


class AlertList(BaseModel):
    items: list[Alert]


class NotificationList(BaseModel):
    items: list[Notification]


class ResultAccepted(BaseModel):
    id: UUID
    target_id: UUID
    accepted: Literal[True]


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class NotReady(BaseModel):
    error: ErrorDetail
    reasons: list[str]


# --------------------------------------------------------------------------- internal calls

# An internal server (a service behind the api: its gRPC or HTTP server, its bus handlers) checks what it is sent
# against the public schema, so a call that bypasses the api cannot store what the api refuses.


def invalid_input(error: ValidationError, subject: str = "body") -> InvalidArgument:
    """A pydantic error as ``InvalidArgument`` naming each failing field: ``"interval_s: Input should be ..."``.

    An error about the whole input (malformed JSON, not an object) is attributed to ``subject``.
    Input values are never echoed.
    """
    messages = [
        f"{'.'.join(str(part) for part in detail['loc']) or subject}: {detail['msg']}"
        for detail in error.errors(include_url=False, include_input=False)
    ]
    return InvalidArgument("; ".join(messages))


def _check(model: type[BaseModel], data: dict, subject: str) -> None:
    try:
        model.model_validate(data)
    except ValidationError as error:
        raise invalid_input(error, subject) from None


def check_new_target(new: NewTarget) -> NewTarget:
    """``new`` if :class:`TargetCreate` accepts its fields, else ``InvalidArgument``."""
    _check(TargetCreate, {
        "name": new.name, "url": new.url, "interval_s": new.interval_s, "failure_threshold": new.failure_threshold,
        "latency_threshold_ms": new.latency_threshold_ms, "webhook_url": new.webhook_url,
    }, "target")
    return new


def check_new_result(new: NewResult) -> NewResult:
    """``new`` if :class:`ResultCreate` accepts its fields, else ``InvalidArgument``."""
    _check(ResultCreate, {
        "ok": new.ok, "latency_ms": new.latency_ms, "status_code": new.status_code, "checked_at": new.checked_at,
        "id": new.key,
    }, "result")
    return new


def check_check_result(result: domain.CheckResult) -> domain.CheckResult:
    """A stored result passed on to alerting: ``ok`` and ``latency_ms`` as :class:`ResultCreate` takes them (its
    status code may come from a probe, which records whatever the target answered)."""
    _check(ResultCreate, {"ok": result.ok, "latency_ms": result.latency_ms}, "result")
    return result


def _check_tenant(tenant: str, subject: str) -> None:
    """A tenant name as API keys name them (``shared.auth``): what every value that belongs to a tenant carries."""
    try:
        check_tenant(tenant)
    except ValueError as error:
        raise InvalidArgument(f"{subject}: {error}") from None


def check_owned(value: domain.Target | domain.Alert | domain.Notification) -> object:
    """A target, alert or notification from the wire: its tenant must be a tenant name."""
    _check_tenant(value.tenant, type(value).__name__.lower())
    return value


def check_rule_params(params: domain.RuleParams) -> domain.RuleParams:
    """Rule parameters sent to alerting, as :class:`TargetCreate` takes them, with the target's tenant."""
    _check_tenant(params.tenant, "params")
    _check(RuleParamsCheck, {
        "failure_threshold": params.failure_threshold, "latency_threshold_ms": params.latency_threshold_ms,
        "webhook_url": params.webhook_url,
    }, "params")
    return params


def check_alert_change(change: domain.AlertChange) -> domain.AlertChange:
    """An alert change sent to notification: its webhook URL as :class:`TargetCreate` takes one."""
    _check_tenant(change.alert.tenant, "change")
    if change.webhook_url is not None:
        _check(WebhookCheck, {"webhook_url": change.webhook_url}, "change")
    return change


_CHECKS: dict[type, Callable[[Any], object]] = {
    NewTarget: check_new_target,
    NewResult: check_new_result,
    domain.CheckResult: check_check_result,
    domain.RuleParams: check_rule_params,
    domain.AlertChange: check_alert_change,
    domain.Target: check_owned,
    domain.Alert: check_owned,
    domain.Notification: check_owned,
}


def check_decoded(value: object) -> None:
    """What an internal server's codec calls on each domain value it decodes from the wire: ``InvalidArgument`` when
    the public schema refuses it (values of other types pass)."""
    check = _CHECKS.get(type(value))
    if check is not None:
        check(value)
