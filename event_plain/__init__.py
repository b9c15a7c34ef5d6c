"""The plain event-driven app: written as a monolith with no split in mind (``monolith/``), then moved to services
(``split/``)."""
