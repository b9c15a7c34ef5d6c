"""API keys: who is calling the public API, for which tenant, allowed to do what.

No framework imports. A key is a random secret (:func:`new_key`); the api process is given only its
SHA-256 digest, in an entry ``tenant:scope+scope:<hex digest>`` (:func:`entry`), and ``API_KEYS`` holds
such entries, comma-separated. A presented key is hashed and looked up (:meth:`KeyRing.verify`): the plain
keys are never stored, and a lookup costs one hash and one dict access, whatever the number of keys.

Guarantees: :meth:`KeyRing.parse` refuses, with a ``ValueError`` naming the entry, any malformed entry, an
unknown scope, a tenant name outside ``[a-z0-9][a-z0-9_-]{0,63}`` and a digest given twice; :meth:`KeyRing.verify`
answers None for any key not in the ring (never raises for a client's input).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .domain import DEFAULT_TENANT

__all__ = ["DEFAULT_TENANT", "FULL_SCOPES", "SCOPES", "KeyRing", "Principal", "check_tenant", "digest", "entry", "new_key"]

SCOPES = ("read", "write")
"""Every scope there is: ``read`` for GET/HEAD, ``write`` for every other method."""
FULL_SCOPES = SCOPES
KEY_PREFIX = "mk_"

_TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the tenant whose data it sees, and what it may do."""

    tenant: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes


def new_key() -> str:
    """A new random API key (``mk_`` and 43 URL-safe characters, 256 bits of entropy)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    """The SHA-256 hex digest of ``key``: what the api process stores instead of the key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def check_tenant(tenant: str) -> str:
    """``tenant`` if it is a valid tenant name, else ``ValueError``."""
    if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
        raise ValueError(f"tenant name {tenant!r} must match [a-z0-9][a-z0-9_-]{{0,63}}")
    return tenant


def _check_scopes(scopes: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(scopes)
    unknown = sorted(chosen - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(map(repr, unknown))}; the scopes are {', '.join(SCOPES)}")
    if not chosen:
        raise ValueError("a key needs at least one scope")
    return chosen


def entry(key: str, tenant: str, scopes: Iterable[str] = FULL_SCOPES) -> str:
    """The ``API_KEYS`` entry of ``key``: ``tenant:read+write:<sha-256 hex>`` (holds no secret)."""
    chosen = _check_scopes(scopes)
    return f"{check_tenant(tenant)}:{'+'.join(s for s in SCOPES if s in chosen)}:{digest(key)}"


class KeyRing:
    """The keys an api process accepts, by digest."""

    def __init__(self, principals: Mapping[str, Principal]):
        self._by_digest = dict(principals)

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """The ring of ``spec``: comma-separated :func:`entry` strings (blanks around entries ignored)."""
        principals: dict[str, Principal] = {}
        for raw in (part.strip() for part in spec.split(",")):
            if not raw:
                continue
            fields = raw.split(":")
            if len(fields) != 3:
                raise ValueError(f"API key entry {_shown(raw)} must be tenant:scope+scope:sha256hex")
            tenant, scopes, hexdigest = fields
            try:
                check_tenant(tenant)
                chosen = _check_scopes(scopes.split("+") if scopes else ())
            except ValueError as error:
                raise ValueError(f"API key entry {_shown(raw)}: {error}") from None
            if not _DIGEST.fullmatch(hexdigest):
                raise ValueError(f"API key entry {_shown(raw)}: the digest must be 64 lower-case hex digits "
                                 "(the SHA-256 of the key, not the key itself)")
            if hexdigest in principals:
                raise ValueError(f"API key entry {_shown(raw)}: the same key is listed twice")
            principals[hexdigest] = Principal(tenant, chosen)
        return cls(principals)

    def __len__(self) -> int:
        return len(self._by_digest)

    def verify(self, presented: str | None) -> Principal | None:
        """The principal of ``presented``, or None when it is missing or not a key of this ring."""
        if not presented:
            return None
        return self._by_digest.get(digest(presented))


def _shown(raw: str) -> str:
    """An entry as an error message may show it: a secret pasted by mistake is cut short."""
    return repr(raw if len(raw) <= 24 else raw[:12] + "…")
