"""Rules on the wire: exact amounts, every format, bounded times, errors naming the field,
and a JSON Schema that says exactly what the parser takes."""

from __future__ import annotations

import dataclasses
import typing
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from contracts.bounds import MAX_DURATION_US, MAX_TIME_US, MIN_TIME_US
from contracts.rules_json import (
    BOUNDS,
    FORMATS,
    RulesError,
    rules_from_json,
    rules_schema,
    rules_to_json,
)
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

T = 1_800_000_000_000_000  # 2027-01-15, in microseconds
EXAMPLES = [
    EnglishRules("EUR", T, T + 100, 100_000, Step(1_000), 150_000, SoftClose(10, 10, T + 200)),
    ReverseRules(
        "UAH",
        T,
        T + 100,
        5_000_000,
        Step(percent=Decimal("0.5")),
        Improvement.BEAT_OWN,
        Scoring.MEAT,
    ),
    DutchRules("JPY", T, 10_000, 100, 5, 5_000, Side.SALE),
    SealedRules(
        "KWD", T, T + 100, Pricing.SECOND_PRICE, Side.PROCUREMENT, 9_999, None, Scoring.LCC
    ),
    MultiRoundRules("AZN", T, 60, Step(500), 3, 10, 1_000_000, Scoring.NONE),
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
        "starts_at": T,
        "ends_at": T + 100,
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


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starts_at": 10**30}, "rules.starts_at"),
        ({"starts_at": -1}, "rules.starts_at"),
        ({"starts_at": MIN_TIME_US - 1}, "rules.starts_at"),
        ({"ends_at": MAX_TIME_US + 1}, "rules.ends_at"),
        ({"soft_close": {"window_us": 0, "extension_us": 1}}, "rules.soft_close.window_us"),
        (
            {"soft_close": {"window_us": 1, "extension_us": MAX_DURATION_US + 1}},
            "rules.soft_close.extension_us",
        ),
        (
            {"soft_close": {"window_us": 1, "extension_us": 1, "hard_close_at": 10**30}},
            "rules.soft_close.hard_close_at",
        ),
    ],
)
def test_times_and_durations_are_bounded(changes: dict[str, Any], field: str) -> None:
    """Issue 12, item 5: a time of 10**30 passed the engine and broke /ocds; now the wire
    refuses every time outside 2000-01-01..2200-01-01 and every duration outside
    1 µs..366 days, naming the field."""
    with pytest.raises(RulesError) as caught:
        rules_from_json(base(**changes))
    assert caught.value.field == field
    assert caught.value.reason is None  # 422 invalid_field, the schema's own refusal


def test_the_bounds_themselves_are_accepted() -> None:
    assert rules_from_json(base(starts_at=MIN_TIME_US, ends_at=MAX_TIME_US)).ends_at == MAX_TIME_US
    multi = {**rules_to_json(EXAMPLES[4]), "pause_us": 0, "turn_us": MAX_DURATION_US}
    assert rules_from_json(multi).pause_us == 0
    for rounds in (0, 101):
        with pytest.raises(RulesError) as caught:
            rules_from_json({**multi, "rounds": rounds})
        assert caught.value.field == "rules.rounds"


@pytest.mark.parametrize(
    ("amount", "reason"),
    [("10.001", "too_many_decimals"), ("-5", "amount_negative"), ("1" * 30, "amount_too_large")],
)
def test_well_formed_amounts_the_currency_cannot_hold_carry_the_bid_reasons(
    amount: str, reason: str
) -> None:
    with pytest.raises(RulesError) as caught:
        rules_from_json(base(start_price=amount))
    assert (caught.value.field, caught.value.reason) == ("rules.start_price", reason)


@pytest.mark.parametrize(
    "amount", ["1e3", "1E+2", " 12.5 ", " 12", "12 ", "+1", ".5", "1.", "Infinity", "1" * 65, 12]
)
def test_amounts_are_plain_decimal_strings(amount: str) -> None:
    with pytest.raises(RulesError) as caught:
        rules_from_json(base(start_price=amount))
    assert caught.value.field == "rules.start_price" and caught.value.reason is None
    assert '"12.50"' in caught.value.detail  # contracts.decimal's words, as everywhere


#: Integer fields that hold money (decimal strings on the wire; Dutch ``step`` too).
_MONEY_FIELDS = {"start_price", "reserve_price", "limit_price", "max_amount", "amount", "step"}


def test_every_integer_field_has_a_bound() -> None:
    for cls in {*FORMATS.values(), Step, SoftClose}:
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            hint = hints[field.name]
            if int in (hint, *typing.get_args(hint)) and field.name not in _MONEY_FIELDS:
                assert field.name in BOUNDS, (cls.__name__, field.name)


def test_the_schema_takes_what_the_parser_takes() -> None:
    schema = rules_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for rules in EXAMPLES:
        jsonschema.validate(rules_to_json(rules), schema)
    wire = base(start_price="10.00")
    jsonschema.validate(wire, schema)
    # And refuses what the parser refuses for its form.
    for bad in (
        base(starts_at=10**30),
        base(start_price="1e3"),
        base(color="red"),
        base(ends_at=...),
        base(format="vickrey"),
        base(currency="XXX"),
        base(soft_close={"window_us": 0, "extension_us": 1}),
    ):
        assert not jsonschema.Draft202012Validator(schema).is_valid(bad), bad
        with pytest.raises(RulesError):
            rules_from_json(bad)
