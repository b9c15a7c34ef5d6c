"""The HTTP edge's backend: each public operation delegates to the service that owns it."""
from __future__ import annotations

from shared.http.delegating import DelegatingBackend


class DirectBackend(DelegatingBackend):
    """``shared.http.delegating.DelegatingBackend`` over the three services (``services.py``), or, after the move,
    over their clients, which have the services' methods."""
