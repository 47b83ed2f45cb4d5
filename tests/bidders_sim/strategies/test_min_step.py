"""min_step: the least valid bid whenever outbid, never past the value."""

from __future__ import annotations

import random

from bidders_sim.strategies.min_step import MinStep
from bidders_sim.strategy import Bid
from tests.bidders_sim.strategies.views import view


def make(value: int) -> MinStep:
    return MinStep(party="p", value=value, rng=random.Random(1))


def test_bids_next_valid_when_outbid() -> None:
    assert make(2000_00).decide(view()) == Bid(1250_00)
    assert make(80_000_00).decide(view("reverse")) == Bid(89_000_00)


def test_value_is_the_limit_exactly() -> None:
    assert make(1250_00).decide(view()) == Bid(1250_00)
    assert make(1249_99).decide(view()) is None
    assert make(89_000_01).decide(view("reverse")) is None


def test_silent_when_leading_not_running_or_no_bid_possible() -> None:
    strategy = make(2000_00)
    assert strategy.decide(view(leading=True)) is None
    assert strategy.decide(view(phase="scheduled")) is None
    assert strategy.decide(view(phase="ended")) is None
    assert strategy.decide(view(next_valid=None)) is None
    assert strategy.decide(view("sealed")) is None
    assert strategy.wake_at(view()) is None
