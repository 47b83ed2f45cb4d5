"""A registered bidder as the engine sees it: its label, its scoring inputs, its tender-stage
offer, whether it is disqualified. Held by :class:`~engine.auction.Auction` and read by the
formats (:mod:`engine.formats`), so it lives apart from both."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Bidder"]


@dataclass(frozen=True, slots=True)
class Bidder:
    """A registered bidder as the engine sees it."""

    label: str
    coefficient: Fraction
    cost: int
    initial_bid: int | None
    disqualified: bool = False
