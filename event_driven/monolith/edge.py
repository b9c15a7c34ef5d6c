"""The HTTP edge's backend: every public operation is a request over the bus to the service that owns it.

The api owns no data, so queries are requests too. Each has the RPC deadline; a check has the probe's
5 s timeout on top of it. Errors are the services' domain errors, carried back by the failure replies.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from shared.domain import Alert, CheckResult, NewResult, NewTarget, Notification, Target, TargetPage
from shared.outbound import PROBE_TIMEOUT_S

from .bus import EventBus
from .events import (
    AlertListFailed,
    AlertListRequested,
    AlertsListed,
    NotificationListFailed,
    NotificationListRequested,
    NotificationsListed,
    ResultAccepted,
    ResultIngestFailed,
    ResultIngestRequested,
    ResultListFailed,
    ResultListRequested,
    ResultsListed,
    TargetChecked,
    TargetCheckFailed,
    TargetCheckRequested,
    TargetCreated,
    TargetCreateFailed,
    TargetCreateRequested,
    TargetDeleted,
    TargetDeleteFailed,
    TargetDeleteRequested,
    TargetFound,
    TargetGetFailed,
    TargetGetRequested,
    TargetListFailed,
    TargetListRequested,
    TargetsListed,
)
from .rpc import EventRPC


class EventBackend:
    """Implements ``shared.http.backend.Backend`` with :class:`EventRPC` requests.

    ``probes`` are the readiness checks this process can make besides the bus's health (in the monolith,
    each service's database ping), by name.
    """

    def __init__(self, rpc: EventRPC, bus: EventBus, probes: Mapping[str, Callable[[], None]], rpc_timeout_s: float):
        self._rpc = rpc
        self._bus = bus
        self._probes = dict(probes)
        self._check_timeout_s = PROBE_TIMEOUT_S + rpc_timeout_s

    def create_target(self, new: NewTarget) -> Target:
        return self._rpc.request(TargetCreateRequested(new=new), TargetCreated, TargetCreateFailed).target

    def list_targets(self, limit: int, offset: int) -> TargetPage:
        return self._rpc.request(TargetListRequested(limit=limit, offset=offset), TargetsListed, TargetListFailed).page

    def get_target(self, target_id: str) -> Target:
        return self._rpc.request(TargetGetRequested(target_id=target_id), TargetFound, TargetGetFailed).target

    def delete_target(self, target_id: str) -> None:
        self._rpc.request(TargetDeleteRequested(target_id=target_id), TargetDeleted, TargetDeleteFailed)

    def ingest_result(self, target_id: str, new: NewResult) -> CheckResult:
        request = ResultIngestRequested(target_id=target_id, new=new)
        return self._rpc.request(request, ResultAccepted, ResultIngestFailed).result

    def list_results(self, target_id: str, limit: int) -> list[CheckResult]:
        request = ResultListRequested(target_id=target_id, limit=limit)
        return self._rpc.request(request, ResultsListed, ResultListFailed).results

    def check_target(self, target_id: str) -> CheckResult:
        request = TargetCheckRequested(target_id=target_id)
        return self._rpc.request(request, TargetChecked, TargetCheckFailed, timeout_s=self._check_timeout_s).result

    def list_alerts(self, target_id: str | None, state: str | None) -> list[Alert]:
        request = AlertListRequested(target_id=target_id, state=state)
        return self._rpc.request(request, AlertsListed, AlertListFailed).alerts

    def list_notifications(self, target_id: str | None, alert_id: str | None) -> list[Notification]:
        request = NotificationListRequested(target_id=target_id, alert_id=alert_id)
        return self._rpc.request(request, NotificationsListed, NotificationListFailed).notifications

    def readiness(self) -> list[str]:
        reasons = list(self._bus.health())
        for name, probe in self._probes.items():
            try:
                probe()
            except Exception as error:  # noqa: BLE001 - any failure means not ready; the reason says which
                reasons.append(f"{name}: {type(error).__name__}: {error}")
        return reasons
