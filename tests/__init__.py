"""The test suite: unit/, integration/, contract/ (parity), bus/ (conformance), faults/, deploy/, loadtest/.

Helpers live in support/."""
