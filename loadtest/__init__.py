"""Load scenarios, the compare harness and the migration diff."""
