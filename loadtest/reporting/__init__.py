"""REPORT.md and its charts, one module per section; ``loadtest.report`` composes them in order."""
