"""Outbound HTTP the services make on their own behalf: probing targets and posting webhooks."""
from __future__ import annotations

import time

import requests

from .ports import ProbeOutcome, Prober, WebhookSender

PROBE_TIMEOUT_S = 5.0
WEBHOOK_TIMEOUT_S = 2.0


class HttpProber(Prober):
    """HTTP GET with a 5 s timeout on one reused session; ok when the status is below 400."""

    def __init__(self, session: requests.Session | None = None, timeout_s: float = PROBE_TIMEOUT_S):
        self._session = session or requests.Session()
        self._timeout_s = timeout_s

    def probe(self, url: str) -> ProbeOutcome:
        started = time.perf_counter()
        try:
            response = self._session.get(url, timeout=self._timeout_s, allow_redirects=True)
        except requests.RequestException:
            return ProbeOutcome(ok=False, latency_ms=_elapsed_ms(started), status_code=None)
        return ProbeOutcome(ok=response.status_code < 400, latency_ms=_elapsed_ms(started), status_code=response.status_code)


class HttpWebhookSender(WebhookSender):
    """POST JSON with a 2 s timeout, no retries: a failure is recorded by the caller as ``failed``."""

    def __init__(self, session: requests.Session | None = None, timeout_s: float = WEBHOOK_TIMEOUT_S):
        self._session = session or requests.Session()
        self._timeout_s = timeout_s

    def post(self, url: str, payload: dict) -> bool:
        try:
            response = self._session.post(url, json=payload, timeout=self._timeout_s)
        except requests.RequestException:
            return False
        return 200 <= response.status_code < 300


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)
