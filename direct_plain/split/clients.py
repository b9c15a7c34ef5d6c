"""The services as the api and their peers now reach them: HTTP clients with the methods that were direct calls.

Idempotent calls are GET or PUT (``evaluate`` by result id, ``notify`` by alert change: the relays repeat them
when an answer was lost); creating, recording and probing are POST, deleting DELETE. The tenant travels as a query
parameter.
"""
from __future__ import annotations

from shared.domain import Alert, AlertEvent, CheckResult, NewResult, NewTarget, Notification, RuleParams, Target, TargetPage
from shared.outbound import PROBE_TIMEOUT_S

from .codec import from_json, to_json
from .http_client import ServiceClient


class MonitorClient(ServiceClient):
    def __init__(self, address: str, timeout_s: float):
        super().__init__("monitor", address, timeout_s)

    def create_target(self, tenant: str, new: NewTarget) -> Target:
        return from_json(self.call("POST", "/targets", to_json(new), {"tenant": tenant}), Target)

    def list_targets(self, tenant: str, limit: int, offset: int) -> TargetPage:
        return from_json(self.call("GET", "/targets", params={"tenant": tenant, "limit": limit, "offset": offset}),
                         TargetPage)

    def get_target(self, tenant: str, target_id: str) -> Target:
        return from_json(self.call("GET", f"/targets/{target_id}", params={"tenant": tenant}), Target)

    def delete_target(self, tenant: str, target_id: str) -> None:
        self.call("DELETE", f"/targets/{target_id}", params={"tenant": tenant})

    def ingest_result(self, tenant: str, target_id: str, new: NewResult) -> CheckResult:
        return from_json(self.call("POST", f"/targets/{target_id}/results", to_json(new), {"tenant": tenant}), CheckResult)

    def list_results(self, tenant: str, target_id: str, limit: int) -> list[CheckResult]:
        reply = self.call("GET", f"/targets/{target_id}/results", params={"tenant": tenant, "limit": limit})
        return [from_json(item, CheckResult) for item in reply["items"]]

    def check_target(self, tenant: str, target_id: str) -> CheckResult:
        """The monitor probes (up to 5 s) before it records: the call may take that much longer."""
        reply = self.call("POST", f"/targets/{target_id}/check", params={"tenant": tenant},
                          timeout_s=PROBE_TIMEOUT_S + self._timeout_s)
        return from_json(reply, CheckResult)


class AlertingClient(ServiceClient):
    def __init__(self, address: str, timeout_s: float):
        super().__init__("alerting", address, timeout_s)

    def evaluate(self, result: CheckResult, params: RuleParams) -> None:
        """Idempotent by the result's id (PUT): the target's thresholds, tenant and webhook URL travel along."""
        self.call("PUT", f"/evaluations/{result.id}", {"result": to_json(result), "params": to_json(params)})

    def list_alerts(self, tenant: str, target_id: str | None, state: str | None) -> list[Alert]:
        reply = self.call("GET", "/alerts", params={"tenant": tenant, "target_id": target_id, "state": state})
        return [from_json(item, Alert) for item in reply["items"]]


class NotificationClient(ServiceClient):
    def __init__(self, address: str, timeout_s: float):
        super().__init__("notification", address, timeout_s)

    def notify(self, alert: Alert, event: AlertEvent, webhook_url: str | None) -> None:
        """Idempotent by (alert, event) (PUT): the webhook URL travels along."""
        self.call("PUT", f"/deliveries/{alert.id}/{event}", {"alert": to_json(alert), "webhook_url": webhook_url})

    def list_notifications(self, tenant: str, target_id: str | None, alert_id: str | None) -> list[Notification]:
        reply = self.call("GET", "/notifications", params={"tenant": tenant, "target_id": target_id, "alert_id": alert_id})
        return [from_json(item, Notification) for item in reply["items"]]
