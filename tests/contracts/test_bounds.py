"""The wire's ranges: one declaration, read by the parser and published by the schemas."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest

from contracts import http
from contracts.bounds import (
    DECIMAL,
    DURATION,
    IDENT,
    MAX_DURATION_US,
    MAX_TIME_US,
    MIN_TIME_US,
    PAUSE,
    TEXT,
    TIME,
    Bound,
)
from contracts.schema import json_schema


def test_the_time_range_is_2000_to_2200() -> None:
    assert datetime.fromtimestamp(MIN_TIME_US / 1e6, UTC) == datetime(2000, 1, 1, tzinfo=UTC)
    assert datetime.fromtimestamp(MAX_TIME_US / 1e6, UTC) == datetime(2200, 1, 1, tzinfo=UTC)
    # A time plus fifty of the longest durations stays where JavaScript counts exactly.
    assert MAX_TIME_US + 50 * MAX_DURATION_US < 2**53


@pytest.mark.parametrize(
    ("bound", "good", "bad"),
    [
        (TIME, [MIN_TIME_US, MAX_TIME_US], [MIN_TIME_US - 1, MAX_TIME_US + 1, 10**30, -1]),
        (DURATION, [1, MAX_DURATION_US], [0, -1, MAX_DURATION_US + 1]),
        (PAUSE, [0, MAX_DURATION_US], [-1, MAX_DURATION_US + 1]),
        (IDENT, ["a", "A-z_0.9", "x" * 100], ["", "x" * 101, "a b", "é", "a\n", "a/b"]),
        (TEXT, ["", "any text, é ✓"], ["nul\x00"]),
        (DECIMAL, ["0", "-12.50", "1" * 64], ["1e3", "+1", ".5", "1.", " 1", "١٢", "1" * 65]),
    ],
)
def test_each_bound_takes_its_range_and_refuses_the_rest(
    bound: Bound, good: list[Any], bad: list[Any]
) -> None:
    fragment = bound.schema()
    kind = "integer" if isinstance(good[0], int) else "string"
    validator = jsonschema.Draft202012Validator({"type": kind, **fragment})
    for value in good:
        assert bound.problem(value) is None, value
        assert validator.is_valid(value), value
    for value in bad:
        assert bound.problem(value) is not None, value
        # Python's re lets "$" match before a final newline; ECMA-262, which schema
        # validators and generators follow, does not. The parser uses fullmatch.
        if not (isinstance(value, str) and value.endswith("\n")):
            assert not validator.is_valid(value), value


def test_a_refusal_says_what_is_expected() -> None:
    assert TIME.problem(10**30) == (
        f"must be within {MIN_TIME_US}..{MAX_TIME_US} (microseconds since the Unix epoch, "
        "2000-01-01..2200-01-01 UTC)"
    )
    assert IDENT.problem("a b") == ("must be 1-100 characters of letters, digits, '-', '_' or '.'")
    assert Bound(minimum=1).problem(0) == "must be within 1..None"
    assert Bound(max_length=2).problem("abc") == "must be at most 2 characters"
    assert Bound(min_length=2).problem("a") == "must be at least 2 characters"
    assert Bound(pattern="a+").problem("b") == "is malformed"
    assert Bound(pattern="a+").schema() == {"pattern": "^(?:a+)$"}


def _leaves(hint: Any) -> list[Any]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return [leaf for arg in typing.get_args(hint) for leaf in _leaves(arg)]
    return [hint]


@pytest.mark.parametrize("name", http.__all__)
def test_every_text_and_integer_field_of_a_body_carries_a_bound(name: str) -> None:
    """What the parser takes beyond the type (an id's characters, no NUL, a range) is in
    the declaration, so the schema says it too."""
    cls = getattr(http, name)
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in dataclasses.fields(cls):
        for leaf in _leaves(hints[field.name]):
            if leaf in (str, int):
                pytest.fail(f"{name}.{field.name} is a bare {leaf.__name__}")


def test_body_schemas_publish_the_bounds() -> None:
    token = json_schema(http.TokenBody)
    assert token["properties"]["party"]["pattern"] == f"^(?:{IDENT.pattern})$"
    ttl = token["properties"]["ttl_s"]["anyOf"][0]
    assert (ttl["minimum"], ttl["maximum"]) == (0, 604_800)
    bid = json_schema(http.BidBody)
    assert bid["properties"]["amount"] == {
        "type": "string",
        "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
        "maxLength": 64,
    }
    assert bid["properties"]["currency"]["pattern"] == "^(?:[^\\u0000]*)$"
    jsonschema.Draft202012Validator.check_schema(token)
    # A body the schema takes, the parser takes (and the other way round), by example.
    validator = jsonschema.Draft202012Validator(token)
    for body in (
        {"role": "observer", "party": "press"},
        {"role": "bidder", "party": "p-1", "auction": "a-1", "ttl_s": 0},
        {"role": "x", "party": "p", "ttl_s": 604_800},
    ):
        assert validator.is_valid(body)
    for body in (
        {"role": "observer", "party": "a b"},
        {"role": "observer", "party": "p", "ttl_s": 604_801},
        {"role": "observer", "party": "p", "extra": 1},
    ):
        assert not validator.is_valid(body)
