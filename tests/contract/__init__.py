"""The parity suite: the public contract over HTTP, against every variant."""
