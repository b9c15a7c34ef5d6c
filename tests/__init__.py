"""The test suite: unit/, integration/, contract/ (parity), bus/ (conformance), faults/, deploy/, loadtest/; helpers in support/."""
