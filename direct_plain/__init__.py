"""The direct-calls app as a team writes it when nobody plans a split: ``monolith/``, and ``split/``, its move to services."""
