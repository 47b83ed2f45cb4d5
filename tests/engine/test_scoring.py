"""Worked examples for engine.scoring: exact scores and their inverses."""

from __future__ import annotations

import doctest
from fractions import Fraction

import pytest

import engine.scoring
from engine.scoring import Scoring, max_price_for_score, min_price_for_score, score_of

TENTH = Fraction(1, 10)
QUARTER = Fraction(1, 4)


def test_wire_names() -> None:
    assert [s.value for s in Scoring] == ["none", "meat", "lcc"]


def test_doctests() -> None:
    assert doctest.testmod(engine.scoring).failed == 0


# -- score_of --------------------------------------------------------------------------


def test_without_scoring_the_score_is_the_price() -> None:
    # coefficient and cost are ignored
    assert score_of(Scoring.NONE, 1234, Fraction(1, 2), 99) == 1234


def test_lcc_adds_the_declared_cost() -> None:
    # 1000 price + 250 life-cycle cost = 1250, an exact int
    score = score_of(Scoring.LCC, 1000, Fraction(0), 250)
    assert score == 1250
    assert type(score) is int


def test_meat_divides_by_one_plus_the_coefficient() -> None:
    # 1100 / (1 + 1/10) = 1100 / (11/10) = 1000
    assert score_of(Scoring.MEAT, 1100, TENTH, 0) == Fraction(1000)


def test_meat_score_is_an_exact_fraction() -> None:
    # 1000 / (1 + 1/2) = 2000/3, not 666.67
    score = score_of(Scoring.MEAT, 1000, Fraction(1, 2), 0)
    assert score == Fraction(2000, 3)
    assert isinstance(score, Fraction)


def test_meat_with_zero_coefficient_is_the_price() -> None:
    # 1000 / (1 + 0) = 1000, as a Fraction
    assert score_of(Scoring.MEAT, 1000, Fraction(0), 0) == Fraction(1000)


def test_meat_ignores_cost_and_lcc_ignores_coefficient() -> None:
    # MEAT: 1100 / 1.1 = 1000 whatever the cost; LCC: 1000 + 5 whatever the coefficient
    assert score_of(Scoring.MEAT, 1100, TENTH, 999) == 1000
    assert score_of(Scoring.LCC, 1000, TENTH, 5) == 1005


# -- max_price_for_score -----------------------------------------------------------------


def test_max_price_without_scoring_floors_the_score() -> None:
    # the highest integer price <= 2000/3 = 666.67 is 666
    assert max_price_for_score(Scoring.NONE, Fraction(2000, 3), Fraction(0), 0) == 666
    assert max_price_for_score(Scoring.NONE, 1000, Fraction(0), 0) == 1000


def test_max_price_lcc_subtracts_the_cost() -> None:
    # price + 250 <= 1250  =>  price <= 1000
    assert max_price_for_score(Scoring.LCC, 1250, Fraction(0), 250) == 1000
    # price + 250 <= 1250.5  =>  price <= 1000.5  =>  1000
    assert max_price_for_score(Scoring.LCC, Fraction(2501, 2), Fraction(0), 250) == 1000


def test_max_price_meat_multiplies_back() -> None:
    # price / 1.1 <= 1000  =>  price <= 1100
    assert max_price_for_score(Scoring.MEAT, Fraction(1000), TENTH, 0) == 1100


def test_max_price_meat_rounds_down() -> None:
    # price / 1.25 <= 975  =>  price <= 1218.75  =>  1218
    assert max_price_for_score(Scoring.MEAT, Fraction(975), QUARTER, 0) == 1218
    # check: 1218 / 1.25 = 974.4 <= 975, but 1219 / 1.25 = 975.2 > 975
    assert score_of(Scoring.MEAT, 1218, QUARTER, 0) == Fraction(4872, 5)
    assert score_of(Scoring.MEAT, 1219, QUARTER, 0) > 975


def test_max_price_can_be_zero_or_negative() -> None:
    # price + 300 <= 250  =>  price <= -50: no positive price reaches that score
    assert max_price_for_score(Scoring.LCC, 250, Fraction(0), 300) == -50


# -- min_price_for_score -----------------------------------------------------------------


def test_min_price_without_scoring_ceils_the_score() -> None:
    # the lowest integer price >= 2000/3 = 666.67 is 667
    assert min_price_for_score(Scoring.NONE, Fraction(2000, 3), Fraction(0), 0) == 667
    assert min_price_for_score(Scoring.NONE, 1000, Fraction(0), 0) == 1000


def test_min_price_lcc_subtracts_the_cost() -> None:
    # price + 250 >= 1250.5  =>  price >= 1000.5  =>  1001
    assert min_price_for_score(Scoring.LCC, Fraction(2501, 2), Fraction(0), 250) == 1001
    assert min_price_for_score(Scoring.LCC, 1250, Fraction(0), 250) == 1000


def test_min_price_meat_rounds_up() -> None:
    # price / 1.25 >= 975  =>  price >= 1218.75  =>  1219
    assert min_price_for_score(Scoring.MEAT, Fraction(975), QUARTER, 0) == 1219
    # exact multiple: price / 1.1 >= 1000  =>  price >= 1100
    assert min_price_for_score(Scoring.MEAT, Fraction(1000), TENTH, 0) == 1100


@pytest.mark.parametrize("scoring", list(Scoring))
@pytest.mark.parametrize("score", [Fraction(975), Fraction(2000, 3), Fraction(12345, 7)])
def test_inverses_bracket_the_score(scoring: Scoring, score: Fraction) -> None:
    coefficient, cost = Fraction(3, 7), 40
    high = max_price_for_score(scoring, score, coefficient, cost)
    low = min_price_for_score(scoring, score, coefficient, cost)
    # max: the last price whose score is <= the target; min: the first whose score is >=
    assert score_of(scoring, high, coefficient, cost) <= score
    assert score_of(scoring, high + 1, coefficient, cost) > score
    assert score_of(scoring, low, coefficient, cost) >= score
    assert score_of(scoring, low - 1, coefficient, cost) < score
