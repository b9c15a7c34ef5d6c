"""The gRPC transport (``TRANSPORT=grpc``): clients with the methods of the services they replace, and servers.

Clients: one channel per peer, opened once and reused by every call, with a connection to each replica
of the peer and the ``round_robin`` policy: each call goes to the next replica whose connection is ready
(a replica that is down is passed over until it reconnects). The replicas are a list of addresses
(target ``ipv4:a:p,b:q``) or every address a name resolves to (``dns:///alerting:8080``, or
``alerting:8080``), see :mod:`.discovery`. Every call has a deadline
(``Settings.call_timeout_s``, or what is left of the call being served, see :mod:`.deadlines`).
Retries are the channel's own: a service-config ``retryPolicy`` on the idempotent methods only,
with exponential backoff, for ``UNAVAILABLE`` raised by the transport (peer down or restarting).
A domain error the peer answered is never retried here (the peer sends retry pushback -1): it either
is final or comes from further downstream, where it was retried already.

Errors: the servicer answers a domain error with its gRPC status, its message as the details and its
code in the trailing metadata ``x-domain-error``; the client raises the same domain error again, so the
edge answers exactly as the monolith does. A peer that cannot be reached gives ``Unavailable`` (503),
one that does not answer in time ``DeadlineExceeded`` (504).

Credentials (:mod:`.credentials`): every client sends its peer's token in the call metadata (``authorization:
Bearer <token>``, on the insecure channel: call metadata, not call credentials, which gRPC sends only over TLS);
every server has :class:`RequireToken` in front of its servicer, which refuses a call without its own token with
``UNAUTHENTICATED`` before the request is decoded. The standard health service stays open (probes carry no token).

Servers: ``grpc.server`` on a thread pool, with the standard health service; SIGTERM/SIGINT stop it
gracefully (health turns NOT_SERVING, in-flight calls get a grace period). A server closes each client
connection after ``MAX_CONNECTION_AGE_S`` (in-flight calls finish first), so clients of a name resolve
it again and spread over replicas added since.
"""
from __future__ import annotations

import functools
import json
import logging
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

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
from shared.outbound import PROBE_TIMEOUT_S

from . import deadlines
from .codec import from_proto, to_proto
from .credentials import Verifier, credential
from .discovery import grpc_target
from .grpc_metrics import ClientMetrics, ServerMetrics

try:
    from proto.generated import monitoring_pb2 as pb
    from proto.generated import monitoring_pb2_grpc as pb_grpc
except ImportError as error:  # pragma: no cover - a setup mistake, named plainly
    raise ImportError(f"the gRPC code is not generated ({error}): run `make proto`") from error

log = logging.getLogger(__name__)

SERVICE_NAMES = {
    "monitor": pb.DESCRIPTOR.services_by_name["MonitorService"].full_name,
    "alerting": pb.DESCRIPTOR.services_by_name["AlertingService"].full_name,
    "notification": pb.DESCRIPTOR.services_by_name["NotificationService"].full_name,
}

DOMAIN_ERROR_KEY = "x-domain-error"
AUTHORIZATION = "authorization"
"""The call metadata that carries the caller's credential (gRPC metadata keys are lower case)."""
HEALTH_METHODS = f"/{health.SERVICE_NAME}/"
"""The prefix of the standard health service's methods, which need no credential."""
_NO_RETRY = ("grpc-retry-pushback-ms", "-1")  # tells the caller's retry policy not to retry this answer

STATUS_BY_CODE = {
    InvalidArgument.code: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound.code: grpc.StatusCode.NOT_FOUND,
    Conflict.code: grpc.StatusCode.ALREADY_EXISTS,
    Unavailable.code: grpc.StatusCode.UNAVAILABLE,
    DeadlineExceeded.code: grpc.StatusCode.DEADLINE_EXCEEDED,
}

# The methods that are safe to call twice (each client method's docstring says why); no others are retried.
IDEMPOTENT_METHODS = {
    "monitor": ("ListTargets", "GetTarget", "ListResults"),
    "alerting": ("Evaluate", "ListAlerts"),
    "notification": ("Notify", "ListNotifications"),
}
RETRY_POLICY = {
    "maxAttempts": 3,
    "initialBackoff": "0.1s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
PING_TIMEOUT_S = 1.0
SERVER_THREADS = 16
GRACE_S = 5.0
MAX_CONNECTION_AGE_S = 30.0
MAX_CONNECTION_AGE_GRACE_S = 15.0  # longer than any call's deadline (a check: 5 s probe + 5 s)


def channel_options(peer: str) -> list[tuple[str, Any]]:
    """Calls spread over the replicas of ``peer`` in turn; retries on its idempotent methods; reconnection
    to a restarted replica within a second."""
    service_config = {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{"service": SERVICE_NAMES[peer], "method": method} for method in IDEMPOTENT_METHODS[peer]],
                "retryPolicy": RETRY_POLICY,
            }
        ]
    }
    return [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", json.dumps(service_config)),
        # Reconnect to a restarted peer within a second (default backoff: up to 120 s). Not lowered:
        # grpc.min_reconnect_backoff_ms, which is also the connect timeout (a hung peer must give 504, not 503).
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
        ("grpc.enable_http_proxy", 0),  # internal calls: no proxy from the environment
    ]


# --------------------------------------------------------------------------- clients


class _Client:
    """One peer: its channel (opened once, shared by every thread and call) and how its calls fail."""

    peer: str

    def __init__(self, address: str, timeout_s: float, token: str):
        """``address``: one ``host:port``, a comma-separated list of them or a gRPC target (see :mod:`.discovery`);
        ``token``: the peer's token, sent with every call."""
        self._address = address
        self._timeout_s = timeout_s
        self._metadata = ((AUTHORIZATION, credential(token)),)
        channel = grpc.insecure_channel(grpc_target(address), options=channel_options(self.peer))
        self._channel = grpc.intercept_channel(channel, ClientMetrics())
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def _call(self, method: Callable[..., Any], request: Any, timeout_s: float | None = None) -> Any:
        budget = deadlines.budget(timeout_s or self._timeout_s)
        try:
            return method(request, timeout=budget, metadata=self._metadata)
        except grpc.RpcError as error:
            raise self._domain_error(error, budget) from None

    def _domain_error(self, error: grpc.RpcError, budget: float) -> DomainError:
        code = error.code()
        metadata = dict(error.trailing_metadata() or ())
        if DOMAIN_ERROR_KEY in metadata:  # the peer's own answer: the error its service raised
            return error_from_code(metadata[DOMAIN_ERROR_KEY], error.details())
        log.warning("call to %s at %s failed: %s: %s", self.peer, self._address, code.name, error.details())
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return DeadlineExceeded(f"the {self.peer} service did not answer within {budget:.2f}s")
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED):
            return Unavailable(f"the {self.peer} service is unavailable")
        return DomainError(f"call to the {self.peer} service failed: {code.name}")

    def ping(self) -> None:
        """Raise ``Unavailable`` unless the peer's health service says SERVING (its database answers too)."""
        request = health_pb2.HealthCheckRequest(service=SERVICE_NAMES[self.peer])
        reply = self._call(self._health.Check, request, timeout_s=min(PING_TIMEOUT_S, self._timeout_s))
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise Unavailable(f"the {self.peer} service is not serving")

    def close(self) -> None:
        self._channel.close()


class MonitorClient(_Client):
    """The monitor service over gRPC, with the methods of ``MonitorService``."""

    peer = "monitor"

    def __init__(self, address: str, timeout_s: float, token: str):
        super().__init__(address, timeout_s, token)
        self._stub = pb_grpc.MonitorServiceStub(self._channel)

    def create_target(self, tenant: str, new: NewTarget) -> Target:
        """Not retried: a repeat after a lost answer would find the name taken (409)."""
        request = pb.CreateTargetRequest(target=to_proto(new, pb.NewTarget()), tenant=tenant)
        reply = self._call(self._stub.CreateTarget, request)
        return from_proto(reply.target, Target)

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        """Retried: a read changes nothing."""
        reply = self._call(self._stub.ListTargets, pb.ListTargetsRequest(limit=limit, offset=offset, tenant=tenant))
        return from_proto(reply, TargetPage)

    def get_target(self, tenant: str, target_id: str) -> Target:
        """Retried: a read changes nothing."""
        reply = self._call(self._stub.GetTarget, pb.GetTargetRequest(target_id=target_id, tenant=tenant))
        return from_proto(reply.target, Target)

    def delete_target(self, tenant: str, target_id: str) -> None:
        """Not retried: a repeat after a lost answer would answer 404 for a deletion that succeeded."""
        self._call(self._stub.DeleteTarget, pb.DeleteTargetRequest(target_id=target_id, tenant=tenant))

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        """Not retried: a result without an idempotency key would be recorded twice."""
        request = pb.IngestResultRequest(target_id=target_id, result=to_proto(new, pb.NewResult()), tenant=tenant)
        return from_proto(self._call(self._stub.IngestResult, request).result, CheckResult)

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        """Retried: a read changes nothing."""
        request = pb.ListResultsRequest(target_id=target_id, limit=limit, tenant=tenant)
        reply = self._call(self._stub.ListResults, request)
        return [from_proto(item, CheckResult) for item in reply.items]

    def check_target(self, tenant: str, target_id: str) -> CheckResult:
        """Not retried: each call probes anew and records a new result.

        Its deadline adds the probe's own 5 s timeout to the call timeout, as the monolith would wait.
        """
        request = pb.CheckTargetRequest(target_id=target_id, tenant=tenant)
        reply = self._call(self._stub.CheckTarget, request, timeout_s=PROBE_TIMEOUT_S + self._timeout_s)
        return from_proto(reply.result, CheckResult)


class AlertingClient(_Client):
    """The alerting service over gRPC, with the methods of ``AlertingService``."""

    peer = "alerting"

    def __init__(self, address: str, timeout_s: float, token: str):
        super().__init__(address, timeout_s, token)
        self._stub = pb_grpc.AlertingServiceStub(self._channel)

    def evaluate(self, result: CheckResult, params: RuleParams) -> list[AlertChange]:
        """Retried: idempotent by result id. Alerting records the result id in the transaction of its
        effect and applies a result only once; a repeat returns the changes recorded the first time and
        notifies them again, which the notification service deduplicates by (alert id, event)."""
        request = pb.EvaluateRequest(result=to_proto(result, pb.CheckResult()), params=to_proto(params, pb.RuleParams()))
        return [from_proto(change, AlertChange) for change in self._call(self._stub.Evaluate, request).changes]

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        """Retried: a read changes nothing."""
        reply = self._call(self._stub.ListAlerts, pb.ListAlertsRequest(target_id=target_id, state=state, tenant=tenant))
        return [from_proto(item, Alert) for item in reply.items]


class NotificationClient(_Client):
    """The notification service over gRPC, with the methods of ``NotificationService``."""

    peer = "notification"

    def __init__(self, address: str, timeout_s: float, token: str):
        super().__init__(address, timeout_s, token)
        self._stub = pb_grpc.NotificationServiceStub(self._channel)

    def notify(self, change: AlertChange) -> list[Notification]:
        """Retried: idempotent by (alert id, event). A delivery already recorded is returned as it was and
        nothing is sent again; a retry that overlaps the first call waits for its record (the webhook is
        claimed before it is sent). Each Notification carries its ``attempts`` (proto field 9)."""
        reply = self._call(self._stub.Notify, pb.NotifyRequest(change=to_proto(change, pb.AlertChange())))
        return [from_proto(item, Notification) for item in reply.notifications]

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        """Retried: a read changes nothing."""
        request = pb.ListNotificationsRequest(target_id=target_id, alert_id=alert_id, tenant=tenant)
        return [from_proto(item, Notification) for item in self._call(self._stub.ListNotifications, request).items]


# --------------------------------------------------------------------------- servers


def _rpc(method: Callable[[Any, Any], Any]) -> Callable[[Any, Any, grpc.ServicerContext], Any]:
    """Serve ``method(self, request)`` within the caller's deadline; answer its errors as described above."""

    @functools.wraps(method)
    def handler(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            with deadlines.within(context.time_remaining()):
                return method(self, request)
        except DomainError as error:
            context.set_trailing_metadata(((DOMAIN_ERROR_KEY, error.code), _NO_RETRY))
            context.abort(STATUS_BY_CODE.get(error.code, grpc.StatusCode.INTERNAL), error.message)
        except Exception:
            log.exception("%s failed", method.__name__)
            context.set_trailing_metadata(((DOMAIN_ERROR_KEY, DomainError.code), _NO_RETRY))
            context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return handler


class MonitorServicer(pb_grpc.MonitorServiceServicer):
    def __init__(self, service: Any):
        self._service = service

    @_rpc
    def CreateTarget(self, request: Any) -> Any:
        target = self._service.create_target(request.tenant, from_proto(request.target, NewTarget))
        return pb.CreateTargetResponse(target=to_proto(target, pb.Target()))

    @_rpc
    def ListTargets(self, request: Any) -> Any:
        return to_proto(self._service.list_targets(request.tenant, request.limit, request.offset), pb.ListTargetsResponse())

    @_rpc
    def GetTarget(self, request: Any) -> Any:
        return pb.GetTargetResponse(target=to_proto(self._service.get_target(request.tenant, request.target_id), pb.Target()))

    @_rpc
    def DeleteTarget(self, request: Any) -> Any:
        self._service.delete_target(request.tenant, request.target_id)
        return pb.DeleteTargetResponse()

    @_rpc
    def IngestResult(self, request: Any) -> Any:
        result = self._service.ingest_result(request.tenant, request.target_id, from_proto(request.result, NewResult))
        return pb.IngestResultResponse(result=to_proto(result, pb.CheckResult()))

    @_rpc
    def ListResults(self, request: Any) -> Any:
        results = self._service.list_results(request.tenant, request.target_id, request.limit)
        return pb.ListResultsResponse(items=[to_proto(result, pb.CheckResult()) for result in results])

    @_rpc
    def CheckTarget(self, request: Any) -> Any:
        result = self._service.check_target(request.tenant, request.target_id)
        return pb.CheckTargetResponse(result=to_proto(result, pb.CheckResult()))


class AlertingServicer(pb_grpc.AlertingServiceServicer):
    def __init__(self, service: Any):
        self._service = service

    @_rpc
    def Evaluate(self, request: Any) -> Any:
        changes = self._service.evaluate(from_proto(request.result, CheckResult), from_proto(request.params, RuleParams))
        return pb.EvaluateResponse(changes=[to_proto(change, pb.AlertChange()) for change in changes])

    @_rpc
    def ListAlerts(self, request: Any) -> Any:
        target_id = request.target_id if request.HasField("target_id") else None
        state = request.state if request.HasField("state") else None
        alerts = self._service.list_alerts(request.tenant, target_id, state)
        return pb.ListAlertsResponse(items=[to_proto(alert, pb.Alert()) for alert in alerts])


class NotificationServicer(pb_grpc.NotificationServiceServicer):
    def __init__(self, service: Any):
        self._service = service

    @_rpc
    def Notify(self, request: Any) -> Any:
        notifications = self._service.notify(from_proto(request.change, AlertChange))
        return pb.NotifyResponse(notifications=[to_proto(item, pb.Notification()) for item in notifications])

    @_rpc
    def ListNotifications(self, request: Any) -> Any:
        target_id = request.target_id if request.HasField("target_id") else None
        alert_id = request.alert_id if request.HasField("alert_id") else None
        notifications = self._service.list_notifications(request.tenant, target_id, alert_id)
        return pb.ListNotificationsResponse(items=[to_proto(item, pb.Notification()) for item in notifications])


_SERVICERS = {
    "monitor": (MonitorServicer, pb_grpc.add_MonitorServiceServicer_to_server),
    "alerting": (AlertingServicer, pb_grpc.add_AlertingServiceServicer_to_server),
    "notification": (NotificationServicer, pb_grpc.add_NotificationServiceServicer_to_server),
}


class _Health(health.HealthServicer):
    """The standard health service. ``""`` is SERVING while the process serves (liveness); the service's
    own name is SERVING while its database answers too (readiness, checked on each ``Check``)."""

    def __init__(self, service_name: str, ping: Callable[[], None]):
        super().__init__()
        self._service_name = service_name
        self._ping = ping
        self.set("", health_pb2.HealthCheckResponse.SERVING)
        self.set(service_name, health_pb2.HealthCheckResponse.SERVING)

    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:
        reply = super().Check(request, context)
        if request.service == self._service_name and reply.status == health_pb2.HealthCheckResponse.SERVING:
            try:
                self._ping()
            except Exception as error:  # noqa: BLE001 - any failure means not serving
                log.warning("health: %s", error)
                return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)
        return reply


class RequireToken(grpc.ServerInterceptor):
    """Refuses, with ``UNAUTHENTICATED``, every call but the health service's whose ``authorization`` metadata is
    not ``Bearer <token>`` of this server (see :mod:`.credentials`); lets the others through unchanged."""

    def __init__(self, name: str, token: str):
        self._name = name
        self._verifier = Verifier(token)

        def refuse(request: Any, context: grpc.ServicerContext) -> Any:
            log.warning("refused a call from %s: no valid %s token", context.peer(), name)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"the {name} service requires its token: "
                                                            f"{AUTHORIZATION}: Bearer <token>")

        self._refusal = grpc.unary_unary_rpc_method_handler(refuse)  # every method of ours is unary-unary

    def intercept_service(self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails) -> Any:
        if details.method.startswith(HEALTH_METHODS):
            return continuation(details)
        presented = next((value for key, value in details.invocation_metadata or () if key == AUTHORIZATION), None)
        return continuation(details) if self._verifier.accepts(presented) else self._refusal


def build_server(name: str, service: Any, address: str, token: str) -> tuple[grpc.Server, _Health, int]:
    """A started server for the service ``name`` on ``address`` (``host:port``), with its health service,
    and the port it listens on (``host:0`` picks a free one). Every call but a health check must present
    ``token`` (:class:`RequireToken`)."""
    server = grpc.server(
        ThreadPoolExecutor(max_workers=SERVER_THREADS, thread_name_prefix=f"{name}-rpc"),
        interceptors=[ServerMetrics(), RequireToken(name, token)],  # a refused call is counted too
        options=[
            ("grpc.so_reuseport", 0),  # a port already taken is an error, not a shared port
            ("grpc.max_connection_age_ms", int(MAX_CONNECTION_AGE_S * 1000)),
            ("grpc.max_connection_age_grace_ms", int(MAX_CONNECTION_AGE_GRACE_S * 1000)),
        ],
    )
    servicer, add_to_server = _SERVICERS[name]
    add_to_server(servicer(service), server)
    health_servicer = _Health(SERVICE_NAMES[name], service.ping)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(address)
    server.start()
    return server, health_servicer, port


def serve(name: str, build_service: Callable[[], Any], host: str, port: int, token: str) -> None:
    """Serve the service ``name`` (to callers presenting ``token``) until SIGTERM or SIGINT, then stop gracefully."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server, health_servicer, _ = build_server(name, build_service(), f"{host}:{port}", token)
    log.info("%s serving gRPC on %s:%d", name, host, port)
    while not stop.wait(1.0):
        pass
    log.info("%s stopping", name)
    health_servicer.enter_graceful_shutdown()
    server.stop(GRACE_S).wait()
