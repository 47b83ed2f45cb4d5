"""The OpenAPI operations of the audit routes (:mod:`api.http.audit`): one table of
(path, summary, role, query parameters); :mod:`api.http.openapi` puts
:func:`openapi_paths` into the document.
"""

from __future__ import annotations

from typing import Any

from api.http.audit_search import CONTROL, FORMATS, KINDS, MAX_TEXT
from api.http.operations import operation
from api.http.problems import MAX_INT

__all__ = ["openapi_paths"]


#: The two kinds of stream: path prefix under /api/v1, noun, who may read proofs.
_STREAMS = (
    ("/auctions/{auction_id}", "auction", "any token of the auction"),
    ("/audit/tenders/{tender_id}", "tender", "any token of the tender"),
)

#: The audit routes for the OpenAPI document: (path, summary, role, query parameters).
_OPERATIONS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("/audit/key", "The checkpoint signing key (C2SP verifier key, PEM)", "none", ()),
    *(
        (
            f"{base}/checkpoint",
            f"A fresh signed checkpoint of the {noun}'s log (C2SP tlog-checkpoint)",
            roles,
            (),
        )
        for base, noun, roles in _STREAMS
    ),
    *(
        (
            f"{base}/proofs/inclusion",
            f"RFC 9162 inclusion proof of one event of the {noun}, with a checkpoint",
            roles,
            (("seq", "the event (1-based)"), ("size", "tree size (default: all)")),
        )
        for base, noun, roles in _STREAMS
    ),
    *(
        (
            f"{base}/proofs/consistency",
            f"RFC 9162 consistency proof between two sizes of the {noun}'s log",
            roles,
            (("from", "older tree size"), ("to", "newer tree size (default: all)")),
        )
        for base, noun, roles in _STREAMS
    ),
    *(
        (
            f"{base}/export",
            f"The {noun}'s self-contained audit bundle (gavel audit verify checks it offline)",
            "auditor, officer",
            (),
        )
        for base, noun, _ in _STREAMS
    ),
    *(
        (
            f"{base}/ocds",
            f"The {noun}'s Open Contracting (OCDS) release package",
            "auditor, officer",
            (),
        )
        for base, noun, _ in _STREAMS
    ),
    (
        "/audit/auctions/{auction_id}/flags",
        "Red flags of the auction's log, each with the events behind it (prompts for review, "
        "not findings)",
        "auditor, officer",
        (),
    ),
    (
        "/audit/tenders/{tender_id}/flags",
        "Red flags of the tender's log, per lot, each with the events behind it (prompts for "
        "review, not findings)",
        "auditor, officer",
        (),
    ),
)


#: Query parameters the proof routes read with ``query_int``: their least values, and
#: what the log's state may still refuse (422 invalid_field) in a valid request.
_QUERY_MINIMUM = {"seq": 1, "size": 1, "from": 0, "to": 0}
_STATE_FIELDS = {
    "proofs/inclusion": {"seq": "must be at most size", "size": "must be at most the log's"},
    "proofs/consistency": {"to": "must be at most the log's size", "from": "must be at most to"},
}


def openapi_paths() -> dict[str, Any]:
    """OpenAPI 3.1 path items of the audit routes (for :mod:`api.http.openapi`). O(routes)."""
    paths: dict[str, Any] = {}
    for path, summary, role, query in _OPERATIONS:
        kind = "audit_tender" if path.startswith("/audit/tenders/") else "audit_auction"
        last = path.rsplit("/", 1)[-1]
        name = "audit_key" if path == "/audit/key" else f"{kind}_{last}"
        parameters = [
            {
                "name": each,
                "in": "query",
                "required": each in {"seq", "from"},
                "description": description,
                "schema": {"type": "integer", "minimum": _QUERY_MINIMUM[each], "maximum": MAX_INT},
            }
            for each, description in query
        ]
        paths[f"/api/v1{path}"] = {
            "get": operation(
                "get",
                path,
                name,
                summary,
                role,
                200,
                query=parameters,
                state_fields=next(
                    (fields for end, fields in _STATE_FIELDS.items() if path.endswith(end)), None
                ),
            )
        }
    paths["/api/v1/audit/search"] = {"get": _search_operation()}
    return paths


def _search_operation() -> dict[str, Any]:
    """GET /audit/search (:mod:`api.http.audit_search`): its query parameters."""
    text = {"type": "string", "maxLength": MAX_TEXT, "pattern": f"^[^{CONTROL}]*$"}
    time = {"type": "integer", "minimum": 0, "maximum": MAX_INT}
    query = [
        ("q", "text in the id (case-insensitive)", text),
        ("buyer", "text in the buyer's identity (the officer who created it)", text),
        ("from", "ended at or after (server time, microseconds since the epoch)", time),
        ("to", "ended at or before (the same)", time),
        ("format", "the format (tender: tenders only)", {"type": "string", "enum": list(FORMATS)}),
        ("kind", "auctions or tenders only", {"type": "string", "enum": list(KINDS)}),
    ]
    return operation(
        "get",
        "/audit/search",
        "audit_search",
        "Finished auctions and tenders, by id, buyer, end time and format, newest first",
        "auditor, officer",
        200,
        query=[
            {"name": name, "in": "query", "required": False, "description": what, "schema": schema}
            for name, what, schema in query
        ],
        state_fields={"from": "must be at most to"},
    )
