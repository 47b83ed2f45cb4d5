"""Worked examples for engine.money: decimal amounts to integer minor units, and back."""

from __future__ import annotations

import doctest
import time
from decimal import Decimal

import pytest

import engine.money
from engine.money import CURRENCIES, format_minor, minor_units, to_minor
from engine.reasons import Reason

LIMIT = 10**15


def minor(amount: str, currency: str = "EUR", limit: int = LIMIT) -> int | Reason:
    return to_minor(Decimal(amount), currency, limit)


def test_doctests() -> None:
    assert doctest.testmod(engine.money).failed == 0


# -- accepted amounts ------------------------------------------------------------------


def test_euro_amount_becomes_cents() -> None:
    # 12.50 EUR × 100 cents = 1250
    assert minor("12.50") == 1250


def test_euro_amount_with_fewer_decimals_than_allowed() -> None:
    # 7 EUR = 700 cents; 7.5 EUR = 750 cents
    assert minor("7") == 700
    assert minor("7.5") == 750


def test_trailing_zeros_beyond_the_currency_decimals_are_accepted() -> None:
    # 12.500 has three decimals, but the third is a zero: still 1250 cents
    assert minor("12.500") == 1250


def test_many_trailing_zeros_are_accepted() -> None:
    # 12.5 followed by 33 zeros (36 significant digits) is still exactly 1250 cents
    assert minor("12.5" + "0" * 33) == 1250


def test_trailing_zeros_beyond_forty_digits_are_accepted() -> None:
    # 12.5 followed by 45 zeros (48 digits): longer than any fast exact context, still 1250
    assert minor("12.5" + "0" * 45) == 1250


def test_trailing_zeros_beyond_sixty_places_are_accepted() -> None:
    # 12.5 followed by 100 zeros: only trailing zeros, still exactly 1250 cents
    assert minor("12.5" + "0" * 100) == 1250


def test_a_hundred_thousand_trailing_zeros_are_accepted_and_cheap() -> None:
    amount = Decimal("1." + "0" * 100_000)
    began = time.perf_counter()
    # 1.000…0 with 10^5 zeros is 1 EUR = 100 cents; the work stays linear in the input
    assert to_minor(amount, "EUR", LIMIT) == 100
    assert time.perf_counter() - began < 0.5


def test_positive_exponent_is_a_whole_amount() -> None:
    # 1.5E+3 EUR = 1500 EUR = 150000 cents
    assert minor("1.5E+3") == 150_000


def test_smallest_unit_is_one_minor_unit() -> None:
    # 0.01 EUR = 1 cent
    assert minor("0.01") == 1


def test_yen_has_no_minor_unit() -> None:
    # JPY has 0 decimals: 1500 JPY = 1500 minor units
    assert minor("1500", "JPY") == 1500


def test_yen_accepts_a_zero_fraction() -> None:
    # 1500.0 JPY and 1500.00 JPY are both exactly 1500
    assert minor("1500.0", "JPY") == 1500
    assert minor("1500.00", "JPY") == 1500


def test_yen_rejects_any_real_fraction() -> None:
    # 1500.5 JPY would be half a yen
    assert minor("1500.5", "JPY") is Reason.TOO_MANY_DECIMALS


def test_kuwaiti_dinar_has_three_decimals() -> None:
    # 1.234 KWD × 1000 fils = 1234; 1.2340 has a trailing zero: still 1234
    assert minor("1.234", "KWD") == 1234
    assert minor("1.2340", "KWD") == 1234


def test_kuwaiti_dinar_rejects_a_fourth_decimal() -> None:
    # 1.2345 KWD would be 1234.5 fils
    assert minor("1.2345", "KWD") is Reason.TOO_MANY_DECIMALS


def test_chilean_unit_of_account_has_four_decimals() -> None:
    # 1.2345 CLF × 10^4 = 12345
    assert minor("1.2345", "CLF") == 12_345


def test_amount_equal_to_the_limit_is_accepted() -> None:
    # 10.00 EUR = 1000 cents, exactly the limit of 1000
    assert minor("10.00", limit=1000) == 1000


# -- refused amounts ------------------------------------------------------------------


def test_too_many_decimals_for_euro() -> None:
    # 12.505 EUR would be 1250.5 cents
    assert minor("12.505") is Reason.TOO_MANY_DECIMALS


def test_less_than_one_cent_is_too_many_decimals() -> None:
    # 0.001 EUR = 0.1 cent
    assert minor("0.001") is Reason.TOO_MANY_DECIMALS


def test_fraction_of_a_cent_far_to_the_right_is_too_many_decimals() -> None:
    # 1 + 10^-43 EUR (44 digits): past any fast path, still not a whole number of cents
    assert minor("1." + "0" * 42 + "1") is Reason.TOO_MANY_DECIMALS
    # 10^-43 EUR alone is a tiny non-zero amount, not zero
    assert minor("0." + "0" * 42 + "1") is Reason.TOO_MANY_DECIMALS


@pytest.mark.parametrize("text", ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity"])
def test_special_values_are_invalid(text: str) -> None:
    assert minor(text) is Reason.AMOUNT_INVALID


@pytest.mark.parametrize("value", [5, 5.0, "5", None])
def test_anything_but_a_decimal_is_invalid(value: object) -> None:
    assert to_minor(value, "EUR", LIMIT) is Reason.AMOUNT_INVALID  # type: ignore[arg-type]


def test_decimal_subclass_is_invalid() -> None:
    class Sneaky(Decimal):
        pass

    # Only exact Decimals are amounts; a subclass may change arithmetic behind our back.
    assert to_minor(Sneaky("5"), "EUR", LIMIT) is Reason.AMOUNT_INVALID


def test_negative_amount() -> None:
    assert minor("-1.00") is Reason.AMOUNT_NEGATIVE


def test_negative_is_reported_before_too_many_decimals() -> None:
    # -0.001 EUR is wrong twice; the sign is the more fundamental problem
    assert minor("-0.001") is Reason.AMOUNT_NEGATIVE


def test_negative_is_reported_before_too_large() -> None:
    assert minor("-1E+100") is Reason.AMOUNT_NEGATIVE


def test_long_negative_amount() -> None:
    # 45 significant digits, negative
    assert minor("-1." + "1" * 44) is Reason.AMOUNT_NEGATIVE


@pytest.mark.parametrize("text", ["0", "0.00", "-0", "0E+10", "0E-100"])
def test_zero_in_any_spelling(text: str) -> None:
    assert minor(text) is Reason.AMOUNT_ZERO


def test_one_minor_unit_over_the_limit() -> None:
    # 10.01 EUR = 1001 cents > limit 1000
    assert minor("10.01", limit=1000) is Reason.AMOUNT_TOO_LARGE


def test_too_large_is_reported_before_too_many_decimals() -> None:
    # 10.005 EUR = 1000.5 cents: both above the 1000 limit and a fraction of a cent
    assert minor("10.005", limit=1000) is Reason.AMOUNT_TOO_LARGE


def test_the_spelling_of_an_amount_does_not_change_the_reason() -> None:
    # the same 1000.5 cents written with 45 digits takes the long path: same answer
    assert minor("10.005" + "0" * 40, limit=1000) is Reason.AMOUNT_TOO_LARGE
    # and 1000.5 cents under a higher limit is only a fraction of a cent
    assert minor("10.005" + "0" * 40, limit=2000) is Reason.TOO_MANY_DECIMALS


def test_default_limit_of_ten_trillion_euro() -> None:
    # 10^13 EUR = 10^15 cents = LIMIT: accepted; one cent more is too large
    assert minor("10000000000000") == 10**15
    assert minor("10000000000000.01") is Reason.AMOUNT_TOO_LARGE


def test_long_amount_over_the_limit() -> None:
    # 20 nines and 25 zero decimals (45 digits): 9.99…×10^19 EUR ≈ 10^22 cents > 10^15
    assert minor("9" * 20 + "." + "0" * 25) is Reason.AMOUNT_TOO_LARGE


def test_huge_exponent_is_too_large_and_cheap() -> None:
    began = time.perf_counter()
    # 10^1000000 EUR: the engine must not build a million-digit integer to say no
    assert minor("1E+1000000") is Reason.AMOUNT_TOO_LARGE
    assert minor("9.99E+999999999") is Reason.AMOUNT_TOO_LARGE
    assert time.perf_counter() - began < 0.5


def test_tiny_exponent_is_too_many_decimals_and_cheap() -> None:
    began = time.perf_counter()
    # 10^-1000000 EUR: a fraction of a cent, refused without building 10^1000000
    assert minor("1E-1000000") is Reason.TOO_MANY_DECIMALS
    assert minor("1E-999999999") is Reason.TOO_MANY_DECIMALS
    assert time.perf_counter() - began < 0.5


# -- currencies and formatting ----------------------------------------------------------


def test_minor_units_per_currency() -> None:
    assert minor_units("EUR") == 2
    assert minor_units("JPY") == 0
    assert minor_units("KWD") == 3
    assert minor_units("CLF") == 4
    assert CURRENCIES["UAH"] == 2


def test_minor_units_of_unknown_currency() -> None:
    with pytest.raises(KeyError):
        minor_units("XXX")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1250, "EUR", "12.50"),  # 1250 cents = 12 EUR and 50 cents
        (5, "EUR", "0.05"),  # 5 cents: the fraction is zero-padded to two digits
        (0, "EUR", "0.00"),
        (-1250, "EUR", "-12.50"),
        (-5, "EUR", "-0.05"),  # the sign survives a zero whole part
        (1500, "JPY", "1500"),  # no minor unit, no decimal point
        (-1500, "JPY", "-1500"),
        (1234, "KWD", "1.234"),  # 1234 fils = 1 dinar and 234 fils
        (7, "KWD", "0.007"),
        (12_345, "CLF", "1.2345"),
    ],
)
def test_format_minor(amount: int, currency: str, text: str) -> None:
    assert format_minor(amount, currency) == text


@pytest.mark.parametrize(
    ("text", "currency"), [("12.50", "EUR"), ("0.01", "EUR"), ("1500", "JPY"), ("1.234", "KWD")]
)
def test_format_minor_inverts_to_minor(text: str, currency: str) -> None:
    amount = to_minor(Decimal(text), currency, LIMIT)
    assert isinstance(amount, int)
    assert format_minor(amount, currency) == text
