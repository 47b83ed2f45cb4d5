"""What a format uses of the auction it is bound to: the :class:`Host` protocol.

:class:`~engine.auction.Auction` meets it; the formats are typed against it so that they
need not import the auction (which imports them to pick one). A format reads the phase,
the position in the log, the bidders and the book, and acts only through the five methods:
``emit`` a fact, ``reject`` a command, ``finish`` the auction, and the two checks that
record their own rejection (``eligible``, ``money``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from engine import events as e
from engine.bidder import Bidder
from engine.book import OrderBook
from engine.phases import Phase
from engine.reasons import Reason

__all__ = ["Host"]


class Host(Protocol):
    """The auction as its format sees it."""

    @property
    def phase(self) -> Phase:
        """Where the auction is in its life."""

    @property
    def seq(self) -> int:
        """The seq of the last event applied (the next event is ``seq + 1``)."""

    @property
    def bidders(self) -> Mapping[str, Bidder]:
        """Every registered bidder by party id."""

    @property
    def book(self) -> OrderBook:
        """The resting bids, best first."""

    def emit(self, event: Any) -> None:
        """Apply ``event`` and add it to the output of the command being handled."""

    def reject(
        self, command: Any, reason: Reason, detail: str = "", bound: e.Bound | None = None
    ) -> None:
        """Record that ``command`` was refused for ``reason``; nothing else changes.
        ``bound``: the amount it broke, when ``detail`` names one (in major units)."""

    def finish(self, at: int, outcome: e.Outcome, note: str = "") -> None:
        """End the auction at ``at``."""

    def eligible(self, command: Any) -> Bidder | None:
        """The bidder behind ``command`` if it may bid; otherwise its rejection is recorded."""

    def money(self, command: Any, amount: Decimal, currency: str | None) -> int | None:
        """``amount`` in minor units if acceptable; otherwise its rejection is recorded."""
