"""limits: direction, value and the legality every strategy keeps."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from bidders_sim.strategies.limits import (
    affordable,
    as_fraction,
    better_than,
    is_legal,
    no_worse,
    toward,
)
from bidders_sim.strategy import Accept, Bid, Pass, Proxy
from tests.bidders_sim.strategies.views import view


def test_directions() -> None:
    assert no_worse("higher", 5, 5) and no_worse("lower", 5, 5)
    assert better_than("higher", 6, 5) and better_than("lower", 4, 5)
    assert not better_than("higher", 5, 5)
    assert affordable("higher", 100, 100) and not affordable("higher", 101, 100)
    assert affordable("lower", 100, 100) and not affordable("lower", 99, 100)
    assert toward("higher", 10, 3) == 13 and toward("lower", 10, 3) == 7


def test_as_fraction_reads_every_spelling_exactly() -> None:
    expected = Fraction(9, 10)
    for spelling in ("0.9", Decimal("0.9"), Fraction(9, 10), 0.9):
        assert as_fraction(spelling) == expected
    assert as_fraction(1) == 1


def test_is_legal() -> None:
    english = view()
    assert is_legal(english, Bid(1250_00), 2000_00)
    assert not is_legal(english, Bid(1249_99), 2000_00)  # short of next_valid
    assert not is_legal(english, Bid(1250_00), 1200_00)  # past the value
    assert not is_legal(english, Pass(), 2000_00)
    assert not is_legal(english, Accept(1250_00), 2000_00)
    assert is_legal(english, Proxy(1800_00), 2000_00)
    assert not is_legal(english, Proxy(1200_00), 2000_00)  # cannot lead
    assert not is_legal(view(phase="ended"), Bid(1250_00), 2000_00)
    assert is_legal(view("reverse"), Bid(88_000_00), 80_000_00)
    assert not is_legal(view("reverse"), Bid(79_000_00), 80_000_00)
    assert is_legal(view("dutch"), Accept(9_500_00), 9_500_00)
    assert not is_legal(view("dutch"), Accept(9_000_00), 9_500_00)  # not the clock's
    assert not is_legal(view("dutch"), Bid(9_500_00), 9_500_00)
    assert not is_legal(view("sealed"), Proxy(20_000_00), 30_000_00)
    assert is_legal(view("multi_round"), Pass(), 1)
    assert not is_legal(view("multi_round", my_turn=False), Pass(), 1)
    assert not is_legal(view("multi_round", my_turn=False), Bid(49_000_00), 40_000_00)
