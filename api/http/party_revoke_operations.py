"""The OpenAPI operations of revoking a supplier's access (:mod:`api.http.party_revoke`);
:mod:`api.http.openapi` puts :func:`openapi_paths` into the document.
"""

from __future__ import annotations

from typing import Any

from api.http.operations import operation
from contracts.bounds import IDENT

__all__ = ["openapi_paths"]


def _revoked(kind: str) -> dict[str, Any]:
    """The answer to revoking a party's access in an auction or a tender (``kind``)."""
    return {
        "type": "object",
        "required": [f"{kind}_id", "kind", "party", "tokens_revoked", "links_withdrawn"]
        + ["jtis", "revoked_at", "revoked_by"],
        "properties": {
            f"{kind}_id": {"type": "string", **IDENT.schema()},
            "kind": {"const": kind},
            "party": {"type": "string", **IDENT.schema()},
            "tokens_revoked": {
                "type": "integer",
                "minimum": 0,
                "description": "tokens of the party bound here revoked by this call (0 on a "
                "second call)",
            },
            "links_withdrawn": {
                "type": "integer",
                "minimum": 0,
                "description": "its invitations not used yet withdrawn by this call",
            },
            "jtis": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the tokens revoked by this call",
            },
            "revoked_at": {"type": "integer", "description": "microseconds since the epoch"},
            "revoked_by": {"type": "string", "description": "the officer (its token's sub)"},
        },
    }


_WHAT = (
    "Revokes every token of the party bound to the {kind} that has not expired (however "
    "it was minted: an invitation, a registration, POST /tokens), closing its open "
    "websockets with 4401 token_revoked, and withdraws its invitations not used yet (a "
    "redeem then answers 410 invitation_withdrawn). Idempotent: a second call revokes "
    "nothing more and answers zeros. 404 unknown_party: the party has no {has} token or "
    "invitation here."
)


def openapi_paths() -> dict[str, Any]:
    """The revoke-access paths of the document, under ``/api/v1``."""
    auction = "/auctions/{auction_id}/bidders/{party}/revoke"
    tender = "/tenders/{tender_id}/suppliers/{party}/revoke"
    bidder = operation(
        "post",
        auction,
        "revoke_bidder",
        "Revoke a bidder's access: all its tokens for the auction and its unused links",
        "officer",
        200,
        success=_revoked("auction"),
        description=_WHAT.format(kind="auction", has="registration,"),
    )
    supplier = operation(
        "post",
        tender,
        "revoke_supplier",
        "Revoke a supplier's access: all its tokens for the tender and its unused links",
        "officer",
        200,
        success=_revoked("tender"),
        description=_WHAT.format(kind="tender", has="")
        + " For an officer on the tender's committee (403 not_tender_officer otherwise).",
    )
    bidder["responses"]["404"]["description"] = (
        "no such auction (not_found) or party (unknown_party)"
    )
    supplier["responses"]["404"]["description"] = (
        "no such tender (not_found) or party (unknown_party)"
    )
    return {f"/api/v1{auction}": {"post": bidder}, f"/api/v1{tender}": {"post": supplier}}
