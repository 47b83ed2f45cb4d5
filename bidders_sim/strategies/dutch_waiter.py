"""The Dutch waiter: lets the clock run until the price reaches its value, then takes it."""

from __future__ import annotations

import math
import random
from typing import ClassVar

from bidders_sim.strategies.limits import Share, affordable, as_fraction
from bidders_sim.strategy import Accept, Action, View

__all__ = ["DutchWaiter", "clock_reaches_at", "dutch_accept"]


def clock_reaches_at(view: View, target: int) -> int | None:
    """When a Dutch clock first shows a price within ``target`` (sale: at most it; reverse
    Dutch: at least it), or ``None`` when the view does not tell (no step, interval or
    start price). O(1).

    The clock shows ``start_price -/+ k * dutch_step`` from ``starts_at + k *
    dutch_interval_us``; past the rules' limit the auction ends first, which the caller
    sees as the phase ``ended``.
    """
    step, interval, start = view.dutch_step, view.dutch_interval_us, view.start_price
    if step is None or interval is None or start is None or step <= 0:
        return None
    gap = start - target if view.better == "higher" else target - start
    moves = max(0, -(-gap // step))
    return view.starts_at + moves * interval


def dutch_accept(view: View, target: int) -> Action | None:
    """``Accept`` of the clock's price once it is within ``target``; else ``None``."""
    price = view.dutch_price
    if view.format != "dutch" or view.phase != "running" or price is None:
        return None
    return Accept(price) if affordable(view.better, price, target) else None


def dutch_wake(view: View, target: int) -> int | None:
    """When to look again for ``target``: the clock's time for it, while ahead."""
    if view.format != "dutch" or view.phase == "ended":
        return None
    due = clock_reaches_at(view, target)
    return due if due is not None and due > view.now else None


class DutchWaiter:
    """A Dutch bidder who waits until the clock reaches its value less a ``margin`` and
    accepts that price at once: the rational Dutch bidder (a Dutch auction is a
    first-price sealed one in disguise, so it shades by waiting).

    Target: a buyer waits for ``floor(value * (1 - margin))``, a seller on a reverse Dutch
    for ``ceil(value * (1 + margin))``. It wakes when the clock will reach the target, if
    the view tells the clock's step and interval; else it looks at each price change.

    Parameters (defaults): ``margin`` 0 (in ``[0, 1)``). ``rng`` is not used. Plays Dutch
    auctions. O(1).
    """

    name: ClassVar[str] = "dutch_waiter"
    formats: ClassVar[tuple[str, ...]] = ("dutch",)

    __slots__ = ("party", "value", "targets")

    def __init__(self, *, party: str, value: int, rng: random.Random, margin: Share = 0) -> None:
        del rng
        share = as_fraction(margin)
        if not 0 <= share < 1:
            raise ValueError("dutch_waiter: margin must be in [0, 1)")
        self.party = party
        self.value = value
        self.targets = (math.floor(value * (1 - share)), math.ceil(value * (1 + share)))

    def target_for(self, view: View) -> int:
        """The price it waits for in ``view``'s direction."""
        return self.targets[0] if view.better == "higher" else self.targets[1]

    def decide(self, view: View) -> Action | None:
        """``Accept(dutch_price)`` once the clock's price is within the target."""
        return dutch_accept(view, self.target_for(view))

    def wake_at(self, view: View) -> int | None:
        """The time the clock will show the target, while that is ahead."""
        return dutch_wake(view, self.target_for(view))
