"""Plain decimals: the one grammar of every decimal string the wire carries.

Amounts (a bid, a proxy limit, an accepted price, the rules' prices and steps), a
bidder's coefficient and cost, and the rules' percentages are JSON *strings* holding a
decimal in plain notation, never JSON numbers (no float ever touches money). Every place
that reads one reads it with :func:`parse_plain`: the HTTP bodies
(``api.http.problems.parse_body``), the websocket's ``bid``, ``proxy`` and ``accept``
frames (``api.live.ws``) and the rules objects (:mod:`contracts.rules_json`); the JSON
Schemas and the OpenAPI document publish the same :data:`PATTERN` and :data:`MAX_LENGTH`
(through :data:`contracts.bounds.DECIMAL`). So one string is valid everywhere or nowhere.

The grammar (RFC 5234 ABNF), matched against the whole string, of at most
:data:`MAX_LENGTH` (64) characters::

    plain-decimal = [ "-" ] 1*DIGIT [ "." 1*DIGIT ]
    DIGIT         = %x30-39            ; the ASCII digits "0".."9" only

Accepted: ``"0"``, ``"12"``, ``"12.50"``, ``"-3"``, ``"007.10"``, ``"-0.0"``.
Refused, and why (``decimal.Decimal`` alone would take most of them):

- an exponent, ``"1e3"``, ``"1E+2"``: one value, one spelling, and no ``"1E+999999"``
  that looks short and is not;
- whitespace anywhere, ``" 12.5 "``, ``"1 000"``: ``Decimal`` strips it, a JSON Schema
  pattern does not, so the two would disagree;
- a ``+`` sign, ``"+1"``: a sign is only ever there to say "negative";
- a bare point, ``".5"``, ``"5."``: digits on both sides, as in JSON numbers;
- ``"1_000"``, ``"1,5"``, non-ASCII digits (``"١٢"``): ``Decimal`` takes underscores and
  any Unicode digit, which no browser or schema validator reads as a number;
- ``"NaN"``, ``"sNaN"``, ``"Infinity"``, ``"-inf"``: not numbers at all;
- the empty string, ``"-"``, anything longer than 64 characters.

Why ``-`` is part of the grammar: the grammar says what a number is; whether a negative
one is acceptable is the field's rule (an amount is refused ``amount_negative``, the
engine's code for a bid of that amount). Leading zeros are kept for the same reason: the
value of ``"007.10"`` is not in doubt. This is exactly what the three parsers it replaces
(HTTP bodies, websocket frames, rules) all accepted when they were merged; a refusal is
answered with the code ``invalid_field`` over HTTP and over the websocket alike.

The exceptions of this module::

    PlainDecimalError (ValueError)      the text is not a plain decimal; .detail says why
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["EXAMPLE", "MAX_LENGTH", "PATTERN", "PlainDecimalError", "parse_plain"]

#: The longest plain decimal, in characters: 64 digits hold any amount with room to spare.
MAX_LENGTH = 64

#: The grammar as a regular expression, to be matched against the whole string. Written
#: in the subset ECMA-262 and Python read alike, so JSON Schemas can publish it as is.
PATTERN = "-?[0-9]+(\\.[0-9]+)?"

#: An example of a plain decimal, quoted as a client writes it in JSON.
EXAMPLE = '"12.50"'

_PLAIN = re.compile(PATTERN, re.ASCII)
_EXPECTED = (
    f"expected a decimal in plain notation as a JSON string, such as {EXAMPLE} "
    "(ASCII digits, an optional leading '-', an optional '.' between digits)"
)
_SPECIALS = frozenset({"nan", "snan", "inf", "infinity"})


class PlainDecimalError(ValueError):
    """``text`` is not a plain decimal; ``detail`` says what is wrong and what is expected.

    The detail never echoes the text (it may be 64 KiB of anything).
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def parse_plain(text: object) -> Decimal:
    """The exact value of the plain decimal ``text``; :class:`PlainDecimalError` if
    ``text`` is not a ``str`` in the grammar above (see the module docstring).

    Exact: ``Decimal`` keeps every digit and the exponent the text shows
    (``"12.50"`` gives ``Decimal('12.50')``), whatever the decimal context's precision.
    O(len(text)); a string over :data:`MAX_LENGTH` is refused in O(1).

    >>> parse_plain("12.50")
    Decimal('12.50')
    >>> parse_plain("1E+2")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    contracts.decimal.PlainDecimalError: has an exponent; expected a decimal ...
    """
    if type(text) is not str:
        raise PlainDecimalError(f"is not a string; {_EXPECTED}")
    if len(text) > MAX_LENGTH or _PLAIN.fullmatch(text) is None:
        raise PlainDecimalError(f"{_flaw(text)}; {_EXPECTED}")
    return Decimal(text)


def _flaw(text: str) -> str:
    """What makes ``text`` (not a plain decimal) wrong, in words: the first flaw found
    of a fixed list, most telling first. O(len(text))."""
    if len(text) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    if not text:
        return "is empty"
    if any(char.isspace() for char in text):
        return "holds whitespace"
    if not text.isascii():
        return "holds a character other than an ASCII digit, '-' or '.'"
    lowered = text.lower()
    if lowered.lstrip("+-") in _SPECIALS:
        return "is not a number"
    if "e" in lowered:
        return "has an exponent"
    if text.startswith("+"):
        return "has a '+' sign"
    return "is not in plain notation"
