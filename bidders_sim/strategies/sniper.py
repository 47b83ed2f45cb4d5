"""The last-seconds sniper: silent until just before the close, then bids."""

from __future__ import annotations

import random
from typing import ClassVar

from bidders_sim.strategies.limits import OPEN_CRY, affordable, open_bid
from bidders_sim.strategy import Action, Bid, View

__all__ = ["Sniper"]

_SECOND = 1_000_000


class Sniper:
    """A bidder who hides until ``lead`` microseconds before the (current) end and then
    bids ``next_valid`` whenever outbid, within its value: sniping, the habit soft close
    exists to blunt (each snipe inside the window moves the end, and it waits again).

    Its ``lead`` is drawn once from ``rng``: ``lead_us`` plus a uniform jitter in
    ``[-jitter_us, +jitter_us]``, kept within ``[1, window_us]``, so it never bids earlier
    than ``window_us`` before the end. Parameters (defaults): ``window_us`` 10 s,
    ``lead_us`` 3 s, ``jitter_us`` 1 s. Plays English and reverse auctions. O(1).
    """

    name: ClassVar[str] = "sniper"
    formats: ClassVar[tuple[str, ...]] = OPEN_CRY

    __slots__ = ("party", "value", "lead", "window_us")

    def __init__(
        self,
        *,
        party: str,
        value: int,
        rng: random.Random,
        window_us: int = 10 * _SECOND,
        lead_us: int = 3 * _SECOND,
        jitter_us: int = _SECOND,
    ) -> None:
        self.party = party
        self.value = value
        self.window_us = int(window_us)
        if self.window_us < 1:
            raise ValueError("sniper: window_us must be positive")
        jitter = abs(int(jitter_us))
        drawn = int(lead_us) + rng.randint(-jitter, jitter)
        self.lead = min(max(drawn, 1), self.window_us)

    def fires_at(self, view: View) -> int | None:
        """When it starts bidding: ``ends_at - lead`` (``None`` without an end)."""
        return None if view.ends_at is None else view.ends_at - self.lead

    def decide(self, view: View) -> Action | None:
        """``Bid(next_valid)`` from ``ends_at - lead`` to the end, when outbid and within
        value; ``None`` before."""
        least = open_bid(view)
        fire = self.fires_at(view)
        if view.format not in OPEN_CRY or least is None or view.leading or fire is None:
            return None
        if view.now < fire or not affordable(view.better, least, self.value):
            return None
        return Bid(least)

    def wake_at(self, view: View) -> int | None:
        """``ends_at - lead`` while that is still ahead (a soft close moves it on)."""
        fire = self.fires_at(view)
        if view.phase == "ended" or fire is None or fire <= view.now:
            return None
        return fire
