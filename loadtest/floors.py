"""Transport floors: the bare round trip of each internal transport, measured like the variants.

- ``grpc``: a unary call to a tiny generic handler (``grpc.method_handlers_generic_handler`` with bytes
  identity serializers, so no generated code), one reused channel;
- ``flask``: ``POST /echo`` to a Flask app served by gunicorn with the variants' own settings
  (:data:`harness.topology.GUNICORN`), one reused ``requests.Session``;
- ``pika``: request/reply over the local RabbitMQ with direct reply-to (``amq.rabbitmq.reply-to``),
  one connection and channel for the client, a responder in another process.

Each server runs in its own process (``python -m loadtest.floors serve-grpc|serve-pika``, or gunicorn),
the client in the harness; times are milliseconds per round trip after a warm-up.

Beside them, the HTTP ceiling (:func:`ceiling_server`): a trivial Flask app on the same gunicorn settings, behind
the same HAProxy as every variant's api (``harness.balancer``), that parses the body of ``POST /targets/{id}/results``
like the variants and answers 202 without storing anything (GETs answer a fixed small JSON). The compare run puts it
through the variants' capacity search: what one process with those settings can serve here when the app does nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.processes import dying_with_parent

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = json.dumps(
    {
        "target_id": str(uuid.UUID(int=1)),
        "ok": False,
        "latency_ms": 20.0,
        "status_code": 503,
        "checked_at": "2026-01-01T00:00:00.000000Z",
        "id": "floor-0001",
    }
).encode()
GRPC_METHOD = "/floor.Echo/Ping"


def _identity(data: bytes) -> bytes:
    return data


def _spawn(argv: list[str], env: dict | None = None, log=None) -> subprocess.Popen:
    """A server process in its own session; its output is piped (``_wait_line`` reads it) or goes to ``log``."""
    return subprocess.Popen(
        **dying_with_parent(argv),
        cwd=ROOT,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
        stdout=log or subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
    )


def _stop(popen: subprocess.Popen) -> None:
    if popen.poll() is None:
        try:
            os.killpg(popen.pid, signal.SIGTERM)
            popen.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            popen.wait()


def _wait_line(popen: subprocess.Popen, marker: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = popen.stdout.readline()
        if not line:
            if popen.poll() is not None:
                break
            continue
        seen.append(line)
        if marker in line:
            return
    raise RuntimeError(f"floor server did not start: {''.join(seen)[-800:]}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _measure(call, calls: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000.0)
    return times


# --------------------------------------------------------------------------- clients


def grpc_floor(calls: int, warmup: int) -> dict:
    import grpc

    port = _free_port()
    server = _spawn([sys.executable, "-m", "loadtest.floors", "serve-grpc", str(port)])
    try:
        _wait_line(server, "ready", 30)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            ping = channel.unary_unary(GRPC_METHOD, request_serializer=_identity, response_deserializer=_identity)

            def call() -> None:
                if ping(PAYLOAD, timeout=5) != PAYLOAD:
                    raise RuntimeError("grpc echo mismatch")

            times = _measure(call, calls, warmup)
    finally:
        _stop(server)
    return {"transport": "grpc", "server": "grpcio generic handler, ThreadPoolExecutor(16)", "times_ms": times}


@dataclass
class GunicornServer:
    """A Flask app served by gunicorn with the variants' settings; what the load harness needs of a server."""

    popen: subprocess.Popen
    port: int

    api_key = ""
    """No key: the ceiling apps check none (``loadtest.floor_apps``)."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pids(self) -> list[int]:  # gunicorn's arbiter; the sampler adds its worker (children)
        return [self.popen.pid] if self.popen.poll() is None else []


@contextmanager
def gunicorn_app(factory: str, log=None):
    """Serve ``factory`` (``module:create()``) with :data:`harness.topology.GUNICORN`; yields once ``/healthz`` answers."""
    import requests

    from harness.topology import GUNICORN, render

    port = _free_port()
    argv = [
        sys.executable if a == "python" else render(a, lambda k: {"host": "127.0.0.1", "port": str(port)}[k]) for a in GUNICORN
    ]
    server = _spawn([*argv, factory], log=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.stdout.read()[-800:] if server.stdout else ""
                raise RuntimeError(f"{factory} did not start: {output}")
            time.sleep(0.1)
        yield GunicornServer(server, port)
    finally:
        _stop(server)


def flask_floor(calls: int, warmup: int) -> dict:
    import requests

    with gunicorn_app("loadtest.floor_apps:create_flask_app()") as server:
        session = requests.Session()
        url = f"{server.base_url}/echo"
        payload = json.loads(PAYLOAD)

        def call() -> None:
            response = session.post(url, json=payload, timeout=5)
            if response.status_code != 200:
                raise RuntimeError(f"flask echo answered {response.status_code}")
            response.json()

        times = _measure(call, calls, warmup)
    return {"transport": "flask", "server": "Flask on gunicorn (variants' settings), client requests.Session", "times_ms": times}


@dataclass
class BalancedServer:
    """A server with the variants' HAProxy in front: clients use the balancer's port; both processes are counted."""

    server: GunicornServer
    balancer: subprocess.Popen
    port: int

    api_key = ""
    """No key: the ceiling apps check none (``loadtest.floor_apps``)."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pids(self) -> list[int]:
        return [*self.server.pids, *([self.balancer.pid] if self.balancer.poll() is None else [])]


@contextmanager
def ceiling_server(log_path: Path):
    """The HTTP ceiling app behind the variants' balancer, running for the duration of the ``with`` block (the
    output of both in ``log_path``)."""
    from harness import balancer

    haproxy = balancer.binary()
    if haproxy is None:
        raise RuntimeError(balancer.MISSING)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log, gunicorn_app("loadtest.floor_apps:create_ceiling_app()", log=log) as server:
        port, config = _free_port(), log_path.with_name("haproxy.cfg")
        config.write_text(balancer.local_config(port, [server.port]))
        front = _spawn([haproxy, "-db", "-f", str(config)], log=log)
        try:
            deadline = time.monotonic() + 30
            while not _answers(f"http://127.0.0.1:{port}/healthz"):
                if front.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"haproxy in front of the ceiling did not start (see {log_path})")
                time.sleep(0.1)
            yield BalancedServer(server, front, port)
        finally:
            _stop(front)


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def pika_floor(url: str, calls: int, warmup: int) -> dict:
    import pika

    queue = f"floor-{uuid.uuid4().hex[:8]}"
    server = _spawn([sys.executable, "-m", "loadtest.floors", "serve-pika", url, queue])
    try:
        _wait_line(server, "ready", 30)
        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            channel = connection.channel()
            replies: dict[str, bytes] = {}

            def on_reply(_ch, _method, properties, body) -> None:
                replies[properties.correlation_id] = body

            channel.basic_consume("amq.rabbitmq.reply-to", on_reply, auto_ack=True)
            counter = iter(range(10**9))

            def call() -> None:
                correlation_id = str(next(counter))
                channel.basic_publish(
                    "",
                    queue,
                    PAYLOAD,
                    pika.BasicProperties(reply_to="amq.rabbitmq.reply-to", correlation_id=correlation_id),
                )
                deadline = time.monotonic() + 5
                while correlation_id not in replies:
                    if time.monotonic() > deadline:
                        raise RuntimeError("pika reply timed out")
                    connection.process_data_events(time_limit=1)
                if replies.pop(correlation_id) != PAYLOAD:
                    raise RuntimeError("pika echo mismatch")

            times = _measure(call, calls, warmup)
        finally:
            connection.close()
    finally:
        _stop(server)
    return {"transport": "pika", "server": "pika BlockingConnection responder, direct reply-to", "times_ms": times}


# --------------------------------------------------------------------------- servers


def _serve_grpc(port: int) -> None:
    from concurrent import futures

    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    handler = grpc.unary_unary_rpc_method_handler(
        lambda request, _context: request, request_deserializer=_identity, response_serializer=_identity
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("floor.Echo", {"Ping": handler}),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


def _serve_pika(url: str, queue: str) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare(queue, exclusive=True, auto_delete=True)
    channel.basic_qos(prefetch_count=16)

    def on_request(ch, method, properties, body) -> None:
        ch.basic_publish("", properties.reply_to, body, pika.BasicProperties(correlation_id=properties.correlation_id))
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(queue, on_request)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    try:
        channel.start_consuming()
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.floors", description="transport floor servers and a quick measure")
    sub = parser.add_subparsers(dest="command", required=True)
    grpc_cmd = sub.add_parser("serve-grpc")
    grpc_cmd.add_argument("port", type=int)
    pika_cmd = sub.add_parser("serve-pika")
    pika_cmd.add_argument("url")
    pika_cmd.add_argument("queue")
    measure = sub.add_parser("measure", help="measure all three floors and print p50/p95")
    measure.add_argument("--calls", type=int, default=500)
    measure.add_argument("--rabbitmq-url", default=os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    args = parser.parse_args(argv)
    if args.command == "serve-grpc":
        _serve_grpc(args.port)
    elif args.command == "serve-pika":
        _serve_pika(args.url, args.queue)
    else:
        from loadtest.stats import percentile

        for result in (grpc_floor(args.calls, 50), flask_floor(args.calls, 50), pika_floor(args.rabbitmq_url, args.calls, 50)):
            times = result["times_ms"]
            print(f"{result['transport']:6s} p50 {percentile(times, 0.5):.3f} ms  p95 {percentile(times, 0.95):.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
