"""The events' JSON codec: every registered event type round-trips; wire names are unique and stable."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from event_driven.monolith.codec import CodecError, decode, encode
from event_driven.monolith.events import REGISTRY, Event, TargetGetRequested, reply_types, wire_name
from tests.bus.samples import all_samples, load_events_again

# The wire names in use: a broker routes by them and a consumer decodes by them, so renaming one
# breaks a deployment with old and new processes. Change this list only with a migration plan.
STABLE_WIRE_NAMES = {
    "target.create_requested", "target.created", "target.create_failed",
    "targets.list_requested", "targets.listed", "targets.list_failed",
    "target.get_requested", "target.found", "target.get_failed",
    "target.delete_requested", "target.deleted", "target.delete_failed",
    "result.ingest_requested", "result.accepted", "result.ingest_failed",
    "results.list_requested", "results.listed", "results.list_failed",
    "target.check_requested", "target.checked", "target.check_failed",
    "alerts.list_requested", "alerts.listed", "alerts.list_failed",
    "notifications.list_requested", "notifications.listed", "notifications.list_failed",
    "check.completed", "alert.opened", "alert.resolved",
}


@pytest.mark.parametrize("event", all_samples(), ids=lambda e: e.event_id)
def test_every_event_type_round_trips(event: Event) -> None:
    body = encode(event)
    assert decode(body) == event
    assert decode(body.decode()) == event
    envelope = json.loads(body)
    assert envelope["type"] == event.wire_name
    assert envelope["data"]["event_id"] == event.event_id


def test_datetimes_keep_their_exact_value_and_zone() -> None:
    for event in all_samples():
        again = decode(encode(event))
        assert repr(again) == repr(event)  # same microseconds, same tzinfo, floats stay floats


def test_wire_names_are_unique_and_stable() -> None:
    assert set(REGISTRY) == STABLE_WIRE_NAMES
    assert len({cls for cls in REGISTRY.values()}) == len(REGISTRY)
    assert all(cls.wire_name == name for name, cls in REGISTRY.items())


def test_a_wire_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="taken"):
        @wire_name("target.get_requested")
        @dataclass(frozen=True, kw_only=True)
        class Impostor(Event):
            pass


def test_every_event_is_named_in_the_past_tense() -> None:
    for cls in REGISTRY.values():
        assert cls.__name__.endswith(("ed", "Found")), cls.__name__


def test_every_failure_reply_is_a_reply() -> None:
    names = {cls.__name__ for cls in reply_types()}
    assert {"TargetCreated", "TargetCreateFailed", "NotificationsListed"} <= names
    assert "CheckCompleted" not in names


def test_unknown_fields_are_ignored_and_missing_defaults_are_filled() -> None:
    body = json.dumps({"type": "target.get_requested", "data": {"event_id": "e1", "target_id": "t", "added_later": 1}})
    assert decode(body) == TargetGetRequested(event_id="e1", target_id="t", deadline=None)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"data": {}}',
        b'{"type": "no.such_event", "data": {}}',
        b'{"type": "target.get_requested", "data": {"event_id": "e1"}}',
        b'{"type": "target.get_requested", "data": {"event_id": "e1", "target_id": 7}}',
        b'{"type": "targets.list_requested", "data": {"event_id": "e1", "limit": true, "offset": 0}}',
        b'{"type": "target.get_requested", "data": {"event_id": "e1", "target_id": "t", "deadline": "yesterday"}}',
        b'{"type": "alert.opened", "data": {"event_id": "e1", "change": {"alert": {}, "event": "x", "webhook_url": null}}}',
    ],
    ids=["not-json", "not-object", "no-type", "unknown-type", "missing-field", "wrong-type", "bool-as-int",
         "bad-time", "bad-nested"],
)
def test_a_malformed_message_is_a_codec_error(body: bytes) -> None:
    with pytest.raises(CodecError):
        decode(body)


def test_only_registered_events_encode() -> None:
    with pytest.raises(CodecError):
        encode("not an event")  # type: ignore[arg-type]


def test_decode_builds_the_classes_it_is_given_for_a_wire_name() -> None:
    """A bus decodes into the classes its handlers subscribed with (an overlay package loads its own copies)."""
    copies = load_events_again()
    event = copies.TargetGetRequested(target_id="t")
    decoded = decode(encode(event), {"target.get_requested": TargetGetRequested})
    assert type(decoded) is TargetGetRequested and decoded.event_id == event.event_id
    assert type(decode(encode(event), copies.REGISTRY)) is copies.TargetGetRequested

