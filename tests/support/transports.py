"""Direct-calls service servers run inside the test process, over gRPC or HTTP, and clients for them.

One helper for every test that wires services over a real transport without starting processes: each
server listens on its own port and can be stopped on its own (a replica going down); ``close`` stops
every server and client made. Each service's server requires its token (``tokens``, new for each helper), which
the clients made here present.
"""
from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import make_server

from direct_calls.split import grpc_transport, http_transport

TIMEOUT_S = 5.0


class InProcessServers:
    """Servers of one transport (``grpc`` or ``http``) in this process, and the clients made for them."""

    def __init__(self, kind: str):
        self.kind = kind
        self.module = {"grpc": grpc_transport, "http": http_transport}[kind]
        self._stops: list[Callable[[], None]] = []
        self._stop_by_address: dict[str, Callable[[], None]] = {}
        self.tokens = {name: secrets.token_urlsafe(24) for name in ("monitor", "alerting", "notification")}

    def serve(self, name: str, service: Any, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve ``service`` as service ``name``; returns its ``host:port``."""
        if self.kind == "grpc":
            server, _, port = grpc_transport.build_server(name, service, f"{host}:{port}", self.tokens[name])
            stop: Callable[[], None] = lambda: server.stop(0).wait()  # noqa: E731
        else:
            app = http_transport.create_service_app(name, service, self.tokens[name])
            http_server = make_server(host, port, app, threaded=True)
            threading.Thread(target=http_server.serve_forever, daemon=True).start()
            port = http_server.server_port
            stop = lambda: (http_server.shutdown(), http_server.server_close())  # noqa: E731
        stopped = threading.Event()

        def stop_once() -> None:
            if not stopped.is_set():
                stopped.set()
                stop()

        address = f"{host}:{port}"
        self._stops.append(stop_once)
        self._stop_by_address[address] = stop_once
        return address

    def stop(self, address: str) -> None:
        """Stop the server at ``address`` (the others keep serving)."""
        self._stop_by_address[address]()

    def client(self, peer: str, address: str, timeout_s: float = TIMEOUT_S) -> Any:
        """A client of service ``peer`` at ``address`` (one address, a comma-separated list, or a name)."""
        client = getattr(self.module, f"{peer.capitalize()}Client")(address, timeout_s, self.tokens[peer])
        self._stops.append(client.close)
        return client

    def close(self) -> None:
        for stop in reversed(self._stops):
            stop()
