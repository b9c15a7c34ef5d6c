"""The event-driven app after the move to services (variant ``event-split``): one process per service on RabbitMQ.

An overlay on ``event_driven.monolith``: this folder holds only the modules the move adds or changes,
and the monolith's folder comes second on this package's ``__path__`` (the mechanism of
``pkgutil.extend_path``). So ``events``, ``handlers``, ``rpc``, ``wiring``, ``edge``... are the monolith's
own, unchanged files, loaded as modules of this package, and their relative imports (``from .bootstrap
import build``) find this folder's modules first.
"""
import os

__path__.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "monolith"))
