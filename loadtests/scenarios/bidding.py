"""A bidder's view of one English auction, folded from its event frames: what it bids next.

Pure (no I/O, no Locust): :mod:`loadtests.scenarios.bidders` feeds it each event frame
and each reject, and asks it for the next amount. Amounts are integer minor units.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

__all__ = ["Auction", "Bidding"]


@dataclass(frozen=True, slots=True)
class Auction:
    """An English auction a scenario made: EUR, start price and step in minor units."""

    id: str
    ends_at: int
    start_minor: int = 100_00
    step_minor: int = 1_00
    currency: str = "EUR"


class Bidding:
    """One bidder's view of one English auction, folded from its event frames.

    Call :meth:`on_event` with every event frame (the socket's ``on_event``), then
    :meth:`amount` for the next bid and :meth:`refused` with a reject's frame. O(1) each.
    """

    def __init__(self, auction: Auction, limit_minor: int | None = None) -> None:
        self.auction = auction
        self.best: int | None = None
        self.leading = False
        self.ends_at = auction.ends_at
        self.ended = False
        self.limit_minor = limit_minor

    def on_event(self, frame: dict[str, Any]) -> None:
        """Fold one event frame in."""
        event = frame["event"]
        kind = event.get("type")
        if kind == "BidAccepted":
            self.best = max(self.best or 0, int(event["price"]))
            self.leading = bool(event.get("you"))
        elif kind == "EndExtended":
            self.ends_at = int(event["ends_at"])
        elif kind == "AuctionEnded":
            self.ended = True

    def refused(self, frame: dict[str, Any]) -> None:
        """Learn from a reject: a ``min`` bound is the least bid that stands now."""
        bound = frame.get("bound")
        if isinstance(bound, dict) and bound.get("kind") == "min":
            floor = int(bound["amount_minor"]) - self.auction.step_minor
            self.best = max(self.best or 0, floor)
        if frame.get("code") == "auction_closed":
            self.ended = True

    def amount(self, rng: random.Random) -> int | None:
        """The next bid in minor units, or ``None`` when it would pass the limit or the
        bidder leads already."""
        if self.leading:
            return None
        step = self.auction.step_minor
        least = self.auction.start_minor if self.best is None else self.best + step
        amount = least + step * rng.randrange(3)
        if self.limit_minor is not None and amount > self.limit_minor:
            amount = least
            if amount > self.limit_minor:
                return None
        return amount
