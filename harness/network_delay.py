"""A slow network between a variant's processes: where ``harness.launcher.start(network_delay_ms=RTT)`` points them.

Every address a process is given for a peer (``{addr:NAME}``: each replica of NAME) and the broker's address in
``{rabbitmq_url:USER}`` become a port of one delay relay (:mod:`harness.delay_relay`, a process of the run started
before the others), which forwards to the real one ``RTT/2`` later in each direction: each call between two
processes costs one RTT more, as between pods or zones. A message through the broker crosses two such hops (sender →
broker, broker → receiver), as it would with the broker in a pod of its own. What is not delayed: the client → api
path (the load generator is outside the variant), the launcher's health checks (they use the real ports), SQLite
files (no network).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .topology import ANY_BROKER_URL, ProcessSpec, Variant

RELAY = "relay"
"""The instance name of the delay relay's process."""
HOST = "127.0.0.1"
_ADDR = re.compile(r"\{addr:([a-z]+)\}")
_DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}


@dataclass(frozen=True)
class RelayPlan:
    """The relay of one run: its one-way delay, its health port and a listen port per real address it forwards to."""

    rtt_ms: float
    health_port: int
    routes: Mapping[tuple[str, int], int]
    """Real ``(host, port)`` → the relay's listen port on 127.0.0.1 that forwards to it."""

    @property
    def one_way_ms(self) -> float:
        return self.rtt_ms / 2

    def spec(self) -> ProcessSpec:
        """The relay's process (its routes are literal: a restart gets the same ones)."""
        argv = ["python", "-m", "harness.delay_relay", "--one-way-ms", f"{self.one_way_ms:g}", "--health-port", "{port}"]
        for (host, port), listen in self.routes.items():
            argv += ["--route", f"{listen}:{host}:{port}"]
        return ProcessSpec(RELAY, tuple(argv))

    def address(self, host: str, port: int) -> str:
        """Where a process reaches ``host:port`` through the relay (itself when it is not relayed)."""
        listen = self.routes.get((host, port))
        return f"{HOST}:{listen}" if listen else f"{host}:{port}"

    def url(self, url: str) -> str:
        """An AMQP URL with its host and port replaced by the relay's (credentials, vhost and query kept)."""
        parts = urlsplit(url)
        target = _target(url)
        if target not in self.routes:
            return url
        user = parts.netloc.rpartition("@")[0]
        netloc = (user + "@" if user else "") + f"{HOST}:{self.routes[target]}"
        return urlunsplit(parts._replace(netloc=netloc))

    def lookup(self, lookup: Callable[[str], str]) -> Callable[[str], str]:
        """``lookup`` (the launcher's placeholder values) with peer addresses and the broker URL through the relay."""

        def relayed(key: str) -> str:
            value = lookup(key)
            if key.startswith("addr:"):
                return ",".join(self.address(*_split(item)) for item in value.split(","))
            if key == "rabbitmq_url" or key.startswith("rabbitmq_url:"):
                return self.url(value)
            return value

        return relayed


def plan(spec: Variant, ports: Mapping[str, list[int]], broker_url: str, rtt_ms: float,
         free_port: Callable[[], int]) -> RelayPlan:
    """Routes for every replica of every process some process addresses (``{addr:NAME}``), and for the broker
    when a process is given ``{rabbitmq_url:USER}``; each on a port from ``free_port`` that none of ``ports`` has."""
    if rtt_ms < 0:
        raise ValueError(f"network_delay_ms must be at least 0, not {rtt_ms:g}")
    values = [value for proc in spec.processes for value in proc.env.values()]
    peers = sorted({name for value in values for name in _ADDR.findall(value)})
    targets = [(HOST, port) for name in peers for port in ports[name]]
    if any(ANY_BROKER_URL.search(value) for value in values):
        targets.append(_target(broker_url))
    taken = {port for numbers in ports.values() for port in numbers}

    def fresh() -> int:  # two free ports asked for one after the other can be the same one
        while (port := free_port()) in taken:
            pass
        taken.add(port)
        return port

    return RelayPlan(rtt_ms, fresh(), {target: fresh() for target in dict.fromkeys(targets)})


def _target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "localhost", parts.port or _DEFAULT_PORTS.get(parts.scheme, 5672)


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    return host, int(port)
