"""The minimum-step incrementer: answers every outbid with the least valid bid."""

from __future__ import annotations

import random
from typing import ClassVar

from bidders_sim.strategies.limits import OPEN_CRY, affordable, open_bid
from bidders_sim.strategy import Action, Bid, View

__all__ = ["MinStep"]


class MinStep:
    """A bidder who, whenever it is not leading, bids exactly ``next_valid`` while that is
    within its value: the patient, price-driving regular of open auctions.

    Plays English (sale) and reverse (procurement) auctions. No parameters; ``rng`` is not
    used (its decisions follow from the view alone). Stateless: ``decide`` is O(1).
    """

    name: ClassVar[str] = "min_step"
    formats: ClassVar[tuple[str, ...]] = OPEN_CRY

    __slots__ = ("party", "value")

    def __init__(self, *, party: str, value: int, rng: random.Random) -> None:
        del rng  # deterministic without it
        self.party = party
        self.value = value

    def decide(self, view: View) -> Action | None:
        """``Bid(next_valid)`` when outbid and it is within value, else ``None``."""
        amount = open_bid(view)
        if view.format not in OPEN_CRY or amount is None or view.leading:
            return None
        return Bid(amount) if affordable(view.better, amount, self.value) else None

    def wake_at(self, view: View) -> int | None:
        """Never: it only answers news."""
        return None
