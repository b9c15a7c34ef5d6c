"""The load balancer in front of a variant's api replicas: HAProxy, its configuration rendered here.

One renderer, two targets: the local launcher (``REPLICAS>1``: a fixed list of ``127.0.0.1:port`` servers, the
file in the run's data dir) and docker compose (one balancer per profile that finds the api's containers, however
many ``--scale`` made, through Docker's DNS). Why HAProxy: a single small binary in Debian and in an official image,
real HTTP health checks that take a dead replica out of rotation, retries of failed connections on another
replica, and ``option http-buffer-request``: a slow client's request is read whole by the balancer before it
occupies one of a worker's threads.
"""
from __future__ import annotations

import os
import shutil

BINARY = "haproxy"
BINARY_ENV = "HAPROXY"
"""Overrides where the executable is (else PATH, then Debian's /usr/sbin, off a non-root user's PATH)."""
MISSING = "REPLICAS>1 needs haproxy: apt-get install haproxy, or make services"
COMPOSE_IMAGE = "haproxy:2.6"
"""The same release line as Debian 12's package (2.6 LTS), so one configuration serves both."""
HEALTH_PATH = "/healthz"

# Seconds. The api's gunicorn gives up on a request after 60 s (topology.GUNICORN): the balancer waits a bit longer
# for a server, so the worker's own answer (an error body) reaches the client rather than a bare 504.
TIMEOUTS = {
    "connect": "2s",
    "client": "65s",
    "server": "65s",
    "http-request": "10s",  # the whole request (headers and, with http-buffer-request, the body) must arrive in 10 s
    "http-keep-alive": "10s",
    "queue": "10s",
    "check": "2s",
}


def binary() -> str | None:
    """The haproxy executable, or None when it is not installed."""
    if os.environ.get(BINARY_ENV):
        return shutil.which(os.environ[BINARY_ENV])
    return shutil.which(BINARY) or shutil.which(BINARY, path="/usr/sbin")


def _defaults() -> list[str]:
    lines = [
        "global",
        "    log stdout format raw local0",
        "    maxconn 4096",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlog-normal  # log errors and retries only",
        "    option http-buffer-request",
        "    option redispatch  # a retried connection goes to another replica",
        "    retries 2  # connection failures only: a request is never sent twice",
    ]
    lines += [f"    timeout {name} {value}" for name, value in TIMEOUTS.items()]
    return lines


def _backend(servers: list[str]) -> list[str]:
    return [
        "",
        "backend api",
        "    balance roundrobin",
        "    option httpchk",
        f"    http-check send meth GET uri {HEALTH_PATH}",
        "    http-check expect status 200",
        "    default-server check inter 1s fall 2 rise 1",
        *servers,
    ]


def local_config(port: int, servers: list[int], host: str = "127.0.0.1") -> str:
    """A configuration listening on ``host:port`` and balancing over the api replicas on ``servers`` (ports)."""
    lines = [*_defaults(), "", "frontend public", f"    bind {host}:{port}", "    default_backend api"]
    lines += _backend([f"    server api-{i} {host}:{server}" for i, server in enumerate(servers, 1)])
    return "\n".join(lines) + "\n"


def compose_config(port: int, api_port: int, max_replicas: int = 10) -> str:
    """A configuration for a compose profile, listening on ``port``: the api's name comes from ``API_HOST`` (its
    service name) and its containers, up to ``max_replicas``, from Docker's embedded DNS server, re-resolved every
    second; each is reached on ``api_port``."""
    lines = [
        "# Generated from harness/balancer.py by `python -m harness.deploy`: do not edit by hand.",
        *_defaults(),
        "",
        "resolvers docker",
        "    nameserver dns 127.0.0.11:53",
        "    accepted_payload_size 8192",
        "    hold valid 1s",
        "",
        "frontend public",
        f"    bind :{port}",
        "    default_backend api",
    ]
    template = f'    server-template api- {max_replicas} "${{API_HOST}}:{api_port}" resolvers docker init-addr none'
    lines += _backend([template])
    return "\n".join(lines) + "\n"
