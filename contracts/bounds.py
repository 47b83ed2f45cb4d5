"""The ranges the wire accepts, declared once: times, durations, identifiers, text, amounts.

Every time the API takes is an integer of microseconds since the Unix epoch (server
clock) within [:data:`MIN_TIME_US`, :data:`MAX_TIME_US`], 2000-01-01 to 2200-01-01 UTC:
an auction's ``starts_at``, ``ends_at`` and ``soft_close.hard_close_at``, a tender lot's
``deadline`` and ``opening_at`` (when created or rescheduled), the ``deadline`` an
envelope was sealed under (body or ``?deadline=``). Every duration (``window_us``,
``extension_us``, ``interval_us``, ``turn_us``) is within [1, :data:`MAX_DURATION_US`],
one year; ``pause_us`` may also be 0.

Why bounds at all: the engine only compares times, so a ``starts_at`` of 10**30 passed
it, was stored, and made every date formatter downstream fail (``/ocds`` answered 500).
Inside these bounds every time is a date any formatter can write, and a time plus
fifty of the longest durations still counts exactly in JavaScript (below 2**53).

A :class:`Bound` is both a check (:meth:`Bound.problem`) and a JSON Schema fragment
(:meth:`Bound.schema`), so the parser and the OpenAPI document read the same
declaration. Attach one to a field's type with ``typing.Annotated``::

    @dataclass(frozen=True, slots=True)
    class Body:
        party: Ident                      # Annotated[str, IDENT]

``api.http.problems.parse_body`` enforces it, ``contracts.schema.json_schema`` publishes it,
``contracts.rules_json`` applies the time and duration bounds to rules by field name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from contracts import decimal as plain

__all__ = [
    "DECIMAL",
    "DURATION",
    "IDENT",
    "MAX_DURATION_US",
    "MAX_TIME_US",
    "MIN_TIME_US",
    "PAUSE",
    "TENDER_IDENT",
    "TEXT",
    "TIME",
    "Bound",
    "Ident",
    "Text",
    "Time",
]


def _us(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000


#: The earliest time the API takes: 2000-01-01T00:00:00Z, in microseconds.
MIN_TIME_US = _us(2000)
#: The latest time the API takes: 2200-01-01T00:00:00Z, in microseconds.
MAX_TIME_US = _us(2200)
#: The longest duration the API takes: 366 days, in microseconds.
MAX_DURATION_US = 366 * 86_400 * 1_000_000


@dataclass(frozen=True, slots=True)
class Bound:
    """Limits on one wire value: an integer range, or a string's length and pattern.

    ``pattern`` is matched against the whole string (Python ``re.fullmatch``; the schema
    anchors it as ``^(?:pattern)$``), so write it in the subset of regular expressions
    that ECMA-262 and Python read alike: character classes, ``\\u`` escapes, counts.
    ``description`` says in words what the limits mean. O(1) to build.
    """

    minimum: int | None = None
    maximum: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    description: str = ""
    _compiled: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pattern is not None:
            object.__setattr__(self, "_compiled", re.compile(self.pattern))

    def problem(self, value: int | str) -> str | None:
        """What is wrong with ``value`` in words, or ``None`` when it is within bounds.

        An ``int`` is checked against the range, a ``str`` against length and pattern.
        O(len(value)).
        """
        if isinstance(value, int):
            low, high = self.minimum, self.maximum
            if (low is None or low <= value) and (high is None or value <= high):
                return None
            return f"must be within {low}..{high}" + (
                f" ({self.description})" if self.description else ""
            )
        if self.min_length is not None and len(value) < self.min_length:
            return f"must be at least {self.min_length} characters"
        if self.max_length is not None and len(value) > self.max_length:
            return f"must be at most {self.max_length} characters"
        if self._compiled is not None and self._compiled.fullmatch(value) is None:
            return f"must be {self.description}" if self.description else "is malformed"
        return None

    def schema(self) -> dict[str, Any]:
        """The JSON Schema keywords of these limits (merge them into the type's). O(1)."""
        keywords: dict[str, Any] = {}
        for name, value in (
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("minLength", self.min_length),
            ("maxLength", self.max_length),
        ):
            if value is not None:
                keywords[name] = value
        if self.pattern is not None:
            keywords["pattern"] = f"^(?:{self.pattern})$"
        if self.description:
            keywords["description"] = self.description
        return keywords


#: A point in time: microseconds since the epoch, 2000-01-01 .. 2200-01-01 UTC.
TIME = Bound(
    minimum=MIN_TIME_US,
    maximum=MAX_TIME_US,
    description="microseconds since the Unix epoch, 2000-01-01..2200-01-01 UTC",
)
#: A positive duration in microseconds, at most a year.
DURATION = Bound(minimum=1, maximum=MAX_DURATION_US, description="microseconds, 1..366 days")
#: A duration that may be zero (a pause between rounds).
PAUSE = Bound(minimum=0, maximum=MAX_DURATION_US, description="microseconds, 0..366 days")
#: An identifier (auction, party, bidder): what the routes check with ``_check_id``.
IDENT = Bound(
    pattern="[A-Za-z0-9._-]{1,100}",
    description="1-100 characters of letters, digits, '-', '_' or '.'",
)
#: An identifier in a tender's bodies and paths (tender, lot, officer, hand-off auction):
#: what :func:`api.tenders.bodies.text` checks with ``ident=True``.
TENDER_IDENT = Bound(
    pattern="[A-Za-z0-9._-]{1,200}",
    description="1-200 characters of letters, digits, '-', '_' or '.'",
)
#: Free text: anything but NUL, which PostgreSQL ``text`` cannot hold.
TEXT = Bound(pattern="[^\\u0000]*", description="any text without NUL characters")
#: An amount: a decimal in plain notation, as a JSON string ("12.50"), at most 64
#: characters; the grammar is :mod:`contracts.decimal`'s, which every reader parses with.
DECIMAL = Bound(
    max_length=plain.MAX_LENGTH,
    pattern=plain.PATTERN,
    description=f"a decimal in plain notation as a JSON string, such as {plain.EXAMPLE}",
)

Time = Annotated[int, TIME]
Ident = Annotated[str, IDENT]
Text = Annotated[str, TEXT]
