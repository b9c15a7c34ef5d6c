"""The delay relay (``harness/delay_relay.py``) and the launcher's routes through it (``harness/network_delay.py``):
bytes arrive one delay after they were read, pipelined, in order; half-closes and closes travel the same way; the
routes cover every peer address and the broker, and rewrite nothing else."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from harness import delay_relay, network_delay
from harness.launcher import ROOT, free_port
from harness.topology import variant
from tests.support.waiting import wait_until


class _Loop:
    """An event loop (the relay's own kind) in a thread, with an echo server and relays started on it."""

    def __init__(self) -> None:
        self.loop = delay_relay.new_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def echo_server(self, close_after: bytes | None = None) -> int:
        """Echo every byte back; with ``close_after``: close the connection once those bytes were echoed."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen = b""
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
                seen += data
                if close_after is not None and seen.endswith(close_after):
                    break
            writer.close()  # after EOF: every byte was echoed, the half-close is answered with a close

        async def start() -> int:
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            return server.sockets[0].getsockname()[1]

        return self.run(start())

    def relay(self, target_port: int, one_way_ms: float) -> int:
        listen = free_port()
        relay = delay_relay.Relay([(listen, "127.0.0.1", target_port)], one_way_ms)
        self.run(relay.start())
        return listen

    def close(self) -> None:
        async def cancel_the_rest() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def loop() -> Iterator[_Loop]:
    running = _Loop()
    yield running
    running.close()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_round_trip_through_a_relay_takes_at_least_twice_the_one_way_delay(loop):
    port = loop.relay(loop.echo_server(), one_way_ms=50)
    with _connect(port) as sock:
        started = time.perf_counter()
        sock.sendall(b"ping")
        assert _receive(sock, 4) == b"ping"
        elapsed = time.perf_counter() - started
    assert 0.100 <= elapsed < 0.5


def test_pipelined_chunks_each_take_one_delay_not_one_delay_per_chunk(loop):
    """20 chunks sent 5 ms apart (each a read of its own) all come back about one round trip after the last was sent;
    a relay that slept per chunk in its reader would take 20 × 50 ms one way."""
    delay_s, chunks = 0.050, [f"chunk-{i:02d};".encode() for i in range(20)]
    port = loop.relay(loop.echo_server(), one_way_ms=delay_s * 1000)
    with _connect(port) as sock:
        started = time.perf_counter()
        for chunk in chunks:
            sock.sendall(chunk)
            time.sleep(0.005)  # pacing the sender (not waiting for anything): separate reads at the relay
        echoed = _receive(sock, sum(map(len, chunks)))
        elapsed = time.perf_counter() - started
    assert echoed == b"".join(chunks)
    assert elapsed < 20 * delay_s
    assert elapsed < 20 * 0.005 + 2 * delay_s + 0.25  # the sending time plus about one round trip


def test_a_megabyte_in_random_pieces_arrives_whole_and_in_order(loop):
    payload = os.urandom(1 << 20)
    port = loop.relay(loop.echo_server(), one_way_ms=2)
    with _connect(port) as sock:
        received = bytearray()
        reader = threading.Thread(target=lambda: received.extend(_receive(sock, len(payload))))
        reader.start()
        sent, size = 0, 1
        while sent < len(payload):
            sock.sendall(payload[sent:sent + size])
            sent, size = sent + size, size * 3 % 65521 + 1
        reader.join(20)
    assert bytes(received) == payload


def test_a_zero_delay_still_relays_every_byte(loop):
    port = loop.relay(loop.echo_server(), one_way_ms=0)
    with _connect(port) as sock:
        for i in range(50):
            message = f"request {i}".encode()
            sock.sendall(message)
            assert _receive(sock, len(message)) == message


def test_a_half_close_reaches_the_target_and_its_close_comes_back_after_the_data(loop):
    port = loop.relay(loop.echo_server(), one_way_ms=20)
    with _connect(port) as sock:
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)  # the echo server sees EOF only through the relay, then closes
        assert _receive(sock, 100) == b"last words"  # then the end of the stream: the close came back
        assert sock.recv(10) == b""


def test_a_close_by_the_target_reaches_the_client_one_delay_later(loop):
    port = loop.relay(loop.echo_server(close_after=b"bye"), one_way_ms=50)
    with _connect(port) as sock:
        started = time.perf_counter()
        sock.sendall(b"bye")
        assert _receive(sock, 100) == b"bye"
        assert sock.recv(10) == b""
        assert time.perf_counter() - started >= 0.100


def test_a_target_that_refuses_closes_the_clients_connection(loop):
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        dead = unused.getsockname()[1]
    port = loop.relay(dead, one_way_ms=10)
    with _connect(port) as sock:
        sock.sendall(b"anyone?")
        try:
            assert sock.recv(10) == b""
        except ConnectionResetError:
            pass  # the relay aborts: a reset, as a refusal would be


def test_the_relay_process_answers_its_health_check_and_relays_every_route(loop):
    targets = [loop.echo_server(), loop.echo_server()]
    listens, health = [free_port(), free_port()], free_port()
    argv = [sys.executable, "-m", "harness.delay_relay", "--one-way-ms", "1", "--health-port", str(health)]
    for listen, target in zip(listens, targets, strict=True):
        argv += ["--route", f"{listen}:127.0.0.1:{target}"]
    relay = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert relay.stdout.readline().startswith("delay_relay ready: one-way 1 ms")
        assert requests.get(f"http://127.0.0.1:{health}/healthz", timeout=5).text == "ok"
        assert requests.get(f"http://127.0.0.1:{health}/other", timeout=5).status_code == 404
        for listen in listens:
            with _connect(listen) as sock:
                sock.sendall(b"hello")
                assert _receive(sock, 5) == b"hello"
        relay.terminate()
        assert relay.wait(10) == 0
    finally:
        relay.kill()
        relay.wait()
        relay.stdout.close()


def test_a_malformed_route_is_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "harness.delay_relay", "--one-way-ms", "1", "--route", "nonsense"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "LISTEN_PORT:TARGET_HOST:TARGET_PORT" in done.stderr


# --------------------------------------------------------------------------- the launcher's routes


def _ports_of(name: str) -> dict[str, list[int]]:
    return {p.name: [20000 + i * 10 + j for j in range(2)] for i, p in enumerate(variant(name).processes)}


def test_every_replica_a_process_addresses_gets_a_route_and_nothing_else_does():
    ports = _ports_of("direct-split-http")
    counter = iter(range(30000, 30100))
    plan = network_delay.plan(variant("direct-split-http"), ports, "amqp://guest:guest@127.0.0.1:5672/%2F", 5.0,
                              lambda: next(counter))
    assert plan.one_way_ms == 2.5
    assert set(plan.routes) == {("127.0.0.1", p) for name in ("monitor", "alerting", "notification") for p in ports[name]}
    relayed = plan.lookup(lambda key: {"addr:monitor": ",".join(f"127.0.0.1:{p}" for p in ports["monitor"]),
                                       "namespace": "ns"}[key])
    first, second = relayed("addr:monitor").split(",")
    assert first == f"127.0.0.1:{plan.routes[('127.0.0.1', ports['monitor'][0])]}" and first != second
    assert relayed("namespace") == "ns"
    argv = plan.spec().argv
    assert argv[:6] == ("python", "-m", "harness.delay_relay", "--one-way-ms", "2.5", "--health-port")
    assert argv.count("--route") == 6


def test_the_broker_url_is_rewritten_to_the_relay_keeping_credentials_and_vhost():
    ports = _ports_of("event-split")
    taken = [ports["api"][0], 31000, ports["monitor"][1], 31001]  # two answers that collide with process ports
    plan = network_delay.plan(variant("event-split"), ports, "amqp://user:secret@broker.local/vhost?heartbeat=5", 1.0,
                              lambda: taken.pop(0))
    assert plan.health_port == 31000 and list(plan.routes) == [("broker.local", 5672)]
    assert plan.routes[("broker.local", 5672)] == 31001
    relayed = plan.url("amqp://user:secret@broker.local/vhost?heartbeat=5")
    assert relayed == "amqp://user:secret@127.0.0.1:31001/vhost?heartbeat=5"
    assert plan.url("amqp://elsewhere:5673/") == "amqp://elsewhere:5673/"


def test_a_negative_delay_is_refused():
    with pytest.raises(ValueError, match="at least 0"):
        network_delay.plan(variant("direct-split-http"), _ports_of("direct-split-http"), "amqp://x", -1.0, free_port)


def test_closing_the_relay_stops_its_listeners(loop):
    listen = free_port()
    relay = delay_relay.Relay([(listen, "127.0.0.1", 9)], 1.0)
    loop.run(relay.start())
    assert _listening(listen)
    loop.loop.call_soon_threadsafe(relay.close)
    wait_until(lambda: not _listening(listen), timeout=5, message="the relay still listens after close()")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False
