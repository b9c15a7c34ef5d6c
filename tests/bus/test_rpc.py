"""``RpcClient`` over every ``EventBus``: reply, failure as the same domain error, timeout, late replies."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from event_driven.monolith.bus import EventBus, Group
from event_driven.monolith.rpc import CallRequested, RpcClient, responder, routing_key, serve
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


def serve_gets(bus: EventBus, method: Callable[..., Target]) -> None:
    serve(bus, SERVER, "targets", "get", method)


def client(bus: EventBus, timeout_s: float = 5.0) -> RpcClient:
    return RpcClient(bus, timeout_s=timeout_s)


def found(target_id: str) -> Target:
    return target(target_id)


def test_a_call_gets_its_value(new_bus: NewBus) -> None:
    bus = new_bus()
    serve_gets(bus, found)
    rpc = client(bus)
    bus.start()
    value = rpc.call("targets", "get", target_id="t1")
    assert isinstance(value, Target) and value.id == "t1"


def test_concurrent_calls_each_get_their_own_value(new_bus: NewBus) -> None:
    bus = new_bus()
    serve_gets(bus, found)
    rpc = client(bus)
    bus.start()
    answers: dict[str, str] = {}

    def ask(i: int) -> None:
        answers[f"t{i}"] = rpc.call("targets", "get", target_id=f"t{i}").id

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

    def fail(target_id: str) -> Target:
        raise error

    serve_gets(bus, fail)
    rpc = client(bus)
    bus.start()
    with pytest.raises(type(error)) as raised:
        rpc.call("targets", "get", target_id="t1")
    assert type(raised.value) is type(error)
    assert raised.value.code == error.code and raised.value.message == error.message


def test_an_unexpected_error_in_the_responder_is_an_internal_error(new_bus: NewBus, caplog: pytest.LogCaptureFixture) -> None:
    bus = new_bus()

    def crash(target_id: str) -> Target:
        raise KeyError("secret detail")

    serve_gets(bus, crash)
    rpc = client(bus)
    bus.start()
    with pytest.raises(DomainError) as raised:
        rpc.call("targets", "get", target_id="t1")
    assert raised.value.code == "internal" and "secret" not in raised.value.message


def test_no_reply_within_the_deadline_is_a_timeout(new_bus: NewBus) -> None:
    bus = new_bus()
    bus.subscribe(SERVER, CallRequested, lambda request: None, routing_key=routing_key("targets", "get"))  # never replies
    rpc = client(bus, timeout_s=0.3)
    bus.start()
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as raised:
        rpc.call("targets", "get", target_id="t1")
    assert raised.value.code == "timeout"
    assert 0.3 <= time.monotonic() - started < 3.0


def test_a_late_reply_is_dropped_and_logged(new_bus: NewBus, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="event_driven.rpc")
    bus = new_bus()
    requester_gave_up = threading.Event()
    answered = threading.Event()
    requests: list[str] = []

    def slow(target_id: str) -> Target:
        requester_gave_up.wait(10)
        answered.set()
        return found(target_id)

    respond = responder(slow, bus.send)

    def record_and_respond(request: CallRequested) -> None:
        requests.append(request.event_id)
        respond(request)

    bus.subscribe(SERVER, CallRequested, record_and_respond, routing_key=routing_key("targets", "get"))
    rpc = client(bus, timeout_s=0.3)
    bus.start()
    # The responder ignores deadlines of requests it already holds; it got this one in time.
    with pytest.raises(DeadlineExceeded):
        rpc.call("targets", "get", target_id="t1")
    requester_gave_up.set()
    assert answered.wait(10)
    (request_id,) = requests
    wait_until(lambda: [r for r in caplog.records if "late reply" in r.getMessage() and request_id in r.getMessage()],
               message="the late reply was not logged")
    # The next call is unaffected by the stray reply.
    assert rpc.call("targets", "get", target_id="t2", timeout_s=5).id == "t2"


def test_a_request_whose_deadline_passed_is_dropped_unanswered(new_bus: NewBus) -> None:
    bus = new_bus()
    calls: list[str] = []

    def record(target_id: str) -> Target:
        calls.append(target_id)
        return found(target_id)

    serve_gets(bus, record)
    rpc = client(bus)
    bus.start()
    bus.publish(CallRequested(service="targets", method="get", args={"target_id": "expired"},
                              deadline=utcnow() - timedelta(seconds=1), reply_to=bus.address))
    assert rpc.call("targets", "get", target_id="fresh").id == "fresh"
    assert calls == ["fresh"]


def test_calls_of_different_methods_are_routed_by_method_and_correlated_by_id(new_bus: NewBus) -> None:
    bus = new_bus()
    serve_gets(bus, found)
    serve(bus, Group("lists"), "targets", "list", lambda limit, offset: TargetPage([target("x")], limit + offset))
    rpc = client(bus)
    bus.start()
    page = rpc.call("targets", "list", limit=9, offset=1)
    assert isinstance(page, TargetPage) and page.total == 10 and [t.id for t in page.items] == ["x"]
    assert rpc.call("targets", "get", target_id="y").id == "y"


def test_values_of_every_domain_type_cross_unchanged(new_bus: NewBus) -> None:
    from tests.bus.samples import all_values

    bus = new_bus()
    values = all_values()
    serve(bus, SERVER, "values", "echo", lambda index, value: value)
    rpc = client(bus)
    bus.start()
    for index, value in enumerate(values):
        assert rpc.call("values", "echo", index=index, value=value) == value


def test_the_client_takes_the_inbox_at_wiring_time(new_bus: NewBus) -> None:
    """The inbox is where replies arrive: a client made once the bus runs could never get one."""
    bus = new_bus()
    bus.start()
    with pytest.raises(RuntimeError, match="before the bus starts"):
        RpcClient(bus, timeout_s=0.2)
    wired = new_bus()
    RpcClient(wired)
    with pytest.raises(ValueError, match="inbox"):
        RpcClient(wired)  # one inbox, one client
