"""The proxy bidder: hands the engine a secret limit and lets it bid by the step."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import ClassVar

from bidders_sim.strategies.limits import (
    OPEN_CRY,
    Share,
    affordable,
    as_fraction,
    no_worse,
    open_bid,
)
from bidders_sim.strategy import Action, Proxy, View

__all__ = ["ProxyBidder", "proxy_limit"]


def proxy_limit(better: str, value: int, fraction: Fraction) -> int:
    """The limit keeping ``1 - fraction`` of the value as a margin. O(1).

    A buyer's limit is ``floor(value * fraction)``; a seller's floor on a procurement is
    ``ceil(value * (2 - fraction))`` (the same margin above its least acceptable price).

    >>> proxy_limit("higher", 1000, Fraction(9, 10)), proxy_limit("lower", 1000, Fraction(9, 10))
    (900, 1100)
    """
    if better == "higher":
        return math.floor(value * fraction)
    return math.ceil(value * (2 - fraction))


class ProxyBidder:
    """A bidder who sets one proxy (automatic bid) at ``fraction`` of its value, as eBay
    advises, ``wait_us`` after the start, and sets it again whenever it stands outbid
    with the limit still able to lead (a proxy dropped by the engine, or a view that has
    not seen it yet); otherwise it leaves the engine to bid for it.

    Parameters (defaults): ``fraction`` 1 (a number in ``(0, 1]``; ``"0.9"`` keeps a
    10 % margin, see :func:`proxy_limit`), ``wait_us`` 0. ``rng`` is not used. Plays
    English and reverse auctions (with proxies allowed). O(1).
    """

    name: ClassVar[str] = "proxy"
    formats: ClassVar[tuple[str, ...]] = OPEN_CRY

    __slots__ = ("party", "value", "limit", "wait_us")

    def __init__(
        self,
        *,
        party: str,
        value: int,
        rng: random.Random,
        fraction: Share = 1,
        wait_us: int = 0,
    ) -> None:
        del rng
        share = as_fraction(fraction)
        if not 0 < share <= 1:
            raise ValueError("proxy: fraction must be in (0, 1]")
        self.party = party
        self.value = value
        self.wait_us = int(wait_us)
        # The direction is known only from a view: keep both, pick in decide.
        self.limit = (proxy_limit("higher", value, share), proxy_limit("lower", value, share))

    def limit_for(self, view: View) -> int:
        """This bidder's limit in ``view``'s direction."""
        return self.limit[0] if view.better == "higher" else self.limit[1]

    def decide(self, view: View) -> Action | None:
        """``Proxy(limit)`` once ``wait_us`` has passed, when not leading, the limit can
        lead and is not already standing; else ``None``."""
        least = open_bid(view)
        if view.format not in OPEN_CRY or least is None or view.leading:
            return None
        limit = self.limit_for(view)
        if view.now < view.starts_at + self.wait_us or view.my_proxy == limit:
            return None
        if not (no_worse(view.better, limit, least) and affordable(view.better, limit, self.value)):
            return None
        return Proxy(limit)

    def wake_at(self, view: View) -> int | None:
        """The end of its wait, while ahead; then only news."""
        due = view.starts_at + self.wait_us
        return due if view.phase != "ended" and due > view.now else None
