"""A bidder's view of an English auction, folded from event frames and rejects."""

from __future__ import annotations

import random

from loadtests.scenarios.bidding import Auction, Bidding

AUCTION = Auction("a1", ends_at=1_000)


def event(kind: str, **fields: object) -> dict[str, object]:
    return {"type": "event", "seq": 1, "event": {"type": kind, **fields}}


def test_first_bid_from_the_start_price_then_beats_the_best() -> None:
    rng = random.Random(1)
    state = Bidding(AUCTION)
    first = state.amount(rng)
    assert first is not None and 100_00 <= first <= 102_00
    state.on_event(event("BidAccepted", price=150_00))  # another bidder's
    nxt = state.amount(rng)
    assert nxt is not None and 151_00 <= nxt <= 153_00


def test_no_bid_while_leading_or_above_the_limit() -> None:
    state = Bidding(AUCTION, limit_minor=120_00)
    state.on_event(event("BidAccepted", price=110_00, you=True))
    assert state.amount(random.Random(0)) is None
    state.on_event(event("BidAccepted", price=119_00))
    assert state.amount(random.Random(0)) == 120_00  # the least bid, at the limit
    state.on_event(event("BidAccepted", price=120_00))
    assert state.amount(random.Random(0)) is None


def test_rejects_and_the_close_are_learned() -> None:
    state = Bidding(AUCTION)
    bound = {"kind": "min", "amount_minor": 130_00}
    state.refused({"code": "insufficient_improvement", "bound": bound})
    assert state.best == 129_00
    state.on_event(event("EndExtended", ends_at=2_000))
    assert (state.ends_at, state.ended) == (2_000, False)
    state.on_event(event("AuctionEnded"))
    assert state.ended
    closed = Bidding(AUCTION)
    closed.refused({"code": "auction_closed", "bound": None})
    assert closed.ended
