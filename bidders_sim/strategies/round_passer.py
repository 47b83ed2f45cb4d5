"""The multi-round bidder: improves its offer on its turn while it can, else passes."""

from __future__ import annotations

import random
from typing import ClassVar

from bidders_sim.strategies.limits import affordable, open_bid
from bidders_sim.strategy import Action, Bid, Pass, View

__all__ = ["RoundPasser", "turn_action"]


def turn_action(view: View, value: int) -> Action | None:
    """On its own running turn: ``Bid(next_valid)`` within ``value``, else ``Pass``."""
    if view.format != "multi_round" or view.phase != "running" or not view.my_turn:
        return None
    least = open_bid(view)
    if least is not None and affordable(view.better, least, value):
        return Bid(least)
    return Pass()


class RoundPasser:
    """A Prozorro-style multi-round bidder: on each of its turns it bids ``next_valid``
    (its own offer improved by the minimum step) when that is still within its value
    (its cost), and passes the turn when it cannot improve, ending the turn at once.

    No parameters; ``rng`` is not used. Plays multi-round auctions. O(1).
    """

    name: ClassVar[str] = "round_passer"
    formats: ClassVar[tuple[str, ...]] = ("multi_round",)

    __slots__ = ("party", "value")

    def __init__(self, *, party: str, value: int, rng: random.Random) -> None:
        del rng
        self.party = party
        self.value = value

    def decide(self, view: View) -> Action | None:
        """On its turn: a bid within value, or a pass; otherwise ``None``."""
        return turn_action(view, self.value)

    def wake_at(self, view: View) -> int | None:
        """Never: a turn's start is news."""
        return None
