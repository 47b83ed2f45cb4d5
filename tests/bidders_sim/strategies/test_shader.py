"""shader: first price shaded toward the bound by 1/n of the gap; second price truthful."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from bidders_sim.strategies.shader import Shader, shaded
from bidders_sim.strategy import Bid
from tests.bidders_sim.strategies.views import view


def make(value: int, **params: object) -> Shader:
    return Shader(party="p", value=value, rng=random.Random(1), **params)  # type: ignore[arg-type]


def test_first_price_shades_by_one_in_n() -> None:
    # bound 20000.00, value 30000.00, 4 bidders: 20000 + 10000 * 3/4 = 27500.00.
    assert make(30_000_00).decide(view("sealed")) == Bid(27_500_00)
    # unknown number of bidders: n = 2.
    assert make(30_000_00).decide(view("sealed", bidders=None)) == Bid(25_000_00)
    assert make(30_000_00, shade="0.1").decide(view("sealed")) == Bid(29_000_00)


def test_procurement_shades_up_toward_the_ceiling() -> None:
    sealed = view("sealed", better="lower", start_price=60_000_00, next_valid=60_000_00)
    # cost 40000.00, 4 bidders: 40000 + 20000 / 4 = 45000.00.
    assert make(40_000_00).decide(sealed) == Bid(45_000_00)


def test_second_price_bids_the_value() -> None:
    assert make(30_000_00).decide(view("sealed", pricing="second_price")) == Bid(30_000_00)


def test_once_and_within_bounds() -> None:
    assert make(30_000_00).decide(view("sealed", my_best=27_500_00)) is None
    assert make(30_000_00).decide(view("sealed", next_valid=None)) is None
    assert make(19_999_99).decide(view("sealed")) is None
    assert make(20_000_00).decide(view("sealed")) == Bid(20_000_00)
    assert make(30_000_00).decide(view()) is None


def test_rounding_stays_within_value() -> None:
    assert shaded("higher", 1001, 0, Fraction(1, 2)) == 500
    assert shaded("lower", 1001, 2000, Fraction(1, 2)) == 1500
    assert shaded("higher", 1000, 2000, Fraction(1, 2)) == 1000
    with pytest.raises(ValueError):
        make(1, shade=2)
