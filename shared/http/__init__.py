"""The public HTTP edge, shared by every variant."""
