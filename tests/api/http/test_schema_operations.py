"""api.http.schema_operations: the OpenAPI operations of the served JSON Schemas."""

from __future__ import annotations

import jsonschema

from api.http.app_assets import http_schema, messages_schema
from api.http.openapi import openapi_document
from api.http.schema_operations import openapi_paths


def test_the_schema_routes_are_operations_of_the_openapi_document() -> None:
    document = openapi_document()
    for name in ("messages", "http"):
        path = f"/api/v1/schemas/{name}.json"
        operation = document["paths"][path]["get"]
        assert operation == openapi_paths()[path]["get"]
        assert operation["operationId"] == f"schemas_{name}"
        assert "security" not in operation
        assert set(operation["responses"]) >= {"200"}


def test_the_documented_answer_describes_what_is_served() -> None:
    for name, served in (("messages", messages_schema()), ("http", http_schema())):
        operation = openapi_paths()[f"/api/v1/schemas/{name}.json"]["get"]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(served, answer)
