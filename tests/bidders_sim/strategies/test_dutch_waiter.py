"""dutch_waiter: waits for the clock to reach its value (less a margin), wakes then."""

from __future__ import annotations

import random

import pytest

from bidders_sim.strategies.dutch_waiter import DutchWaiter, clock_reaches_at
from bidders_sim.strategy import Accept
from tests.bidders_sim.strategies.views import SECOND, START, view


def make(value: int, margin: object = 0) -> DutchWaiter:
    return DutchWaiter(party="p", value=value, rng=random.Random(1), margin=margin)  # type: ignore[arg-type]


def test_waits_for_its_value_then_accepts_the_clock() -> None:
    waiter = make(8_700_00)
    assert waiter.decide(view("dutch")) is None  # 9500.00 > 8700.00
    # 8500.00 (the first price within 8700.00) shows 3 moves in: at 60 s.
    assert waiter.wake_at(view("dutch")) == START + 60 * SECOND
    at = view("dutch", now=START + 60 * SECOND, dutch_price=8_500_00)
    assert waiter.decide(at) == Accept(8_500_00)
    assert waiter.wake_at(at) is None


def test_margin_waits_longer() -> None:
    waiter = make(10_000_00, margin="0.1")
    assert waiter.decide(view("dutch")) is None
    assert waiter.wake_at(view("dutch")) == START + 40 * SECOND  # 9000.00


def test_reverse_dutch_waits_for_the_price_to_rise() -> None:
    rising = view("dutch", better="lower", start_price=1_000_00, dutch_price=1_100_00)
    waiter = make(1_450_00)
    assert waiter.decide(rising) is None
    # 1000.00 rises 500.00 per 20 s in this view: 1500.00 >= 1450.00 after one move.
    assert clock_reaches_at(rising, 1_450_00) == START + 20 * SECOND
    assert waiter.decide(view("dutch", better="lower", dutch_price=1_500_00)) == Accept(1_500_00)


def test_without_the_clock_schedule_it_waits_for_news() -> None:
    assert make(8_000_00).wake_at(view("dutch", dutch_step=None)) is None
    assert make(8_000_00).decide(view("dutch", dutch_price=None)) is None
    assert make(8_000_00).decide(view("english")) is None
    with pytest.raises(ValueError):
        make(1, margin=1)
