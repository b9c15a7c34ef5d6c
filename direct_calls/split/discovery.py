"""Where a peer's replicas listen, and which replica serves the next call.

A peer's address setting (``MONITOR_ADDR``, ``ALERTING_ADDR``, ``NOTIFICATION_ADDR``) is either
- a comma-separated list of ``host:port``, one per replica (``127.0.0.1:5001,127.0.0.1:5002``; an IPv6
  host in brackets), or
- one ``host:port`` whose name resolves to every replica (a headless Kubernetes Service,
  ``alerting:8080``); for gRPC also a target URI as gRPC spells it (``dns:///alerting:8080``).

gRPC balances by itself (:func:`grpc_target`, with the ``round_robin`` policy in the channel's service
config). HTTP calls pick their replica here (:class:`RoundRobin`).
"""
from __future__ import annotations

import ipaddress
import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

RESOLVE_EVERY_S = 10.0
"""How often a name is resolved again, so replicas that come and go are followed."""
EJECT_S = 1.0
"""How long a replica that refused a connection is passed over (while another one is left)."""

_GRPC_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:", "vsock:")

Resolver = Callable[..., list[tuple[Any, ...]]]


def split_addresses(value: str) -> list[tuple[str, int]]:
    """The ``(host, port)`` pairs of a comma-separated list; raises ``ValueError`` for a malformed one."""
    pairs: list[tuple[str, int]] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"malformed peer address {item!r} in {value!r}: expected host:port")
        pairs.append((host, int(port)))
    if not pairs:
        raise ValueError(f"no peer address in {value!r}")
    return pairs


def _ip_version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


def join_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if _ip_version(host) == 6 else f"{host}:{port}"


def grpc_target(value: str, resolve: Resolver | None = None) -> str:
    """The channel target for an address setting.

    A gRPC target URI (``dns:///...``, ``ipv4:...``) and a single ``host:port`` are used as given: the
    channel's DNS resolver finds every address of the name and resolves again when connections
    fail. A list becomes ``ipv4:a:p,b:q`` (or ``ipv6:``); its host names, if any, are resolved once,
    here. Raises ``ValueError`` for a malformed list, a name that does not resolve, or a list mixing
    IPv4 and IPv6.
    """
    value = value.strip()
    if value.startswith(_GRPC_SCHEMES):
        return value
    pairs = split_addresses(value)
    if len(pairs) == 1:
        return join_address(*pairs[0])
    by_version: dict[int, list[str]] = {4: [], 6: []}
    for host, port in pairs:
        version = _ip_version(host)
        if version is not None:
            by_version[version].append(join_address(host, port))
            continue
        try:
            infos = (resolve or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise ValueError(f"peer address {host}:{port} does not resolve: {error}") from None
        ips = sorted({info[4][0] for info in infos if info[0] == socket.AF_INET}) or sorted(
            {info[4][0] for info in infos if info[0] == socket.AF_INET6})
        for ip in ips:
            by_version[6 if ":" in ip else 4].append(join_address(ip, port))
    if by_version[4] and by_version[6]:
        raise ValueError(f"the peer addresses {value!r} mix IPv4 and IPv6; gRPC takes one family per list")
    version = 4 if by_version[4] else 6
    return f"ipv{version}:" + ",".join(dict.fromkeys(by_version[version]))


class RoundRobin:
    """The replicas of one peer, handed out in turn, one per call; thread-safe.

    A list is used as given. A single host name is resolved when first needed and again every
    ``RESOLVE_EVERY_S`` (by the call that finds it stale; the others go on with the addresses known);
    if it does not resolve, the last addresses known are kept. While none is known, the name itself is
    handed out (the HTTP library resolves it, as without balancing) and each call tries to resolve it.
    A replica reported by :meth:`failed` is passed over for ``EJECT_S`` while another one is left.
    """

    def __init__(self, value: str, resolve: Resolver | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``resolve``: as ``socket.getaddrinfo`` (the default); ``clock``: seconds, as ``time.monotonic``."""
        pairs = split_addresses(value)
        self._name = pairs[0] if len(pairs) == 1 and _ip_version(pairs[0][0]) is None else None
        self._resolve = resolve
        self._clock = clock
        self._lock = threading.Lock()
        self._resolving = threading.Lock()
        self._addresses = [] if self._name else list(dict.fromkeys(join_address(*pair) for pair in pairs))
        self._resolved_at: float | None = None
        self._ejected: dict[str, float] = {}
        self._turn = itertools.count()

    def addresses(self) -> list[str]:
        """The replicas known now (resolving the name first if it is due)."""
        self._refresh()
        with self._lock:
            if not self._addresses and self._name is not None:
                return [join_address(*self._name)]
            return list(self._addresses)

    def next(self) -> str:
        """The replica for the next call."""
        candidates = self.addresses()
        now = self._clock()
        with self._lock:
            start = next(self._turn)
            for offset in range(len(candidates)):
                address = candidates[(start + offset) % len(candidates)]
                if self._ejected.get(address, 0.0) <= now:
                    return address
        return candidates[start % len(candidates)]  # every one failed lately: try in turn anyway

    def failed(self, address: str) -> None:
        """``address`` refused a connection: pass it over for a while."""
        with self._lock:
            self._ejected[address] = self._clock() + EJECT_S

    def _refresh(self) -> None:
        if self._name is None:
            return
        if not self._due() or not self._resolving.acquire(blocking=False):
            return
        try:
            if not self._due():
                return  # another thread resolved it meanwhile
            host, port = self._name
            try:
                infos = (self._resolve or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
            except OSError as error:
                log.warning("peer name %s does not resolve (%s); keeping %s", host, error, self._addresses or "the name")
                resolved: list[str] = []
            else:
                resolved = sorted({join_address(info[4][0], port) for info in infos
                                   if info[0] in (socket.AF_INET, socket.AF_INET6)})
            with self._lock:
                if resolved:
                    self._addresses = resolved
                    self._ejected = {a: t for a, t in self._ejected.items() if a in resolved}
                self._resolved_at = self._clock()
        finally:
            self._resolving.release()

    def _due(self) -> bool:
        """Never resolved, nothing resolved yet (try on each call), or resolved too long ago."""
        return (self._resolved_at is None or not self._addresses
                or self._clock() - self._resolved_at >= RESOLVE_EVERY_S)
