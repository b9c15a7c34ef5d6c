"""Outbound HTTP the services make on their own behalf: probing targets and posting webhooks."""
from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, cast

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool
from urllib3.response import BaseHTTPResponse
from urllib3.util import Retry, Timeout

from .ports import ProbeOutcome, Prober, WebhookOutcome, WebhookSender

PROBE_TIMEOUT_S = 5.0
WEBHOOK_TIMEOUT_S = 2.0
"""The most one webhook attempt may take (connecting, sending and reading the answer)."""
WEBHOOK_BUDGET_S = 3.0
"""The most one webhook delivery may take, every attempt and pause included."""
WEBHOOK_RETRIES = 3
"""Retries after the first attempt: at most ``WEBHOOK_RETRIES + 1`` POSTs per delivery."""
WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRIES + 1
WEBHOOK_BACKOFF_S = 0.2
"""urllib3's ``backoff_factor``: pauses of 0, 0.4 and 0.8 s before the 2nd, 3rd and 4th attempts."""
WEBHOOK_RETRY_STATUSES = (429, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511)
IDEMPOTENCY_HEADER = "Idempotency-Key"
_MIN_ATTEMPT_S = 0.05  # an attempt with less budget left than this is not started


class HttpProber(Prober):
    """HTTP GET with a 5 s timeout on one reused session; ok when the status is below 400."""

    def __init__(self, session: requests.Session | None = None, timeout_s: float = PROBE_TIMEOUT_S):
        self._session = session or requests.Session()
        self._timeout_s = timeout_s

    def probe(self, url: str) -> ProbeOutcome:
        started = time.perf_counter()
        try:
            response = self._session.get(url, timeout=self._timeout_s, allow_redirects=True)
        except requests.RequestException:
            return ProbeOutcome(ok=False, latency_ms=_elapsed_ms(started), status_code=None)
        return ProbeOutcome(ok=response.status_code < 400, latency_ms=_elapsed_ms(started), status_code=response.status_code)


# --------------------------------------------------------------------------- webhooks


@dataclass
class _Delivery:
    """One delivery's budget and how its attempts went (urllib3 calls ``increment`` once per failed attempt)."""

    deadline: float  # time.monotonic()
    failed: int = 0
    gave_up: bool = False  # the last failed attempt was not retried

    @property
    def attempts(self) -> int:
        return max(1, self.failed if self.gave_up else self.failed + 1)

    def left(self) -> float:
        return self.deadline - time.monotonic()


_current: contextvars.ContextVar[_Delivery | None] = contextvars.ContextVar("webhook_delivery", default=None)


class BudgetRetry(Retry):
    """urllib3's ``Retry`` that counts the attempts of the delivery under way and never starts one, nor
    pauses before one, past that delivery's budget (without a delivery under way: plain ``Retry``)."""

    def increment(self, method: str | None = None, url: str | None = None, response: BaseHTTPResponse | None = None,
                  error: Exception | None = None, _pool: ConnectionPool | None = None,
                  _stacktrace: TracebackType | None = None) -> Self:
        delivery = _current.get()
        if delivery is not None:
            delivery.failed += 1
        try:
            return super().increment(method, url, response, error, _pool, _stacktrace)
        except Exception:
            if delivery is not None:
                delivery.gave_up = True
            raise

    def is_exhausted(self) -> bool:
        delivery = _current.get()
        out_of_time = delivery is not None and delivery.left() - self.get_backoff_time() < _MIN_ATTEMPT_S
        return super().is_exhausted() or out_of_time


class _BudgetTimeout(Timeout):
    """An attempt's timeouts: ``limit_s`` for the whole attempt (connecting, sending, then reading, as urllib3's
    ``total``), and never more than what is left of the delivery's budget."""

    def __init__(self, limit_s: float, delivery: _Delivery):
        super().__init__(connect=limit_s, read=limit_s)
        self._limit_s = limit_s
        self._delivery = delivery

    def clone(self) -> Timeout:  # urllib3 clones the timeout for each attempt
        return _BudgetTimeout(self._limit_s, self._delivery)

    def _capped(self, spent: float) -> float:
        return max(_MIN_ATTEMPT_S, min(self._limit_s - spent, self._delivery.left()))

    @property
    def connect_timeout(self) -> float:  # type: ignore[override]
        return self._capped(0.0)

    @property
    def read_timeout(self) -> float:  # type: ignore[override]
        return self._capped(0.0 if self._start_connect is None else self.get_connect_duration())


def webhook_retry() -> Retry:
    """The retry policy of webhook POSTs (see :class:`HttpWebhookSender`)."""
    return BudgetRetry(
        total=WEBHOOK_RETRIES, connect=WEBHOOK_RETRIES, read=WEBHOOK_RETRIES, status=WEBHOOK_RETRIES, other=0,
        redirect=0, backoff_factor=WEBHOOK_BACKOFF_S, backoff_max=1.0, status_forcelist=WEBHOOK_RETRY_STATUSES,
        allowed_methods=frozenset({"POST"}), respect_retry_after_header=False, raise_on_status=False,
    )


class HttpWebhookSender(WebhookSender):
    """POST JSON with retries, within a time budget; every attempt carries the delivery's ``Idempotency-Key``.

    Policy (urllib3's ``Retry`` mounted on the session): an attempt is retried after a connection error,
    a read error or timeout, or an answer of 429 or 5xx, up to 3 retries (4 POSTs), pausing 0, 0.4 and
    0.8 s before them. POST is retried although it is not idempotent in HTTP: the ``Idempotency-Key``
    header (the same on every attempt and on every delivery of one alert change) lets the receiver drop
    a repeat. Other answers (2xx, 3xx, 4xx but 429) end the delivery at once; a ``Retry-After`` header
    is not waited for.

    Budget: each attempt may take up to 2 s (connecting, sending and reading), the whole delivery 3 s:
    no attempt starts, and no pause is made, past that budget, and an attempt's timeouts shrink to what
    is left of it. Trade-off: the direct apps deliver inside the synchronous chain of ``POST
    /targets/{id}/results``, each hop of which has a 5 s deadline (``CALL_TIMEOUT_S``); 3 s leaves the
    hops and the databases 2 s. A receiver that answers in 2 to 3 s, or is down for more than 3 s, is
    recorded ``failed``; a longer budget would turn those into 504s of the public API instead.
    """

    def __init__(self, session: requests.Session | None = None, timeout_s: float = WEBHOOK_TIMEOUT_S,
                 budget_s: float = WEBHOOK_BUDGET_S):
        self._session = session or requests.Session()
        adapter = HTTPAdapter(max_retries=webhook_retry())
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._timeout_s = timeout_s
        self._budget_s = budget_s

    def post(self, url: str, payload: dict) -> bool:
        """One delivery as :meth:`deliver` makes it, without an idempotency key."""
        return self._send(url, payload, {}).delivered

    def deliver(self, url: str, payload: dict, idempotency_key: str) -> WebhookOutcome:
        return self._send(url, payload, {IDEMPOTENCY_HEADER: idempotency_key})

    def _send(self, url: str, payload: dict, headers: dict[str, str]) -> WebhookOutcome:
        delivery = _Delivery(deadline=time.monotonic() + self._budget_s)
        token = _current.set(delivery)
        try:
            timeout = cast(Any, _BudgetTimeout(self._timeout_s, delivery))  # requests hands it to urllib3 as is
            response = self._session.post(url, json=payload, headers=headers, timeout=timeout)
            delivered = 200 <= response.status_code < 300
        except requests.RequestException:
            delivered = False
        finally:
            _current.reset(token)
        return WebhookOutcome(delivered=delivered, attempts=delivery.attempts)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)
