"""Non-price scoring: how a bid's price becomes the number that ranks it.

Procurement formats (reverse open, sealed, multi-round) may rank bids by a *score*
instead of the raw price; lower is better. Both numbers are kept and reported.

- ``NONE``: the score is the price.
- ``MEAT`` (most economically advantageous tender): ``price / (1 + coefficient)``, where
  the bidder's coefficient is the sum of its non-price feature coefficients (``>= 0``).
- ``LCC`` (life-cycle cost): ``price + cost``, the bidder's declared non-price cost in
  minor units.

Scores are exact: ``int`` for NONE and LCC, :class:`fractions.Fraction` for MEAT.
Every function here is O(1).
"""

from __future__ import annotations

from enum import StrEnum
from fractions import Fraction
from math import ceil, floor

__all__ = ["Scoring", "Score", "score_of", "max_price_for_score", "min_price_for_score"]

Score = int | Fraction


class Scoring(StrEnum):
    """How bids are scored; the value is the wire name."""

    NONE = "none"
    MEAT = "meat"
    LCC = "lcc"


def score_of(scoring: Scoring, price: int, coefficient: Fraction, cost: int) -> Score:
    """The exact score of ``price`` for a bidder with ``coefficient`` and ``cost``.

    >>> score_of(Scoring.MEAT, 1100, Fraction(1, 10), 0)
    Fraction(1000, 1)
    >>> score_of(Scoring.LCC, 1000, Fraction(0), 250)
    1250
    """
    if scoring is Scoring.NONE:
        return price
    if scoring is Scoring.LCC:
        return price + cost
    return Fraction(price) / (1 + coefficient)


def max_price_for_score(scoring: Scoring, score: Score, coefficient: Fraction, cost: int) -> int:
    """The highest integer price whose score is at most ``score`` (the inverse of ``score_of``).

    >>> max_price_for_score(Scoring.MEAT, Fraction(1000), Fraction(1, 10), 0)
    1100
    """
    if scoring is Scoring.NONE:
        return floor(score)
    if scoring is Scoring.LCC:
        return floor(score) - cost
    return floor(score * (1 + coefficient))


def min_price_for_score(scoring: Scoring, score: Score, coefficient: Fraction, cost: int) -> int:
    """The lowest integer price whose score is at least ``score``."""
    if scoring is Scoring.NONE:
        return ceil(score)
    if scoring is Scoring.LCC:
        return ceil(score) - cost
    return ceil(score * (1 + coefficient))
