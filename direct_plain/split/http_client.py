"""The plain app's HTTP client for calls between its services: JSON, a timeout on every call, a refused connection
tried again, the peer's domain errors raised again.

One ``requests.Session`` per peer (thread-safe pools, kept alive), urllib3's ``Retry`` mounted on it: a call whose
connection was refused is tried again twice, with a short backoff (nothing was sent, so whatever its method); a call
that was sent is never repeated by the client (a timed-out call's time is spent; a repeat of an idempotent one is
the relay's job, see ``handover``). A peer's address is ``host:port`` or a comma-separated list of them (its
replicas), taken in turn call by call. A peer that cannot be reached is ``Unavailable`` (503), one that does not
answer in time ``DeadlineExceeded`` (504); an answered ``{"error": {"code", "message"}}`` is raised again as that
domain error.
"""
from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shared.domain import DeadlineExceeded, DomainError, Unavailable, error_from_code

log = logging.getLogger(__name__)

RETRY = Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0, backoff_factor=0.1, raise_on_status=False)
POOL_SIZE = 32


class ServiceClient:
    def __init__(self, peer: str, address: str, timeout_s: float):
        self.peer = peer
        self._addresses = itertools.cycle([part.strip() for part in address.split(",") if part.strip()])
        self._turn = threading.Lock()
        self._timeout_s = timeout_s
        self._session = requests.Session()
        self._session.trust_env = False  # internal calls: no proxy from the environment
        self._session.mount("http://", HTTPAdapter(max_retries=RETRY, pool_maxsize=POOL_SIZE))

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
             timeout_s: float | None = None) -> Any:
        """The peer's JSON answer to ``method path``; the errors above."""
        with self._turn:
            address = next(self._addresses)
        timeout = timeout_s or self._timeout_s
        try:
            response = self._session.request(method, f"http://{address}{path}", json=body, params=params, timeout=timeout)
        except requests.Timeout:
            raise DeadlineExceeded(f"the {self.peer} service did not answer within {timeout:.1f} s") from None
        except requests.RequestException as error:
            log.warning("call to %s at %s failed: %s", self.peer, address, error)
            raise Unavailable(f"the {self.peer} service is unavailable") from None
        if response.status_code >= 400:
            try:
                body = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                raise DomainError(f"the {self.peer} service answered {response.status_code}") from None
            raise error_from_code(body["code"], body["message"])
        return response.json()

    def ping(self) -> None:
        """``Unavailable`` unless the peer (one replica) answers ``GET /readyz``."""
        self.call("GET", "/readyz", timeout_s=1.0)
