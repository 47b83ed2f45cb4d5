"""contracts.decimal: the plain-decimal grammar, checked against an oracle of its own."""

from __future__ import annotations

import doctest
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from contracts import decimal as plain
from contracts.bounds import DECIMAL
from contracts.decimal import MAX_LENGTH, PATTERN, PlainDecimalError, parse_plain
from contracts.schema import DECIMAL_PATTERN


def _is_plain(text: str) -> bool:
    """The grammar written out by hand, without a regular expression: the oracle."""
    digits = "0123456789"
    body = text[1:] if text.startswith("-") else text
    whole, point, fraction = body.partition(".")
    return (
        len(text) <= MAX_LENGTH
        and whole != ""
        and all(char in digits for char in whole)
        and (not point or (fraction != "" and all(char in digits for char in fraction)))
    )


#: Strings made of the characters that matter here, and now and then any other.
_NEAR = st.text(
    st.sampled_from("0123456789-+.eE _,\t\n\u00a0\u0663xnaNIfy") | st.characters(), max_size=70
)
_FINITE = st.decimals(allow_nan=False, allow_infinity=False)


def test_the_docstring_examples_hold() -> None:
    assert doctest.testmod(plain, raise_on_error=False).failed == 0


@given(_FINITE)
@example(Decimal("-0"))
@example(Decimal("1E+2"))
@example(Decimal("0.000"))
def test_every_finite_decimal_round_trips_through_its_plain_notation(value: Decimal) -> None:
    text = format(value, "f")  # plain notation, never an exponent
    assume(len(text) <= MAX_LENGTH)
    parsed = parse_plain(text)
    assert parsed == value
    assert format(parsed, "f") == text  # every digit and the sign kept, exactly


@given(st.from_regex(PATTERN, fullmatch=True).filter(lambda text: len(text) <= MAX_LENGTH))
def test_every_string_of_the_grammar_is_read_exactly(text: str) -> None:
    assert _is_plain(text)
    assert parse_plain(text) == Decimal(text)


@given(_NEAR)
@example("1E+2")
@example(" 12.5 ")
@example("1" * MAX_LENGTH)
@example("1" * (MAX_LENGTH + 1))
def test_accepted_exactly_when_the_grammar_says_so(text: str) -> None:
    if _is_plain(text):
        assert parse_plain(text) == Decimal(text)
    else:
        with pytest.raises(PlainDecimalError) as caught:
            parse_plain(text)
        assert '"12.50"' in caught.value.detail


_PLAIN_TEXT = st.from_regex(PATTERN, fullmatch=True).filter(lambda text: len(text) <= 40)


@given(_PLAIN_TEXT, st.sampled_from("eE"), st.sampled_from(["", "+", "-"]), st.integers(0, 999))
def test_an_exponent_is_refused(text: str, e: str, sign: str, power: int) -> None:
    _refused(f"{text}{e}{sign}{power}", "has an exponent")


@given(_PLAIN_TEXT, st.data())
def test_whitespace_anywhere_is_refused(text: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(text)))
    space = data.draw(st.sampled_from(" \t\n\r\u00a0\u2003\u3000"))
    _refused(text[:at] + space + text[at:], "holds whitespace")


@given(_PLAIN_TEXT, st.data())
def test_underscores_commas_and_foreign_digits_are_refused(text: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(1, len(text)))
    extra = data.draw(st.sampled_from(["_", ",", "\u0663", "\uff11", "\u0967"]))
    with pytest.raises(PlainDecimalError):
        parse_plain(text[:at] + extra + text[at:])


@pytest.mark.parametrize(
    ("text", "flaw"),
    [
        ("1E+2", "has an exponent"),
        ("1e5", "has an exponent"),
        (" 12.5 ", "holds whitespace"),
        ("+1", "has a '+' sign"),
        ("NaN", "is not a number"),
        ("sNaN", "is not a number"),
        ("-Infinity", "is not a number"),
        ("inf", "is not a number"),
        ("\u0661\u0662", "holds a character other than an ASCII digit"),
        ("", "is empty"),
        ("-", "is not in plain notation"),
        (".5", "is not in plain notation"),
        ("5.", "is not in plain notation"),
        ("1_000", "is not in plain notation"),
        ("--1", "is not in plain notation"),
        ("1" * (MAX_LENGTH + 1), f"is longer than {MAX_LENGTH} characters"),
    ],
)
def test_each_refusal_says_what_is_wrong(text: str, flaw: str) -> None:
    _refused(text, flaw)


@pytest.mark.parametrize("value", [12.5, 12, None, True, b"12", ["12"], Decimal("12")])
def test_only_a_string_is_read(value: Any) -> None:
    _refused(value, "is not a string")


def test_the_schemas_publish_the_same_grammar() -> None:
    published = (DECIMAL.pattern, DECIMAL.max_length, DECIMAL_PATTERN)
    assert published == (PATTERN, MAX_LENGTH, f"^{PATTERN}$")
    validator = jsonschema.Draft202012Validator({"type": "string", **DECIMAL.schema()})
    for text in ["0", "-12.50", "007.10", "1" * MAX_LENGTH]:
        assert validator.is_valid(text) and DECIMAL.problem(text) is None
    for text in ["1E+2", " 12.5 ", "+1", ".5", "NaN", "1" * (MAX_LENGTH + 1)]:
        assert not validator.is_valid(text) and DECIMAL.problem(text) is not None


def _refused(text: Any, flaw: str) -> None:
    with pytest.raises(PlainDecimalError) as caught:
        parse_plain(text)
    assert caught.value.detail.startswith(flaw), caught.value.detail
    assert str(caught.value) == caught.value.detail
