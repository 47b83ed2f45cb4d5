"""Sealed-bid auctions, first price and second price (Vickrey), for sales and procurements.

Each bidder has at most one bid, which it may replace or withdraw until ``ends_at``; any
new bid replaces the old one (no step rule). Bids are hidden until the close: the engine
records them, and the adapters never show them to anyone before ``AuctionEnded``.

At the close the best bid wins (highest price for a sale, lowest score for a procurement;
ties to the earlier bid). A sale below ``reserve_price`` or a procurement above it has no
award. First price: the winner's own bid. Second price uses the *bound*, the tighter of
the reserve and the start price (the higher for a sale, the lower for a procurement): a
sale pays the higher of the runner-up's bid and the bound (alone: the bound, else its own
bid); a procurement is paid the highest price whose score ties the runner-up's score,
capped by the bound (alone: the bound, else its own bid). So a sale never pays less than
the start price and a procurement is never paid more than its ceiling.
Every command is O(log n).
"""

from __future__ import annotations

from typing import Any

from engine import commands as c
from engine import events as e
from engine.formats.base import Format, bounded
from engine.formats.host import Host
from engine.formats.view import Reveal, Secrecy
from engine.reasons import Reason
from engine.rules import Pricing, SealedRules, Side
from engine.scoring import Score, max_price_for_score

__all__ = ["Sealed"]


class Sealed(Format):
    """Logic of sealed first-price and second-price auctions."""

    __slots__ = ("rules",)

    #: Bids, and so the book they make, stay secret until the close; a cancel never opens them.
    secrecy = Secrecy(bids=Reveal.AT_CLOSE, book=Reveal.AT_CLOSE)

    def __init__(self, auction: Host, rules: SealedRules) -> None:
        super().__init__(auction, rules.side, rules.scoring)
        self.rules = rules

    def scheduled_end(self) -> int | None:
        return self.rules.ends_at

    def deadline(self) -> int | None:
        return self.rules.ends_at

    def on_deadline(self, due: int, now: int) -> None:
        best = self.auction.book.best()
        reserve = self.rules.reserve_price
        if best is not None and reserve is not None:
            price = best[3]
            short = price < reserve if self.side is Side.SALE else price > reserve
            if short:
                self.auction.finish(due, e.Outcome.RESERVE_NOT_MET)
                return
        self.auction.finish(due, e.Outcome.AWARDED)

    def decide(self, command: Any) -> None:
        kind = type(command)
        if kind is c.PlaceBid:
            self._bid(command)
        elif kind is c.WithdrawBid:
            self._withdraw(command)
        else:
            only = "a sealed auction takes bids and withdrawals only"
            self.auction.reject(command, Reason.NOT_SUPPORTED, only)

    def _bid(self, command: c.PlaceBid) -> None:
        auction = self.auction
        bidder = auction.eligible(command)
        if bidder is None:
            return
        price = auction.money(command, command.amount, command.currency)
        if price is None:
            return
        start = self.rules.start_price
        if start is not None:
            currency = self.rules.currency
            if self.side is Side.SALE and price < start:
                why = bounded(e.BoundKind.MIN, start, currency)
                return auction.reject(command, Reason.BELOW_START_PRICE, *why)
            if self.side is Side.PROCUREMENT and price > start:
                why = bounded(e.BoundKind.MAX, start, currency)
                return auction.reject(command, Reason.ABOVE_START_PRICE, *why)
        score = self.score(bidder, price)
        auction.emit(
            e.BidAccepted(
                auction.seq + 1, command.at, command.command_id, command.bidder, price, score, False
            )
        )

    def _withdraw(self, command: c.WithdrawBid) -> None:
        auction = self.auction
        if auction.eligible(command) is None:
            return
        if auction.book.get(command.bidder) is None:
            return auction.reject(command, Reason.NO_BID_TO_WITHDRAW, "you have no sealed bid")
        auction.emit(
            e.BidWithdrawn(auction.seq + 1, command.at, command.command_id, command.bidder)
        )

    def clearing(self, ranking: tuple[e.Standing, ...]) -> tuple[int, Score]:
        winner = ranking[0]
        rules = self.rules
        if rules.pricing is Pricing.FIRST_PRICE:
            return winner.price, winner.score
        bound = self._bound()
        if self.side is Side.SALE:
            if len(ranking) > 1:
                price = max(ranking[1].price, bound or 0)
            else:
                price = bound if bound is not None else winner.price
            return price, price
        bidder = self.auction.bidders[winner.bidder]
        if len(ranking) > 1:
            tie = ranking[1].score
            price = max_price_for_score(self.scoring, tie, bidder.coefficient, bidder.cost)
            price = max(price, winner.price)
            if bound is not None:
                price = min(price, bound)
        else:
            price = bound if bound is not None else winner.price
        return price, self.score(bidder, price)

    def _bound(self) -> int | None:
        """The tighter of the reserve and the start price, or ``None`` if neither is set."""
        given = [p for p in (self.rules.reserve_price, self.rules.start_price) if p is not None]
        if not given:
            return None
        return max(given) if self.side is Side.SALE else min(given)

    def evolve(self, event: Any) -> None:
        kind = type(event)
        if kind is e.BidAccepted:
            self.rest(event)
        elif kind is e.BidWithdrawn:
            self.auction.book.remove(event.bidder)
        elif kind is not e.AuctionStarted:
            super().evolve(event)
