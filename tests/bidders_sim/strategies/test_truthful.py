"""truthful: its value, as it is, in every format."""

from __future__ import annotations

import random

from bidders_sim.strategies.truthful import Truthful
from bidders_sim.strategy import Accept, Bid, Pass, Proxy
from tests.bidders_sim.strategies.views import SECOND, START, view


def make(value: int) -> Truthful:
    return Truthful(party="p", value=value, rng=random.Random(1))


def test_open_cry_a_proxy_at_value() -> None:
    assert make(1700_00).decide(view()) == Proxy(1700_00)
    assert make(1700_00).decide(view(my_proxy=1700_00)) is None
    assert make(1700_00).decide(view(leading=True)) is None
    assert make(1200_00).decide(view()) is None
    assert make(60_000_00).decide(view("reverse")) == Proxy(60_000_00)


def test_sealed_bids_its_value_once() -> None:
    assert make(25_000_00).decide(view("sealed")) == Bid(25_000_00)
    assert make(25_000_00).decide(view("sealed", my_best=25_000_00)) is None
    assert make(19_000_00).decide(view("sealed")) is None
    procurement = view("sealed", better="lower", start_price=60_000_00, next_valid=60_000_00)
    assert make(41_000_00).decide(procurement) == Bid(41_000_00)


def test_dutch_accepts_at_its_value_and_wakes_for_it() -> None:
    assert make(9_500_00).decide(view("dutch")) == Accept(9_500_00)
    truthful = make(8_200_00)
    assert truthful.decide(view("dutch")) is None
    # 10000.00 falls 500.00 every 20 s: 8000.00 (within 8200.00) at 80 s.
    assert truthful.wake_at(view("dutch")) == START + 80 * SECOND
    assert truthful.wake_at(view()) is None


def test_multi_round_bids_or_passes() -> None:
    assert make(45_000_00).decide(view("multi_round")) == Bid(49_500_00)
    assert make(49_600_00).decide(view("multi_round")) == Pass()
    assert make(45_000_00).decide(view("multi_round", my_turn=False)) is None
