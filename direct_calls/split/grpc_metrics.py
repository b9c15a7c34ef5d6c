"""Rate, errors and duration of gRPC calls, served and made, as interceptors (:mod:`shared.telemetry.metrics`).

The server interceptor times the handler of each unary call and counts it by its status code; the client
interceptor does the same for each call a channel makes, retries included (the channel's retry policy runs
below it). Health checks are left out.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc

from shared.telemetry.metrics import GRPC_CLIENT_DURATION, GRPC_CLIENT_HANDLED, GRPC_SERVER_DURATION, GRPC_SERVER_HANDLED

_HEALTH = "/grpc.health.v1.Health/"


class ServerMetrics(grpc.ServerInterceptor):
    def intercept_service(self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        method = details.method
        if handler is None or handler.unary_unary is None or method.startswith(_HEALTH):
            return handler
        serve = handler.unary_unary

        def timed(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                return serve(request, context)
            finally:
                code = context.code() if hasattr(context, "code") else None
                GRPC_SERVER_HANDLED.labels(method, (code or grpc.StatusCode.OK).name).inc()
                GRPC_SERVER_DURATION.labels(method).observe(time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            timed, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer,
        )


class ClientMetrics(grpc.UnaryUnaryClientInterceptor):
    def intercept_unary_unary(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails,
                              request: Any) -> Any:
        method = details.method
        if method.startswith(_HEALTH):
            return continuation(details, request)
        started = time.perf_counter()
        outcome = continuation(details, request)
        GRPC_CLIENT_HANDLED.labels(method, outcome.code().name).inc()  # waits for the answer, as the caller does
        GRPC_CLIENT_DURATION.labels(method).observe(time.perf_counter() - started)
        return outcome
