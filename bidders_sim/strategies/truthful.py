"""The budget-bound truthful bidder: acts on its private value as it is, in every format."""

from __future__ import annotations

import random
from typing import ClassVar

from bidders_sim.strategies.dutch_waiter import dutch_accept, dutch_wake
from bidders_sim.strategies.limits import OPEN_CRY, affordable, open_bid
from bidders_sim.strategies.round_passer import turn_action
from bidders_sim.strategies.shader import sealed_bid
from bidders_sim.strategy import Action, Proxy, View

__all__ = ["Truthful"]


class Truthful:
    """A bidder with a private value (drawn by :func:`bidders_sim.values.draw_value`) and
    a hard budget who reveals that value to the mechanism and never goes past it:

    - English / reverse: a proxy at its value (staying in until the price reaches it, the
      dominant strategy of an ascending auction), set again whenever it stands outbid
      while the value can still lead.
    - Sealed: one bid of its value (dominant in second price, naive in first price).
    - Dutch: accepts as soon as the clock's price is within its value (waking then).
    - Multi-round: bids ``next_valid`` on its turn while within value, else passes.

    No parameters; ``rng`` is not used. O(1).
    """

    name: ClassVar[str] = "truthful"
    formats: ClassVar[tuple[str, ...]] = ("english", "reverse", "sealed", "dutch", "multi_round")

    __slots__ = ("party", "value")

    def __init__(self, *, party: str, value: int, rng: random.Random) -> None:
        del rng
        self.party = party
        self.value = value

    def decide(self, view: View) -> Action | None:
        """The truthful action for ``view``'s format (see the class), or ``None``."""
        if view.format in OPEN_CRY:
            least = open_bid(view)
            if least is None or view.leading or view.my_proxy == self.value:
                return None
            return Proxy(self.value) if affordable(view.better, least, self.value) else None
        if view.format == "sealed":
            return sealed_bid(view, self.value, self.value)
        if view.format == "dutch":
            return dutch_accept(view, self.value)
        return turn_action(view, self.value)

    def wake_at(self, view: View) -> int | None:
        """In a Dutch auction, when the clock will reach its value; else never."""
        return dutch_wake(view, self.value)
