"""Helpers shared by the suites that run variants as real processes (contract, failure, reliability)."""
