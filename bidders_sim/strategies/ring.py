"""A colluding ring that rotates wins among its members (bid rigging, for red-flag work)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

from bidders_sim.strategies.dutch_waiter import dutch_accept, dutch_wake
from bidders_sim.strategies.limits import OPEN_CRY, affordable, open_bid
from bidders_sim.strategies.round_passer import turn_action
from bidders_sim.strategies.shader import sealed_bid, shaded
from bidders_sim.strategy import Action, Bid, Pass, View

__all__ = ["Ring", "RingMember"]


@dataclass(frozen=True, slots=True)
class Ring:
    """The ring's shared plan for one auction: whose turn it is to win.

    The designated winner rotates with ``auction_index``: ``members[auction_index % n]``;
    the member after it places the cover bid. Build one ``Ring`` per auction and pass the
    same one to every member (``build("ring", ..., ring=Ring(members, index))``).
    """

    members: tuple[str, ...]
    auction_index: int

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a ring needs members")
        if len(set(self.members)) != len(self.members):
            raise ValueError("ring members must be distinct")

    @property
    def designate(self) -> str:
        """The member whose turn it is to win this auction."""
        return self.members[self.auction_index % len(self.members)]

    @property
    def cover(self) -> str | None:
        """The member who places the losing cover bid (``None`` for a ring of one)."""
        if len(self.members) < 2:
            return None
        return self.members[(self.auction_index + 1) % len(self.members)]


class RingMember:
    """A member of a bid-rigging ring (rotating wins, cover bids, suppression).

    The designated winner bids, never past its own value:

    - English / reverse: ``next_valid`` whenever outbid (a minimum-step incrementer).
    - Sealed: halfway from the bound to its value (the ring expects no rival to go far).
    - Dutch: accepts when the clock reaches its value.
    - Multi-round: ``next_valid`` on its turn while within value, else passes.

    The cover member makes the auction look contested without winning it: one opening bid
    at ``next_valid`` on an empty open-cry book, a sealed bid at the bound (the designate's
    beats it), and passes its multi-round turns; in a Dutch auction it stays out. Every
    other member stays out (passes its multi-round turns). Parameters: ``ring`` (required,
    a :class:`Ring` listing ``party``). ``rng`` is not used. O(1).
    """

    name: ClassVar[str] = "ring"
    formats: ClassVar[tuple[str, ...]] = ("english", "reverse", "sealed", "dutch", "multi_round")

    __slots__ = ("party", "value", "ring")

    def __init__(self, *, party: str, value: int, rng: random.Random, ring: Ring) -> None:
        del rng
        if party not in ring.members:
            raise ValueError(f"ring: {party!r} is not one of {ring.members}")
        self.party = party
        self.value = value
        self.ring = ring

    @property
    def designated(self) -> bool:
        """Whether this member is to win this auction."""
        return self.ring.designate == self.party

    def decide(self, view: View) -> Action | None:
        """The designate's or the cover's action for ``view`` (see the class)."""
        if self.designated:
            return self._win(view)
        if view.format == "multi_round":
            return Pass() if view.phase == "running" and view.my_turn else None
        if self.ring.cover != self.party:
            return None
        least = open_bid(view)
        if least is None or not affordable(view.better, least, self.value):
            return None
        if view.format in OPEN_CRY:
            fresh = view.best is None and view.my_best is None
            return Bid(least) if fresh else None
        if view.format == "sealed":
            return sealed_bid(view, least, self.value)
        return None

    def _win(self, view: View) -> Action | None:
        least = open_bid(view)
        if view.format in OPEN_CRY:
            if least is None or view.leading or not affordable(view.better, least, self.value):
                return None
            return Bid(least)
        if view.format == "sealed":
            if least is None:
                return None
            amount = shaded(view.better, self.value, least, Fraction(1, 2))
            return sealed_bid(view, amount, self.value)
        if view.format == "dutch":
            return dutch_accept(view, self.value)
        return turn_action(view, self.value)

    def wake_at(self, view: View) -> int | None:
        """The designate in a Dutch auction: when the clock reaches its value."""
        return dutch_wake(view, self.value) if self.designated else None
