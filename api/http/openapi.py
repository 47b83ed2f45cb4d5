"""The OpenAPI 3.1 document of ``/api/v1``, and a self-contained page that browses it.

The document says exactly what the server takes, from the declarations the server
parses with: request bodies come from :mod:`contracts.http` through
:func:`contracts.schema.json_schema` (with their :mod:`contracts.bounds`), auction rules
from :func:`contracts.rules_json.rules_schema`, roles from :class:`api.access.auth.Role`,
idempotency keys from :func:`api.http.idempotency.parse_key`'s grammar. A request the
document calls valid is refused only for a reason it states: the token (401/403), the
moment or the state (404, 409, and the engine's own 422 reasons), the load (429, 503).
``tests/api/http/test_openapi_fuzz.py`` holds the server to that with schemathesis.

Every error is an RFC 9457 problem (``application/problem+json``) with a ``code``; each
documented status has its own schema, ``Problem<status>``, whose ``code`` is one of the
codes answered with that status (:class:`api.http.problems.Code` and
:class:`engine.reasons.Reason`, by their statuses).

:func:`operation` builds one operation object; the tender and audit route tables use it
too, so every route documents its refusals the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from api.access.auth import OVERSEERS, Role
from api.http.problems import MAX_INT, Code
from contracts import http
from contracts.bounds import IDENT, TENDER_IDENT, TIME
from contracts.rules_json import rules_schema
from contracts.schema import json_schema
from engine.reasons import Reason
from engine.tender_records import EnvelopeKind

__all__ = [
    "DOCS_HTML",
    "EXAMPLE_TIME",
    "IDEMPOTENCY_KEY",
    "PATH_PARAMETERS",
    "SHAPE_CODES",
    "openapi_document",
    "operation",
    "problem_codes",
    "time_query",
]

_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string", "description": "machine-readable reason code"},
        "field": {"type": "string", "description": "the member at fault (422)"},
        "pointer": {"type": "string", "description": "its RFC 6901 JSON Pointer"},
    },
}

#: The codes that say "the request is malformed": never the answer to a request this
#: document calls valid (the fuzz test checks that). Every other code is about the
#: token, the state or the load.
SHAPE_CODES = frozenset(
    {
        Code.BAD_JSON.value,
        Code.BAD_REQUEST.value,
        Code.INVALID_FIELD.value,
        Code.UNKNOWN_FIELD.value,
        Code.MISSING_FIELD.value,
        Code.UNSUPPORTED_MEDIA_TYPE.value,
        Code.IDEMPOTENCY_KEY_INVALID.value,
    }
)

#: An ``Idempotency-Key`` as :func:`api.http.idempotency.parse_key` reads it: a bare key of
#: 1-255 printable ASCII characters (not starting with a quote, no outer spaces), or a
#: Structured Field string of 1-255 characters (``"a\\"b"``); spaces and tabs around.
IDEMPOTENCY_KEY = (
    '^[ \\t]*(?:"(?:[ !#-\\[\\]-~]|\\\\["\\\\]){1,255}"|[!#-~](?:[ -~]{0,253}[!-~])?)[ \\t]*$'
)

#: The schema of every path parameter, by name: what the routes can find. A value
#: outside it names nothing (404), or, for ``kind``, is refused (422).
PATH_PARAMETERS: Mapping[str, dict[str, Any]] = {
    "auction_id": {"type": "string", **IDENT.schema()},
    "tender_id": {"type": "string", **TENDER_IDENT.schema()},
    "lot": {"type": "string", **TENDER_IDENT.schema()},
    "kind": {"type": "string", "enum": [kind.value for kind in EnvelopeKind]},
    "seq": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    "jti": {"type": "string", "minLength": 1, "maxLength": 100},
}


def time_query(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    """A query parameter holding a time (:data:`contracts.bounds.TIME`)."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "integer", **TIME.schema()},
    }


@cache
def problem_codes() -> dict[int, tuple[str, ...]]:
    """Every problem code by the status it is answered with (edge codes, then the
    engine's reasons), but 500: a 500 is a bug, never documented. O(codes)."""
    by_status: dict[int, list[str]] = {}
    for code in Code:
        by_status.setdefault(code.status, []).append(code.value)
    for reason in Reason:
        by_status.setdefault(reason.status_hint, []).append(reason.value)
    by_status.pop(500, None)
    return {status: tuple(codes) for status, codes in sorted(by_status.items())}


_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_DESCRIPTIONS = {
    400: "malformed: not JSON (bad_json), a bad Idempotency-Key, bad HTTP",
    401: "no valid token (token_missing, token_expired, token_revoked, ...)",
    403: "the token's role or binding does not allow this (role_forbidden, wrong_auction, "
    "...), or the engine's not_tender_officer",
    404: "no such auction, tender, lot, token or receipt",
    409: "not at this moment or in this state (auction_closed, auction_exists, "
    "out_of_turn, ...), or the same Idempotency-Key in progress",
    413: "the body is larger than the server's limit (GAVEL_MAX_BODY, 16 KiB by default; an "
    "envelope upload: the largest envelope)",
    415: "the body is not application/json (an envelope upload: application/octet-stream)",
    422: "refused content: invalid_field, unknown_field or missing_field (naming it) for a "
    "body or query the schema refuses; the engine's reasons (invalid_rules, "
    "insufficient_improvement, too_many_decimals, wrong_currency, invalid_tender, ...) for "
    "content well formed but not acceptable now; idempotency_key_reused",
    429: "rate limited: retry after Retry-After seconds",
    503: "not ready, shutting down, overloaded, or storage unavailable (outcome_unknown: a "
    "command's commit failed and its fate is not known yet): retry after Retry-After seconds",
}


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS.get(status, "an RFC 9457 problem"),
        "content": {
            "application/problem+json": {
                "schema": {"$ref": f"#/components/schemas/Problem{status}"}
            }
        },
    }
    if status in (429, 503):
        response["headers"] = dict(_RETRY_AFTER)
    return response


def _problem_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {"Problem": _PROBLEM}
    for status, codes in problem_codes().items():
        schemas[f"Problem{status}"] = {
            "allOf": [{"$ref": "#/components/schemas/Problem"}],
            "properties": {"status": {"const": status}, "code": {"enum": list(codes)}},
        }
    return schemas


@dataclass(frozen=True, slots=True)
class _Shape:
    """What an operation takes, which decides what it can be refused for."""

    secured: bool = True
    path: bool = False
    body: bool = False
    query: bool = False
    post: bool = False
    statuses: frozenset[int] = field(default_factory=frozenset)

    def problem_statuses(self) -> list[int]:
        # 400 always: Sanic answers malformed HTTP before any route. 503 always: every
        # route needs the service or the database, or is refused while shutting down.
        statuses = {400, 503, *self.statuses}
        if self.secured:
            statuses |= {401, 403, 429}
        if self.path:
            statuses.add(404)
        if self.body:
            statuses |= {413, 415, 422}
        if self.query:
            statuses.add(422)
        if self.post:
            statuses |= {409, 413, 422}  # the engine's refusals, idempotency keys
        return sorted(statuses)


def operation(
    method: str,
    path: str,
    operation_id: str,
    summary: str,
    role: str,
    status: int,
    *,
    body: Mapping[str, Any] | None = None,
    body_required: bool = True,
    media: str = "application/json",
    query: Iterable[Mapping[str, Any]] = (),
    success: Mapping[str, Any] | None = None,
    success_media: str = "application/json",
    headers: Mapping[str, Any] | None = None,
    idempotent: bool | None = None,
    statuses: Iterable[int] = (),
    description: str = "",
    state_fields: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One OpenAPI operation object: its parameters (path ones from
    :data:`PATH_PARAMETERS`), body, success response and every problem response the
    route can give. ``role`` ``"none"`` means no token. POST operations take an
    ``Idempotency-Key`` unless ``idempotent=False``.

    ``state_fields`` names the fields whose valid values may still be refused with 422
    ``invalid_field`` against the state (a proof's ``size`` beyond the log), with why:
    published as ``x-state-fields``, the only ``invalid_field`` a valid request may get.
    O(parameters)."""
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
        for name in names
    ]
    parameters += [dict(each) for each in query]
    post = method == "post"
    if idempotent if idempotent is not None else post:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "a retry with the same key and body gets the first answer "
                "(Idempotent-Replayed: true); another body, 422 idempotency_key_reused",
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY},
            }
        )
    shape = _Shape(
        secured=role != "none",
        path=bool(names),
        body=body is not None,
        query=bool(query),
        post=post,
        statuses=frozenset(statuses),
    )
    success_response: dict[str, Any] = {
        "description": "success",
        "content": {success_media: {"schema": dict(success or {"type": "object"})}},
    }
    if headers:
        success_response["headers"] = dict(headers)
    responses: dict[str, Any] = {str(status): success_response}
    for refused in shape.problem_statuses():
        responses[str(refused)] = _problem_response(refused)
    result: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": (f"Role: {role}. " if role != "none" else "No token. ")
        + (description + " " if description else "")
        + "Errors are RFC 9457 problems with a `code`.",
        "parameters": parameters,
        "responses": responses,
    }
    if state_fields:
        result["x-state-fields"] = dict(state_fields)
        result["description"] += " Refused against the state: " + "; ".join(
            f"{name} {why}" for name, why in state_fields.items()
        )
    if shape.secured:
        result["security"] = [{"bearer": []}]
    if body is not None:
        result["requestBody"] = {
            "required": body_required,
            "content": {media: {"schema": dict(body)}},
        }
    return result


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_COMMAND_ANSWER = {
    "type": "object",
    "required": ["seq", "server_time", "event"],
    "properties": {
        "seq": {"type": ["integer", "null"]},
        "server_time": {"type": ["integer", "null"]},
        "event": {"type": ["object", "null"]},
    },
}
_OFFICER_ANSWER = {
    "type": "object",
    "required": ["seq", "event"],
    "properties": {"seq": {"type": "integer"}, "event": {"type": "object"}},
}
_TOKEN_ANSWER = {
    "type": "object",
    "required": ["token"],
    "properties": {"token": {"type": "string"}, "jti": {"type": "string"}},
}
_LOCATION = {
    "Location": {
        "description": "the new auction, /api/v1/auctions/{id} (also on an idempotent replay)",
        "schema": {"type": "string"},
    }
}
_AFTER = {
    "name": "after",
    "in": "query",
    "required": False,
    "description": "the events after this seq (default 0: from the start)",
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
}


def _auction_operations() -> list[tuple[str, str, dict[str, Any]]]:
    a = "/auctions/{auction_id}"
    return [
        (
            "post",
            "/auctions",
            operation(
                "post",
                "/auctions",
                "create_auction",
                "Create and schedule an auction",
                "officer",
                201,
                body=_ref("CreateAuction"),
                headers=_LOCATION,
                success={
                    "type": "object",
                    "required": ["id", "format", "seq", "rules"],
                    "properties": {
                        "id": {"type": "string"},
                        "format": {"type": "string"},
                        "seq": {"type": "integer"},
                        "rules": {"type": "object"},
                    },
                },
            ),
        ),
        (
            "get",
            "/auctions",
            operation("get", "/auctions", "list_auctions", "List auctions", "any", 200),
        ),
        (
            "get",
            a,
            operation(
                "get", a, "get_auction", "An auction's state, as your role may see it", "any", 200
            ),
        ),
        (
            "get",
            f"{a}/events",
            operation(
                "get",
                f"{a}/events",
                "events_after",
                "Committed events after ?after=seq (up to 1000)",
                "any",
                200,
                query=[_AFTER],
            ),
        ),
        (
            "get",
            f"{a}/me",
            operation("get", f"{a}/me", "my_standing", "Your own standing", "bidder", 200),
        ),
        (
            "post",
            f"{a}/bidders",
            operation(
                "post",
                f"{a}/bidders",
                "register_bidder",
                "Register a bidder and issue its token",
                "officer",
                201,
                body=_ref("RegisterBidderBody"),
                success=_TOKEN_ANSWER,
            ),
        ),
        *(
            (
                "post",
                f"{a}/{name}",
                operation(
                    "post",
                    f"{a}/{name}",
                    f"bidder_{name}",
                    summary,
                    "bidder",
                    201,
                    body=_ref(schema),
                    success=_COMMAND_ANSWER,
                ),
            )
            for name, summary, schema in (
                ("bids", "Place a bid", "BidBody"),
                ("proxy", "Set a secret proxy limit", "ProxyBody"),
                ("accept", "Take the Dutch price", "AcceptBody"),
                ("withdraw", "Withdraw a sealed bid", "EmptyBody"),
                ("pass", "Pass your multi-round turn", "EmptyBody"),
            )
        ),
        (
            "post",
            f"{a}/disqualify",
            operation(
                "post",
                f"{a}/disqualify",
                "disqualify",
                "Disqualify a bidder",
                "officer",
                200,
                body=_ref("DisqualifyBody"),
                success=_OFFICER_ANSWER,
            ),
        ),
        (
            "post",
            f"{a}/cancel",
            operation(
                "post",
                f"{a}/cancel",
                "cancel",
                "Cancel the auction",
                "officer",
                200,
                body=_ref("CancelBody"),
                success=_OFFICER_ANSWER,
            ),
        ),
        (
            "post",
            "/tokens",
            operation(
                "post",
                "/tokens",
                "issue_token",
                "Issue a token",
                "officer",
                201,
                body=_ref("TokenBody"),
                success=_TOKEN_ANSWER,
            ),
        ),
        (
            "post",
            "/tokens/{jti}/revoke",
            operation(
                "post",
                "/tokens/{jti}/revoke",
                "revoke_token",
                "Revoke a token before it expires: refused from then on with 401 "
                "token_revoked (an officer: any token of its auction; anyone: its own "
                "token; 404 for an unknown jti)",
                "any",
                200,
                body=_ref("EmptyBody"),
                body_required=False,
                idempotent=False,
            ),
        ),
    ]


def _links() -> dict[tuple[str, str], dict[str, Any]]:
    """Stateful links (schemathesis follows them): create an auction, register a
    bidder in it, bid with the token it got; and read or act on what was made."""
    auction = {"path.auction_id": "$response.body#/id"}
    same = {"path.auction_id": "$request.path.auction_id"}
    as_bidder = {**same, "header.Authorization": "Bearer {$response.body#/token}"}
    return {
        ("/auctions", "201"): {
            "RegisterBidder": {"operationId": "register_bidder", "parameters": auction},
            "GetAuction": {"operationId": "get_auction", "parameters": auction},
            "Events": {"operationId": "events_after", "parameters": auction},
            "Cancel": {"operationId": "cancel", "parameters": auction},
        },
        ("/auctions/{auction_id}/bidders", "201"): {
            name: {"operationId": target, "parameters": as_bidder}
            for name, target in (
                ("Bid", "bidder_bids"),
                ("Proxy", "bidder_proxy"),
                ("Accept", "bidder_accept"),
                ("Withdraw", "bidder_withdraw"),
                ("Pass", "bidder_pass"),
                ("Standing", "my_standing"),
            )
        },
    }


#: 2100-01-01T00:00:00Z: the examples' times, far enough ahead to stay valid.
EXAMPLE_TIME = 4_102_444_800_000_000

#: One valid body per request schema: documentation, and what schemathesis's examples
#: phase sends first (so the happy paths run, and their answers are checked).
_EXAMPLES: dict[str, dict[str, Any]] = {
    "CreateAuction": {
        "rules": {
            "format": "english",
            "currency": "EUR",
            "starts_at": EXAMPLE_TIME,
            "ends_at": EXAMPLE_TIME + 3_600_000_000,
            "start_price": "1000.00",
            "step": {"amount": "10.00"},
        }
    },
    "RegisterBidderBody": {"party": "bidder-1"},
    "BidBody": {"amount": "1010.00", "currency": "EUR"},
    "ProxyBody": {"limit": "1500.00", "currency": "EUR"},
    "AcceptBody": {"expected": "900.00", "currency": "EUR"},
    "EmptyBody": {},
    "DisqualifyBody": {"bidder": "bidder-1", "note": "collusion"},
    "CancelBody": {"note": "specifications withdrawn"},
    "TokenBody": {"role": "observer", "party": "press", "ttl_s": 3600},
}


def _token_body() -> dict[str, Any]:
    """``TokenBody`` with what the route checks beyond the dataclass: the role is one
    of :class:`api.access.auth.Role`, and a token for a role that is not an overseer names
    its auction."""
    schema = json_schema(http.TokenBody)
    schema["properties"]["role"] = {"type": "string", "enum": [role.value for role in Role]}
    bound = sorted(role.value for role in Role if role not in OVERSEERS)
    schema["allOf"] = [
        {
            "if": {"properties": {"role": {"enum": bound}}, "required": ["role"]},
            "then": {
                "required": ["auction"],
                "properties": {"auction": schema["properties"]["auction"]["anyOf"][0]},
            },
        }
    ]
    return schema


_NOT_READY = {
    "description": "starting, stopping, or the database is unavailable",
    "content": {"application/json": {}},
}


@cache
def openapi_document() -> dict[str, Any]:
    """The document served at ``/api/v1/openapi.json``."""
    schemas: dict[str, Any] = _problem_schemas()
    for name in http.__all__:
        schema = json_schema(getattr(http, name))
        schema.pop("$schema", None)
        schemas[name] = schema
    schemas["TokenBody"] = _token_body()
    schemas["TokenBody"].pop("$schema", None)
    schemas["Rules"] = rules_schema()
    schemas["CreateAuction"] = {
        "type": "object",
        "required": ["rules"],
        "additionalProperties": False,
        "properties": {
            "id": {
                "anyOf": [
                    {"type": "string", "pattern": "^[A-Za-z0-9._-]{0,100}$"},
                    {"type": "null"},
                ],
                "description": f"{IDENT.description}; empty or null: the server picks one",
            },
            "rules": _ref("Rules"),
        },
    }
    for name, example in _EXAMPLES.items():
        schemas[name]["examples"] = [example]
    paths: dict[str, Any] = {}
    links = _links()
    for method, path, op in _auction_operations():
        for (source, status), found in links.items():
            if source == path and method == "post":
                op["responses"][status]["links"] = found
        paths.setdefault(f"/api/v1{path}", {})[method] = op
    for path, name, summary, media, extra in (
        ("/healthz", "healthz", "Liveness", "application/json", {}),
        ("/readyz", "readyz", "Readiness", "application/json", {"503": _NOT_READY}),
        ("/metrics", "metrics", "Prometheus metrics", "text/plain", {}),
    ):
        ok = {"description": "ok", "content": {media: {}}}
        responses = {"200": ok, "400": _problem_response(400), **extra}
        paths[path] = {"get": {"operationId": name, "summary": summary, "responses": responses}}
    from api.http.tenders import openapi_paths  # sealed tenders (issue 4)

    paths.update(openapi_paths())
    from api.audit.trail import openapi_paths as audit_paths  # the auditor's trail (issue 5)

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
      const content = op.requestBody && op.requestBody.content['application/json'];
      const ref = content && content.schema.$ref;
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
