"""The plain event-driven app moved to services: api, monitor, alerting and notification processes, each service
on its own database, events on RabbitMQ. Holds only what the move added or changed; the rest is imported from
``event_plain.monolith``."""
