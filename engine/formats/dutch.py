"""Dutch auction: a clock price that moves by a fixed step until someone takes it.

Prices are ``start_price ∓ i × step`` for i = 0, 1, 2, …, the i-th offered from
``starts_at + i × interval_us``; a sale's price falls toward the floor ``limit_price``, a
procurement's rises toward the ceiling. The first ``AcceptPrice`` wins at the price on
the clock. When the last price inside the limit has been offered for a whole interval,
the auction ends with no award (``limit_reached``). If time jumps (a server restart), the
clock goes straight to the current step: one ``PriceChanged`` per observation, not one per
missed step. Every command is O(1).
"""

from __future__ import annotations

from typing import Any

from engine import commands as c
from engine import events as e
from engine.codec import from_data
from engine.formats.base import Format, bounded
from engine.formats.host import Host
from engine.formats.view import Clock, FormatView
from engine.money import to_minor
from engine.reasons import Reason
from engine.rules import DutchRules, Side
from engine.scoring import Scoring

__all__ = ["Dutch"]


class Dutch(Format):
    """Logic of the Dutch (descending) and reverse Dutch (ascending) clock auctions."""

    __slots__ = ("rules", "index", "next_at", "_last")

    def __init__(self, auction: Host, rules: DutchRules) -> None:
        super().__init__(auction, rules.side, Scoring.NONE)
        self.rules = rules
        #: Index of the price on the clock (-1 before the start).
        self.index = -1
        self.next_at: int | None = None
        # The last index whose price is still inside the limit.
        self._last = abs(rules.start_price - rules.limit_price) // rules.step

    def price_at(self, index: int) -> int:
        """The ``index``-th price on the clock. O(1)."""
        move = index * self.rules.step
        return (
            self.rules.start_price - move
            if self.side is Side.SALE
            else self.rules.start_price + move
        )

    @property
    def price(self) -> int | None:
        """The price on the clock now (``None`` before the start)."""
        return None if self.index < 0 else self.price_at(self.index)

    def view(self) -> FormatView:
        return FormatView(clock=Clock(self.price))

    def on_start(self, at: int) -> None:
        self._show(0, at)

    def _show(self, index: int, at: int) -> None:
        auction = self.auction
        auction.emit(
            e.PriceChanged(auction.seq + 1, at, self.price_at(index), at + self.rules.interval_us)
        )

    def deadline(self) -> int | None:
        return self.next_at

    def on_deadline(self, due: int, now: int) -> None:
        if self.index >= self._last:
            self.auction.finish(due, e.Outcome.LIMIT_REACHED)
            return
        interval = self.rules.interval_us
        skip = min((now - due) // interval, self._last - self.index - 1)
        self._show(self.index + 1 + skip, due + skip * interval)

    def decide(self, command: Any) -> None:
        auction = self.auction
        if type(command) is not c.AcceptPrice:
            only = "a Dutch auction takes accepts only"
            return auction.reject(command, Reason.NOT_SUPPORTED, only)
        if auction.eligible(command) is None:
            return None
        price = self.price
        assert price is not None
        if command.expected is not None:
            rules = self.rules
            if command.currency != rules.currency:
                in_currency = f"this auction is in {rules.currency}"
                return auction.reject(command, Reason.WRONG_CURRENCY, in_currency)
            expected = to_minor(command.expected, rules.currency, rules.max_amount)
            if isinstance(expected, Reason):
                refused = e.refused_amount(expected, rules.currency, rules.max_amount)
                return auction.reject(command, expected, *refused)
            if expected != price:
                now = bounded(e.BoundKind.PRICE, price, rules.currency)
                return auction.reject(command, Reason.STALE_PRICE, *now)
        auction.emit(
            e.BidAccepted(
                auction.seq + 1, command.at, command.command_id, command.bidder, price, price, False
            )
        )
        auction.finish(command.at, e.Outcome.AWARDED)
        return None

    def evolve(self, event: Any) -> None:
        kind = type(event)
        if kind is e.PriceChanged:
            self.next_at = event.next_at
            self.index = abs(event.price - self.rules.start_price) // self.rules.step
        elif kind is e.BidAccepted:
            self.rest(event)
        elif kind is not e.AuctionStarted:
            super().evolve(event)

    def state(self) -> tuple[object, ...]:
        return (self.index, self.next_at)

    def snapshot(self) -> dict[str, Any]:
        return {"index": self.index, "next_at": self.next_at}

    def restore(self, data: dict[str, Any]) -> None:
        self.index = from_data(int, data["index"], "index")
        self.next_at = from_data(int | None, data["next_at"], "next_at")

    def check(self) -> None:
        assert -1 <= self.index <= self._last
        assert len(self.auction.book) <= 1
