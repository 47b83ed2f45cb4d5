"""Rules objects: one frozen dataclass per auction format, carried by ``CreateAuction``.

Every time is an ``int`` of microseconds since the Unix epoch (server clock), every
duration an ``int`` of microseconds, every amount an ``int`` of the currency's minor
units. ``problem()`` returns a human sentence when the rules are inconsistent (the
engine then rejects ``CreateAuction`` with ``invalid_rules``) and ``None`` when they
are sound. Each check is O(1).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from engine.money import CURRENCIES
from engine.scoring import Scoring

__all__ = [
    "AuctionRules",
    "DEFAULT_MAX_AMOUNT",
    "DutchRules",
    "EnglishRules",
    "Improvement",
    "MultiRoundRules",
    "Pricing",
    "ReverseRules",
    "SealedRules",
    "Side",
    "SoftClose",
    "Step",
]

#: Bids above this many minor units are "absurdly large" unless the rules say otherwise.
DEFAULT_MAX_AMOUNT = 10**15


class Side(StrEnum):
    """Which way the price is good: a sale wants it high, a procurement wants it low."""

    SALE = "sale"
    PROCUREMENT = "procurement"


class Improvement(StrEnum):
    """What a reverse-auction bid must beat by the minimum step."""

    BEAT_BEST = "beat_best"
    BEAT_OWN = "beat_own"


class Pricing(StrEnum):
    """What the winner of a sealed auction pays."""

    FIRST_PRICE = "first_price"
    SECOND_PRICE = "second_price"


@dataclass(frozen=True, slots=True)
class Step:
    """Minimum step: an absolute ``amount`` in minor units or a ``percent`` of the reference.

    A percentage step is rounded up to a whole minor unit for price comparisons.
    """

    amount: int = 0
    percent: Decimal | None = None

    def problem(self) -> str | None:
        """A sentence describing what is wrong, or ``None``."""
        if self.percent is None:
            return None if self.amount > 0 else "step.amount must be positive"
        if self.amount:
            return "give step.amount or step.percent, not both"
        if not self.percent.is_finite() or not Decimal(0) < self.percent <= Decimal(100):
            return "step.percent must be in (0, 100]"
        return None


@dataclass(frozen=True, slots=True)
class SoftClose:
    """A bid within ``window_us`` of the end pushes the end back by ``extension_us``.

    The end never moves past ``hard_close_at`` when that is set.
    """

    window_us: int
    extension_us: int
    hard_close_at: int | None = None

    def problem(self, ends_at: int) -> str | None:
        """A sentence describing what is wrong, or ``None``."""
        if self.window_us <= 0 or self.extension_us <= 0:
            return "soft_close window and extension must be positive"
        if self.hard_close_at is not None and self.hard_close_at < ends_at:
            return "soft_close.hard_close_at must not be before ends_at"
        return None


def _common_problem(currency: str, starts_at: int, max_amount: int) -> str | None:
    if currency not in CURRENCIES:
        return f"unknown currency {currency!r}"
    if starts_at < 0:
        return "starts_at must not be negative"
    if max_amount <= 0:
        return "max_amount must be positive"
    return None


def _window_problem(starts_at: int, ends_at: int) -> str | None:
    return None if ends_at > starts_at else "ends_at must be after starts_at"


def _price_problem(name: str, price: int | None, max_amount: int) -> str | None:
    if price is not None and not 0 < price <= max_amount:
        return f"{name} must be positive and at most max_amount"
    return None


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p is not None), None)


@dataclass(frozen=True, slots=True)
class EnglishRules:
    """English ascending auction (a sale): the highest bid at the close wins.

    The first bid must be at least ``start_price``; each later bid must beat the best by
    ``step``. Below ``reserve_price`` at the close there is no award. Proxy bidding lets a
    bidder set a secret maximum that the engine bids up to, by the minimum step.
    """

    currency: str
    starts_at: int
    ends_at: int
    start_price: int
    step: Step
    reserve_price: int | None = None
    soft_close: SoftClose | None = None
    allow_proxy: bool = True
    max_amount: int = DEFAULT_MAX_AMOUNT

    def problem(self) -> str | None:
        """A sentence describing what is wrong, or ``None``."""
        return _first(
            _common_problem(self.currency, self.starts_at, self.max_amount),
            _window_problem(self.starts_at, self.ends_at),
            _price_problem("start_price", self.start_price, self.max_amount),
            _price_problem("reserve_price", self.reserve_price, self.max_amount),
            self.step.problem(),
            self.soft_close.problem(self.ends_at) if self.soft_close else None,
        )


@dataclass(frozen=True, slots=True)
class ReverseRules:
    """Reverse open auction (procurement): the lowest price, or best score, wins.

    ``start_price`` is the budget ceiling. ``improvement`` says whether a bid must beat
    the current best or only the bidder's own previous bid by ``step``. Proxy bidding
    sets a secret floor the engine bids down to.
    """

    currency: str
    starts_at: int
    ends_at: int
    start_price: int
    step: Step
    improvement: Improvement = Improvement.BEAT_BEST
    scoring: Scoring = Scoring.NONE
    soft_close: SoftClose | None = None
    allow_proxy: bool = True
    max_amount: int = DEFAULT_MAX_AMOUNT

    def problem(self) -> str | None:
        """A sentence describing what is wrong, or ``None``."""
        return _first(
            _common_problem(self.currency, self.starts_at, self.max_amount),
            _window_problem(self.starts_at, self.ends_at),
            _price_problem("start_price", self.start_price, self.max_amount),
            self.step.problem(),
            self.soft_close.problem(self.ends_at) if self.soft_close else None,
        )


@dataclass(frozen=True, slots=True)
class DutchRules:
    """Dutch auction: the price moves by ``step`` every ``interval_us``; first acceptance wins.

    For a sale the price falls from ``start_price`` toward the floor ``limit_price``; for a
    procurement (reverse Dutch) it rises toward the ceiling ``limit_price``. Once the last
    price inside the limit has been offered for a full interval without acceptance, the
    auction ends with no award.
    """

    currency: str
    starts_at: int
    start_price: int
    step: int
    interval_us: int
    limit_price: int
    side: Side = Side.SALE
    max_amount: int = DEFAULT_MAX_AMOUNT

    def problem(self) -> str | None:
        """A sentence describing what is wrong, or ``None``."""
        toward = (
            self.limit_price <= self.start_price
            if self.side is Side.SALE
            else self.limit_price >= self.start_price
        )
        return _first(
            _common_problem(self.currency, self.starts_at, self.max_amount),
            _price_problem("start_price", self.start_price, self.max_amount),
            _price_problem("limit_price", self.limit_price, self.max_amount),
            None if self.step > 0 else "step must be positive",
            None if self.interval_us > 0 else "interval_us must be positive",
            None if toward else "limit_price must lie in the direction the price moves",
        )


@dataclass(frozen=True, slots=True)
class SealedRules:
    """Sealed-bid auction: one hidden bid per bidder, replaceable until ``ends_at``.

    First price: the winner pays its own bid. Second price (Vickrey): the winner pays the
    runner-up's bid, or the reserve when alone (for a procurement, the price that would
    tie the runner-up's score). ``start_price`` is the minimum bid of a sale or the
    ceiling of a procurement; scoring applies to procurements only.
    """

    currency: str
    starts_at: int
    ends_at: int
    pricing: Pricing = Pricing.FIRST_PRICE
    side: Side = Side.SALE
    start_price: int | None = None
    reserve_price: int | None = None
    scoring: Scoring = Scoring.NONE
    max_amount: int = DEFAULT_MAX_AMOUNT

    def problem(self) -> str | None:
        """A sentence describing what is wrong, or ``None``."""
        return _first(
            _common_problem(self.currency, self.starts_at, self.max_amount),
            _window_problem(self.starts_at, self.ends_at),
            _price_problem("start_price", self.start_price, self.max_amount),
            _price_problem("reserve_price", self.reserve_price, self.max_amount),
            None
            if self.scoring is Scoring.NONE or self.side is Side.PROCUREMENT
            else "scoring applies to procurements only",
        )


@dataclass(frozen=True, slots=True)
class MultiRoundRules:
    """Multi-round procurement auction (the Prozorro model); lowest price or score wins.

    Initial bids come with the bidders' registration. Each of ``rounds`` rounds gives
    every bidder one exclusive turn of ``turn_us``, from the worst current offer to the
    best; a bid must improve the bidder's own offer by ``step``; a bidder may pass, which
    ends its turn at once. Rounds are separated by ``pause_us``.
    """

    currency: str
    starts_at: int
    turn_us: int
    step: Step
    rounds: int = 3
    pause_us: int = 0
    start_price: int | None = None
    scoring: Scoring = Scoring.NONE
    max_amount: int = DEFAULT_MAX_AMOUNT

    def problem(self) -> str | None:
        """A sentence describing what is wrong, or ``None``."""
        return _first(
            _common_problem(self.currency, self.starts_at, self.max_amount),
            _price_problem("start_price", self.start_price, self.max_amount),
            None if self.turn_us > 0 else "turn_us must be positive",
            None if self.pause_us >= 0 else "pause_us must not be negative",
            None if 1 <= self.rounds <= 100 else "rounds must be between 1 and 100",
            self.step.problem(),
        )


AuctionRules = EnglishRules | ReverseRules | DutchRules | SealedRules | MultiRoundRules
