"""Money: ISO 4217 currencies and the conversion of bid amounts to integer minor units.

Amounts enter the engine as :class:`decimal.Decimal` and are held as ``int`` minor units
(cents, tiyn, kopiykas). Floats never appear. ``to_minor`` is O(1) and either returns the
minor-unit integer or the :class:`~engine.reasons.Reason` that rejects the amount.

>>> to_minor(Decimal("12.50"), "EUR", 10**15)
1250
>>> to_minor(Decimal("12.505"), "EUR", 10**15)
<Reason.TOO_MANY_DECIMALS: 'too_many_decimals'>
"""

from __future__ import annotations

from decimal import (
    Clamped,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Subnormal,
    Underflow,
)

from engine.reasons import Reason

__all__ = ["CURRENCIES", "minor_units", "refusal", "to_minor", "format_minor"]

_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
    "LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN "
    "NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES "
    "VED WST XCD YER ZAR ZMW ZWG"
)

#: ISO 4217 alphabetic code -> number of minor-unit digits.
CURRENCIES: dict[str, int] = {
    **{code: 0 for code in _EXPONENT_0.split()},
    **{code: 2 for code in _EXPONENT_2.split()},
    **{code: 3 for code in _EXPONENT_3.split()},
    **{code: 4 for code in _EXPONENT_4.split()},
}

_SCALE: dict[str, int] = {code: 10**exp for code, exp in CURRENCIES.items()}
_DIGITS = CURRENCIES
# Arithmetic that refuses to be inexact: any rounding, overflow or underflow raises.
_EXACT = Context(
    prec=40,
    Emax=40,
    Emin=-40,
    traps=[InvalidOperation, Inexact, Rounded, Overflow, Underflow, Subnormal, Clamped],
)


def minor_units(currency: str) -> int:
    """Number of decimal digits of ``currency``'s minor unit; ``KeyError`` if unknown."""
    return CURRENCIES[currency]


def to_minor(amount: Decimal, currency: str, limit: int) -> int | Reason:
    """Convert ``amount`` of ``currency`` to minor units, or say why it is unacceptable.

    The reasons, most fundamental first: not a finite ``Decimal`` (``amount_invalid``),
    negative, zero, above ``limit`` (``amount_too_large``), more decimals than the
    currency has (trailing zeros are fine: ``12.500`` EUR is 1250). ``currency`` must be a
    key of :data:`CURRENCIES` (the caller checked it). O(1) for amounts of up to 40
    significant digits; longer ones take an exact slow path bounded by their length.
    :func:`refusal` says a returned reason in words, for the rejection's ``detail``.
    """
    if type(amount) is not Decimal:
        return Reason.AMOUNT_INVALID
    try:
        # Exact by construction: the context traps any rounding, overflow or underflow.
        numerator, denominator = _EXACT.scaleb(amount, _DIGITS[currency]).as_integer_ratio()
    except (ArithmeticError, ValueError):
        return _to_minor_slowly(amount, currency, limit)
    if numerator <= 0:
        return Reason.AMOUNT_NEGATIVE if numerator else Reason.AMOUNT_ZERO
    if numerator > limit * denominator:
        return Reason.AMOUNT_TOO_LARGE
    if denominator != 1:
        return Reason.TOO_MANY_DECIMALS
    return numerator


def refusal(reason: Reason, currency: str, limit: int) -> str:
    """Why :func:`to_minor` refused an amount of ``currency`` under ``limit`` (minor
    units) with ``reason``, in words naming the bound: a rejection's ``detail``. O(1).

    >>> refusal(Reason.TOO_MANY_DECIMALS, "EUR", 10**15)
    'EUR amounts have at most 2 decimals'
    >>> refusal(Reason.AMOUNT_TOO_LARGE, "JPY", 10**9)
    'at most 1000000000 JPY'
    """
    if reason is Reason.TOO_MANY_DECIMALS:
        digits = CURRENCIES[currency]
        if not digits:
            return f"{currency} amounts have no decimals"
        return f"{currency} amounts have at most {digits} decimals"
    if reason is Reason.AMOUNT_TOO_LARGE:
        return f"at most {format_minor(limit, currency)} {currency}"
    if reason is Reason.AMOUNT_NEGATIVE:
        return "an amount must be positive, not negative"
    if reason is Reason.AMOUNT_ZERO:
        return "an amount must be positive, not zero"
    return "an amount must be a finite decimal"  # AMOUNT_INVALID, the only one left


def _to_minor_slowly(amount: Decimal, currency: str, limit: int) -> int | Reason:
    """``to_minor`` for what the fast path's context refused: specials and long numbers."""
    if not amount.is_finite():
        return Reason.AMOUNT_INVALID
    if amount < 0:
        return Reason.AMOUNT_NEGATIVE
    if not amount:
        return Reason.AMOUNT_ZERO
    # Bound both ends before exact integer arithmetic so an absurd exponent costs nothing.
    if amount.adjusted() > 20:
        return Reason.AMOUNT_TOO_LARGE
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # a finite amount
    # Trailing zeros are fine however many there are: drop them (linear in the input).
    kept = len(bytes(digits).rstrip(b"\0"))
    exponent += len(digits) - kept
    if exponent < -60:
        return Reason.TOO_MANY_DECIMALS
    numerator, denominator = Decimal((sign, digits[:kept], exponent)).as_integer_ratio()
    scaled = numerator * _SCALE[currency]
    # Compare before dividing, like the fast path: 1000.5 minor units is above a 1000 limit.
    if scaled > limit * denominator:
        return Reason.AMOUNT_TOO_LARGE
    minor, remainder = divmod(scaled, denominator)
    if remainder:
        return Reason.TOO_MANY_DECIMALS
    return minor


def format_minor(minor: int, currency: str) -> str:
    """Render minor units as a plain decimal string: ``format_minor(1250, "EUR") == "12.50"``."""
    exp = CURRENCIES[currency]
    if exp == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}"
