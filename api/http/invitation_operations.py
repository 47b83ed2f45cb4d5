"""The OpenAPI operations of the invitation routes (:mod:`api.http.invitations`);
:mod:`api.http.openapi` puts :func:`openapi_paths` into the document.
"""

from __future__ import annotations

from typing import Any

from api.http.operations import operation
from contracts.bounds import IDENT

__all__ = ["openapi_paths"]

_TIME = {"type": "integer", "description": "microseconds since the Unix epoch"}
_CODE = {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}


def _issued(kind: str) -> dict[str, Any]:
    """The answer to issuing an invitation to an auction or a tender (``kind``)."""
    return {
        "type": "object",
        "required": ["code", "link", "expires_at", "party", f"{kind}_id", "role", "kind"],
        "properties": {
            "code": {**_CODE, "description": "the one-time code (shown once: keep the link)"},
            "link": {
                "type": "string",
                "pattern": "^/app/#invite=[A-Za-z0-9_-]{43}$",
                "description": "the link to send the supplier: the code is in its fragment, "
                "which no browser sends to a server",
            },
            "expires_at": {**_TIME, "description": "redeemable until then (microseconds)"},
            "party": {"type": "string", **IDENT.schema()},
            f"{kind}_id": {"type": "string", **IDENT.schema()},
            "role": {"const": "bidder"},
            "kind": {"const": kind},
        },
    }


def _redeemed(kind: str) -> dict[str, Any]:
    """A redeem's answer for an invitation to an auction or a tender (``kind``)."""
    return {
        "type": "object",
        "required": ["token", "jti", "expires_at", "expires_in", f"{kind}_id", "kind"]
        + ["party", "role"],
        "properties": {
            "token": {"type": "string"},
            "jti": {"type": "string"},
            "expires_at": {**_TIME, "description": "the token's expiry (microseconds)"},
            "expires_in": {"type": "integer", "minimum": 1, "description": "seconds"},
            f"{kind}_id": {"type": "string", "description": f"the {kind} the token is bound to"},
            "kind": {"const": kind},
            "party": {"type": "string"},
            "role": {"const": "bidder"},
        },
    }


_REDEEMED = {"oneOf": [_redeemed("auction"), _redeemed("tender")]}

_LISTED = {
    "type": "object",
    "required": ["invitations"],
    "properties": {
        "invitations": {
            "type": "array",
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": [
                    "party",
                    "role",
                    "kind",
                    "created_by",
                    "created_at",
                    "expires_at",
                    "used_at",
                    "jti",
                    "state",
                    "revoked",
                    "withdrawn_at",
                ],
                "properties": {
                    "party": {"type": "string"},
                    "role": {"type": "string"},
                    "kind": {"enum": ["auction", "tender"]},
                    "created_by": {"type": "string"},
                    "created_at": _TIME,
                    "expires_at": _TIME,
                    "used_at": {"type": ["integer", "null"]},
                    "jti": {"type": ["string", "null"], "description": "the token it gave"},
                    "state": {"enum": ["open", "used", "expired", "withdrawn"]},
                    "withdrawn_at": {
                        "type": ["integer", "null"],
                        "description": "when an officer withdrew it unused (revoking the "
                        "party's access), microseconds; null unless withdrawn",
                    },
                    "revoked": {
                        "type": "boolean",
                        "description": "the token it gave was revoked (and has not expired)",
                    },
                },
            },
        }
    },
}

_GONE = (
    "the invitation was used already (invitation_used), has expired (invitation_expired) "
    "or was withdrawn by an officer revoking the party's access (invitation_withdrawn)"
)
_UNKNOWN = "no invitation has this code (invitation_unknown), or no such auction"


def _issue() -> dict[str, Any]:
    path = "/auctions/{auction_id}/invitations"
    op = operation(
        "post",
        path,
        "issue_invitation",
        "Invite a registered bidder to sign in by a one-time link",
        "officer",
        201,
        body={"$ref": "#/components/schemas/InvitationBody"},
        success=_issued("auction"),
        description="The party must be a registered bidder of the auction (422 "
        "unknown_bidder otherwise; POST /auctions/{auction_id}/bidders registers). The "
        "code is shown in this answer only (and in its replays under the same "
        "Idempotency-Key); the server keeps its SHA-256.",
    )
    op["requestBody"]["content"]["application/json"]["examples"] = {
        "registered": {"value": {"party": "bidder-1", "expires_in_s": 86_400}}
    }
    return op


def _issue_tender() -> dict[str, Any]:
    path = "/tenders/{tender_id}/invitations"
    op = operation(
        "post",
        path,
        "issue_tender_invitation",
        "Invite a supplier of a sealed tender to sign in by a one-time link",
        "officer",
        201,
        body={"$ref": "#/components/schemas/InvitationBody"},
        success=_issued("tender"),
        statuses=(404,),
        description="An officer on the tender's committee (403 not_tender_officer "
        "otherwise) invites any party: the link signs it in as a bidder bound to the "
        "tender, who seals and submits offers in the supplier's page. The code is shown "
        "in this answer only (and in its replays under the same Idempotency-Key); the "
        "server keeps its SHA-256.",
    )
    op["responses"]["404"]["description"] = "no such tender (not_found)"
    op["requestBody"]["content"]["application/json"]["examples"] = {
        "supplier": {"value": {"party": "acme", "expires_in_s": 86_400}}
    }
    return op


def _redeem() -> dict[str, Any]:
    path = "/invitations/redeem"
    op = operation(
        "post",
        path,
        "redeem_invitation",
        "Exchange an invitation's code, once, for the bidder's token",
        "none",
        200,
        body={"$ref": "#/components/schemas/RedeemInvitationBody"},
        success=_REDEEMED,
        idempotent=False,
        statuses=(404, 410, 429),
        description="The code travels in the body, never in a URL. The token is bound "
        "to the invitation's auction or tender, which the answer names by its kind "
        "(auction_id or tender_id), and revocable (POST /tokens/{jti}/revoke).",
    )
    op["responses"]["404"]["description"] = _UNKNOWN
    op["responses"]["410"]["description"] = _GONE
    return op


def openapi_paths() -> dict[str, Any]:
    """The invitation paths of the document, under ``/api/v1``."""
    path = "/auctions/{auction_id}/invitations"
    listed = operation(
        "get",
        path,
        "list_invitations",
        "The auction's invitations, newest first (at most 1000); never their codes",
        "officer",
        200,
        success=_LISTED,
    )
    tender_path = "/tenders/{tender_id}/invitations"
    tender_listed = operation(
        "get",
        tender_path,
        "list_tender_invitations",
        "The tender's invitations, newest first (at most 1000); never their codes",
        "officer",
        200,
        success=_LISTED,
        statuses=(404,),
        description="For an officer on the tender's committee (403 not_tender_officer otherwise).",
    )
    return {
        f"/api/v1{path}": {"post": _issue(), "get": listed},
        f"/api/v1{tender_path}": {"post": _issue_tender(), "get": tender_listed},
        "/api/v1/invitations/redeem": {"post": _redeem()},
    }
