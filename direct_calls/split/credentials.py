"""Who may call an internal service: the token of each service, presented by its callers.

Each service (monitor, alerting, notification) has a token of its own, given to processes as ``<SERVICE>_TOKEN``
(``MONITOR_TOKEN``, ``ALERTING_TOKEN``, ``NOTIFICATION_TOKEN``). A service's server is given its own token and
accepts only calls that present it; a process that calls a service is given that service's token and presents it
on every call, as the bearer credential ``Bearer <token>``: in the gRPC call metadata ``authorization``
(:mod:`.grpc_transport`, checked by a server interceptor) or in the HTTP header ``Authorization``
(:mod:`.http_transport`). Each process holds only what it needs: the api the three tokens, the monitor its own
and alerting's, alerting its own and notification's, notification its own. A token is a random string of at
least ``shared.config.MIN_TOKEN_CHARS`` (16) printable ASCII characters without spaces (the launcher makes a new
``secrets.token_urlsafe(32)`` for each service on every run; compose and Kubernetes take them from the
environment and a Secret); ``Settings.token`` refuses a missing or shorter one at startup.

Guarantees: a call to any method or route of a service but its health checks (the standard gRPC health service,
``GET /healthz`` and ``GET /readyz``, which probes call without a token and which tell only whether the process
serves) is refused unless it presents exactly that service's token: gRPC ``UNAUTHENTICATED``, HTTP 401
``unauthenticated`` with the JSON error body; refused before its request is decoded or the service is called. The
comparison is :func:`hmac.compare_digest` of the whole presented value with ``Bearer <token>``: constant time for
a value of the right length, one comparison per call, nothing else. A caller refused this way raises a plain
``DomainError`` (the edge answers 500 ``internal`` and logs it): a wrong internal credential is a deployment
mistake, never the public client's.

Not given: secrecy of the token on the wire or integrity of the calls (the transports are plaintext, as before;
TLS or a private network is what keeps others from reading the traffic), nor any limit on what a caller holding a
service's token may ask of that service.
"""
from __future__ import annotations

import hmac

SCHEME = "Bearer"


def credential(token: str) -> str:
    """What a caller presents: ``Bearer <token>`` (the value of the metadata or header ``authorization``)."""
    return f"{SCHEME} {token}"


class Verifier:
    """The check of one server: is a presented ``authorization`` value its ``Bearer <token>``?"""

    def __init__(self, token: str):
        self._expected = credential(token).encode()

    def accepts(self, presented: str | bytes | None) -> bool:
        if presented is None:
            return False
        if isinstance(presented, str):
            presented = presented.encode("utf-8", "surrogatepass")
        return hmac.compare_digest(presented, self._expected)
