"""The OpenAPI 3.1 document of the public contract, generated from the models of :mod:`shared.http.schemas`.

Request bodies, query parameters and responses all come from the same pydantic models the edge
validates with, so the document cannot drift from the behaviour. Component schemas are JSON Schema
2020-12 (OpenAPI 3.1's dialect) and every ``$ref`` points into ``#/components/schemas``.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from . import schemas as s

REF_TEMPLATE = "#/components/schemas/{model}"

_REQUEST_MODELS: tuple[type[BaseModel], ...] = (s.TargetCreate, s.ResultCreate, s.CheckRequest)
_RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    s.Target, s.TargetPage, s.CheckResult, s.ResultList, s.ResultAccepted, s.Alert, s.AlertList,
    s.Notification, s.NotificationList, s.Health, s.Ready, s.NotReady, s.ErrorBody,
)

_ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "invalid_argument: invalid body or query parameter",
    401: "unauthenticated: no API key, or an unknown one (Authorization: Bearer <key>)",
    403: "forbidden: the API key lacks the scope (read for GET, write otherwise)",
    404: "not_found: unknown target or route",
    409: "conflict: another target has this name",
    413: "payload_too_large: body over 64 KiB",
    414: "uri_too_long: request target (path and query string) over 4 KiB",
    415: "unsupported_media_type: body is not application/json",
    500: "internal: unexpected error",
    503: "unavailable: a service or the broker it needs is down",
    504: "timeout: a downstream did not answer within its deadline",
}

_TARGET_ID = {
    "name": "target_id", "in": "path", "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _json_content(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _operation(
    operation_id: str,
    summary: str,
    status: int,
    response: type[BaseModel] | None,
    errors: tuple[int, ...],
    *,
    path_id: bool = False,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    headers: dict[str, Any] | None = None,
    secured: bool = True,
) -> dict[str, Any]:
    """One operation object; every operation may also answer 414 and 500, a secured one 401 and 403 (the
    document's global ``security``); an open one says ``security: []``."""
    success: dict[str, Any] = {"description": summary}
    if response is not None:
        success["content"] = _json_content(response)
    if headers:
        success["headers"] = headers
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": {
            str(status): success,
            **{
                str(code): {"description": _ERROR_DESCRIPTIONS[code], "content": _json_content(s.ErrorBody)}
                for code in sorted({*errors, 414, 500, *((401, 403) if secured else ())})
            },
        },
    }
    if not secured:
        operation["security"] = []
    parameters = ([_TARGET_ID] if path_id else []) + (_query_parameters(query) if query else [])
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": body_required, "content": _json_content(body)}
    return operation


def _paths() -> dict[str, dict[str, Any]]:
    body_errors = (400, 413, 415)
    down = (503, 504)
    return {
        "/healthz": {"get": _operation("health", "The process is alive", 200, s.Health, (), secured=False)},
        "/readyz": {
            "get": {
                "operationId": "readiness",
                "summary": "The variant can serve (database, peers or broker reachable)",
                "security": [],
                "responses": {
                    "200": {"description": "The variant can serve", "content": _json_content(s.Ready)},
                    "503": {"description": "unavailable: not ready, with reasons", "content": _json_content(s.NotReady)},
                    **{str(code): {"description": _ERROR_DESCRIPTIONS[code], "content": _json_content(s.ErrorBody)}
                       for code in (414, 500)},
                },
            },
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "The OpenAPI 3.1 document",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              "414": {"description": _ERROR_DESCRIPTIONS[414], "content": _json_content(s.ErrorBody)}},
            },
        },
        "/targets": {
            "post": _operation(
                "createTarget", "Create a target", 201, s.Target, (*body_errors, 409, *down), body=s.TargetCreate,
                headers={"Location": {"description": "/targets/{id} of the new target", "schema": {"type": "string"}}},
            ),
            "get": _operation("listTargets", "Targets, oldest first", 200, s.TargetPage, (400, *down), query=s.TargetsQuery),
        },
        "/targets/{target_id}": {
            "get": _operation("getTarget", "One target", 200, s.Target, (404, *down), path_id=True),
            "delete": _operation("deleteTarget", "Delete a target and its results", 204, None, (404, *down), path_id=True),
        },
        "/targets/{target_id}/results": {
            "post": _operation(
                "ingestResult", "Accept a check result (idempotent with an id key)", 202, s.ResultAccepted,
                (*body_errors, 404, *down), path_id=True, body=s.ResultCreate,
            ),
            "get": _operation(
                "listResults", "A target's results, newest first", 200, s.ResultList, (400, 404, *down),
                path_id=True, query=s.ResultsQuery,
            ),
        },
        "/targets/{target_id}/check": {
            "post": _operation(
                "checkTarget", "Probe the target now and record the result", 200, s.CheckResult,
                (*body_errors, 404, *down), path_id=True, body=s.CheckRequest, body_required=False,
            ),
        },
        "/alerts": {
            "get": _operation("listAlerts", "Alerts, newest first", 200, s.AlertList, (400, *down), query=s.AlertsQuery),
        },
        "/notifications": {
            "get": _operation(
                "listNotifications", "Notifications, newest first", 200, s.NotificationList, (400, *down),
                query=s.NotificationsQuery,
            ),
        },
    }


def _component_schemas() -> dict[str, Any]:
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((model, "validation") for model in _REQUEST_MODELS),
        *((model, "serialization") for model in _RESPONSE_MODELS),
    ]
    _, document = models_json_schema(modes, ref_template=REF_TEMPLATE)
    return document.get("$defs", {})


def build_openapi() -> dict[str, Any]:
    """A fresh OpenAPI 3.1 document (a plain JSON-serialisable dict) covering every route of section 3."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Monitoring API",
            "version": "1.0.0",
            "description": "The public contract every variant serves. "
                           "Errors are always {\"error\": {\"code\", \"message\"}}; 405 method_not_allowed "
                           "answers a known path with an unsupported method. No string input (body field or query "
                           "parameter) may contain a control character (U+0000 to U+001F, U+007F): 400 "
                           "invalid_argument. An integer field accepts an integer-valued number (242.0), never a "
                           "boolean.",
        },
        "paths": _paths(),
        "security": [{"bearerAuth": []}],
        "components": {
            "schemas": _component_schemas(),
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "An API key (mk_...) with the scopes read (GET) and/or write (other methods); "
                               "it sees its tenant's targets, results, alerts and notifications only.",
            }},
        },
    }
