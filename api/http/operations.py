"""How one OpenAPI operation of ``/api/v1`` is written: its parameters, its body, and
every problem response it can give, by status.

:func:`operation` builds one operation object; the auction, tender and audit route
tables all use it (:mod:`api.http.openapi` assembles them into the document), so every
route documents its refusals the same way. Every error is an RFC 9457 problem
(``application/problem+json``) with a ``code``; each documented status has its own
schema, ``Problem<status>`` (:func:`problem_schemas`), whose ``code`` is one of the codes
answered with that status (:class:`api.http.problems.Code` and
:class:`engine.reasons.Reason`, by their statuses).

Imports nothing of the routes: any route module may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from api.http.problems import MAX_INT, Code
from contracts.bounds import IDENT, TENDER_IDENT, TIME
from engine.reasons import Reason
from engine.tender_records import EnvelopeKind

__all__ = [
    "EXAMPLE_TIME",
    "IDEMPOTENCY_KEY",
    "PATH_PARAMETERS",
    "SHAPE_CODES",
    "operation",
    "problem_codes",
    "problem_response",
    "problem_schemas",
    "time_query",
]

#: 2100-01-01T00:00:00Z: the examples' times, far enough ahead to stay valid.
EXAMPLE_TIME = 4_102_444_800_000_000

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
        "bound": {
            "type": "object",
            "description": (
                "the amount a refused command broke, when the detail names one (as the"
                " websocket reject's bound): kind min, max or price; amount in major units;"
                " amount_minor in integer minor units; currency"
            ),
            "required": ["kind", "amount", "amount_minor", "currency"],
            "properties": {
                "kind": {"enum": ["min", "max", "price"]},
                "amount": {"type": "string"},
                "amount_minor": {"type": "integer"},
                "currency": {"type": "string"},
            },
        },
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
    "party": {"type": "string", **IDENT.schema()},
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


def problem_response(status: int) -> dict[str, Any]:
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


def problem_schemas() -> dict[str, Any]:
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
        responses[str(refused)] = problem_response(refused)
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
