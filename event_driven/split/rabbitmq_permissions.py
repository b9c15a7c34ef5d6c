"""Who may do what on the broker: a RabbitMQ user per kind of process, allowed the least its bus needs.

The users are ``api``, ``monitor``, ``alerting`` and ``notification`` (:data:`USERS`); each process connects
as its own (its ``RABBITMQ_URL`` holds the user and password), none as an administrator or ``guest``. What each
may do, in one namespace (``NS``, names from :mod:`.rabbitmq_topology`; RabbitMQ checks ``configure`` to
declare or delete, ``write`` to publish, to bind a queue or an exchange as destination and to name an exchange as
a queue's dead-letter or alternate exchange, ``read`` to consume, to bind from an exchange as source and to
declare a queue with a dead-letter exchange; a passive declare needs nothing):

- every service: configure, write and read its own groups' queues and exchanges (``NS.GROUP``, ``NS.GROUP.*``:
  partitions, dead letters, members, partition and unkeyed exchanges), configure and read ``NS.events`` (declare
  it, bind its groups to it), configure, write and read ``NS.dead-letter``, configure and write ``NS.replies``
  (reply to the calls it serves; nothing else reaches an inbox);
- publishing on ``NS.events`` (a topic exchange) is limited by routing key too (a topic permission): the api may
  publish calls only (``rpc.<service>.<method>``), the monitor ``check.completed`` only, alerting
  ``alert.opened`` and ``alert.resolved`` only, notification nothing at all (no write on ``NS.events``); each
  service may bind to it only the keys of its own subscriptions (``handlers.SUBSCRIPTIONS``);
- the api: configure ``NS.events`` and write it (calls), configure and read ``NS.replies`` and configure, write
  and read its inboxes (``NS.inbox.*``: exclusive queues, which no other connection may consume or bind anyway).

What follows: no user may read another service's queues, publish an event it does not publish, or put a message
in a queue other than through the exchanges above (no user may write to the default exchange, which routes to any
queue by name); a user refused an operation gets ``ACCESS_REFUSED`` (403) and the broker closes that channel. What
does not: ``configure`` on the shared exchanges lets each service also delete them (the processes declare their
own topology, as before); within its own queues a service may do anything.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from event_driven.monolith.events import AlertOpened, AlertResolved, CheckCompleted
from event_driven.monolith.handlers import SERVICES, SUBSCRIPTIONS, Method
from event_driven.monolith.rpc import routing_key

from .rabbitmq_topology import dead_letter_exchange_name, exchange_name, inbox_name, queue_name, replies_exchange_name

API = "api"
USERS = (API, *SERVICES)
"""The broker users: the api and each service."""

PUBLISHES: dict[str, tuple[str, ...]] = {
    "monitor": (CheckCompleted.wire_name,),
    "alerting": (AlertOpened.wire_name, AlertResolved.wire_name),
    "notification": (),
}
"""The events each service publishes on ``NS.events`` (their routing keys); the api publishes calls only."""

NOTHING = "^$"
"""A permission that matches no resource."""


@dataclass(frozen=True)
class Permissions:
    """One user's permissions in a virtual host: regular expressions over resource names (``configure``, ``write``,
    ``read``) and over the routing keys on the events exchange (``topic_write``: publish, ``topic_read``: bind)."""

    configure: str
    write: str
    read: str
    topic_write: str
    topic_read: str


def literal(text: str) -> str:
    """``text`` as a regular expression matching itself only (``.`` as ``[.]``: no backslash, so the expression
    reads the same in JSON, YAML and a shell)."""
    return "".join("[.]" if char == "." else char if char.isalnum() or char in "-_" else re.escape(char)
                   for char in text)


def _one_of(patterns: Iterable[str]) -> str:
    chosen = list(dict.fromkeys(patterns))
    return f"^({'|'.join(chosen)})$" if chosen else NOTHING


def groups_of(user: str) -> list[str]:
    """The names of the groups the service ``user`` consumes (none for the api)."""
    return list(dict.fromkeys(entry.group.name for entry in SUBSCRIPTIONS.get(user, ())))


def bindings_of(user: str) -> list[str]:
    """The routing keys the service ``user`` binds its groups by (its events and its methods' calls)."""
    keys = (routing_key(user, entry.name) if isinstance(entry, Method) else entry.event_type.wire_name
            for entry in SUBSCRIPTIONS.get(user, ()))
    return list(dict.fromkeys(keys))


def permissions(user: str, namespace: str) -> Permissions:
    """What ``user`` may do in ``namespace`` (see the module)."""
    if user not in USERS:
        raise ValueError(f"unknown broker user {user!r}; the users are {', '.join(USERS)}")
    events, replies = literal(exchange_name(namespace)), literal(replies_exchange_name(namespace))
    if user == API:
        inboxes = literal(inbox_name(namespace, "")) + ".+"
        calls = _one_of(literal(routing_key(service, "")) + "[a-z_]+" for service in SERVICES)
        return Permissions(configure=_one_of([events, replies, inboxes]), write=_one_of([events, inboxes]),
                           read=_one_of([replies, inboxes]), topic_write=calls, topic_read=NOTHING)
    own = "(" + "|".join(literal(queue_name(namespace, group)) for group in groups_of(user)) + ")([.].+)?"
    dead_letters = literal(dead_letter_exchange_name(namespace))
    publishes = PUBLISHES[user]
    return Permissions(
        configure=_one_of([events, dead_letters, replies, own]),
        write=_one_of([dead_letters, replies, own, *([events] if publishes else [])]),
        read=_one_of([events, dead_letters, own]),
        topic_write=_one_of(literal(key) for key in publishes),
        topic_read=_one_of(literal(key) for key in bindings_of(user)),
    )


def definitions(credentials: Mapping[str, tuple[str, str]], namespace: str, vhost: str = "/") -> dict[str, Any]:
    """The broker definitions (users, their permissions and topic permissions on ``vhost``) that create the users
    of ``credentials`` (user -> (broker user name, password)): what ``POST /api/definitions`` of the management
    API and a definitions file loaded at boot take. Holds the passwords in plain text (the broker hashes them)."""
    users, granted, topics = [], [], []
    for user, (name, password) in credentials.items():
        allowed = permissions(user, namespace)
        users.append({"name": name, "password": password, "tags": []})
        granted.append({"user": name, "vhost": vhost, "configure": allowed.configure, "write": allowed.write,
                        "read": allowed.read})
        topics.append({"user": name, "vhost": vhost, "exchange": exchange_name(namespace),
                       "write": allowed.topic_write, "read": allowed.topic_read})
    return {"users": users, "permissions": granted, "topic_permissions": topics}
