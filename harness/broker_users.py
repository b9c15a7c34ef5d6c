"""The broker users of a local event-split run: created when it starts, deleted with its namespace when it stops.

Each run gets its own users (``<namespace>.<user>.<run>``, with a new random password each), with the permissions
of :mod:`event_driven.split.rabbitmq_permissions` on the run's namespace, so that its processes connect as they do
when deployed: the api and each service as itself, none as ``guest``. They are made by the broker's administrator
(the launcher's ``RABBITMQ_URL``, guest on this machine) through the management plugin's HTTP API: one
``POST /api/definitions`` creates them all with their permissions, one ``POST /api/users/bulk-delete`` removes them
(about 20 ms each, against about 0.5 s per ``rabbitmqctl`` call). ``make services`` enables the plugin (it comes
with RabbitMQ); without it, ``rabbitmqctl import_definitions`` and ``delete_user`` do the same, more slowly, where
they can (root on the broker's machine). ``RABBITMQ_MANAGEMENT_URL`` (default: the broker's host, port 15672, the
broker URL's credentials) says where the API is.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

from event_driven.split.rabbitmq_permissions import USERS, definitions

MANAGEMENT_PORT = 15672
TIMEOUT_S = 10.0


class BrokerUsersError(RuntimeError):
    """The users could not be created (the message says how to fix it)."""


@dataclass(frozen=True)
class RunUsers:
    """The users of one run: by role (``api``, ``monitor``, ...), their broker name and password."""

    admin_url: str
    namespace: str
    credentials: dict[str, tuple[str, str]] = field(repr=False)

    def url(self, user: str) -> str:
        """The broker URL of ``admin_url`` with ``user``'s credentials instead of the administrator's."""
        name, password = self.credentials[user]
        parts = urlsplit(self.admin_url)
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{quote(name, safe='')}:{quote(password, safe='')}@{host}"))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.credentials.values()]


def new_users(admin_url: str, namespace: str, users: Iterable[str] = USERS) -> RunUsers:
    """New names and passwords for ``users`` of a run in ``namespace`` (nothing is created yet)."""
    run = uuid.uuid4().hex[:6]
    return RunUsers(admin_url, namespace,
                    {user: (f"{namespace}.{user}.{run}", secrets.token_urlsafe(24)) for user in users})


def _vhost(url: str) -> str:
    path = urlsplit(url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def management_url(admin_url: str) -> str:
    """``RABBITMQ_MANAGEMENT_URL``, else the HTTP API beside the broker of ``admin_url`` with its credentials."""
    explicit = os.environ.get("RABBITMQ_MANAGEMENT_URL")
    if explicit:
        return explicit.rstrip("/")
    parts = urlsplit(admin_url)
    user = parts.netloc.rpartition("@")[0] or "guest:guest"
    return f"http://{user}@{parts.hostname or '127.0.0.1'}:{MANAGEMENT_PORT}"


def _session(admin_url: str) -> tuple[requests.Session, str]:
    parts = urlsplit(management_url(admin_url))
    session = requests.Session()
    session.trust_env = False
    if parts.username is not None:
        session.auth = (unquote(parts.username), unquote(parts.password or ""))
    return session, urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) + "/api"


def create(users: RunUsers) -> None:
    """Create ``users`` with their permissions on the broker (raises ``BrokerUsersError``)."""
    document = definitions(users.credentials, users.namespace, _vhost(users.admin_url))
    session, api = _session(users.admin_url)
    try:
        with session:
            answer = session.post(f"{api}/definitions", json=document, timeout=TIMEOUT_S)
        if answer.status_code in (200, 201, 204):
            return
        problem = f"the management API answered {answer.status_code}: {answer.text[:200]}"
    except requests.RequestException as error:
        problem = f"the management API is not reachable ({type(error).__name__})"
    if not _rabbitmqctl_import(document):
        raise BrokerUsersError(f"could not create the run's broker users: {problem}, and rabbitmqctl could not either; "
                               "enable the management plugin (make services: rabbitmq-plugins enable rabbitmq_management)")


def delete(users: RunUsers) -> None:
    """Delete ``users`` from the broker (their connections are closed by it); raises ``BrokerUsersError``."""
    session, api = _session(users.admin_url)
    try:
        with session:
            answer = session.post(f"{api}/users/bulk-delete", json={"users": users.names}, timeout=TIMEOUT_S)
        if answer.status_code in (200, 204):
            return
        problem = f"the management API answered {answer.status_code}: {answer.text[:200]}"
    except requests.RequestException as error:
        problem = f"the management API is not reachable ({type(error).__name__})"
    if not all(_rabbitmqctl("delete_user", name) for name in users.names):
        raise BrokerUsersError(f"could not delete the broker users {', '.join(users.names)}: {problem}")


def _rabbitmqctl_import(document: dict) -> bool:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:  # mode 0600: it holds passwords
        json.dump(document, file)
        file.flush()
        return _rabbitmqctl("import_definitions", file.name)


def _rabbitmqctl(*args: str) -> bool:
    try:
        done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
