"""The event-driven app after the move to services (variant ``event-split``): one process per service on RabbitMQ.

This package holds what the move adds (the RabbitMQ bus, the JSON codec that carries events and call
arguments across the broker, the service process entrypoint) and the monolith modules it had to change
(``bootstrap``, ``wsgi``). Everything else, the events, handlers, RPC and the edge's backend among them,
it imports from ``event_driven.monolith``.
"""
