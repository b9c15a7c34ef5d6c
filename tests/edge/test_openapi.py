"""The serialisers and the OpenAPI document: exactly the documented fields, from the validating models."""
from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

import jsonschema
from flask.testing import FlaskClient

from shared.domain import (
    CheckResult,
    Target,
)
from shared.http import schemas
from shared.serialize import alert_json, notification_json, result_json, target_json
from tests.support.edge import ALERT, NOTIFICATION, T0, create

# --------------------------------------------------------------------------- serialisation and OpenAPI


def test_serialisers_produce_exactly_the_fields_of_the_documented_models() -> None:
    result = CheckResult(
        id="r", target_id="t", ok=True, latency_ms=7, status_code=None, checked_at=T0, received_at=T0,
    )
    target = Target(id="t", name="n", url="http://x", interval_s=60, failure_threshold=3, latency_threshold_ms=None,
                    webhook_url=None, created_at=T0)
    pairs = [(target_json(target), schemas.Target), (result_json(result), schemas.CheckResult),
             (alert_json(ALERT), schemas.Alert), (notification_json(NOTIFICATION), schemas.Notification)]
    for produced, model in pairs:
        assert list(produced) == list(model.model_fields)
    assert result_json(result)["latency_ms"] == 7.0 and isinstance(result_json(result)["latency_ms"], float)
    assert result_json(result)["checked_at"] == "2024-05-01T12:00:00.000000Z"


def test_openapi_is_a_3_1_document_with_every_path_and_method(client: FlaskClient, openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1.")
    assert openapi["info"]["title"] and openapi["info"]["version"]
    routes: defaultdict[str, set[str]] = defaultdict(set)
    for rule in client.application.url_map.iter_rules():
        routes[re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)] |= rule.methods - {"HEAD", "OPTIONS"}
    assert {path: set(map(str.upper, ops)) for path, ops in openapi["paths"].items()} == routes
    assert set(routes) == {
        "/healthz", "/readyz", "/openapi.json", "/targets", "/targets/{target_id}", "/targets/{target_id}/results",
        "/targets/{target_id}/check", "/alerts", "/notifications",
    }


def test_openapi_operations_have_responses_and_resolvable_refs(openapi: dict[str, Any]) -> None:
    schemas_by_name = openapi["components"]["schemas"]
    refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(openapi))
    assert refs and all(ref.removeprefix("#/components/schemas/") in schemas_by_name for ref in refs)
    for path, operations in openapi["paths"].items():
        for operation in operations.values():
            assert operation["responses"] and all("description" in r for r in operation["responses"].values()), path
    for schema in schemas_by_name.values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_openapi_schemas_come_from_the_validating_models(openapi: dict[str, Any]) -> None:
    create_schema = openapi["components"]["schemas"]["TargetCreate"]
    assert create_schema["additionalProperties"] is False
    assert create_schema["properties"]["interval_s"].items() >= {"minimum": 5, "maximum": 86400, "type": "integer"}.items()
    assert create_schema["required"] == ["name", "url"]
    post = openapi["paths"]["/targets"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TargetCreate"}
    assert set(post["responses"]) >= {"201", "400", "409", "413", "415"}
    assert "Location" in post["responses"]["201"]["headers"]
    limit = next(p for p in openapi["paths"]["/targets"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["in"] == "query" and limit["schema"]["maximum"] == 500 and limit["schema"]["minimum"] == 1


def test_an_openapi_document_validates_a_real_target(client: FlaskClient, openapi: dict[str, Any]) -> None:
    document_schema = {"$ref": "#/components/schemas/Target", "components": openapi["components"]}
    jsonschema.validate(create(client), document_schema)
