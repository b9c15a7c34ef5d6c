"""The profile tool's pure part: py-spy's collapsed stacks summed by layer and by function."""

from __future__ import annotations

from loadtest import profile

_HEAD = 'process 1:"gunicorn";thread (0x1);handle (gunicorn/workers/gthread.py:1)'
RAW = "\n".join([
    f"{_HEAD};dispatch (flask/app.py:2);ingest_result (direct_calls/monolith/services.py:3);"
    "do_execute (sqlalchemy/engine/default.py:4) 6",
    f"{_HEAD};dispatch (flask/app.py:2);model_validate_json (pydantic/main.py:5) 3",
    f"{_HEAD};parse (gunicorn/http/message.py:6) 1",
])


def test_each_sample_goes_to_its_innermost_frames_layer_and_functions_get_their_inclusive_share():
    summary = profile.summarize(profile.parse_collapsed(RAW))
    assert summary["samples"] == 10
    layers = dict(summary["layers"])
    assert layers["database calls (execute, commit)"] == 0.6
    assert layers["validation (pydantic)"] == 0.3
    assert layers["HTTP server and framework (gunicorn, werkzeug, flask)"] == 0.1
    functions = dict(summary["functions"])
    assert functions["handle (gunicorn/workers/gthread.py:1)"] == 1.0
    assert functions["ingest_result (direct_calls/monolith/services.py:3)"] == 0.6
    assert not any(f.startswith(("process ", "thread ")) for f in functions)
