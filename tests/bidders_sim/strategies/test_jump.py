"""jump: outbids by several steps at once, cut to the value."""

from __future__ import annotations

import random

import pytest

from bidders_sim.strategies.jump import Jump
from bidders_sim.strategy import Bid
from tests.bidders_sim.strategies.views import view


def make(value: int, steps: int | None = 3, seed: int = 1) -> Jump:
    return Jump(party="p", value=value, rng=random.Random(seed), steps=steps)


def test_jumps_steps_past_the_best() -> None:
    # best 1200.00, next_valid 1250.00: a step of 50.00; three steps: 1350.00.
    assert make(2000_00).decide(view()) == Bid(1350_00)
    # reverse: best 90000.00, next 89000.00; three steps down: 87000.00.
    assert make(50_000_00, steps=3).decide(view("reverse")) == Bid(87_000_00)
    assert make(2000_00, steps=1).decide(view()) == Bid(1250_00)


def test_step_read_from_own_offer_where_only_beating_it_is_asked() -> None:
    # beat-own reverse: own 95000.00, next_valid 94050.00 (1 %), the best far lower.
    beat_own = view("reverse", best=80_000_00, my_best=95_000_00, next_valid=94_050_00)
    assert make(50_000_00, steps=3).decide(beat_own) == Bid(92_150_00)


def test_opens_at_next_valid_on_an_empty_book() -> None:
    assert make(2000_00).decide(view(best=None, next_valid=1000_00)) == Bid(1000_00)


def test_jump_is_cut_to_the_value_and_stops_past_it() -> None:
    assert make(1300_00).decide(view()) == Bid(1300_00)
    assert make(1249_00).decide(view()) is None
    assert make(88_000_00).decide(view("reverse")) == Bid(88_000_00)


def test_silent_when_leading_or_elsewhere() -> None:
    assert make(2000_00).decide(view(leading=True)) is None
    assert make(2000_00).decide(view("dutch")) is None
    assert make(2000_00).wake_at(view()) is None


def test_steps_drawn_from_the_seed() -> None:
    drawn = [make(1, steps=None, seed=seed).steps for seed in range(40)]
    assert drawn == [make(1, steps=None, seed=seed).steps for seed in range(40)]
    assert set(drawn) == {2, 3, 4, 5}
    with pytest.raises(ValueError):
        make(1, steps=0)
