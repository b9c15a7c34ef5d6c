"""The plain event-driven monolith: one process, one database, an in-memory message bus that runs every handler
inside the unit of work of the command that raised the event."""
