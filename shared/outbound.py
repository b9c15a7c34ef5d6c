"""Outbound HTTP the services make on their own behalf: probing targets and posting webhooks.

Both go through one guard (:class:`OutboundGuard`), because the URLs come from API clients: a URL with
credentials (``user:pass@``) is refused, its host is resolved, and it is refused unless every address it
resolves to is public (not loopback, private, link-local, multicast, reserved or unspecified, IPv4 or IPv6,
IPv4-mapped and 6to4/Teredo-embedded addresses included) or inside the allowlist (``OUTBOUND_ALLOW``: host names,
addresses or networks).
The connection is then made to the address that was checked (no second lookup, so no DNS rebinding between
check and connect), with the URL's host in the Host header and in TLS (SNI and certificate check). Redirects are
never followed: a 3xx is the outcome. Proxies from the environment are ignored.
"""
from __future__ import annotations

import contextvars
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, cast

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import BaseHTTPResponse
from urllib3.util import Retry, Timeout, parse_url

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

_log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- the destination guard

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolve = Callable[[str, int], list[str]]
"""``resolve(host, port)``: the addresses ``host`` stands for (an IP literal stands for itself)."""


class RefusedDestination(Exception):
    """An outbound URL the guard will not connect to; the message says why (never the URL's credentials)."""


def parse_allow(values: Iterable[str]) -> tuple[tuple[IpNetwork, ...], frozenset[str]]:
    """Networks (``127.0.0.1/32``, ``10.0.0.0/8``, a bare address; host bits allowed) and host names
    (``sink.local``) of an allowlist."""
    networks, hosts = [], set()
    for value in (v.strip() for v in values):
        if not value:
            continue
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            hosts.add(_host_key(value))
    return tuple(networks), frozenset(hosts)


def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``getaddrinfo`` gives for ``host`` (also decimal or octal IPv4 spellings, as connect would)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded(ip: IpAddress) -> list[IpAddress]:
    """``ip`` and the IPv4 addresses an IPv6 address carries (IPv4-mapped, 6to4, Teredo)."""
    found: list[IpAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        found += [v4 for v4 in (ip.ipv4_mapped, ip.sixtofour) if v4 is not None]
        if ip.teredo is not None:
            found += list(ip.teredo)
    return found


def is_public(ip: IpAddress) -> bool:
    """A globally routable unicast address (nothing it embeds is loopback, private, link-local, reserved...)."""
    return all(
        one.is_global and not (one.is_multicast or one.is_reserved or one.is_unspecified or one.is_loopback
                               or one.is_link_local or one.is_private)
        for one in _embedded(ip)
    )


def _host_key(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class Destination:
    """Where a checked URL may be fetched: its host (as the connection pool names it), port and checked address."""

    host: str
    port: int
    address: str


class OutboundGuard:
    """Decides whether a URL may be fetched, and pins the connection to the address it checked."""

    def __init__(self, allow: Iterable[str] = (), resolve: Resolve = system_resolve):
        self._allow, self._allow_hosts = parse_allow(allow)
        self._resolve = resolve

    def permits(self, ip: IpAddress) -> bool:
        """Public, or (itself or the IPv4 address it maps) inside the allowlist."""
        return is_public(ip) or any(one in net for one in _embedded(ip) for net in self._allow if one.version == net.version)

    def check(self, url: str) -> Destination:
        """The destination of ``url`` as requests will send it, or :class:`RefusedDestination`."""
        try:
            prepared = requests.Request("GET", url).prepare().url or ""  # the URL exactly as requests sends it
            parts = parse_url(prepared)
        except (requests.RequestException, ValueError) as error:
            raise RefusedDestination(f"not a usable URL ({type(error).__name__})") from None
        if parts.scheme not in ("http", "https") or not parts.host:
            raise RefusedDestination("only http and https URLs with a host are fetched")
        if parts.auth is not None:
            raise RefusedDestination("URLs with credentials (user:password@) are not fetched")
        host = _host_key(parts.host)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = self._resolve(host, port)
        except (OSError, UnicodeError) as error:
            raise RefusedDestination(f"host does not resolve ({type(error).__name__})") from None
        if not addresses:
            raise RefusedDestination("host resolves to no address")
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not (host in self._allow_hosts or self.permits(ip)):
                raise RefusedDestination(f"{ip} is not a public address (allow it with OUTBOUND_ALLOW)")
        return Destination(host, port, addresses[0])


_pin: contextvars.ContextVar[Destination | None] = contextvars.ContextVar("outbound_pin", default=None)


def _pinned_address(host: str, port: int | None) -> str:
    pin = _pin.get()
    if pin is None or pin.host != _host_key(host) or pin.port != port:
        raise OSError(f"outbound connection to {host}:{port} was not checked by the guard")
    return pin.address


class _PinnedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        self._dns_host = _pinned_address(self.host, self.port)  # connect here; Host header stays self.host
        return super()._new_conn()


class _PinnedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        self._dns_host = _pinned_address(self.host, self.port)  # connect here; SNI and certificate use self.host
        return super()._new_conn()


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """requests' adapter whose connections go only to the address the guard pinned for the request under way."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool}

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        raise requests.exceptions.InvalidProxyURL("outbound requests do not go through proxies")


def guarded_session(session: requests.Session | None, adapter: HTTPAdapter) -> requests.Session:
    """``session`` (or a new one) that ignores proxy settings of the environment and sends through ``adapter``."""
    session = session or requests.Session()
    session.trust_env = False
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _checked(guard: OutboundGuard, url: str, what: str) -> Destination | None:
    try:
        return guard.check(url)
    except RefusedDestination as refusal:
        _log.warning("%s refused: %s", what, refusal)
        return None


class HttpProber(Prober):
    """HTTP GET with a 5 s timeout on one reused session; ok when the status is below 400. The latency is the
    time to the response's status and headers; the body is not read.

    A redirect is not followed (a 3xx is the answer, ok since below 400). A URL the guard refuses is not
    fetched: the outcome is a failure without a status, as for a target that cannot be reached.
    """

    def __init__(self, session: requests.Session | None = None, timeout_s: float = PROBE_TIMEOUT_S,
                 allow: Iterable[str] = (), guard: OutboundGuard | None = None):
        self._guard = guard or OutboundGuard(allow)
        self._session = guarded_session(session, GuardedAdapter())
        self._timeout_s = timeout_s

    def probe(self, url: str) -> ProbeOutcome:
        started = time.perf_counter()
        destination = _checked(self._guard, url, "probe")
        if destination is None:
            return ProbeOutcome(ok=False, latency_ms=_elapsed_ms(started), status_code=None)
        token = _pin.set(destination)
        try:
            # stream: the status is all a probe needs, so the body is never read (a huge or endless one costs nothing)
            response = self._session.get(url, timeout=self._timeout_s, allow_redirects=False, stream=True)
            response.close()
        except requests.RequestException:
            return ProbeOutcome(ok=False, latency_ms=_elapsed_ms(started), status_code=None)
        finally:
            _pin.reset(token)
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
    is not waited for. A redirect is not followed: a 3xx answer is a failed delivery. A URL the guard
    refuses is not posted to: a failed delivery of one attempt, not retried.

    Budget: each attempt may take up to 2 s (connecting, sending and reading), the whole delivery 3 s:
    no attempt starts, and no pause is made, past that budget, and an attempt's timeouts shrink to what
    is left of it. Trade-off: the direct apps deliver inside the synchronous chain of ``POST
    /targets/{id}/results``, each hop of which has a 5 s deadline (``CALL_TIMEOUT_S``); 3 s leaves the
    hops and the databases 2 s. A receiver that answers in 2 to 3 s, or is down for more than 3 s, is
    recorded ``failed``; a longer budget would turn those into 504s of the public API instead.
    """

    def __init__(self, session: requests.Session | None = None, timeout_s: float = WEBHOOK_TIMEOUT_S,
                 budget_s: float = WEBHOOK_BUDGET_S, allow: Iterable[str] = (), guard: OutboundGuard | None = None):
        self._guard = guard or OutboundGuard(allow)
        self._session = guarded_session(session, GuardedAdapter(max_retries=webhook_retry()))
        self._timeout_s = timeout_s
        self._budget_s = budget_s

    def post(self, url: str, payload: dict) -> bool:
        """One delivery as :meth:`deliver` makes it, without an idempotency key."""
        return self._send(url, payload, {}).delivered

    def deliver(self, url: str, payload: dict, idempotency_key: str) -> WebhookOutcome:
        return self._send(url, payload, {IDEMPOTENCY_HEADER: idempotency_key})

    def _send(self, url: str, payload: dict, headers: dict[str, str]) -> WebhookOutcome:
        destination = _checked(self._guard, url, "webhook")
        if destination is None:
            return WebhookOutcome(delivered=False, attempts=1)
        delivery = _Delivery(deadline=time.monotonic() + self._budget_s)
        token, pin = _current.set(delivery), _pin.set(destination)
        try:
            timeout = cast(Any, _BudgetTimeout(self._timeout_s, delivery))  # requests hands it to urllib3 as is
            response = self._session.post(url, json=payload, headers=headers, timeout=timeout, allow_redirects=False,
                                          stream=True)  # the receiver's body is never read: its status says it all
            response.close()
            delivered = 200 <= response.status_code < 300
        except requests.RequestException:
            delivered = False
        finally:
            _pin.reset(pin)
            _current.reset(token)
        return WebhookOutcome(delivered=delivered, attempts=delivery.attempts)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)
