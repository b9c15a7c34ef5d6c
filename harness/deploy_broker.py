"""The broker's users when deployed: ``k8s/components/rabbitmq/load-definitions.sh``, used by compose and k8s alike.

The RabbitMQ container runs this script first: it writes the broker's definitions (the virtual host ``/``, one
user per event-split process kind with the permissions of :mod:`event_driven.split.rabbitmq_permissions` on the
deployed namespace, and the operators' administrator, which no process uses) with the passwords from its
environment, points RabbitMQ at them (``load_definitions``, in a copy of the image's configuration directory, so
that a read-only root filesystem is fine), then starts the server as the image does. A node that imports
definitions at its first boot creates no default user: there is no ``guest``.

Passwords come from the environment (compose: required variables; k8s: the Secret ``rabbitmq-credentials``), and
must be letters, digits, ``-`` and ``_`` (they are put in the broker URLs unescaped); the script refuses others.
"""
from __future__ import annotations

import json

from event_driven.split.rabbitmq_permissions import USERS, definitions

from .deploy_common import BROKER_USER, BUS_NAMESPACE

SCRIPT = "k8s/components/rabbitmq/load-definitions.sh"
"""Where the script is written (relative to the repository root); k8s mounts it from a ConfigMap, compose directly."""
MOUNT_DIR = "/etc/rabbitmq-definitions"
"""Where the container sees the script's directory."""
ADMIN_PASSWORD = "RABBITMQ_PASSWORD"
ADMIN_USER = "RABBITMQ_USER"
SCRATCH = "/tmp/rabbitmq-definitions"


def password_variable(user: str) -> str:
    """The environment variable of the broker container that holds ``user``'s password."""
    return f"RABBITMQ_{user.upper()}_PASSWORD"


def _placeholder(variable: str) -> str:
    return f"@{variable}@"


def definitions_template() -> dict:
    """The definitions, with ``@VARIABLE@`` where the script puts a value from the environment."""
    document = definitions({user: (user, _placeholder(password_variable(user))) for user in USERS}, BUS_NAMESPACE)
    admin = _placeholder(ADMIN_USER)
    document["users"].append({"name": admin, "password": _placeholder(ADMIN_PASSWORD), "tags": ["administrator"]})
    document["permissions"].append({"user": admin, "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"})
    return {"vhosts": [{"name": "/"}], **document}


def script_text() -> str:
    variables = [ADMIN_USER, ADMIN_PASSWORD, *(password_variable(user) for user in USERS)]
    substitutions = " ".join(f'-e "s/{_placeholder(v)}/${v}/g"' for v in variables)
    return f"""#!/bin/sh
# Generated from event_driven/split/rabbitmq_permissions.py by `python -m harness.deploy`: do not edit by hand.
# The broker's users, as definitions RabbitMQ loads at its first boot (so it creates no guest user):
# {', '.join(USERS)} (passwords {', '.join(password_variable(u) for u in USERS)}), each allowed
# on the namespace "{BUS_NAMESPACE}" what its process needs, and the operators' administrator $RABBITMQ_USER
# ($RABBITMQ_PASSWORD; default {BROKER_USER}), which no process uses. Then it starts the server as the image does
# (its arguments: docker-entrypoint.sh rabbitmq-server).
set -eu
for variable in {' '.join(variables)}; do
  eval "value=\\${{$variable:-}}"
  if [ -z "$value" ]; then echo "load-definitions: $variable is not set" >&2; exit 1; fi
  case "$value" in
    *[!A-Za-z0-9_-]*) echo "load-definitions: $variable may hold letters, digits, - and _ only" >&2; exit 1 ;;
  esac
done
umask 077
mkdir -p {SCRATCH}/conf.d
sed {substitutions} > {SCRATCH}/definitions.json <<'DEFINITIONS'
{json.dumps(definitions_template(), indent=1)}
DEFINITIONS
for conf in /etc/rabbitmq/conf.d/*.conf; do
  if [ -f "$conf" ]; then cp "$conf" {SCRATCH}/conf.d/; fi
done
echo "load_definitions = {SCRATCH}/definitions.json" > {SCRATCH}/conf.d/90-definitions.conf
if [ "$(id -u)" = 0 ]; then chown -R rabbitmq:rabbitmq {SCRATCH}; fi
export RABBITMQ_CONFIG_FILES={SCRATCH}/conf.d
exec "$@"
"""
