"""The direct-calls split: what it takes from the monolith, the wire codecs, and clients shaped like the services."""
from __future__ import annotations

import dataclasses
import inspect
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

import direct_calls.split as split
from direct_calls.monolith import backend as monolith_backend
from direct_calls.monolith import services as monolith_services
from direct_calls.split import bootstrap as split_bootstrap
from direct_calls.split import codec, grpc_transport, http_transport
from direct_calls.split import wsgi as split_wsgi
from shared.domain import (
    Alert,
    AlertChange,
    CheckResult,
    InvalidArgument,
    NewResult,
    NewTarget,
    Notification,
    RuleParams,
    Target,
    TargetPage,
)

ROOT = Path(__file__).resolve().parents[2]
MONOLITH = ROOT / "direct_calls" / "monolith"
SPLIT = ROOT / "direct_calls" / "split"
T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
T1 = datetime(2026, 1, 2, 3, 9, 0, 1, tzinfo=UTC)

TARGET = Target("7d8f1a0e-0000-4000-8000-000000000001", "api", "https://example.test/health", 30, 3, 250,
                "https://hooks.example.test/x", T0)
ALERT = Alert("7d8f1a0e-0000-4000-8000-0000000000a1", TARGET.id, "down", "resolved", T0, T1, "r-1")
VALUES = [
    NewTarget("api", "https://example.test/"),
    NewTarget("api", "https://example.test/", 5, 100, 600000, "http://hook.test/"),
    TARGET,
    dataclasses.replace(TARGET, latency_threshold_ms=None, webhook_url=None),
    TargetPage([TARGET, dataclasses.replace(TARGET, id="other", name="b")], 7),
    TargetPage([], 0),
    NewResult(ok=True, latency_ms=12.5),
    NewResult(ok=False, latency_ms=0.0, status_code=503, checked_at=T0, key="key_-1"),
    CheckResult("r-1", TARGET.id, False, 1234.567, None, T0, T1),
    CheckResult("r-2", TARGET.id, True, 3.0, 200, T0, T0),
    RuleParams(3, None, None),
    RuleParams(1, 600000, "https://hooks.example.test/x"),
    ALERT,
    dataclasses.replace(ALERT, kind="slow", state="open", resolved_at=None),
    AlertChange(ALERT, "alert_resolved", None),
    AlertChange(ALERT, "alert_opened", "https://hooks.example.test/x"),
    Notification("n-1", ALERT.id, TARGET.id, "alert_opened", "webhook", "failed", "down alert opened", T1),
]
PROTO_MESSAGES = {
    NewTarget: "NewTarget", Target: "Target", TargetPage: "ListTargetsResponse", NewResult: "NewResult",
    CheckResult: "CheckResult", RuleParams: "RuleParams", Alert: "Alert", AlertChange: "AlertChange",
    Notification: "Notification",
}


def _ids(value: object) -> str:
    return type(value).__name__


# --------------------------------------------------------------------------- what the split takes from the monolith


def test_the_split_is_a_plain_package_that_imports_the_monolith_modules_it_does_not_change():
    assert split.__path__ == [str(SPLIT)]  # no second folder: every module of the split is a file in split/
    # The services and the edge's backend are the monolith's own classes, imported, not copied.
    assert not (SPLIT / "services.py").exists() and not (SPLIT / "backend.py").exists()
    assert split_bootstrap.MonitorService is monolith_services.MonitorService
    assert split_bootstrap.DirectBackend is monolith_backend.DirectBackend
    # The api's gunicorn factory builds the split's composition root.
    assert split_wsgi.bootstrap is split_bootstrap.bootstrap


def test_a_split_module_named_like_a_monolith_module_changes_it():
    """A split module with a monolith module's file name replaces it for the split and is diffed against it:
    an identical copy would only drift later, so the split imports such a module instead."""
    twins = [path.name for path in SPLIT.glob("*.py") if (MONOLITH / path.name).is_file()]
    assert set(twins) == {"__init__.py", "bootstrap.py", "wsgi.py"}
    for name in twins:
        assert (SPLIT / name).read_text() != (MONOLITH / name).read_text(), name


# --------------------------------------------------------------------------- codecs


@pytest.mark.parametrize("value", VALUES, ids=_ids)
def test_json_round_trip_keeps_every_domain_value(value):
    encoded = codec.to_json(value)
    assert json.loads(json.dumps(encoded)) == encoded  # plain JSON only
    assert codec.from_json(json.loads(json.dumps(encoded)), type(value)) == value


@pytest.mark.parametrize("value", VALUES, ids=_ids)
def test_proto_round_trip_keeps_every_domain_value(value):
    message_class = getattr(grpc_transport.pb, PROTO_MESSAGES[type(value)])
    message = codec.to_proto(value, message_class())
    decoded = message_class.FromString(message.SerializeToString())
    assert codec.from_proto(decoded, type(value)) == value


def test_times_travel_as_iso_strings():
    assert codec.to_json(ALERT)["opened_at"] == "2026-01-02T03:04:05.678901Z"
    assert codec.to_proto(ALERT, grpc_transport.pb.Alert()).opened_at == "2026-01-02T03:04:05.678901Z"


@pytest.mark.parametrize("cls", list(PROTO_MESSAGES), ids=lambda cls: cls.__name__)
def test_each_proto_message_has_exactly_the_fields_of_its_domain_value(cls):
    descriptor = getattr(grpc_transport.pb, PROTO_MESSAGES[cls]).DESCRIPTOR
    assert [field.name for field in descriptor.fields] == [field.name for field in dataclasses.fields(cls)]
    for field in descriptor.fields:
        if field.message_type is None and not field.is_repeated:
            nullable = "None" in cls.__annotations__[field.name]
            assert field.has_presence == nullable, f"{cls.__name__}.{field.name}: optional in the proto iff nullable"


REFUSED = [  # what the public api refuses, sent straight to an internal server
    NewTarget("api", "file:///etc/passwd"),
    NewTarget("api", "https://example.test/", interval_s=-5, failure_threshold=0),
    NewResult(ok=True, latency_ms=-3.0),
    RuleParams(0, None, None),
    AlertChange(ALERT, "alert_opened", "gopher://hook.test/"),
    RuleParams(3, None, None, tenant=""),  # a tenant must be a tenant name (one a proto sender left unset too)
    replace(TARGET, tenant="Not A Tenant"),
    replace(ALERT, tenant="-x"),
]


@pytest.mark.parametrize("value", REFUSED, ids=_ids)
def test_an_internal_server_refuses_on_decoding_what_the_public_api_refuses(value):
    with pytest.raises(InvalidArgument):
        codec.from_json(json.loads(json.dumps(codec.to_json(value))), type(value))
    message_class = getattr(grpc_transport.pb, PROTO_MESSAGES[type(value)])
    with pytest.raises(InvalidArgument):
        codec.from_proto(codec.to_proto(value, message_class()), type(value))


def test_json_decoding_is_strict_about_missing_fields():
    encoded = codec.to_json(TARGET)
    del encoded["webhook_url"]
    with pytest.raises(KeyError):
        codec.from_json(encoded, Target)


# --------------------------------------------------------------------------- clients shaped like the services


SERVICES = {
    "MonitorClient": monolith_services.MonitorService,
    "AlertingClient": monolith_services.AlertingService,
    "NotificationClient": monolith_services.NotificationService,
}


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize("transport", [grpc_transport, http_transport], ids=["grpc", "http"])
@pytest.mark.parametrize("client_name", list(SERVICES))
def test_each_client_has_the_methods_of_the_service_it_replaces(transport, client_name):
    service_methods = _public_methods(SERVICES[client_name])
    client_methods = _public_methods(getattr(transport, client_name))
    client_methods.pop("close")
    assert client_methods == service_methods


@pytest.mark.parametrize("transport", [grpc_transport, http_transport], ids=["grpc", "http"])
def test_only_idempotent_methods_are_retried(transport):
    if transport is grpc_transport:
        for peer, methods in grpc_transport.IDEMPOTENT_METHODS.items():
            options = dict(grpc_transport.channel_options(peer))
            assert options["grpc.enable_retries"] == 1
            (method_config,) = json.loads(options["grpc.service_config"])["methodConfig"]
            assert {name["method"] for name in method_config["name"]} == set(methods)
            assert method_config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
        assert grpc_transport.IDEMPOTENT_METHODS == {
            "monitor": ("ListTargets", "GetTarget", "ListResults"),
            "alerting": ("Evaluate", "ListAlerts"),
            "notification": ("Notify", "ListNotifications"),
        }
    else:
        assert http_transport.RETRY.allowed_methods == frozenset({"GET", "PUT"})
        assert not http_transport.RETRY.status_forcelist
