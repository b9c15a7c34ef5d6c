"""The event-driven app as a monolith: every service's handlers and the HTTP edge in one process, on the
in-memory bus chosen by ``bootstrap``.

Modules import each other relatively, so a package laid over this one (``event_driven.split``) that
replaces a module gets its version used by all the others.
"""
