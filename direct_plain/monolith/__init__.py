"""The plain direct-calls monolith: one process, one database, one transaction per request shared by the services."""
