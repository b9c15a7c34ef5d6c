"""The direct-calls app after the move to services (variants ``direct-split-grpc`` and ``direct-split-http``).

An overlay on ``direct_calls.monolith``: this folder holds only the modules the move adds or changes,
and the monolith's folder comes second on this package's ``__path__`` (the mechanism of
``pkgutil.extend_path``). So ``direct_calls.split.services``, ``.edge`` and ``.wsgi`` are the
monolith's own, unchanged files, loaded as modules of this package, and their relative imports
(``from .bootstrap import bootstrap``) find this folder's modules first.
"""
import os

__path__.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "monolith"))
