"""Ask a gRPC server's standard health service whether it is SERVING (container probes, the launcher).

``python -m direct_calls.split.grpc_health HOST:PORT`` exits 0 when the server there is SERVING.
"""
from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check_serving(address: str, service: str = "", timeout_s: float = 1.0) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


if __name__ == "__main__":
    sys.exit(0 if len(sys.argv) == 2 and check_serving(sys.argv[1], timeout_s=3.0) else 1)
