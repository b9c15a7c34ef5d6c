"""The api's backend: the api owns no data, so every public operation is a call to the service that owns it.

Targets and results are the monitor's (read at once, strongly consistent); alerts are alerting's and
notifications notification's, which follow a result through the broker: their listings catch up within moments.
"""
from __future__ import annotations

from shared.domain import Alert, CheckResult, NewResult, NewTarget, Notification, Target, TargetPage
from shared.outbound import PROBE_TIMEOUT_S

from .codec import from_wire, to_wire
from .rpc import RpcClient


class RpcBackend:
    """Implements ``shared.http.backend.Backend`` with calls over the broker."""

    def __init__(self, client: RpcClient, timeout_s: float):
        self._client = client
        self._timeout_s = timeout_s

    def _monitor(self, method: str, timeout_s: float | None = None, **args):
        return self._client.call("monitor", method, timeout_s or self._timeout_s, **args)

    def create_target(self, tenant: str, new: NewTarget) -> Target:
        return from_wire(Target, self._monitor("create_target", tenant=tenant, new=to_wire(new)))

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        page = self._monitor("list_targets", tenant=tenant, limit=limit, offset=offset)
        return TargetPage([from_wire(Target, item) for item in page["items"]], page["total"])

    def get_target(self, tenant: str, target_id: str) -> Target:
        return from_wire(Target, self._monitor("get_target", tenant=tenant, target_id=target_id))

    def delete_target(self, tenant: str, target_id: str) -> None:
        self._monitor("delete_target", tenant=tenant, target_id=target_id)

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        return from_wire(CheckResult, self._monitor("ingest_result", tenant=tenant, target_id=target_id,
                                                    new=to_wire(new)))

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        items = self._monitor("list_results", tenant=tenant, target_id=target_id, limit=limit)
        return [from_wire(CheckResult, item) for item in items]

    def check_target(self, tenant: str, target_id: str) -> CheckResult:
        """The monitor probes (up to the probe's own timeout), then records: the call's deadline covers both."""
        value = self._monitor("check_target", self._timeout_s + PROBE_TIMEOUT_S, tenant=tenant, target_id=target_id)
        return from_wire(CheckResult, value)

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        items = self._client.call("alerting", "list_alerts", self._timeout_s, tenant=tenant, target_id=target_id,
                                  state=state)
        return [from_wire(Alert, item) for item in items]

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        items = self._client.call("notification", "list_notifications", self._timeout_s, tenant=tenant,
                                  target_id=target_id, alert_id=alert_id)
        return [from_wire(Notification, item) for item in items]

    def readiness(self) -> list[str]:
        try:
            self._client.ping()
        except Exception as error:  # noqa: BLE001 - any failure means not ready; the reason says which
            return [f"broker: {type(error).__name__}: {error}"]
        return []
