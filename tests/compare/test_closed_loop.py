"""The closed-loop tool's pure parts: reading wrk's report and writing the table."""

from __future__ import annotations

from loadtest import closed_loop

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.52ms    2.10ms  41.00ms   88.00%
  Latency Distribution
     50%    6.10ms
     75%    7.00ms
     90%    8.50ms
     99%    1.20s
  24000 requests in 10.00s, 4.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   2400.12
Transfer/sec:    420.00KB
"""


def test_wrk_output_gives_rate_percentiles_in_milliseconds_and_errors():
    row = closed_loop.parse_wrk(WRK_OUTPUT)
    assert row["rps"] == 2400.12
    assert row["p50_ms"] == 6.1
    assert row["p99_ms"] == 1200.0
    assert row["requests"] == 24000
    assert row["non_2xx"] == 7 and row["socket_errors"] == 5


def test_a_run_whose_generator_saturated_is_marked_invalid_in_the_table():
    good = {"rps": 3000.0, "p50_ms": 4.0, "p99_ms": 9.0, "non_2xx": 0, "socket_errors": 0, "gen_cpu_frac": 0.5, "valid": True}
    bad = {**good, "rps": 1500.0, "gen_cpu_frac": 0.95, "valid": False}
    result = {
        "started": "2026-11-29T00:00:00Z", "command": "python -m loadtest.closed_loop", "seconds": 10.0,
        "connections": 16, "targets": 20, "env": {},
        "rows": {closed_loop.CEILING: {"get": good, "post": good}, "direct-monolith": {"get": good, "post": bad}},
    }
    text = closed_loop.markdown(result)
    assert "| `direct-monolith` | 3,000 | 9.0 | 100% | 1,500 (invalid) | 9.0 | 50% | 50% / 95% |" in text
