"""The public HTTP edge (DESIGN section 3), shared by every variant."""
