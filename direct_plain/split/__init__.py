"""The plain direct-calls app moved to services: what the move added or changed; the rest comes from ``monolith/``."""
