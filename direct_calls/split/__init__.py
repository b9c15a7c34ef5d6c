"""The direct-calls app after the move to services (variants ``direct-split-grpc`` and ``direct-split-http``).

This package holds what the move adds (the transports, the wire codec, the deadlines, the service
process entrypoint) and the monolith modules it had to change (``bootstrap``, ``wsgi``). Everything
else, the services and the edge's backend among them, it imports from ``direct_calls.monolith``.
"""
