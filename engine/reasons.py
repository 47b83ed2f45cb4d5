"""The one enumerated list of reasons a command is rejected.

Every reason is a stable, machine-readable code (the enum's value) that the HTTP
adapter puts in RFC 9457 problem details and the websocket adapter in a typed
reject message. ``status_hint`` is the HTTP status the adapter should use.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason"]


class Reason(StrEnum):
    """Why a command was rejected. The value is the wire code; never rename one."""

    # -- phase and timing
    AUCTION_EXISTS = "auction_exists"
    AUCTION_NOT_STARTED = "auction_not_started"
    AUCTION_CLOSED = "auction_closed"
    INVALID_RULES = "invalid_rules"
    NOT_SUPPORTED = "not_supported_by_format"
    # -- who
    UNKNOWN_BIDDER = "unknown_bidder"
    BIDDER_DISQUALIFIED = "bidder_disqualified"
    BIDDER_ALREADY_REGISTERED = "bidder_already_registered"
    REGISTRATION_CLOSED = "registration_closed"
    INVALID_SCORING_INPUT = "invalid_scoring_input"
    OUT_OF_TURN = "out_of_turn"
    # -- money
    WRONG_CURRENCY = "wrong_currency"
    TOO_MANY_DECIMALS = "too_many_decimals"
    AMOUNT_INVALID = "amount_invalid"
    AMOUNT_NEGATIVE = "amount_negative"
    AMOUNT_ZERO = "amount_zero"
    AMOUNT_TOO_LARGE = "amount_too_large"
    # -- price rules
    BELOW_START_PRICE = "below_start_price"
    ABOVE_START_PRICE = "above_start_price"
    INSUFFICIENT_IMPROVEMENT = "insufficient_improvement"
    PROXY_LIMIT_TOO_LOW = "proxy_limit_too_low"
    STALE_PRICE = "stale_price"
    NO_BID_TO_WITHDRAW = "no_bid_to_withdraw"
    # -- sealed tenders (engine.tender)
    TENDER_EXISTS = "tender_exists"
    INVALID_TENDER = "invalid_tender"
    TENDER_NOT_PUBLISHED = "tender_not_published"
    TENDER_ALREADY_PUBLISHED = "tender_already_published"
    NOT_TENDER_OFFICER = "not_tender_officer"
    UNKNOWN_LOT = "unknown_lot"
    INVALID_SCHEDULE = "invalid_schedule"
    WRONG_ENVELOPE_KIND = "wrong_envelope_kind"
    INVALID_COMMITMENT = "invalid_commitment"
    SUBMISSION_CLOSED = "submission_closed"
    NO_ENVELOPE = "no_envelope"
    BIDS_SEALED = "bids_sealed"
    OPENING_NOT_DUE = "opening_not_due"
    STAGE_NOT_CURRENT = "stage_not_current"
    DUPLICATE_SHARE = "duplicate_share"
    INVALID_SHARE = "invalid_share"
    NOT_ENOUGH_SHARES = "not_enough_shares"
    OPENING_MISMATCH = "opening_mismatch"
    LOT_NOT_OPENED = "lot_not_opened"
    WRONG_FOLLOW_UP = "wrong_follow_up"
    LOT_DECIDED = "lot_decided"

    @property
    def status_hint(self) -> int:
        """The HTTP status an adapter should answer with: 409 for the wrong state or
        moment, 422 for bad content; 403 for an officer acting on a tender whose
        committee they are not on, 404 for a lot the tender does not have."""
        return _STATUS.get(self, 422)


_CONFLICTS = frozenset(
    {
        Reason.AUCTION_EXISTS,
        Reason.AUCTION_NOT_STARTED,
        Reason.AUCTION_CLOSED,
        Reason.BIDDER_ALREADY_REGISTERED,
        Reason.REGISTRATION_CLOSED,
        Reason.OUT_OF_TURN,
        Reason.STALE_PRICE,
        Reason.NO_BID_TO_WITHDRAW,
        Reason.TENDER_EXISTS,
        Reason.TENDER_NOT_PUBLISHED,
        Reason.TENDER_ALREADY_PUBLISHED,
        Reason.SUBMISSION_CLOSED,
        Reason.NO_ENVELOPE,
        Reason.BIDS_SEALED,
        Reason.OPENING_NOT_DUE,
        Reason.STAGE_NOT_CURRENT,
        Reason.DUPLICATE_SHARE,
        Reason.NOT_ENOUGH_SHARES,
        Reason.LOT_NOT_OPENED,
        Reason.LOT_DECIDED,
        Reason.WRONG_FOLLOW_UP,
    }
)
_STATUS = {
    **{reason: 409 for reason in _CONFLICTS},
    Reason.NOT_TENDER_OFFICER: 403,
    Reason.UNKNOWN_LOT: 404,
}
