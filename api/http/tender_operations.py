"""The OpenAPI operations of the tender routes (:mod:`api.http.tenders`): their bodies'
schemas and one table of (method, path, operation id, summary, role, status).

The schemas say what :mod:`api.tenders.bodies` takes (a test holds them together:
``tests/api/http/test_openapi_fuzz.py``); :mod:`api.http.openapi` puts
:func:`openapi_paths` into the document.
"""

from __future__ import annotations

from typing import Any

from api.http.operations import EXAMPLE_TIME, operation, time_query
from contracts import sealing
from contracts.bounds import TENDER_IDENT, TIME
from contracts.rules_schema import tender_create_schema
from engine.tender_records import EnvelopeKind

__all__ = ["openapi_paths"]


def _base64_of(sizes: tuple[int, ...]) -> str:
    """A pattern of standard base64 (with padding) of exactly one of ``sizes`` bytes."""
    tails = {0: "", 1: "[A-Za-z0-9+/]{2}==", 2: "[A-Za-z0-9+/]{3}="}
    return "|".join(
        f"(?:[A-Za-z0-9+/]{{4}}){{{size // 3}}}{tails[size % 3]}" for size in sorted(sizes)
    )


#: Envelope sizes the JSON route can carry under the default body limit (16 KiB): the
#: larger ones go to the raw upload route.
_JSON_ENVELOPES = tuple(size for size in sealing.ENVELOPE_SIZES if size * 4 // 3 < 16_000)
_ID = {"type": "string", **TENDER_IDENT.schema()}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 200}
_TIME = {"type": "integer", **TIME.schema()}
_KIND = {"type": "string", "enum": [kind.value for kind in EnvelopeKind]}


def _closed(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


#: The JSON body of each tender command, as :mod:`api.tenders.bodies` and the routes
#: read it (a test holds them together: tests/api/http/test_openapi_fuzz.py).
_BODIES: dict[str, dict[str, Any]] = {
    "tender_create": tender_create_schema()  # declared in contracts/ (issue 15)
    | {
        "examples": [
            {
                "title": "Road repairs",
                "currency": "EUR",
                "officers": [{"id": "officer-1", "public_key": "09" * 32}],
                "threshold": 1,
                "lots": [{"id": "L1", "deadline": EXAMPLE_TIME, "opening_at": EXAMPLE_TIME}],
            }
        ]
    },
    "tender_schedule": {
        **_closed(["deadline", "opening_at"], {"deadline": _TIME, "opening_at": _TIME}),
        "examples": [{"deadline": EXAMPLE_TIME, "opening_at": EXAMPLE_TIME}],
    },
    "tender_submit": _closed(
        ["kind", "ciphertext"],
        {
            "kind": _KIND,
            "ciphertext": {
                "type": "string",
                "pattern": f"^(?:{_base64_of(_JSON_ENVELOPES)})$",
                "description": "a sealed envelope, standard base64",
            },
            "deadline": _TIME,
        },
    ),
    "tender_upload": {
        "type": "string",
        "format": "binary",
        "description": "a sealed envelope's bytes: one of "
        + ", ".join(str(size) for size in sorted(sealing.ENVELOPE_SIZES)),
        "oneOf": [
            {"minLength": size, "maxLength": size} for size in sorted(sealing.ENVELOPE_SIZES)
        ],
    },
    "tender_share": _closed(
        ["kind", "share"],
        {"kind": _KIND, "share": {"type": "object", "description": "a gavel-share/v1"}},
    ),
    "tender_exclude": _closed(
        ["bidder"],
        {
            "bidder": _TEXT,
            "note": {"type": "string", "description": "kept to its first 1000 characters"},
        },
    ),
    "tender_hand_off": _closed(
        ["rules"],
        {
            "rules": {
                "allOf": [
                    {"$ref": "#/components/schemas/Rules"},
                    {"properties": {"format": {"const": "multiround"}}},
                ],
                "description": "multi-round rules in the tender's currency",
            },
            "auction_id": _ID,
        },
    ),
}
#: Fields whose value the schema cannot check alone: refused (422 invalid_field) against
#: the tender's state.
_STATE_FIELDS = {"tender_hand_off": {"rules": "must be in the tender's currency"}}

#: (method, path under /api/v1, operation id, summary, role, success status) of every
#: tender route; the operation id is the Sanic route's name.
_OPERATIONS: tuple[tuple[str, str, str, str, str, int], ...] = (
    (
        "get",
        "/tenders/server-key",
        "tender_server_key",
        "The server's Ed25519 receipt and ceremony key",
        "none",
        200,
    ),
    (
        "post",
        "/tenders",
        "tender_create",
        "Create a sealed tender (you must be on its committee)",
        "officer",
        201,
    ),
    (
        "post",
        "/tenders/{tender_id}/ceremony",
        "tender_ceremony",
        "Key ceremony, then publication",
        "officer",
        201,
    ),
    (
        "get",
        "/tenders/{tender_id}",
        "tender_get",
        "A tender's public part and opening key",
        "any",
        200,
    ),
    (
        "get",
        "/tenders/{tender_id}/events",
        "tender_events",
        "The tender's log, as you may see it",
        "any",
        200,
    ),
    (
        "get",
        "/tenders/{tender_id}/shares/mine",
        "tender_my_share",
        "Your encrypted key share",
        "officer",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/schedule",
        "tender_schedule",
        "Change a lot's deadline and opening time (every attempt is logged)",
        "officer of the tender",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/envelopes",
        "tender_submit",
        "Submit or replace a sealed envelope (base64 JSON, up to the 4 KiB bucket); "
        "answers a signed receipt",
        "bidder",
        201,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/envelopes/{kind}",
        "tender_upload",
        "Upload a sealed envelope's bytes (application/octet-stream, every size up to "
        "1 MiB; ?deadline= the one sealed under); answers a signed receipt",
        "bidder",
        201,
    ),
    (
        "get",
        "/tenders/{tender_id}/lots/{lot}/envelopes",
        "tender_bids",
        "List envelopes (refused and logged before the deadline)",
        "officer of the tender",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/envelopes/{kind}/withdraw",
        "tender_withdraw",
        "Withdraw your envelope of a kind; answers a signed receipt",
        "bidder",
        200,
    ),
    (
        "get",
        "/tenders/{tender_id}/receipts/{seq}",
        "tender_receipt",
        "A receipt again",
        "bidder",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/shares",
        "tender_share",
        "Hand in your decrypted share; the k-th opens the stage",
        "officer of the tender",
        201,
    ),
    (
        "get",
        "/tenders/{tender_id}/lots/{lot}/offers",
        "tender_offers",
        "Opened offers, per the publication rule",
        "any",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/exclude",
        "tender_exclude",
        "Exclude a bidder from the lot's later stages and ranking",
        "officer of the tender",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/award",
        "tender_award",
        "Award to the best offer under the tender's criterion (price, meat, life_cycle_cost)",
        "officer",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/auction",
        "tender_hand_off",
        "Hand the opened prices to a new multi-round auction",
        "officer",
        201,
    ),
)


def openapi_paths() -> dict[str, Any]:
    """OpenAPI 3.1 path items of the tender routes (for :mod:`api.http.openapi`)."""
    paths: dict[str, Any] = {}
    for method, path, name, summary, role, status in _OPERATIONS:
        raw = name == "tender_upload"
        found = operation(
            method,
            path,
            name,
            summary,
            role,
            status,
            body=_BODIES.get(name),
            media="application/octet-stream" if raw else "application/json",
            query=[time_query("deadline", "the deadline the envelope was sealed under")]
            if raw
            else (),
            headers={"Location": {"schema": {"type": "string"}}}
            if name == "tender_create"
            else None,
            state_fields=_STATE_FIELDS.get(name),
            # Listing envelopes is a command (every read before the deadline is logged).
            statuses=(409,) if name == "tender_bids" else (),
        )
        paths.setdefault(f"/api/v1{path}", {})[method] = found
    return paths
