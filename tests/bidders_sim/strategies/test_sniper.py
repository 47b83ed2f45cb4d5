"""sniper: silent until its lead before the end, then bids; wakes at that moment."""

from __future__ import annotations

import random

from bidders_sim.strategies.sniper import Sniper
from bidders_sim.strategy import Bid
from tests.bidders_sim.strategies.views import SECOND, view


def make(value: int = 2000_00, seed: int = 1, **params: int) -> Sniper:
    return Sniper(party="p", value=value, rng=random.Random(seed), **params)


def test_silent_until_its_moment_then_bids() -> None:
    sniper = make(lead_us=3 * SECOND, jitter_us=0)
    assert sniper.lead == 3 * SECOND
    ends = view().ends_at
    assert ends is not None
    assert sniper.wake_at(view()) == ends - 3 * SECOND
    assert sniper.decide(view()) is None
    assert sniper.decide(view(now=ends - 3 * SECOND - 1)) is None
    assert sniper.decide(view(now=ends - 3 * SECOND)) == Bid(1250_00)
    assert sniper.decide(view(now=ends - 1)) == Bid(1250_00)
    assert sniper.decide(view("reverse", now=ends - SECOND, ends_at=ends)) == Bid(89_000_00)


def test_in_its_window_it_still_respects_value_and_lead() -> None:
    sniper = make(value=1200_00, lead_us=3 * SECOND, jitter_us=0)
    ends = view().ends_at
    assert ends is not None
    assert sniper.decide(view(now=ends - SECOND)) is None
    leading = view(now=ends - SECOND, leading=True)
    assert make(lead_us=3 * SECOND, jitter_us=0).decide(leading) is None


def test_wakes_again_when_the_end_moves() -> None:
    sniper = make(lead_us=3 * SECOND, jitter_us=0)
    ends = view().ends_at
    assert ends is not None
    assert sniper.wake_at(view(now=ends - SECOND)) is None
    moved = view(now=ends - SECOND, ends_at=ends + 60 * SECOND)
    assert sniper.wake_at(moved) == ends + 57 * SECOND
    assert sniper.decide(moved) is None
    assert sniper.wake_at(view(phase="ended")) is None


def test_lead_jitter_from_the_seed_within_the_window() -> None:
    leads = [make(seed=seed).lead for seed in range(50)]
    assert leads == [make(seed=seed).lead for seed in range(50)]
    assert len(set(leads)) > 10
    assert all(2 * SECOND <= lead <= 4 * SECOND for lead in leads)
    assert make(window_us=SECOND, lead_us=5 * SECOND).lead == SECOND
