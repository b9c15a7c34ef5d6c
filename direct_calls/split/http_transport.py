"""The HTTP/JSON transport (``TRANSPORT=http``): clients with the methods of the services they replace, and servers.

Internal endpoints only (nothing of the public edge's routes): each service has a small Flask app
under its own prefix, e.g. ``POST /monitor/targets/{id}/results``, ``PUT /alerting/evaluations/{result_id}``,
``PUT /notification/deliveries/{alert_id}/{event}``. Idempotent operations use GET or PUT, the others POST
or DELETE. Bodies are the domain values as JSON (:mod:`.codec`).

Clients: one ``requests.Session`` per peer, reused by every call and thread (its connection pools are
thread-safe; the servers set no cookies), with a keep-alive pool per replica. Each call goes to the
peer's next replica in turn (:class:`.discovery.RoundRobin`: a list of addresses, or a name resolved
again every 10 s); a replica that refused a connection is passed over for a second while another
is left. Every call has a deadline (``Settings.call_timeout_s``, or
what is left of the call being served, sent on in the ``X-Timeout-Ms`` header, see :mod:`.deadlines`).
Retries are urllib3's ``Retry`` mounted on the session: only for GET and PUT (the idempotent calls, see
each client method), on connection and read errors, with exponential backoff, never past the deadline,
to the replica the call started on.
An error the peer answered (``{"error": {"code", "message"}}``) is never retried: it is final or comes
from further downstream, where it was retried already; the client raises the same domain error again.
A peer that cannot be reached gives ``Unavailable`` (503), one that does not answer in time
``DeadlineExceeded`` (504).

Credentials (:mod:`.credentials`): every client sends its peer's token as ``Authorization: Bearer <token>``; every
server answers a request without its own token 401 ``unauthenticated`` (the JSON error body, ``WWW-Authenticate:
Bearer``) before reading its body, except ``GET /healthz`` and ``GET /readyz`` (probes carry no token).

Servers: gunicorn with one gthread worker per process (a SQLite file has one writer process; the
monitor's per-target order lives in its database, so several processes may serve it on PostgreSQL);
``GET /healthz`` answers while the process lives, ``GET /readyz`` while its database answers too.
SIGTERM stops it gracefully.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import flask
import requests
from flask import Flask, request
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.retry import Retry
from werkzeug.exceptions import HTTPException

from shared.domain import (
    Alert,
    AlertChange,
    CheckResult,
    Conflict,
    DeadlineExceeded,
    DomainError,
    InvalidArgument,
    NewResult,
    NewTarget,
    NotFound,
    Notification,
    RuleParams,
    Target,
    TargetPage,
    Unavailable,
    error_from_code,
)
from shared.http.errors import error_response
from shared.http.metrics import observe_requests
from shared.http.probes import add_probe_routes, ping_reasons
from shared.outbound import PROBE_TIMEOUT_S
from shared.telemetry.metrics import count_http_client_failure, observe_http_client

from . import deadlines
from .codec import from_json, to_json
from .credentials import Verifier, credential
from .discovery import RoundRobin

log = logging.getLogger(__name__)

DEADLINE_HEADER = "X-Timeout-Ms"
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
"""The routes a server answers without its token: the probes'."""
IDEMPOTENT_METHODS = frozenset({"GET", "PUT"})
PING_TIMEOUT_S = 1.0
POOL_SIZE = 32
"""Keep-alive connections per replica."""
POOLED_REPLICAS = 64
"""Replicas of one peer whose pools are kept (beyond that, the least recently used pool is closed)."""
SERVER_THREADS = 16
GRACE_S = 5
STATUS_BY_CODE = {
    InvalidArgument.code: 400,
    NotFound.code: 404,
    Conflict.code: 409,
    Unavailable.code: 503,
    DeadlineExceeded.code: 504,
}


class CallRetry(Retry):
    """urllib3's ``Retry``, never for a method outside ``allowed_methods`` (not even after a refused
    connection, which urllib3 would otherwise retry for any method) and never past the call's deadline."""

    def increment(self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any) -> Retry:
        retry: Retry = self
        if method is not None and not self._is_method_retryable(method):
            retry = self.new(total=0)  # this attempt was the only one
        return Retry.increment(retry, method, url, *args, **kwargs)

    def is_exhausted(self) -> bool:
        left = deadlines.remaining()
        return super().is_exhausted() or (left is not None and left <= self.get_backoff_time())


RETRY = CallRetry(
    total=3, connect=3, read=1, status=0, other=0, redirect=0,
    backoff_factor=0.1, backoff_max=1.0,
    allowed_methods=IDEMPOTENT_METHODS, status_forcelist=(), respect_retry_after_header=False, raise_on_status=False,
)


# --------------------------------------------------------------------------- clients


class _Client:
    """One peer: its session (opened once, shared by every thread and call) and how its calls fail."""

    peer: str

    def __init__(self, address: str, timeout_s: float, token: str):
        """``address``: one ``host:port``, or a comma-separated list of them (see :mod:`.discovery`); ``token``: the
        peer's token, sent with every call."""
        self._replicas = RoundRobin(address)
        self._timeout_s = timeout_s
        self._session = requests.Session()
        self._session.trust_env = False  # internal calls: no proxy or .netrc from the environment
        self._session.headers["Authorization"] = credential(token)
        adapter = HTTPAdapter(max_retries=RETRY, pool_connections=POOLED_REPLICAS, pool_maxsize=POOL_SIZE)
        self._session.mount("http://", adapter)
        self._session.hooks["response"].append(observe_http_client(self.peer))

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
              timeout_s: float | None = None) -> Any:
        budget = deadlines.budget(timeout_s or self._timeout_s)
        address = self._replicas.next()
        try:
            with deadlines.within(budget):
                response = self._session.request(
                    method, f"http://{address}{path}", json=body, params=params, timeout=budget,
                    headers={DEADLINE_HEADER: str(max(1, int(budget * 1000)))},
                )
        except requests.RequestException as error:
            count_http_client_failure(self.peer, method)
            raise self._transport_error(error, budget, address) from None
        if response.status_code >= 400:
            raise self._answered_error(response, address)
        return response.json()

    def _transport_error(self, error: requests.RequestException, budget: float, address: str) -> DomainError:
        log.warning("call to %s at %s failed: %s", self.peer, address, error)
        cause = error.args[0] if error.args else None
        if isinstance(cause, MaxRetryError):
            cause = cause.reason
        if isinstance(cause, NewConnectionError) or isinstance(error, requests.ConnectTimeout):
            self._replicas.failed(address)  # not listening or not reachable: try the others meanwhile
        if isinstance(cause, NewConnectionError):  # refused: urllib3 derives it from its connect timeout class
            return Unavailable(f"the {self.peer} service is unavailable")
        if isinstance(error, requests.Timeout) or isinstance(cause, Urllib3Timeout):
            return DeadlineExceeded(f"the {self.peer} service did not answer within {budget:.2f}s")
        return Unavailable(f"the {self.peer} service is unavailable")

    def _answered_error(self, response: requests.Response, address: str) -> DomainError:
        try:
            error = response.json()["error"]
            return error_from_code(error["code"], error["message"])
        except (ValueError, KeyError, TypeError):  # not our error body: a proxy or a crash answered
            log.warning("%s at %s answered %d: %.200s", self.peer, address, response.status_code, response.text)
        if response.status_code in (502, 503):
            return Unavailable(f"the {self.peer} service is unavailable")
        if response.status_code == 504:
            return DeadlineExceeded(f"the {self.peer} service did not answer in time")
        return DomainError(f"the {self.peer} service answered {response.status_code}")

    def ping(self) -> None:
        """Raise ``Unavailable`` unless a replica of the peer answers ``GET /readyz`` (its database answers
        too). Asks the replicas in turn, each within 1 s, until one is ready."""
        failure = ""
        for _ in self._replicas.addresses():
            try:
                self._call("GET", "/readyz", timeout_s=min(PING_TIMEOUT_S, self._timeout_s))
                return
            except DomainError as error:
                failure = error.message
        raise Unavailable(f"the {self.peer} service is not ready: {failure}")

    def close(self) -> None:
        self._session.close()


class MonitorClient(_Client):
    """The monitor service over HTTP, with the methods of ``MonitorService``."""

    peer = "monitor"

    def create_target(self, tenant: str, new: NewTarget) -> Target:
        """Not retried (POST): a repeat after a lost answer would find the name taken (409)."""
        return from_json(self._call("POST", "/monitor/targets", to_json(new), params={"tenant": tenant}), Target)

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        """Retried (GET): a read changes nothing."""
        params = {"tenant": tenant, "limit": limit, "offset": offset}
        return from_json(self._call("GET", "/monitor/targets", params=params), TargetPage)

    def get_target(self, tenant: str, target_id: str) -> Target:
        """Retried (GET): a read changes nothing."""
        return from_json(self._call("GET", f"/monitor/targets/{target_id}", params={"tenant": tenant}), Target)

    def delete_target(self, tenant: str, target_id: str) -> None:
        """Not retried (DELETE): a repeat after a lost answer would answer 404 for a deletion that succeeded."""
        self._call("DELETE", f"/monitor/targets/{target_id}", params={"tenant": tenant})

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        """Not retried (POST): a result without an idempotency key would be recorded twice."""
        reply = self._call("POST", f"/monitor/targets/{target_id}/results", to_json(new), params={"tenant": tenant})
        return from_json(reply, CheckResult)

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        """Retried (GET): a read changes nothing."""
        reply = self._call("GET", f"/monitor/targets/{target_id}/results", params={"tenant": tenant, "limit": limit})
        return [from_json(item, CheckResult) for item in reply["items"]]

    def check_target(self, tenant: str, target_id: str) -> CheckResult:
        """Not retried (POST): each call probes anew and records a new result.

        Its deadline adds the probe's own 5 s timeout to the call timeout, as the monolith would wait.
        """
        reply = self._call("POST", f"/monitor/targets/{target_id}/check", params={"tenant": tenant},
                           timeout_s=PROBE_TIMEOUT_S + self._timeout_s)
        return from_json(reply, CheckResult)


class AlertingClient(_Client):
    """The alerting service over HTTP, with the methods of ``AlertingService``."""

    peer = "alerting"

    def evaluate(self, result: CheckResult, params: RuleParams) -> list[AlertChange]:
        """Retried (PUT): idempotent by result id. Alerting records the result id in the transaction of its
        effect and applies a result only once; a repeat returns the changes recorded the first time and
        notifies them again, which the notification service deduplicates by (alert id, event)."""
        body = {"result": to_json(result), "params": to_json(params)}
        reply = self._call("PUT", f"/alerting/evaluations/{result.id}", body)
        return [from_json(change, AlertChange) for change in reply["changes"]]

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        """Retried (GET): a read changes nothing."""
        reply = self._call("GET", "/alerting/alerts", params={"tenant": tenant, "target_id": target_id, "state": state})
        return [from_json(item, Alert) for item in reply["items"]]


class NotificationClient(_Client):
    """The notification service over HTTP, with the methods of ``NotificationService``."""

    peer = "notification"

    def notify(self, change: AlertChange) -> list[Notification]:
        """Retried (PUT): idempotent by (alert id, event). A delivery already recorded is returned as it was
        and nothing is sent again; a retry that overlaps the first call waits for its record (the webhook is
        claimed before it is sent). Each Notification carries its ``attempts`` (the codec's JSON field)."""
        reply = self._call("PUT", f"/notification/deliveries/{change.alert.id}/{change.event}", {"change": to_json(change)})
        return [from_json(item, Notification) for item in reply["items"]]

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        """Retried (GET): a read changes nothing."""
        params = {"tenant": tenant, "target_id": target_id, "alert_id": alert_id}
        reply = self._call("GET", "/notification/notifications", params=params)
        return [from_json(item, Notification) for item in reply["items"]]


# --------------------------------------------------------------------------- servers


def _tenant() -> str:
    """The caller's tenant, which every call but ``evaluate`` and ``notify`` carries as the ``tenant`` parameter
    (400 without it)."""
    return request.args["tenant"]


def _int_arg(name: str) -> int:
    """A whole-number query parameter (400 when missing or not a number; its range is the service's to check)."""
    try:
        return int(request.args[name])
    except ValueError:
        raise InvalidArgument(f"{name} must be a whole number") from None


def _monitor_routes(app: Flask, service: Any) -> None:
    @app.post("/monitor/targets")
    def create_target() -> Any:
        return to_json(service.create_target(_tenant(), from_json(request.get_json(), NewTarget)))

    @app.get("/monitor/targets")
    def list_targets() -> Any:
        return to_json(service.list_targets(_tenant(), _int_arg("limit"), _int_arg("offset")))

    @app.get("/monitor/targets/<target_id>")
    def get_target(target_id: str) -> Any:
        return to_json(service.get_target(_tenant(), target_id))

    @app.delete("/monitor/targets/<target_id>")
    def delete_target(target_id: str) -> Any:
        service.delete_target(_tenant(), target_id)
        return {}

    @app.post("/monitor/targets/<target_id>/results")
    def ingest_result(target_id: str) -> Any:
        return to_json(service.ingest_result(_tenant(), target_id, from_json(request.get_json(), NewResult)))

    @app.get("/monitor/targets/<target_id>/results")
    def list_results(target_id: str) -> Any:
        results = service.list_results(_tenant(), target_id, _int_arg("limit"))
        return {"items": [to_json(result) for result in results]}

    @app.post("/monitor/targets/<target_id>/check")
    def check_target(target_id: str) -> Any:
        return to_json(service.check_target(_tenant(), target_id))


def _alerting_routes(app: Flask, service: Any) -> None:
    @app.put("/alerting/evaluations/<result_id>")
    def evaluate(result_id: str) -> Any:
        body = request.get_json()
        changes = service.evaluate(from_json(body["result"], CheckResult), from_json(body["params"], RuleParams))
        return {"changes": [to_json(change) for change in changes]}

    @app.get("/alerting/alerts")
    def list_alerts() -> Any:
        alerts = service.list_alerts(_tenant(), request.args.get("target_id"), request.args.get("state"))
        return {"items": [to_json(alert) for alert in alerts]}


def _notification_routes(app: Flask, service: Any) -> None:
    @app.put("/notification/deliveries/<alert_id>/<event>")
    def notify(alert_id: str, event: str) -> Any:
        notifications = service.notify(from_json(request.get_json()["change"], AlertChange))
        return {"items": [to_json(notification) for notification in notifications]}

    @app.get("/notification/notifications")
    def list_notifications() -> Any:
        notifications = service.list_notifications(_tenant(), request.args.get("target_id"), request.args.get("alert_id"))
        return {"items": [to_json(notification) for notification in notifications]}


_ROUTES = {"monitor": _monitor_routes, "alerting": _alerting_routes, "notification": _notification_routes}


def create_service_app(name: str, service: Any, token: str) -> Flask:
    """The internal HTTP API of the service ``name`` (``service`` is its service object), for callers presenting
    ``token``: every request but to :data:`OPEN_PATHS` without ``Authorization: Bearer <token>`` is answered 401."""
    app = flask.Flask(f"{name}-service", static_folder=None)  # looked up now: tracing may have instrumented it
    observe_requests(app, name)
    verifier = Verifier(token)

    @app.before_request
    def authenticate() -> Any:
        if request.path in OPEN_PATHS or verifier.accepts(request.headers.get("Authorization")):
            return None
        log.warning("refused %s %s from %s: no valid %s token", request.method, request.path, request.remote_addr, name)
        response, status = error_response(401, "unauthenticated", f"the {name} service requires its token: "
                                                          "Authorization: Bearer <token>")
        response.headers["WWW-Authenticate"] = f'Bearer realm="{name}"'
        return response, status

    _ROUTES[name](app, service)

    add_probe_routes(app, ping_reasons(service.ping, name))

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Any:
        return error_response(STATUS_BY_CODE.get(error.code, 500), error.code, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:  # a caller that does not speak this API: a bug, not a domain error
        message = f"{name}: {error.code} {error.name} on {request.method} {request.path}"
        return error_response(error.code or 500, DomainError.code, message)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, DomainError.code, "internal error")

    serve_wsgi = app.wsgi_app

    def within_callers_deadline(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            timeout_s: float | None = int(environ.get("HTTP_X_TIMEOUT_MS", "")) / 1000.0
        except ValueError:
            timeout_s = None
        with deadlines.within(timeout_s):
            return serve_wsgi(environ, start_response)

    app.wsgi_app = within_callers_deadline  # type: ignore[method-assign]
    return app


def serve(name: str, build_service: Callable[[], Any], host: str, port: int, token: str) -> None:
    """Serve the service ``name`` (to callers presenting ``token``) with gunicorn (one gthread worker) until SIGTERM
    or SIGINT."""
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            settings = {
                "bind": f"{host}:{port}", "workers": 1, "worker_class": "gthread", "threads": SERVER_THREADS,
                "graceful_timeout": GRACE_S, "timeout": 60, "keepalive": 75, "proc_name": f"{name}-service",
                "control_socket_disable": True,  # the default path is one per user, shared by every gunicorn
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:  # in the worker, after the fork: the database engine is opened there
            return create_service_app(name, build_service(), token)

    _Gunicorn().run()
