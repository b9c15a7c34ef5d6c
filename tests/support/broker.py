"""Helpers for tests on the real RabbitMQ: is it there, whose connections to drop, what to delete afterwards."""
from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable

import pika
import pytest

from shared.config import DEFAULT_RABBITMQ_URL


def broker_url() -> str:
    return os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL)


def require_broker() -> str:
    """The broker's URL if it accepts a connection; else skip the test, or fail it when ``CI=true``."""
    url = broker_url()
    params = pika.URLParameters(url)
    params.socket_timeout = 3.0
    params.connection_attempts = 1
    try:
        pika.BlockingConnection(params).close()
    except pika.exceptions.AMQPError as error:
        message = f"RabbitMQ is not reachable at {url}: {type(error).__name__}: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: tests that need the broker fail instead of being skipped)")
        pytest.skip(message)
    return url


def split_groups() -> list[str]:
    """The groups the event-split processes declare queues for."""
    from event_driven.monolith.handlers import groups

    return sorted(group.name for group in groups())


def delete_namespace(namespace: str, groups: Iterable[str] | None = None) -> None:
    """Delete the exchanges and queues a variant (or a bus) declared under ``namespace``."""
    from event_driven.split.rabbitmq_topology import delete_topology

    delete_topology(broker_url(), namespace, split_groups() if groups is None else groups)


def connections_of(namespace: str) -> list[str]:
    """The broker's ids of the connections a bus with this namespace opened (its ``connection_name``)."""
    listing = _rabbitmqctl("list_connections", "-q", "--no-table-headers", "pid", "client_properties")
    return [line.split("\t", 1)[0] for line in listing.splitlines()
            if re.search(r'\{"connection_name","' + re.escape(namespace) + r":", line)]


def close_connections(namespace: str) -> int:
    """Drop every connection of ``namespace`` from the broker's side (as a broker restart would), in parallel.

    Other users of the broker are left alone (unlike ``rabbitmqctl close_all_connections``).
    Returns how many were closed.
    """
    pids = connections_of(namespace)
    closing = [subprocess.Popen(["rabbitmqctl", "-q", "close_connection", pid, "test: broker connection dropped"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for pid in pids]
    for process in closing:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode(errors="replace")
    return len(pids)


def _rabbitmqctl(*args: str) -> str:
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout
