"""The direct-calls app as a monolith: three services wired in one process by ``bootstrap``."""
