"""The sealed-bid shader: bids below its value in first price, its value in second."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import ClassVar

from bidders_sim.strategies.limits import Share, affordable, as_fraction, no_worse, open_bid
from bidders_sim.strategy import Action, Bid, View

__all__ = ["Shader", "sealed_bid", "shaded"]


def sealed_bid(view: View, amount: int, value: int) -> Action | None:
    """One sealed ``Bid`` of ``amount``, lifted to the bound (``next_valid``) when short of
    it, if the bidder has not bid yet and the result is within ``value``. O(1)."""
    bound = open_bid(view)
    if view.format != "sealed" or bound is None or view.my_best is not None:
        return None
    if not no_worse(view.better, amount, bound):
        amount = bound
    return Bid(amount) if affordable(view.better, amount, value) else None


def shaded(better: str, value: int, bound: int, shade: Fraction) -> int:
    """``value`` moved toward the ``bound`` by ``shade`` of the gap, kept within the value
    (a buyer rounds down, a seller up). O(1).

    With ``shade = 1/n`` this is the risk-neutral equilibrium of a first-price auction
    with ``n`` bidders and values uniform between the bound and the top:
    ``bound + (value - bound) * (n - 1) / n``.

    >>> shaded("higher", 1000, 0, Fraction(1, 4)), shaded("lower", 1000, 2000, Fraction(1, 4))
    (750, 1250)
    """
    if better == "higher":
        return value - math.ceil(max(0, value - bound) * shade)
    return value + math.floor(max(0, bound - value) * shade)


class Shader:
    """A sealed-bid bidder who bids its value in a second-price (Vickrey) auction, where
    that is the dominant strategy, and shades it in a first-price one, giving up
    ``shade`` of the gap between its value and the bound (see :func:`shaded`).

    Parameters (defaults): ``shade`` ``1/n`` where ``n`` is the view's registered
    ``bidders`` (else the parameter ``n``, default 2); a given ``shade`` must be in
    ``[0, 1]``. It bids once (a sealed bid stands until replaced); ``rng`` is not used.
    Plays sealed auctions; a view without ``pricing`` is taken as first price. O(1).
    """

    name: ClassVar[str] = "shader"
    formats: ClassVar[tuple[str, ...]] = ("sealed",)

    __slots__ = ("party", "value", "shade", "n")

    def __init__(
        self,
        *,
        party: str,
        value: int,
        rng: random.Random,
        shade: Share | None = None,
        n: int = 2,
    ) -> None:
        del rng
        self.party = party
        self.value = value
        self.shade = None if shade is None else as_fraction(shade)
        if self.shade is not None and not 0 <= self.shade <= 1:
            raise ValueError("shader: shade must be in [0, 1]")
        self.n = int(n)
        if self.n < 1:
            raise ValueError("shader: n must be at least 1")

    def shade_for(self, view: View) -> Fraction:
        """The share of the gap it gives up in ``view``: 0 in second price."""
        if view.pricing == "second_price":
            return Fraction(0)
        if self.shade is not None:
            return self.shade
        return Fraction(1, max(1, view.bidders or self.n))

    def decide(self, view: View) -> Action | None:
        """Its one sealed bid, shaded by :meth:`shade_for`; ``None`` once it has bid."""
        bound = open_bid(view)
        if view.format != "sealed" or bound is None:
            return None
        amount = shaded(view.better, self.value, bound, self.shade_for(view))
        return sealed_bid(view, amount, self.value)

    def wake_at(self, view: View) -> int | None:
        """Never: it bids as soon as bidding opens (news)."""
        return None
