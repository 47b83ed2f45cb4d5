"""Every branch of every ``problem()`` in engine.rules, one example each."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from engine import Auction, CommandRejected, CreateAuction, Reason
from engine.rules import (
    DEFAULT_MAX_AMOUNT,
    DutchRules,
    Improvement,
    MultiRoundRules,
    Pricing,
    SealedRules,
    Side,
    SoftClose,
    Step,
)
from engine.scoring import Scoring
from tests.engine.helpers import END, START, S, english, reverse

POSITIVE_PRICE = "must be positive and at most max_amount"


def test_wire_names() -> None:
    assert [s.value for s in Side] == ["sale", "procurement"]
    assert [i.value for i in Improvement] == ["beat_best", "beat_own"]
    assert [p.value for p in Pricing] == ["first_price", "second_price"]


def test_default_max_amount_is_ten_trillion_in_cents() -> None:
    # 10^15 cents = 10^13 EUR
    assert DEFAULT_MAX_AMOUNT == 10**15


# -- Step --------------------------------------------------------------------------------


def test_step_absolute_amount_is_sound() -> None:
    assert Step(amount=100).problem() is None


@pytest.mark.parametrize("amount", [0, -5])
def test_step_absolute_amount_must_be_positive(amount: int) -> None:
    assert Step(amount=amount).problem() == "step.amount must be positive"


@pytest.mark.parametrize("percent", ["0.001", "2.5", "100"])
def test_step_percent_in_range_is_sound(percent: str) -> None:
    assert Step(percent=Decimal(percent)).problem() is None


def test_step_cannot_be_both_absolute_and_percent() -> None:
    assert Step(amount=100, percent=Decimal(5)).problem() == (
        "give step.amount or step.percent, not both"
    )


@pytest.mark.parametrize("percent", ["0", "-1", "100.01", "NaN", "Infinity"])
def test_step_percent_out_of_range(percent: str) -> None:
    assert Step(percent=Decimal(percent)).problem() == "step.percent must be in (0, 100]"


# -- SoftClose -----------------------------------------------------------------------------


def test_soft_close_is_sound() -> None:
    assert SoftClose(window_us=60 * S, extension_us=30 * S).problem(END) is None


@pytest.mark.parametrize(("window", "extension"), [(0, 30 * S), (60 * S, 0), (-1, 30 * S)])
def test_soft_close_window_and_extension_must_be_positive(window: int, extension: int) -> None:
    assert SoftClose(window, extension).problem(END) == (
        "soft_close window and extension must be positive"
    )


def test_soft_close_hard_cap_before_the_end() -> None:
    soft = SoftClose(60 * S, 30 * S, hard_close_at=END - 1)
    assert soft.problem(END) == "soft_close.hard_close_at must not be before ends_at"


@pytest.mark.parametrize("cap", [END, END + 1])
def test_soft_close_hard_cap_at_or_after_the_end(cap: int) -> None:
    assert SoftClose(60 * S, 30 * S, hard_close_at=cap).problem(END) is None


# -- EnglishRules ------------------------------------------------------------------------


def test_english_defaults_are_sound() -> None:
    assert english().problem() is None
    assert english(reserve_price=5000, soft_close=SoftClose(60 * S, 30 * S)).problem() is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"currency": "XXX"}, "unknown currency 'XXX'"),
        ({"currency": "eur"}, "unknown currency 'eur'"),
        ({"starts_at": -1}, "starts_at must not be negative"),
        ({"max_amount": 0}, "max_amount must be positive"),
        ({"ends_at": START}, "ends_at must be after starts_at"),
        ({"ends_at": START - 1}, "ends_at must be after starts_at"),
        ({"start_price": 0}, f"start_price {POSITIVE_PRICE}"),
        ({"start_price": -100}, f"start_price {POSITIVE_PRICE}"),
        ({"start_price": 10**15 + 1}, f"start_price {POSITIVE_PRICE}"),
        ({"reserve_price": 0}, f"reserve_price {POSITIVE_PRICE}"),
        ({"max_amount": 999}, f"start_price {POSITIVE_PRICE}"),  # start 1000 > 999
        ({"step": Step()}, "step.amount must be positive"),
        (
            {"soft_close": SoftClose(60 * S, 30 * S, hard_close_at=END - 1)},
            "soft_close.hard_close_at must not be before ends_at",
        ),
    ],
)
def test_english_problems(changes: dict[str, object], problem: str) -> None:
    assert english(**changes).problem() == problem


def test_english_start_price_equal_to_max_amount_is_sound() -> None:
    assert english(start_price=1000, max_amount=1000).problem() is None


def test_english_first_problem_is_reported() -> None:
    # both the currency and the window are wrong; the currency check comes first
    assert english(currency="XXX", ends_at=START).problem() == "unknown currency 'XXX'"


# -- ReverseRules ------------------------------------------------------------------------


def test_reverse_defaults_are_sound() -> None:
    assert reverse().problem() is None
    sound = reverse(
        improvement=Improvement.BEAT_OWN, scoring=Scoring.MEAT, step=Step(percent=Decimal(1))
    )
    assert sound.problem() is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"currency": "XXX"}, "unknown currency 'XXX'"),
        ({"ends_at": START}, "ends_at must be after starts_at"),
        ({"start_price": 0}, f"start_price {POSITIVE_PRICE}"),
        ({"step": Step(percent=Decimal(101))}, "step.percent must be in (0, 100]"),
        ({"soft_close": SoftClose(0, 30 * S)}, "soft_close window and extension must be positive"),
    ],
)
def test_reverse_problems(changes: dict[str, object], problem: str) -> None:
    assert reverse(**changes).problem() == problem


# -- DutchRules --------------------------------------------------------------------------


def dutch(**changes: object) -> DutchRules:
    # sale from 100.00 down to 50.00 by 1.00 every 10 s
    rules = DutchRules(
        "EUR", START, start_price=10_000, step=100, interval_us=10 * S, limit_price=5000
    )
    return replace(rules, **changes)  # type: ignore[arg-type]


def test_dutch_sale_and_procurement_are_sound() -> None:
    assert dutch().problem() is None
    # reverse Dutch: from 50.00 up to 100.00
    assert dutch(side=Side.PROCUREMENT, start_price=5000, limit_price=10_000).problem() is None
    # a limit equal to the start offers just one price: allowed either way
    assert dutch(limit_price=10_000).problem() is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"currency": "XXX"}, "unknown currency 'XXX'"),
        ({"start_price": 0}, f"start_price {POSITIVE_PRICE}"),
        ({"limit_price": 0}, f"limit_price {POSITIVE_PRICE}"),
        ({"step": 0}, "step must be positive"),
        ({"interval_us": 0}, "interval_us must be positive"),
        # a sale falls: a floor above the start is the wrong way
        ({"limit_price": 10_001}, "limit_price must lie in the direction the price moves"),
        # a procurement rises: a ceiling below the start is the wrong way
        ({"side": Side.PROCUREMENT}, "limit_price must lie in the direction the price moves"),
    ],
)
def test_dutch_problems(changes: dict[str, object], problem: str) -> None:
    assert dutch(**changes).problem() == problem


# -- SealedRules -------------------------------------------------------------------------


def sealed(**changes: object) -> SealedRules:
    return replace(SealedRules("EUR", START, END), **changes)  # type: ignore[arg-type]


def test_sealed_rules_are_sound() -> None:
    assert sealed().problem() is None
    assert (
        sealed(pricing=Pricing.SECOND_PRICE, start_price=100, reserve_price=500).problem() is None
    )
    assert sealed(side=Side.PROCUREMENT, scoring=Scoring.LCC).problem() is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"starts_at": -1}, "starts_at must not be negative"),
        ({"ends_at": START}, "ends_at must be after starts_at"),
        ({"start_price": 0}, f"start_price {POSITIVE_PRICE}"),
        ({"reserve_price": -1}, f"reserve_price {POSITIVE_PRICE}"),
        ({"scoring": Scoring.MEAT}, "scoring applies to procurements only"),
    ],
)
def test_sealed_problems(changes: dict[str, object], problem: str) -> None:
    assert sealed(**changes).problem() == problem


# -- MultiRoundRules ---------------------------------------------------------------------


def multiround(**changes: object) -> MultiRoundRules:
    rules = MultiRoundRules("EUR", START, turn_us=120 * S, step=Step(amount=100))
    return replace(rules, **changes)  # type: ignore[arg-type]


def test_multiround_rules_are_sound() -> None:
    assert multiround().problem() is None
    assert multiround(rounds=1, pause_us=0).problem() is None
    assert multiround(rounds=100, start_price=10_000, scoring=Scoring.MEAT).problem() is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"max_amount": -1}, "max_amount must be positive"),
        ({"start_price": 0}, f"start_price {POSITIVE_PRICE}"),
        ({"turn_us": 0}, "turn_us must be positive"),
        ({"pause_us": -1}, "pause_us must not be negative"),
        ({"rounds": 0}, "rounds must be between 1 and 100"),
        ({"rounds": 101}, "rounds must be between 1 and 100"),
        (
            {"step": Step(amount=1, percent=Decimal(1))},
            "give step.amount or step.percent, not both",
        ),
    ],
)
def test_multiround_problems(changes: dict[str, object], problem: str) -> None:
    assert multiround(**changes).problem() == problem


# -- the engine refuses unsound rules --------------------------------------------------------


def test_create_auction_with_unsound_rules_is_rejected_with_the_problem() -> None:
    auction = Auction()
    [event] = auction.handle(CreateAuction("c1", 0, english(step=Step())))
    assert isinstance(event, CommandRejected)
    assert event.reason is Reason.INVALID_RULES
    assert event.detail == "step.amount must be positive"
    assert auction.rules is None
