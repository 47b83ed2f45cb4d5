"""proxy: one proxy limit at a fraction of the value, after a wait."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from bidders_sim.strategies.proxy import ProxyBidder, proxy_limit
from bidders_sim.strategy import Proxy
from tests.bidders_sim.strategies.views import SECOND, START, view


def make(value: int, **params: object) -> ProxyBidder:
    return ProxyBidder(party="p", value=value, rng=random.Random(1), **params)  # type: ignore[arg-type]


def test_limit_is_a_fraction_of_value_either_way() -> None:
    assert proxy_limit("higher", 2000_00, Fraction(9, 10)) == 1800_00
    assert proxy_limit("lower", 80_000_00, Fraction(9, 10)) == 88_000_00
    assert proxy_limit("higher", 999, Fraction(1, 3)) == 333


def test_sets_its_proxy_once() -> None:
    bidder = make(2000_00, fraction="0.9")
    assert bidder.decide(view()) == Proxy(1800_00)
    assert bidder.decide(view(my_proxy=1800_00)) is None
    assert bidder.decide(view(leading=True)) is None
    assert make(2000_00).decide(view()) == Proxy(2000_00)
    assert make(80_000_00, fraction=Fraction(9, 10)).decide(view("reverse")) == Proxy(88_000_00)


def test_never_a_limit_that_cannot_lead() -> None:
    assert make(1300_00, fraction="0.9").decide(view()) is None  # 1170.00 < 1250.00
    assert make(89_500_00).decide(view("reverse")) is None


def test_waits_then_wakes() -> None:
    bidder = make(2000_00, wait_us=120 * SECOND)
    assert bidder.decide(view()) is None
    assert bidder.wake_at(view()) == START + 120 * SECOND
    assert bidder.decide(view(now=START + 120 * SECOND)) == Proxy(2000_00)
    assert bidder.wake_at(view(now=START + 120 * SECOND)) is None


def test_bad_fraction() -> None:
    with pytest.raises(ValueError):
        make(1, fraction=0)
    with pytest.raises(ValueError):
        make(1, fraction="1.1")
