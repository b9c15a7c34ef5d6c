"""A TCP relay that delays every byte by a fixed one-way time: a slow network between processes on one machine.

``python -m harness.delay_relay --one-way-ms X --route LISTEN_PORT:TARGET_HOST:TARGET_PORT [--route ...]
[--health-port P]``: one process for every route, listening on 127.0.0.1. Each connection accepted on a route's port
is joined to a new connection to its target; each chunk read on either side is written to the other side ``X`` ms
after it was read (what Toxiproxy's ``latency`` toxic does; this kernel has no ``netem`` qdisc). So a request and its
answer cost ``2·X`` (one round trip) more than on the loopback.

How: one queue per connection and direction of ``(due time, bytes)``, drained by one timer of the event loop at the
due time of its head. Reading never waits: however many chunks are in flight, each arrives one delay after it was
read (pipelined, like a real link), never one delay per chunk; the order of a direction is the order of its queue.
A half-close (EOF) and a close travel the same queue: the other side is shut for writing (or closed) once what was
read before has been written. A target that refuses the connection closes the client's connection after the delay.
Only data is delayed: the TCP handshake to the relay is local (the apps keep their connections open: HTTP sessions
with keep-alive pools, gRPC channels, AMQP connections). ``X = 0`` still relays every byte through the same queues:
the relay's own cost. Back-pressure: a side whose write buffer is full pauses reading on the other side.

Timers to the microsecond (:class:`PreciseEpollSelector`): with asyncio's default selector every delay would be
rounded up to the next millisecond (a 0.5 ms delay taking 1 ms). Readiness: ``delay_relay ready`` on stdout once
every route listens, and ``GET /healthz`` on ``--health-port`` answers 200 (how the launcher waits for it, as for
its other HTTP processes). SIGTERM or SIGINT closes every listener and exits 0.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import select
import selectors
import signal
import sys
import time
from collections.abc import Callable

HOST = "127.0.0.1"
_EOF = "eof"
_CLOSE = "close"
_RESOLUTION = time.get_clock_info("monotonic").resolution
"""The event loop runs a timer up to this early (``BaseEventLoop._run_once``); a flush counts it as due."""


class PreciseEpollSelector(selectors.EpollSelector):
    """epoll, with timeouts to the microsecond: ``epoll_wait`` counts whole milliseconds (rounded up: a 0.5 ms delay
    would take 1 ms), so the wait is a ``select()`` on the epoll descriptor itself (readable when any registered one
    is ready), then the events are collected without waiting."""

    def select(self, timeout: float | None = None) -> list:
        if timeout is not None and timeout > 0:
            select.select([self.fileno()], [], [], timeout)
            timeout = 0
        return super().select(timeout)


def new_loop() -> asyncio.AbstractEventLoop:
    _no_timer_slack()
    return asyncio.SelectorEventLoop(PreciseEpollSelector())


def _no_timer_slack() -> None:
    """Ask Linux to wake this thread on time (``PR_SET_TIMERSLACK`` 1 ns; the default lets a wait end 50 µs late)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK
    except (OSError, AttributeError):  # not Linux/glibc: the default slack
        pass


class _Direction:
    """The bytes read on one side, written to ``out`` ``delay`` seconds after each was read, in order."""

    __slots__ = ("loop", "delay", "queue", "out", "timer", "finished", "on_finished")

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float, on_finished: Callable[[], None]):
        self.loop, self.delay, self.on_finished = loop, delay, on_finished
        self.queue: collections.deque[tuple[float, bytes | str]] = collections.deque()
        self.out: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.finished = False

    def push(self, item: bytes | str) -> None:
        if self.finished:
            return
        self.queue.append((self.loop.time() + self.delay, item))
        if self.timer is None and self.out is not None:
            self.timer = self.loop.call_at(self.queue[0][0], self._flush)

    def attach(self, out: asyncio.Transport) -> None:
        self.out = out
        if self.queue and self.timer is None and not self.finished:
            self.timer = self.loop.call_at(self.queue[0][0], self._flush)

    def _flush(self) -> None:
        self.timer = None
        now = self.loop.time() + _RESOLUTION
        queue, chunks = self.queue, []
        while queue and queue[0][0] <= now:
            item = queue.popleft()[1]
            if isinstance(item, bytes):
                chunks.append(item)
                continue
            self._write(chunks)
            self._end(item)
            return
        self._write(chunks)
        if queue:
            self.timer = self.loop.call_at(queue[0][0], self._flush)

    def _write(self, chunks: list[bytes]) -> None:
        if chunks and self.out is not None and not self.out.is_closing():
            self.out.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def _end(self, item: str) -> None:
        out = self.out
        self.cancel()
        if out is not None and not out.is_closing():
            if item == _EOF and out.can_write_eof():
                out.write_eof()
            else:
                out.close()
        self.on_finished()

    def cancel(self) -> None:
        """Nothing more goes this way (its side is gone): drop what is queued."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()
        self.finished = True


class _Side(asyncio.Protocol):
    """One end of a relayed connection: what it reads goes into ``inbound``, ``outbound`` writes to it."""

    def __init__(self, link: _Link, inbound: _Direction, outbound: _Direction):
        self.link, self.inbound, self.outbound = link, inbound, outbound
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.outbound.attach(transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.inbound.push(data)

    def eof_received(self) -> bool:
        self.inbound.push(_EOF)
        return True  # half-closed: keep writing what the other side still sends

    def connection_lost(self, exc: Exception | None) -> None:
        self.inbound.push(_CLOSE)
        self.outbound.cancel()
        self.link.check_done()

    def pause_writing(self) -> None:
        self.link.other(self).pause_reading()

    def resume_writing(self) -> None:
        self.link.other(self).resume_reading()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()


class _Link:
    """One relayed connection: the accepted client side and the connection to the target."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float):
        self.up = _Direction(loop, delay, self.check_done)  # client → target
        self.down = _Direction(loop, delay, self.check_done)  # target → client
        self.client = _Side(self, self.up, self.down)
        self.target = _Side(self, self.down, self.up)

    def other(self, side: _Side) -> _Side:
        return self.target if side is self.client else self.client

    def check_done(self) -> None:
        """Both directions over: close both ends (after what they still buffer)."""
        if self.up.finished and self.down.finished:
            for side in (self.client, self.target):
                if side.transport is not None and not side.transport.is_closing():
                    side.transport.close()


class Relay:
    """Every route of one relay on one event loop (``await start()``, then ``close()``)."""

    def __init__(self, routes: list[tuple[int, str, int]], one_way_ms: float, host: str = HOST):
        self.routes, self.delay, self.host = routes, max(0.0, one_way_ms) / 1000.0, host
        self.servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task] = set()

    async def start(self, health_port: int | None = None) -> None:
        loop = asyncio.get_running_loop()
        for listen, target_host, target_port in self.routes:
            factory = self._factory(loop, target_host, target_port)
            self.servers.append(await loop.create_server(factory, self.host, listen, reuse_address=True, backlog=1024))
        if health_port is not None:
            self.servers.append(await loop.create_server(_Health, self.host, health_port, reuse_address=True))

    def _factory(self, loop: asyncio.AbstractEventLoop, target_host: str, target_port: int) -> Callable[[], _Side]:
        def accept() -> _Side:
            link = _Link(loop, self.delay)
            task = loop.create_task(self._connect(loop, link, target_host, target_port))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return link.client

        return accept

    async def _connect(self, loop: asyncio.AbstractEventLoop, link: _Link, host: str, port: int) -> None:
        try:
            await loop.create_connection(lambda: link.target, host, port)
        except OSError:
            link.up.cancel()
            client = link.client.transport
            if client is not None:
                loop.call_later(self.delay, client.abort)  # the refusal reaches the client one delay later

    def close(self) -> None:
        for server in self.servers:
            server.close()
        for task in self._tasks:
            task.cancel()


class _Health(asyncio.Protocol):
    """``GET /healthz`` answers 200 ``ok`` (the relay listens on every route), anything else 404; then it closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" in self.buffer or len(self.buffer) > 8192:
            found = self.buffer.startswith(b"GET /healthz ")
            status, body = (b"200 OK", b"ok") if found else (b"404 Not Found", b"not found")
            self.transport.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\nContent-Length: "
                                 + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            self.transport.close()


def parse_route(text: str) -> tuple[int, str, int]:
    """``LISTEN_PORT:TARGET_HOST:TARGET_PORT`` (an IPv6 host in brackets) → ``(listen, host, port)``."""
    listen, sep, rest = text.partition(":")
    host, sep2, port = rest.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not (sep and sep2 and host and listen.isdigit() and port.isdigit()):
        raise argparse.ArgumentTypeError(f"route {text!r}: expected LISTEN_PORT:TARGET_HOST:TARGET_PORT")
    return int(listen), host, int(port)


async def _serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    relay = Relay(args.route, args.one_way_ms, args.host)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await relay.start(args.health_port)
    routes = ", ".join(f"{args.host}:{listen} → {host}:{port}" for listen, host, port in args.route)
    print(f"delay_relay ready: one-way {args.one_way_ms:g} ms; {routes}", flush=True)
    await stop.wait()
    relay.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.delay_relay", description=__doc__.splitlines()[0])
    parser.add_argument("--one-way-ms", type=float, required=True, help="delay of every chunk, each direction (RTT/2)")
    parser.add_argument("--route", type=parse_route, action="append", default=[], metavar="LISTEN:HOST:PORT",
                        help="relay connections to LISTEN_PORT to HOST:PORT (repeatable)")
    parser.add_argument("--health-port", type=int, default=None, help="answer HTTP 200 here once every route listens")
    parser.add_argument("--host", default=HOST, help=f"where the routes listen (default {HOST})")
    args = parser.parse_args(argv)
    if not args.route:
        parser.error("at least one --route is needed")
    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            runner.run(_serve(args))
    except OSError as error:  # a listen port taken
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
