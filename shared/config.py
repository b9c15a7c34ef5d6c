"""Every setting a process reads from its environment, in one place.

Read once by a composition root (``Settings.from_env()``), never at import time.
"""
from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .auth import KeyRing

DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
INTERNAL_SERVICES = ("monitor", "alerting", "notification")
"""The services that have a token of their own in the direct splits (``Settings.token``)."""
MIN_TOKEN_CHARS = 16


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: str
    event_bus: str
    rabbitmq_url: str
    bus_namespace: str
    transport: str
    monitor_addr: str | None
    alerting_addr: str | None
    notification_addr: str | None
    call_timeout_s: float  # the deadline of a call to a service: direct calls and event RPC alike
    log_level: str
    sqlite_synchronous: str = "FULL"
    """SQLite's ``synchronous`` level in WAL mode: FULL (default) or NORMAL; see the README."""
    outbound_allow: tuple[str, ...] = ()
    """Hosts and networks that probes and webhooks may still reach although they are not public (``OUTBOUND_ALLOW``,
    comma-separated host names, addresses or networks, e.g. ``127.0.0.1/32,sink.local``); empty by default: only
    public addresses are fetched (see ``shared.outbound``)."""
    api_keys: str = ""
    """``API_KEYS``: the keys the api process accepts, as hashed entries (``shared.auth``); only the api reads it."""
    internal_tokens: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The direct splits' service tokens this process was given, by service: ``MONITOR_TOKEN``, ``ALERTING_TOKEN``,
    ``NOTIFICATION_TOKEN`` (``direct_calls.split.credentials``); read with :meth:`token`."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, default_db_name: str = "monolith") -> Settings:
        env = os.environ if env is None else env
        data_dir = env.get("DATA_DIR", "./var")
        return cls(
            database_url=env.get("DATABASE_URL") or f"sqlite:///{data_dir}/{default_db_name}.db",
            data_dir=data_dir,
            event_bus=env.get("EVENT_BUS", "memory"),
            rabbitmq_url=env.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL),
            bus_namespace=env.get("BUS_NAMESPACE", "monitoring"),
            transport=env.get("TRANSPORT", "grpc"),
            monitor_addr=env.get("MONITOR_ADDR"),
            alerting_addr=env.get("ALERTING_ADDR"),
            notification_addr=env.get("NOTIFICATION_ADDR"),
            call_timeout_s=_positive_float(env, "CALL_TIMEOUT_S", 5.0),
            log_level=env.get("LOG_LEVEL", "INFO"),
            sqlite_synchronous=_one_of(env, "SQLITE_SYNCHRONOUS", ("FULL", "NORMAL"), "FULL"),
            outbound_allow=_hosts_or_networks(env, "OUTBOUND_ALLOW"),
            api_keys=env.get("API_KEYS", ""),
            internal_tokens={service: env[f"{service.upper()}_TOKEN"] for service in INTERNAL_SERVICES
                             if env.get(f"{service.upper()}_TOKEN")},
        )

    def keyring(self) -> KeyRing:
        """The api's keys (``API_KEYS``); a ConfigError when there are none or an entry is malformed."""
        try:
            ring = KeyRing.parse(self.api_keys)
        except ValueError as error:
            raise ConfigError(f"API_KEYS: {error}") from None
        if not len(ring):
            raise ConfigError("API_KEYS is not set: the api serves no request without a key "
                              "(API_KEY=<key> make run, or python -m harness.auth_keys prints an entry)")
        return ring

    def token(self, service: str) -> str:
        """The token of ``service`` (``<SERVICE>_TOKEN``), or a ConfigError when it is not set or cannot be one."""
        variable = f"{service.upper()}_TOKEN"
        value = self.internal_tokens.get(service)
        if not value:
            raise ConfigError(f"{variable} is not set: an internal service and its callers need its token")
        if len(value) < MIN_TOKEN_CHARS:
            raise ConfigError(f"{variable} must be at least {MIN_TOKEN_CHARS} characters "
                              "(python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one)")
        if not all(33 <= ord(char) <= 126 for char in value):  # what a gRPC metadata value and a header may carry
            raise ConfigError(f"{variable} must be printable ASCII characters without spaces")
        return value

    def require(self, name: str) -> str:
        """The value of an optional setting that this process needs, or a ConfigError naming its variable."""
        value = getattr(self, name)
        if not value:
            raise ConfigError(f"{name.upper()} is not set")
        return value


def _one_of(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(name, default).upper()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {env.get(name)!r}")
    return value


_HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def _hosts_or_networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    values = tuple(part.strip().lower() for part in env.get(name, "").split(",") if part.strip())
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            if not _HOST_NAME.match(value.rstrip(".")) or value.replace(".", "").isdigit():
                raise ConfigError(
                    f"{name} must be comma-separated host names, addresses or networks such as 127.0.0.1/32, got {value!r}"
                ) from None
    return values


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def configure_logging(level: str) -> None:
    """One log format for every process: time, process role, level, logger, message; URLs in a line lose their
    user-info and query string (``shared.redact``): a webhook URL's token never reaches the logs."""
    import logging

    from .redact import RedactingFormatter

    logging.basicConfig(level=level.upper())
    formatter = RedactingFormatter(f"%(asctime)s {os.environ.get('PROCESS_NAME', 'app')} %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
