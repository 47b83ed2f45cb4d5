"""The jump bidder: outbids by several steps at once, to signal strength."""

from __future__ import annotations

import random
from typing import ClassVar

from bidders_sim.strategies.limits import OPEN_CRY, affordable, open_bid, toward
from bidders_sim.strategy import Action, Bid, View

__all__ = ["Jump"]


def _step(least: int, best: int | None, mine: int | None) -> int:
    """The minimum step the view implies: the least positive gap to a reference."""
    gaps = [abs(least - ref) for ref in (best, mine) if ref is not None and ref != least]
    return min(gaps, default=0)


class Jump:
    """A bidder who, when outbid, jumps ``steps`` minimum steps past the best at once
    (jump bidding: a show of strength meant to scare rivals off), never past its value.

    The step is read from the view as the least of ``|next_valid - best|`` and
    ``|next_valid - my_best|`` (the rules' least raise over the best, or over its own offer
    where a procurement only asks to beat one's own); on an empty book it opens at
    ``next_valid``. A jump that would pass its value is cut
    to the value itself; once ``next_valid`` is past the value it stops.

    Parameters: ``steps`` (default: drawn once from ``rng`` in ``2..max_steps``);
    ``max_steps`` (default 5). Plays English and reverse auctions. O(1) per decision.
    """

    name: ClassVar[str] = "jump"
    formats: ClassVar[tuple[str, ...]] = OPEN_CRY

    __slots__ = ("party", "value", "steps")

    def __init__(
        self,
        *,
        party: str,
        value: int,
        rng: random.Random,
        steps: int | None = None,
        max_steps: int = 5,
    ) -> None:
        self.party = party
        self.value = value
        self.steps = int(steps) if steps is not None else rng.randint(2, max(2, int(max_steps)))
        if self.steps < 1:
            raise ValueError("jump: steps must be at least 1")

    def decide(self, view: View) -> Action | None:
        """``Bid`` of ``next_valid`` plus ``steps - 1`` more steps, cut to the value."""
        least = open_bid(view)
        if view.format not in OPEN_CRY or least is None or view.leading:
            return None
        better = view.better
        if not affordable(better, least, self.value):
            return None
        step = _step(least, view.best, view.my_best)
        amount = toward(better, least, (self.steps - 1) * step)
        if not affordable(better, amount, self.value):
            amount = self.value
        return Bid(amount)

    def wake_at(self, view: View) -> int | None:
        """Never: it only answers news."""
        return None
