"""The OpenAPI operations of the wire contract's JSON Schemas (``/api/v1/schemas/…``,
served by :mod:`api.http.app_assets`): a table :mod:`api.http.openapi` assembles, like the
other resources' operation tables."""

from __future__ import annotations

from typing import Any

from api.http.operations import operation

__all__ = ["openapi_paths"]

_SCHEMA_DOCUMENT = {
    "type": "object",
    "required": ["$schema", "title", "$defs", "anyOf"],
    "properties": {
        "$schema": {"type": "string"},
        "title": {"type": "string"},
        "$defs": {"type": "object", "additionalProperties": {"type": "object"}},
        "anyOf": {"type": "array"},
    },
}


def openapi_paths() -> dict[str, Any]:
    """OpenAPI 3.1 path items of the schema routes (for :mod:`api.http.openapi`)."""
    return {
        f"/api/v1/schemas/{name}.json": {
            "get": operation(
                "get",
                f"/schemas/{name}.json",
                f"schemas_{name}",
                summary,
                "none",
                200,
                success=_SCHEMA_DOCUMENT,
            )
        }
        for name, summary in (
            ("messages", "JSON Schemas of the websocket protocol's messages (draft 2020-12)"),
            ("http", "JSON Schemas of the HTTP request bodies (draft 2020-12)"),
            ("rules", "JSON Schemas of the auction rules, one per format (draft 2020-12)"),
            ("tender", "JSON Schema of a tender's creation body (draft 2020-12)"),
        )
    }
