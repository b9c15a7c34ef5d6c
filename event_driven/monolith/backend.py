"""The HTTP edge's backend: every public operation is a call over the bus to the service that owns it.

The api owns no data, so queries are calls too. Each has the call deadline (``CALL_TIMEOUT_S``); a check
has the probe's 5 s timeout on top of it. Errors are the services' domain errors, carried back by
``CallFailed`` replies. Calls that change a target carry it as their partition key (a creation carries
the new name), so the monitor handles the changes of one target in the order they were made. Operations
that change state pass a fresh ``request_id``: it travels in the call's arguments, so a redelivered
request carries it and the service does what it did the first time. Every call carries the caller's
``tenant`` in its arguments too: the service answers for that tenant's data only.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from shared.domain import Alert, CheckResult, NewResult, NewTarget, Notification, Target, TargetPage, new_id
from shared.outbound import PROBE_TIMEOUT_S

from .bus import EventBus
from .rpc import RpcClient


class EventBackend:
    """Implements ``shared.http.backend.Backend`` with :class:`RpcClient` calls.

    ``probes`` are the readiness checks this process can make besides the bus's health (in the monolith,
    each service's database ping), by name.
    """

    def __init__(self, rpc: RpcClient, bus: EventBus, probes: Mapping[str, Callable[[], None]], timeout_s: float):
        self._rpc = rpc
        self._bus = bus
        self._probes = dict(probes)
        self._check_timeout_s = PROBE_TIMEOUT_S + timeout_s

    def create_target(self, tenant: str, new: NewTarget) -> Target:
        """The seed's ``eventRPC.request("TARGET_CREATE_REQUESTED", "TARGET_CREATED", "TARGET_CREATE_FAILED", data)``.

        ``TARGET_CREATE_REQUESTED`` is the ``CallRequested`` for ``monitor.create_target``, routed to
        the monitor's ordered group; ``TARGET_CREATED`` is its ``CallSucceeded`` carrying the new
        ``Target``; ``TARGET_CREATE_FAILED`` is its ``CallFailed``, raised here as the same domain error
        (a taken name stays a ``Conflict``). The seed's ``requestId`` is ``request_id``.
        """
        return self._rpc.call("monitor", "create_target", key=new.name, tenant=tenant, new=new, request_id=new_id())

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        return self._rpc.call("monitor", "list_targets", tenant=tenant, limit=limit, offset=offset)

    def get_target(self, tenant: str, target_id: str) -> Target:
        return self._rpc.call("monitor", "get_target", tenant=tenant, target_id=target_id)

    def delete_target(self, tenant: str, target_id: str) -> None:
        self._rpc.call("monitor", "delete_target", key=target_id, tenant=tenant, target_id=target_id)

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        return self._rpc.call("monitor", "ingest_result", key=target_id, tenant=tenant, target_id=target_id, new=new,
                              request_id=new_id())

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        return self._rpc.call("monitor", "list_results", tenant=tenant, target_id=target_id, limit=limit)

    def check_target(self, tenant: str, target_id: str) -> CheckResult:
        return self._rpc.call("monitor", "check_target", tenant=tenant, target_id=target_id, request_id=new_id(),
                              timeout_s=self._check_timeout_s)

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        return self._rpc.call("alerting", "list_alerts", tenant=tenant, target_id=target_id, state=state)

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        return self._rpc.call("notification", "list_notifications", tenant=tenant, target_id=target_id,
                              alert_id=alert_id)

    def readiness(self) -> list[str]:
        reasons = list(self._bus.health())
        for name, probe in self._probes.items():
            try:
                probe()
            except Exception as error:  # noqa: BLE001 - any failure means not ready; the reason says which
                reasons.append(f"{name}: {type(error).__name__}: {error}")
        return reasons
