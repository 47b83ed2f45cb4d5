"""From a command's events to its answer (api/auctions/outcomes.py): fresh command ids, and
the command's own event found among the facts a passing deadline put before it."""

from __future__ import annotations

import re
from decimal import Decimal

from api.auctions.outcomes import Outcome, new_command_id, outcome
from engine import (
    Auction,
    AuctionEnded,
    BidAccepted,
    CancelAuction,
    CommandRejected,
    CreateAuction,
    PlaceBid,
    RegisterBidder,
)
from tests.engine.helpers import END, START, S, english


def test_command_ids_carry_the_prefix_and_122_random_bits() -> None:
    ids = {new_command_id("http") for _ in range(1_000)}
    assert len(ids) == 1_000
    for command_id in ids:
        assert re.fullmatch(r"http-[0-9a-f]{32}", command_id)
        assert command_id[5 + 12] == "4"  # a version-4 UUID


def _auction() -> Auction:
    auction = Auction()
    auction.handle(CreateAuction("create", 0, english()))
    auction.handle(RegisterBidder("r-ann", 1, "ann"))
    return auction


def test_the_accepted_event_is_the_commands_own_after_what_a_deadline_caused() -> None:
    auction = _auction()
    events = auction.handle(PlaceBid("bid-1", START + S, "ann", Decimal("10.00"), "EUR"))
    assert [type(event).__name__ for event in events] == ["AuctionStarted", "BidAccepted"]
    answer = outcome(events, "bid-1")
    assert answer == Outcome(events[1], None, events)
    assert isinstance(answer.accepted, BidAccepted) and answer.rejected is None


def test_a_rejection_is_found_by_its_command_id() -> None:
    auction = _auction()
    events = auction.handle(PlaceBid("bid-1", END + S, "ann", Decimal("10.00"), "EUR"))
    assert [type(event).__name__ for event in events] == [
        "AuctionStarted",
        "AuctionEnded",
        "CommandRejected",
    ]
    answer = outcome(events, "bid-1")
    assert answer.accepted is None and answer.rejected is events[-1]
    assert isinstance(answer.rejected, CommandRejected) and answer.events is events


def test_a_command_without_an_event_of_its_own_is_accepted_with_its_last_effect() -> None:
    auction = _auction()
    events = auction.handle(CancelAuction("cancel", 5))
    answer = outcome(events, "cancel")
    assert isinstance(answer.accepted, AuctionEnded) and answer.rejected is None
    assert outcome([], "nothing") == Outcome(None, None, [])
