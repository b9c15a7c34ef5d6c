"""The Flask apps gunicorn serves for :mod:`loadtest.floors`: the echo of the ``flask`` floor and the HTTP ceiling.

Neither checks an API key: the ceiling measures the HTTP stack alone (the key check of the variants, a SHA-256 and
a dict lookup per request, is part of what the variants are measured with, not of the ceiling)."""

from __future__ import annotations

import itertools


def create_flask_app():
    from flask import Flask, jsonify, request

    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.post("/echo")
    def echo():
        return jsonify(request.get_json())

    return app


def create_ceiling_app():
    """The HTTP ceiling: every route the locust scenarios call, doing no work beyond parsing what it is sent."""
    from flask import Flask, request

    from shared.http.schemas import ResultCreate

    app = Flask(__name__)
    ids = itertools.count()
    fixed = {"id": "00000000-0000-0000-0000-000000000001", "name": "ceiling", "items": [], "total": 0}

    @app.post("/targets/<target_id>/results")
    def ingest(target_id: str):
        result = ResultCreate.model_validate_json(request.get_data())  # the variants' body model, as they parse it
        return {"id": f"r{next(ids)}", "target_id": target_id, "accepted": result.ok in (True, False)}, 202

    @app.post("/targets")
    def create():
        request.get_json()
        return {**fixed, "id": f"t{next(ids)}"}, 201

    @app.delete("/targets/<target_id>")
    def delete(target_id: str):
        return "", 204

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def read(path: str):
        return fixed

    return app
