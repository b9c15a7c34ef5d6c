"""``EventRPC`` over every ``EventBus``: reply, failure as the same domain error, timeout, late replies."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from event_driven.monolith.bus import EventBus, Group
from event_driven.monolith.events import (
    TargetFound,
    TargetGetFailed,
    TargetGetRequested,
    TargetListFailed,
    TargetListRequested,
    TargetsListed,
    reply_types,
)
from event_driven.monolith.rpc import EventRPC, responder
from shared.domain import (
    Conflict,
    DeadlineExceeded,
    DomainError,
    InvalidArgument,
    NotFound,
    Target,
    TargetPage,
    Unavailable,
    utcnow,
)
from tests.support.waiting import wait_until

NewBus = Callable[[], EventBus]
SERVER = Group("server", concurrency=4)


def target(target_id: str) -> Target:
    return Target(target_id, f"name-{target_id}", "http://example.com/", 60, 3, None, None, utcnow())


def serve_gets(bus: EventBus, handler: Callable[[TargetGetRequested], TargetFound]) -> None:
    bus.subscribe(SERVER, TargetGetRequested, responder(handler, TargetGetFailed, bus.publish))


def client(bus: EventBus, timeout_s: float = 5.0) -> EventRPC:
    rpc = EventRPC(bus, timeout_s=timeout_s)
    rpc.listen(reply_types())
    return rpc


def found(request: TargetGetRequested) -> TargetFound:
    return TargetFound(correlation_id=request.event_id, target=target(request.target_id))


def test_a_request_gets_its_reply(new_bus: NewBus) -> None:
    bus = new_bus()
    serve_gets(bus, found)
    rpc = client(bus)
    bus.start()
    reply = rpc.request(TargetGetRequested(target_id="t1"), TargetFound, TargetGetFailed)
    assert reply.target.id == "t1"


def test_concurrent_requests_each_get_their_own_reply(new_bus: NewBus) -> None:
    bus = new_bus()
    serve_gets(bus, found)
    rpc = client(bus)
    bus.start()
    answers: dict[str, str] = {}

    def ask(i: int) -> None:
        answers[f"t{i}"] = rpc.request(TargetGetRequested(target_id=f"t{i}"), TargetFound, TargetGetFailed).target.id

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == {f"t{i}": f"t{i}" for i in range(24)}


@pytest.mark.parametrize("error", [NotFound("target t1 not found"), Conflict("name taken"),
                                   InvalidArgument("limit: too big"), Unavailable("database down")],
                         ids=lambda e: e.code)
def test_a_failure_reply_raises_the_same_domain_error(new_bus: NewBus, error: DomainError) -> None:
    bus = new_bus()

    def fail(request: TargetGetRequested) -> TargetFound:
        raise error

    serve_gets(bus, fail)
    rpc = client(bus)
    bus.start()
    with pytest.raises(type(error)) as raised:
        rpc.request(TargetGetRequested(target_id="t1"), TargetFound, TargetGetFailed)
    assert type(raised.value) is type(error)
    assert raised.value.code == error.code and raised.value.message == error.message


def test_an_unexpected_error_in_the_responder_is_an_internal_error(new_bus: NewBus, caplog: pytest.LogCaptureFixture) -> None:
    bus = new_bus()

    def crash(request: TargetGetRequested) -> TargetFound:
        raise KeyError("secret detail")

    serve_gets(bus, crash)
    rpc = client(bus)
    bus.start()
    with pytest.raises(DomainError) as raised:
        rpc.request(TargetGetRequested(target_id="t1"), TargetFound, TargetGetFailed)
    assert raised.value.code == "internal" and "secret" not in raised.value.message


def test_no_reply_within_the_deadline_is_a_timeout(new_bus: NewBus) -> None:
    bus = new_bus()
    bus.subscribe(SERVER, TargetGetRequested, lambda request: None)  # swallows the request, never replies
    rpc = client(bus, timeout_s=0.3)
    bus.start()
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as raised:
        rpc.request(TargetGetRequested(target_id="t1"), TargetFound, TargetGetFailed)
    assert raised.value.code == "timeout"
    assert 0.3 <= time.monotonic() - started < 3.0


def test_a_late_reply_is_dropped_and_logged(new_bus: NewBus, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="event_driven.rpc")
    bus = new_bus()
    requester_gave_up = threading.Event()
    answered = threading.Event()

    def slow(request: TargetGetRequested) -> TargetFound:
        requester_gave_up.wait(10)
        answered.set()
        return found(request)

    bus.subscribe(SERVER, TargetGetRequested,
                  responder(slow, TargetGetFailed, bus.publish))
    rpc = client(bus, timeout_s=0.3)
    bus.start()
    request = TargetGetRequested(target_id="t1")
    # The responder ignores deadlines of requests it already holds; it got this one in time.
    with pytest.raises(DeadlineExceeded):
        rpc.request(request, TargetFound, TargetGetFailed)
    requester_gave_up.set()
    assert answered.wait(10)
    wait_until(lambda: [r for r in caplog.records if "late reply" in r.getMessage() and request.event_id in r.getMessage()],
               message="the late reply was not logged")
    # The next request is unaffected by the stray reply.
    assert rpc.request(TargetGetRequested(target_id="t2"), TargetFound, TargetGetFailed, timeout_s=5).target.id == "t2"


def test_a_request_whose_deadline_passed_is_dropped_unanswered(new_bus: NewBus) -> None:
    bus = new_bus()
    calls: list[str] = []

    def record(request: TargetGetRequested) -> TargetFound:
        calls.append(request.target_id)
        return found(request)

    serve_gets(bus, record)
    rpc = client(bus)
    bus.start()
    bus.publish(TargetGetRequested(target_id="expired", deadline=utcnow() - timedelta(seconds=1)))
    assert rpc.request(TargetGetRequested(target_id="fresh"), TargetFound, TargetGetFailed).target.id == "fresh"
    assert calls == ["fresh"]


def test_requests_of_different_kinds_are_correlated_by_id(new_bus: NewBus) -> None:
    bus = new_bus()
    serve_gets(bus, found)
    bus.subscribe(SERVER, TargetListRequested, responder(
        lambda r: TargetsListed(correlation_id=r.event_id, page=TargetPage([target("x")], r.limit)),
        TargetListFailed, bus.publish))
    rpc = client(bus)
    bus.start()
    assert rpc.request(TargetListRequested(limit=9, offset=0), TargetsListed, TargetListFailed).page.total == 9
    assert rpc.request(TargetGetRequested(target_id="y"), TargetFound, TargetGetFailed).target.id == "y"


def test_a_reply_type_nobody_listens_to_is_a_wiring_error(new_bus: NewBus) -> None:
    bus = new_bus()
    rpc = EventRPC(bus, timeout_s=0.2)
    bus.start()
    with pytest.raises(RuntimeError, match="listen"):
        rpc.request(TargetGetRequested(target_id="t1"), TargetFound, TargetGetFailed)
