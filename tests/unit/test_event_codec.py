"""The split's JSON codec: every registered event and every domain value round-trips; wire names are
unique and stable; a value's type comes from an allowlist, never from an import by name."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest

from event_driven.monolith.events import REGISTRY, CheckCompleted, Event, wire_name
from event_driven.monolith.rpc import CallFailed, CallRequested, CallSucceeded
from event_driven.split.codec import VALUE_TYPES, CodecError, decode, decode_value, encode, encode_value
from shared.domain import Alert, AlertChange, NewResult, NewTarget, Notification, RuleParams, Target
from tests.bus.samples import FULL_TIME, all_samples, all_values, sample

# The wire names in use: a broker routes by them and a consumer decodes by them, so renaming one
# breaks a deployment with old and new processes. Change this list only with a migration plan.
STABLE_WIRE_NAMES = {
    "check.completed", "alert.opened", "alert.resolved",
    "call.requested", "call.succeeded", "call.failed",
}


def app_wire_names() -> set[str]:
    """The app's events (the tests register a few of their own)."""
    return {name for name, cls in REGISTRY.items() if cls.__module__.startswith("event_driven.")}


@pytest.mark.parametrize("event", all_samples(), ids=lambda e: e.event_id)
def test_every_event_type_round_trips(event: Event) -> None:
    body = encode(event)
    assert decode(body) == event
    assert decode(body.decode()) == event
    assert type(decode(body)) is type(event)
    envelope = json.loads(body)
    assert envelope["type"] == event.wire_name
    assert envelope["data"]["event_id"] == event.event_id


def test_datetimes_keep_their_exact_value_and_zone() -> None:
    for event in all_samples():
        again = decode(encode(event))
        assert repr(again) == repr(event)  # same microseconds, same tzinfo, floats stay floats


@pytest.mark.parametrize("value", all_values(), ids=lambda v: type(v).__name__)
def test_every_domain_value_round_trips_in_a_call(value: Any) -> None:
    assert decode_value(json.loads(json.dumps(encode_value(value)))) == value
    for event in (CallRequested(service="s", method="m", args={"value": value}), CallSucceeded(correlation_id="c", value=value)):
        again = decode(encode(event))
        assert again == event and repr(again) == repr(event)


def test_a_domain_value_is_tagged_with_its_type() -> None:
    target = sample(VALUE_TYPES["Target"], True)
    assert encode_value(target) == {"$type": "Target", **{k: v.isoformat() if k == "created_at" else v
                                                          for k, v in vars(target).items()}}
    assert encode_value(FULL_TIME) == {"$type": "datetime", "value": FULL_TIME.isoformat()}
    assert encode_value([1, None]) == [1, None]


@pytest.mark.parametrize(
    "data",
    [
        {"$type": "os.system", "command": "true"},
        {"$type": "Settings", "database_url": "x"},
        {"$type": "CheckCompleted", "event_id": "e"},
        {"name": "untagged object"},
        {"$type": "Target", "id": "t"},  # missing fields
        {"$type": "datetime", "value": 7},
    ],
    ids=["module-path", "not-allowlisted", "an-event-is-not-a-value", "untagged", "incomplete", "bad-time"],
)
def test_a_value_not_on_the_allowlist_or_malformed_is_a_codec_error(data: object) -> None:
    with pytest.raises(CodecError):
        decode_value(data)
    body = json.dumps({"type": "call.succeeded", "data": {"event_id": "e", "correlation_id": "c", "value": data}})
    with pytest.raises(CodecError):
        decode(body)


def test_only_domain_values_encode() -> None:
    for value in (object(), {"plain": "dict"}, CheckCompleted, {1, 2}):
        with pytest.raises(CodecError):
            encode_value(value)
    with pytest.raises(CodecError):
        encode(CallSucceeded(correlation_id="c", value=object()))


def test_wire_names_are_unique_and_stable() -> None:
    assert app_wire_names() == STABLE_WIRE_NAMES
    assert len({cls for cls in REGISTRY.values()}) == len(REGISTRY)
    assert all(cls.wire_name == name for name, cls in REGISTRY.items())


def test_a_wire_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="taken"):
        @wire_name("check.completed")
        @dataclass(frozen=True, kw_only=True)
        class Impostor(Event):
            pass


def test_every_event_is_named_in_the_past_tense() -> None:
    for cls in REGISTRY.values():
        assert cls.__name__.endswith("ed"), cls.__name__


def test_the_call_envelope_is_one_request_and_two_replies() -> None:
    calls = {cls for cls in REGISTRY.values() if cls.__module__ == "event_driven.monolith.rpc"}
    assert calls == {CallRequested, CallSucceeded, CallFailed}
    request = CallRequested(service="monitor", method="create_target")
    assert request.routing_key == "rpc.monitor.create_target"
    assert CheckCompleted.wire_name == "check.completed"


def test_unknown_fields_are_ignored_and_missing_defaults_are_filled() -> None:
    body = json.dumps({"type": "call.requested", "data": {"event_id": "e1", "service": "s", "method": "m", "added_later": 1}})
    assert decode(body) == CallRequested(event_id="e1", service="s", method="m", args={}, deadline=None, reply_to=None)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"data": {}}',
        b'{"type": "no.such_event", "data": {}}',
        b'{"type": "call.failed", "data": {"event_id": "e1"}}',
        b'{"type": "call.failed", "data": {"event_id": "e1", "correlation_id": 7, "code": "x", "message": "y"}}',
        b'{"type": "call.requested", "data": {"event_id": "e1", "service": "s", "method": "m", "args": []}}',
        b'{"type": "call.requested", "data": {"event_id": "e1", "service": "s", "method": "m", "deadline": "yesterday"}}',
        b'{"type": "alert.opened", "data": {"event_id": "e1", "change": {"alert": {}, "event": "x", "webhook_url": null}}}',
        b'{"type": "check.completed", "data": {"event_id": "e1", "result": {"id": "r", "target_id": "t", "ok": 1,'
        b' "latency_ms": 1, "status_code": null, "checked_at": "2024-01-01T00:00:00+00:00",'
        b' "received_at": "2024-01-01T00:00:00+00:00"}, "params": {"failure_threshold": 1,'
        b' "latency_threshold_ms": null, "webhook_url": null}}}',
        b'{"type": "check.completed", "data": {"event_id": "e1", "result": {"id": "r", "target_id": "t", "ok": true,'
        b' "latency_ms": 1, "status_code": null, "checked_at": "2024-01-01T00:00:00+00:00",'
        b' "received_at": "2024-01-01T00:00:00+00:00"}, "params": {"failure_threshold": true,'
        b' "latency_threshold_ms": null, "webhook_url": null}}}',
    ],
    ids=["not-json", "not-object", "no-type", "unknown-type", "missing-field", "wrong-type", "args-not-object",
         "bad-time", "bad-nested", "int-as-bool", "bool-as-int"],
)
def test_a_malformed_message_is_a_codec_error(body: bytes) -> None:
    with pytest.raises(CodecError):
        decode(body)


def test_only_registered_events_encode() -> None:
    with pytest.raises(CodecError):
        encode("not an event")  # type: ignore[arg-type]
    with pytest.raises(CodecError):
        encode(Event())  # the base class has no wire name


def test_decode_builds_the_one_registered_class() -> None:
    """One module, one class per event: what a broker delivers is an instance of the class handlers subscribe with."""
    event = CallFailed(correlation_id="c", code="not_found", message="gone")
    decoded = decode(encode(event))
    assert type(decoded) is CallFailed and isinstance(decoded, CallFailed) and decoded == event


def test_a_notification_carries_its_attempts_and_one_from_an_older_publisher_counts_one() -> None:
    notification = sample(VALUE_TYPES["Notification"], True)
    retried = type(notification)(**{**vars(notification), "attempts": 3})
    assert encode_value(retried)["attempts"] == 3
    assert decode_value(encode_value(retried)) == retried
    older = {key: value for key, value in encode_value(retried).items() if key != "attempts"}
    assert decode_value(older).attempts == 1


@pytest.mark.parametrize(
    "value",
    [
        NewTarget("web", "file:///etc/passwd"),
        NewTarget("web", "http://example.com/", interval_s=-5),
        NewTarget("web", "http://example.com/", failure_threshold=0),
        NewResult(ok=True, latency_ms=-1.0),
        RuleParams(0, None, None),
        AlertChange(sample(Alert, True), "alert_opened", "gopher://example.com/"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_a_value_the_public_api_refuses_is_refused_when_decoded(value):
    with pytest.raises(CodecError, match="Input should"):
        decode_value(encode_value(value))


@pytest.mark.parametrize(
    "value",
    [
        dataclasses.replace(sample(Target, True), tenant="Not A Tenant"),
        RuleParams(3, None, None, tenant=""),
        dataclasses.replace(sample(Alert, True), tenant="x" * 65),
        AlertChange(dataclasses.replace(sample(Alert, True), tenant="-a"), "alert_opened", None),
        dataclasses.replace(sample(Notification, True), tenant="a b"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_a_value_whose_tenant_is_not_a_tenant_name_is_refused_when_decoded(value):
    with pytest.raises(CodecError, match="tenant name"):
        decode_value(encode_value(value))
