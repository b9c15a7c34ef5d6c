"""API keys for local runs, tests and deployments: ``python -m harness.auth_keys [TENANT] [--read-only]``.

Prints a new key (give it to clients as ``Authorization: Bearer <key>``) and its ``API_KEYS`` entry (give that
to the api; it holds only the key's SHA-256). :func:`keys_for` makes the keys a test or a harness run asks for.
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.auth import DEFAULT_TENANT, FULL_SCOPES, check_tenant, entry, new_key


@dataclass(frozen=True)
class Keys:
    """Plain keys by tenant (what clients send) and the ``API_KEYS`` value that accepts them (what the api gets)."""

    by_tenant: dict[str, str]
    api_keys: str

    @property
    def default(self) -> str:
        """The first tenant's key: the one ``running.api_key`` gives clients."""
        return next(iter(self.by_tenant.values()))


def keys_for(wanted: Mapping[str, Iterable[str]] | None = None, *, env: Mapping[str, str] | None = None) -> Keys:
    """One new key per tenant of ``wanted`` (tenant -> scopes). Without ``wanted``: a full-scope key of tenant
    ``dev``, which is ``API_KEY`` from ``env`` (the process environment by default) when that is set."""
    env = os.environ if env is None else env
    if not wanted:
        key = env.get("API_KEY") or new_key()
        return Keys({DEFAULT_TENANT: key}, entry(key, DEFAULT_TENANT, FULL_SCOPES))
    by_tenant = {check_tenant(tenant): new_key() for tenant in wanted}
    return Keys(by_tenant, ",".join(entry(by_tenant[tenant], tenant, tuple(scopes)) for tenant, scopes in wanted.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.auth_keys", description=__doc__.splitlines()[0])
    parser.add_argument("tenant", nargs="?", default=DEFAULT_TENANT, help=f"the key's tenant (default {DEFAULT_TENANT})")
    parser.add_argument("--read-only", action="store_true", help="the read scope only (default: read and write)")
    args = parser.parse_args(argv)
    key = new_key()
    print(f"key:      {key}")
    print(f"API_KEYS: {entry(key, args.tenant, ('read',) if args.read_only else FULL_SCOPES)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
