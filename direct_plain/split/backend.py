"""The api's backend after the move: each operation is a call to the service that owns it (the api has no
database, so no transaction: each service opens its own)."""
from __future__ import annotations

from shared.http.delegating import DelegatingBackend


class ServicesBackend(DelegatingBackend):
    """``shared.http.delegating.DelegatingBackend`` over the three services' clients (``clients.py``)."""
