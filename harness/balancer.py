"""The load balancer in front of a variant's api: HAProxy, its configuration rendered here.

Every local run, every compose profile and every Kubernetes api pod serves its public port through it, one api
copy or several. One renderer, three targets: the local launcher (a fixed list of ``127.0.0.1:port`` servers, the
file in the run's data dir), docker compose (one balancer per profile that finds the api's containers, however many
``--scale`` made, through Docker's DNS) and Kubernetes (a sidecar in each api pod, in front of the app container of
the same pod on ``127.0.0.1``; the Service spreads the pods). Why HAProxy: a single small binary in Debian and in
an official image, real HTTP health checks that take a dead replica out of rotation, retries of failed connections
on another replica, and what a threaded server needs in front of it (gunicorn's own advice for its sync and
gthread workers):

- ``option http-buffer-request``: a request is read whole by the balancer (``timeout http-request``) before
  it takes one of an api worker's threads, so slow or idle clients hold no thread;
- at most :data:`API_REQUESTS` requests at a time reach each api copy (its threads, minus those kept for
  health checks); the others wait in the balancer's queue for at most ``timeout queue``, then get a 503
  (``unavailable``), so a stuck downstream makes clients fail fast and retry rather than queue for minutes;
- ``/healthz`` and ``/readyz`` go through a backend of their own with :data:`HEALTH_REQUESTS` more slots per
  copy, so health checks answer while requests wait;
- what the balancer answers itself (503 when no copy is free or up, 504 when one does not answer within
  ``timeout server``) carries the contract's JSON error body.
"""
from __future__ import annotations

import json
import os
import shutil

BINARY = "haproxy"
BINARY_ENV = "HAPROXY"
"""Overrides where the executable is (else PATH, then Debian's /usr/sbin, off a non-root user's PATH)."""
MISSING = "the api is served through haproxy: apt-get install haproxy, or make services"
COMPOSE_IMAGE = "haproxy:2.6"
"""The same release line as Debian 12's package (2.6 LTS), so one configuration serves both."""
HEALTH_PATH = "/healthz"
GENERATED = "# Generated from harness/balancer.py by `python -m harness.deploy`: do not edit by hand.\n"
"""The first line of a configuration file that ``python -m harness.deploy`` writes (compose, k8s)."""

API_THREADS = 16
"""Threads of each api copy's gunicorn worker (``harness.topology.GUNICORN``)."""
HEALTH_REQUESTS = 2
API_REQUESTS = API_THREADS - HEALTH_REQUESTS - 2
"""Requests at a time per api copy; two threads stay free for the balancer's own health checks."""
HEALTH_PATHS = ("/healthz", "/readyz")

# Seconds. A request waits for a free api thread for at most ``queue``; a server that does not answer within
# ``server`` gets a 504 from here. The api's own calls end well before (each has ``CALL_TIMEOUT_S``, 5 s by
# default); a check probes a URL (5 s) and then records its result, hence 15 s.
TIMEOUTS = {
    "connect": "2s",
    "client": "65s",
    "server": "15s",
    "http-request": "10s",  # the whole request (headers and, with http-buffer-request, the body) must arrive in 10 s
    "http-keep-alive": "10s",
    "queue": "1s",
    "check": "2s",
}

_ERRORS = {
    503: ("unavailable", "no api worker is free or up; retry later"),
    504: ("timeout", "the api did not answer in time"),
    408: ("invalid_argument", "the request did not arrive in time"),
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
    for status, (code, message) in _ERRORS.items():
        body = json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":"))
        lines.append(f"    http-error status {status} content-type application/json string '{body}'")
    return lines


def _frontend(bind: str) -> list[str]:
    return [
        "",
        "frontend public",
        f"    bind {bind}",
        f"    acl health path {' '.join(HEALTH_PATHS)}",
        "    use_backend health if health",
        "    default_backend api",
    ]


def _backends(servers: list[str]) -> list[str]:
    """``servers``: ``server`` (or ``server-template``) lines without their per-server limit; both backends
    reach the same copies and check them the same way."""
    checks = [
        "    balance roundrobin",
        "    option httpchk",
        f"    http-check send meth GET uri {HEALTH_PATHS[0]}",
        "    http-check expect status 200",
        "    default-server check inter 1s fall 2 rise 1",
    ]
    return [
        "", "backend api", *checks, *(f"{line} maxconn {API_REQUESTS}" for line in servers),
        "", "backend health", *checks, *(f"{line} maxconn {HEALTH_REQUESTS}" for line in servers),
    ]


def local_config(port: int, servers: list[int], host: str = "127.0.0.1", bind_host: str | None = None) -> str:
    """A configuration listening on ``bind_host:port`` (default: ``host``; ``""``: every interface) and balancing
    over the api copies on ``host`` at ``servers`` (ports)."""
    lines = [*_defaults(), *_frontend(f"{host if bind_host is None else bind_host}:{port}")]
    lines += _backends([f"    server api-{i} {host}:{server}" for i, server in enumerate(servers, 1)])
    return "\n".join(lines) + "\n"


def pod_config(port: int, app_port: int) -> str:
    """A configuration for the balancer container of a Kubernetes api pod: listening on ``port`` on every interface
    (the Service and the kubelet reach it on the pod's address), its one server the app container of the same pod,
    which shares the pod's network namespace, on ``127.0.0.1:app_port``."""
    return GENERATED + local_config(port, [app_port], bind_host="")


def compose_config(port: int, api_port: int, max_replicas: int = 10) -> str:
    """A configuration for a compose profile, listening on ``port``: the api's name comes from ``API_HOST`` (its
    service name) and its containers, up to ``max_replicas``, from Docker's embedded DNS server, re-resolved every
    second; each is reached on ``api_port``."""
    lines = [
        GENERATED.rstrip("\n"),
        *_defaults(),
        "",
        "resolvers docker",
        "    nameserver dns 127.0.0.11:53",
        "    accepted_payload_size 8192",
        "    hold valid 1s",
    ]
    lines += _frontend(f":{port}")
    lines += _backends([f'    server-template api- {max_replicas} "${{API_HOST}}:{api_port}" resolvers docker init-addr none'])
    return "\n".join(lines) + "\n"
