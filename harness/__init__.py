"""The experiment's harness, apart from the apps: which processes make up each variant (``topology``),
starting them on this machine (``launcher``, with ``balancer`` in front of api replicas and ``databases`` on
PostgreSQL), and rendering them for docker compose and Kubernetes (``deploy``). The load and diff tools live in ``loadtest/``."""
