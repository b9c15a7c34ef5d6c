"""Tests of the harness tools: the migration diff and the compare harness."""
