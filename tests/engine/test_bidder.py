"""A registered bidder (engine/bidder.py): a frozen, slotted value the auction replaces
rather than changes, made from its ``BidderRegistered`` event."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

import pytest

from engine import Bidder, CreateAuction, DisqualifyBidder, RegisterBidder
from tests.engine.helpers import Run, english


def test_a_bidder_is_frozen_and_slotted_and_starts_qualified() -> None:
    bidder = Bidder("Bidder 1", Fraction(1, 10), 500, None)
    assert not bidder.disqualified and not hasattr(bidder, "__dict__")
    for field in dataclasses.fields(bidder):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(bidder, field.name, None)


def test_the_auction_builds_bidders_from_registrations_and_replaces_them_on_disqualification() -> (
    None
):
    run = Run()
    run(CreateAuction(run.next_id(), 0, english()))
    run(RegisterBidder(run.next_id(), 1, "ann", Decimal("0.25"), Decimal("3.00")))
    before = run.auction.bidders["ann"]
    assert before == Bidder("Bidder 1", Fraction(1, 4), 300, None)
    run(DisqualifyBidder(run.next_id(), 2, "ann", "late papers"))
    after = run.auction.bidders["ann"]
    assert after == dataclasses.replace(before, disqualified=True) and not before.disqualified
    run.check()
