"""The OpenAPI 3.1 document of ``/api/v1``, and a self-contained page that browses it.

Request bodies come from :mod:`contracts.http` through :func:`contracts.schema.json_schema`,
so the document cannot drift from what the server parses. Every error is an RFC 9457
problem (``application/problem+json``) with a ``code``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from contracts import http
from contracts.schema import json_schema

__all__ = ["DOCS_HTML", "openapi_document", "responses"]

_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "machine-readable reason code"},
    },
}

# (method, path, summary, role, body class name or None, success status)
_OPERATIONS: tuple[tuple[str, str, str, str, str | None, int], ...] = (
    ("post", "/auctions", "Create and schedule an auction", "officer", "CreateAuction", 201),
    ("get", "/auctions", "List auctions", "any", None, 200),
    (
        "get",
        "/auctions/{auction_id}",
        "An auction's state, as your role may see it",
        "any",
        None,
        200,
    ),
    ("get", "/auctions/{auction_id}/events", "Committed events after ?after=seq", "any", None, 200),
    ("get", "/auctions/{auction_id}/me", "Your own standing", "bidder", None, 200),
    (
        "post",
        "/auctions/{auction_id}/bidders",
        "Register a bidder and issue its token",
        "officer",
        "RegisterBidderBody",
        201,
    ),
    ("post", "/auctions/{auction_id}/bids", "Place a bid", "bidder", "BidBody", 201),
    (
        "post",
        "/auctions/{auction_id}/proxy",
        "Set a secret proxy limit",
        "bidder",
        "ProxyBody",
        201,
    ),
    ("post", "/auctions/{auction_id}/accept", "Take the Dutch price", "bidder", "AcceptBody", 201),
    (
        "post",
        "/auctions/{auction_id}/withdraw",
        "Withdraw a sealed bid",
        "bidder",
        "EmptyBody",
        201,
    ),
    (
        "post",
        "/auctions/{auction_id}/pass",
        "Pass your multi-round turn",
        "bidder",
        "EmptyBody",
        201,
    ),
    (
        "post",
        "/auctions/{auction_id}/disqualify",
        "Disqualify a bidder",
        "officer",
        "DisqualifyBody",
        200,
    ),
    ("post", "/auctions/{auction_id}/cancel", "Cancel the auction", "officer", "CancelBody", 200),
    ("post", "/tokens", "Issue a token (observer, auditor, officer)", "officer", "TokenBody", 201),
    (
        "post",
        "/tokens/{jti}/revoke",
        "Revoke a token before it expires: refused from then on with 401 token_revoked "
        "(an officer: any token of its auction; anyone: its own token; 404 for an unknown "
        "jti). No body, or {}",
        "any",
        None,
        200,
    ),
)

#: Extra responses of some operations, by (method, path).
_LOCATION = {
    "Location": {
        "description": "the new auction, /api/v1/auctions/{id} (also on an idempotent replay)",
        "schema": {"type": "string"},
    }
}
_SHED = {
    "description": "overloaded (the auction's queue is full or the writer is backlogged) "
    "or shutting down: retry after Retry-After seconds",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def responses(status: str) -> dict[str, Any]:
    """An operation's responses: ``status`` with a JSON body, anything else an RFC 9457
    problem (``#/components/schemas/Problem``)."""
    return {
        status: {"description": "success", "content": {"application/json": {}}},
        "default": {
            "description": "an RFC 9457 problem",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        },
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The document served at ``/api/v1/openapi.json``."""
    schemas: dict[str, Any] = {"Problem": _PROBLEM}
    for name in http.__all__:
        schema = json_schema(getattr(http, name))
        schema.pop("$schema", None)
        schemas[name] = schema
    schemas["CreateAuction"] = {
        "type": "object",
        "required": ["rules"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$"},
            "rules": {"type": "object", "description": "see contracts/rules_json.py"},
        },
    }
    paths: dict[str, Any] = {}
    for method, path, summary, role, body, status in _OPERATIONS:
        operation: dict[str, Any] = {
            "summary": summary,
            "description": f"Role: {role}. Send `Authorization: Bearer <token>`; "
            "commands accept an `Idempotency-Key` header.",
            "security": [{"bearer": []}],
            "responses": responses(str(status)),
        }
        if "{auction_id}" in path:
            operation["parameters"] = [
                {"name": "auction_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ]
        if "{jti}" in path:
            operation["parameters"] = [
                {"name": "jti", "in": "path", "required": True, "schema": {"type": "string"}}
            ]
        if (method, path) == ("post", "/auctions"):
            operation["responses"]["201"]["headers"] = _LOCATION
        if method == "post" and body is not None:
            operation["responses"]["503"] = _SHED
        if body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}
                },
            }
        paths.setdefault(f"/api/v1{path}", {})[method] = operation
    for path, summary in (
        ("/healthz", "Liveness"),
        ("/readyz", "Readiness"),
        ("/metrics", "Prometheus metrics"),
    ):
        paths[path] = {"get": {"summary": summary, "responses": {"200": {"description": "ok"}}}}
    from api.tenders import openapi_paths  # sealed tenders (issue 4)

    paths.update(openapi_paths())
    from api.audit import openapi_paths as audit_paths  # the auditor's trail (issue 5)

    paths.update(audit_paths())
    return {
        "openapi": "3.1.0",
        "info": {"title": "Gavel", "version": "1", "description": "E-auction bidding engine."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gavel API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code,pre{background:#f4f4f4;padding:.1rem .3rem}h2{margin-top:2rem}.m{font-weight:bold;
text-transform:uppercase;display:inline-block;width:4rem}</style></head>
<body><h1>Gavel API v1</h1><p>The machine-readable document is
<a href="/api/v1/openapi.json">/api/v1/openapi.json</a>. Errors are RFC 9457 problems.</p>
<div id="ops">Loading…</div>
<script>
fetch('/api/v1/openapi.json').then(r => r.json()).then(doc => {
  const out = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      let body = '';
      const ref = op.requestBody && op.requestBody.content['application/json'].schema.$ref;
      if (ref) {
        const schema = doc.components.schemas[ref.split('/').pop()];
        body = '<pre>' + JSON.stringify(schema.properties, null, 1) + '</pre>';
      }
      out.push('<h2><span class="m">' + method + '</span><code>' + path + '</code></h2><p>' +
        op.summary + '. ' + (op.description || '') + '</p>' + body);
    }
  }
  document.getElementById('ops').innerHTML = out.join('');
});
</script></body></html>
"""
