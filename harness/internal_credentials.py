"""New internal credentials for a deployment: ``python -m harness.internal_credentials [>> .env]``.

Prints, one ``NAME=value`` a line (what compose reads from ``.env`` and from the environment), a new random token
for each direct-split service (``MONITOR_TOKEN``, ``ALERTING_TOKEN``, ``NOTIFICATION_TOKEN``: a service accepts
only calls with its own, see ``direct_calls/split/credentials.py``) and a new password for each event-split broker
user (``RABBITMQ_API_PASSWORD``, ``RABBITMQ_MONITOR_PASSWORD``, ...: the broker creates the users with them at its
first boot, see ``harness/deploy_broker.py``). Local runs need none of this: the launcher makes new ones per run.
"""
from __future__ import annotations

import argparse
import secrets

from event_driven.split.rabbitmq_permissions import USERS
from shared.config import INTERNAL_SERVICES

from .deploy_broker import password_variable


def internal_credentials() -> dict[str, str]:
    """New values of every internal credential variable (URL-safe: letters, digits, ``-`` and ``_``)."""
    tokens = {f"{service.upper()}_TOKEN": secrets.token_urlsafe(32) for service in INTERNAL_SERVICES}
    return {**tokens, **{password_variable(user): secrets.token_urlsafe(24) for user in USERS}}


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m harness.internal_credentials", description=__doc__.splitlines()[0]).parse_args(argv)
    for name, value in internal_credentials().items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
