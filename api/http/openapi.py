"""The OpenAPI 3.1 document of ``/api/v1``, and a self-contained page that browses it.

The document says exactly what the server takes, from the declarations the server
parses with: request bodies come from :mod:`contracts.http` through
:func:`contracts.schema.json_schema` (with their :mod:`contracts.bounds`), auction rules
from :mod:`contracts.rules_schema`, roles from :class:`api.access.auth.Role`,
idempotency keys from :func:`api.http.idempotency.parse_key`'s grammar. A request the
document calls valid is refused only for a reason it states: the token (401/403), the
moment or the state (404, 409, and the engine's own 422 reasons), the load (429, 503).
``tests/api/http/test_openapi_fuzz.py`` holds the server to that with schemathesis.

Every error is an RFC 9457 problem with a ``code``, documented per status
(:mod:`api.http.operations`, which builds each operation object). The document is put
together here from three tables: the auctions', tokens' and health routes' (below), the
tenders' (:mod:`api.http.tender_operations`) and the audit trail's.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from api.access.auth import OVERSEERS, Role
from api.http.audit_operations import openapi_paths as audit_paths
from api.http.invitation_operations import openapi_paths as invitation_paths
from api.http.operations import (
    EXAMPLE_TIME,
    operation,
    problem_response,
    problem_schemas,
)
from api.http.party_revoke_operations import openapi_paths as party_revoke_paths
from api.http.problems import MAX_INT
from api.http.public_operations import openapi_paths as public_paths
from api.http.schema_operations import openapi_paths as schema_paths
from api.http.tender_list import openapi_paths as tender_list_paths
from api.http.tender_operations import openapi_paths as tender_paths
from contracts import http
from contracts.rules_schema import create_auction_schema, rules_components
from contracts.schema import json_schema

__all__ = ["DOCS_CSP", "DOCS_HTML", "openapi_document"]


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
                        "rules": _ref("Rules"),
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
    schemas: dict[str, Any] = problem_schemas()
    for name in http.__all__:
        schema = json_schema(getattr(http, name))
        schema.pop("$schema", None)
        schemas[name] = schema
    schemas["TokenBody"] = _token_body()
    schemas["TokenBody"].pop("$schema", None)
    schemas.update(rules_components())  # Rules, one schema per format (issue 15)
    schemas["CreateAuction"] = create_auction_schema()
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
        responses = {"200": ok, "400": problem_response(400), **extra}
        paths[path] = {"get": {"operationId": name, "summary": summary, "responses": responses}}
    paths.update(tender_paths())  # sealed tenders (issue 4)
    paths.update(audit_paths())  # the auditor's trail (issue 5)
    paths.update(schema_paths())  # the wire contract's JSON Schemas (issue 14)
    paths.update(invitation_paths())  # invitation links (issue 14)
    paths.update(party_revoke_paths())  # revoking a supplier's access (issue 15)
    paths.update(public_paths())  # the public list of auctions (issue 14)
    for path, item in tender_list_paths().items():  # the officer's list of tenders (issue 15)
        paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Gavel", "version": "1", "description": "E-auction bidding engine."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


#: The API docs page (``GET /api/v1/docs``): a shell that loads its stylesheet and its
#: module script (``api/static/docs.css``, ``docs.js``, served under ``/api/v1/docs/``),
#: which renders every operation of the served document. No inline script or style: the
#: page is served with :data:`DOCS_CSP`.
DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gavel API v1</title>
<link rel="stylesheet" href="/api/v1/docs/docs.css">
<script type="module" src="/api/v1/docs/docs.js"></script>
</head>
<body><div class="page">
<header><h1>Gavel API v1</h1>
<p>Every operation of the live auction server, sealed tenders and the audit trail. The
machine-readable document is <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>;
errors are RFC 9457 problems with a machine-readable <code>code</code>. Send a token as
<code>Authorization: Bearer &lt;token&gt;</code>.</p></header>
<div class="tools" role="search"><label for="filter">Filter</label>
<input id="filter" type="search" placeholder="e.g. bids, tender, officer" disabled
autocomplete="off">
<p id="status" aria-live="polite"></p></div>
<nav id="toc" aria-label="Sections"></nav>
<main id="ops" aria-busy="true"><p>Loading the API document…</p></main>
</div></body></html>
"""

#: The docs page's policy: its own module script and stylesheet, requests to this origin
#: only, Trusted Types for every script sink (the script builds nodes, never markup),
#: and never framed.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'"
)
