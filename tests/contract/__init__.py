"""The parity suite: the public contract (DESIGN section 3) over HTTP, against every variant."""
