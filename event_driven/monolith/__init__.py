"""The event-driven app as a monolith: every service's handlers and the HTTP edge in one process, on the
in-memory bus chosen by ``bootstrap``. ``event_driven.split`` imports these modules and adds a broker."""
