"""The reason codes of the HTTP and websocket edge: the wire's ``code`` of every refusal
the edge itself makes (engine rejections use :class:`engine.reasons.Reason`; the two
sets never overlap).

Each code knows its HTTP status and the short summary a problem's ``title`` carries, so
that any layer (:mod:`api.access`, :mod:`api.storage`, the node) can say *why* it refused
without importing HTTP types; :mod:`api.http.problems` turns a code into a response.
Pure data: no I/O.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Code"]


class Code(StrEnum):
    """Reason codes of the HTTP and websocket edge; the value is the wire code.

    Engine rejections use :class:`engine.reasons.Reason` instead. Never rename a value.
    """

    # -- the request itself
    BAD_JSON = "bad_json"
    BAD_REQUEST = "bad_request"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # -- who is asking (api.access.auth raises the token_* and the last three)
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    TOKEN_MISSING = "token_missing"
    TOKEN_MALFORMED = "token_malformed"
    TOKEN_BAD_SIGNATURE = "token_bad_signature"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_NOT_YET_VALID = "token_not_yet_valid"
    TOKEN_REVOKED = "token_revoked"
    ROLE_FORBIDDEN = "role_forbidden"
    WRONG_AUCTION = "wrong_auction"
    WRONG_PARTY = "wrong_party"
    # -- how often and how many times
    RATE_LIMITED = "rate_limited"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid"
    IDEMPOTENCY_KEY_IN_PROGRESS = "idempotency_key_in_progress"
    # -- invitation links (api.http.invitations)
    INVITATION_UNKNOWN = "invitation_unknown"
    INVITATION_USED = "invitation_used"
    INVITATION_EXPIRED = "invitation_expired"
    INVITATION_WITHDRAWN = "invitation_withdrawn"
    # -- revoking a party's access (api.http.party_revoke)
    UNKNOWN_PARTY = "unknown_party"
    # -- the server
    STORAGE_UNAVAILABLE = "storage_unavailable"
    #: Not a refusal: the command's commit failed and its fate is not known yet.
    OUTCOME_UNKNOWN = "outcome_unknown"
    SHUTTING_DOWN = "shutting_down"
    OVERLOADED = "overloaded"
    INTERNAL_ERROR = "internal_error"

    @property
    def status(self) -> int:
        """The HTTP status this code is answered with."""
        return _EDGE[self][0]

    @property
    def summary(self) -> str:
        """The short, human-readable summary that goes in ``title`` (RFC 9457 §3.1.3)."""
        return _EDGE[self][1]


_EDGE: dict[Code, tuple[int, str]] = {
    # Syntax is 400; well-formed JSON whose content does not fit the command is 422,
    # like the engine's content rejections (Reason.status_hint).
    Code.BAD_JSON: (400, "Malformed JSON body"),
    Code.BAD_REQUEST: (400, "Bad request"),
    Code.INVALID_FIELD: (422, "Invalid field"),
    Code.UNKNOWN_FIELD: (422, "Unknown field"),
    Code.MISSING_FIELD: (422, "Missing field"),
    Code.BODY_TOO_LARGE: (413, "Request body too large"),
    Code.UNSUPPORTED_MEDIA_TYPE: (415, "Unsupported media type"),
    Code.NOT_FOUND: (404, "Not found"),
    Code.METHOD_NOT_ALLOWED: (405, "Method not allowed"),
    Code.UNAUTHORIZED: (401, "Authentication required"),
    Code.FORBIDDEN: (403, "Forbidden"),
    Code.TOKEN_MISSING: (401, "Token missing"),
    Code.TOKEN_MALFORMED: (401, "Token malformed"),
    Code.TOKEN_BAD_SIGNATURE: (401, "Token signature invalid"),
    Code.TOKEN_EXPIRED: (401, "Token expired"),
    Code.TOKEN_NOT_YET_VALID: (401, "Token not yet valid"),
    Code.TOKEN_REVOKED: (401, "Token revoked"),
    Code.ROLE_FORBIDDEN: (403, "Role not allowed"),
    Code.WRONG_AUCTION: (403, "Token is for another auction"),
    Code.WRONG_PARTY: (403, "Token is for another party"),
    Code.RATE_LIMITED: (429, "Too many requests"),
    Code.IDEMPOTENCY_KEY_REUSED: (422, "Idempotency key reused with another request"),
    Code.IDEMPOTENCY_KEY_INVALID: (400, "Invalid idempotency key"),
    Code.IDEMPOTENCY_KEY_IN_PROGRESS: (409, "Request with this idempotency key in progress"),
    Code.INVITATION_UNKNOWN: (404, "Invitation not found"),
    Code.INVITATION_USED: (410, "Invitation already used"),
    Code.INVITATION_EXPIRED: (410, "Invitation expired"),
    Code.INVITATION_WITHDRAWN: (410, "Invitation withdrawn"),
    Code.UNKNOWN_PARTY: (404, "Party not found"),
    Code.STORAGE_UNAVAILABLE: (503, "Storage unavailable"),
    Code.OUTCOME_UNKNOWN: (503, "Outcome unknown"),
    Code.SHUTTING_DOWN: (503, "Server shutting down"),
    Code.OVERLOADED: (503, "Server overloaded"),
    Code.INTERNAL_ERROR: (500, "Internal server error"),
}
