"""Rules on the wire: exact amounts, every format, errors naming the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from contracts.rules_json import FORMATS, RulesError, rules_from_json, rules_to_json
from engine import (
    DutchRules,
    EnglishRules,
    Improvement,
    MultiRoundRules,
    Pricing,
    ReverseRules,
    Scoring,
    SealedRules,
    Side,
    SoftClose,
    Step,
)

EXAMPLES = [
    EnglishRules("EUR", 1, 100, 100_000, Step(1_000), 150_000, SoftClose(10, 10, 200)),
    ReverseRules(
        "UAH", 1, 100, 5_000_000, Step(percent=Decimal("0.5")), Improvement.BEAT_OWN, Scoring.MEAT
    ),
    DutchRules("JPY", 1, 10_000, 100, 5, 5_000, Side.SALE),
    SealedRules("KWD", 1, 100, Pricing.SECOND_PRICE, Side.PROCUREMENT, 9_999, None, Scoring.LCC),
    MultiRoundRules("AZN", 1, 60, Step(500), 3, 10, 1_000_000, Scoring.NONE),
]


@pytest.mark.parametrize("rules", EXAMPLES, ids=lambda rules: type(rules).__name__)
def test_every_format_round_trips(rules: Any) -> None:
    wire = rules_to_json(rules)
    assert wire["format"] in FORMATS
    assert rules_from_json(wire) == rules


def test_amounts_are_decimal_strings_in_the_currency() -> None:
    wire = rules_to_json(EXAMPLES[0])
    # 100_000 cents = "1000.00" EUR; the step 1_000 cents = "10.00"
    assert (wire["start_price"], wire["step"]["amount"]) == ("1000.00", "10.00")
    # JPY has no minor unit; KWD has three decimals
    assert rules_to_json(EXAMPLES[2])["start_price"] == "10000"
    assert rules_to_json(EXAMPLES[3])["start_price"] == "9.999"


def base(**changes: Any) -> dict[str, Any]:
    wire = {
        "format": "english",
        "currency": "EUR",
        "starts_at": 1,
        "ends_at": 100,
        "start_price": "10.00",
        "step": {"amount": "1.00"},
    }
    wire.update(changes)
    return {key: value for key, value in wire.items() if value is not ...}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], "rules"),
        (base(format="vickrey"), "rules.format"),
        (base(currency="XXX"), "rules.currency"),
        (base(color="red"), "rules.color"),
        (base(ends_at=...), "rules.ends_at"),
        (base(start_price=10), "rules.start_price"),
        (base(start_price="10.001"), "rules.start_price"),
        (base(start_price="ten"), "rules.start_price"),
        (base(start_price="NaN"), "rules.start_price"),
        (base(starts_at="1"), "rules.starts_at"),
        (base(allow_proxy="yes"), "rules.allow_proxy"),
        (base(step=[]), "rules.step"),
        (base(step={"percent": 5}), "rules.step.percent"),
        (base(soft_close={"window_us": 1}), "rules.soft_close.extension_us"),
        (base(start_price=None), "rules.start_price"),
        ({**base(), "format": "reverse", "improvement": "beat_nobody"}, "rules.improvement"),
    ],
)
def test_malformed_rules_name_the_field(data: Any, field: str) -> None:
    with pytest.raises(RulesError) as caught:
        rules_from_json(data)
    assert caught.value.field == field


def test_a_zero_step_amount_parses_so_the_engine_can_reject_it() -> None:
    rules = rules_from_json(base(step={"amount": "0"}))
    assert rules.step == Step(0)
    assert rules.problem() == "step.amount must be positive"
