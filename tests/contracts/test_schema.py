"""JSON Schemas generated from the contract dataclasses: each kind of type hint, required
fields, the message tag, and every wire type in ``all_schemas``."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any

import jsonschema
import pytest

from contracts import http, messages
from contracts.bounds import DECIMAL, Bound
from contracts.schema import DECIMAL_PATTERN, all_schemas, json_schema


@dataclass(frozen=True, slots=True)
class Sample:
    """A sample message.

    Only the first line of the docstring becomes the description.
    """

    name: str
    count: int
    flag: bool
    amount: Decimal
    maybe: int | None
    extra: dict[str, Any]
    short: Annotated[str, Bound(max_length=3, pattern="[a-z]+", description="letters")]
    type: str = "sample"
    note: str = ""
    items: dict[str, Any] = field(default_factory=dict)


def test_each_kind_of_hint() -> None:
    schema = json_schema(Sample)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert (schema["title"], schema["description"]) == ("Sample", "A sample message.")
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    properties = schema["properties"]
    assert properties["name"] == {"type": "string"}
    assert properties["count"] == {"type": "integer"}
    assert properties["flag"] == {"type": "boolean"}
    assert properties["amount"] == {
        "type": "string",
        "pattern": DECIMAL_PATTERN,
        "maxLength": DECIMAL.max_length,
    }
    assert properties["maybe"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert properties["extra"] == {"type": "object"}
    assert properties["short"] == {
        "type": "string",
        "maxLength": 3,
        "pattern": "^(?:[a-z]+)$",
        "description": "letters",
    }
    # A str field named ``type`` with a default is the message's tag: a constant.
    assert properties["type"] == {"const": "sample"}


def test_required_are_the_fields_without_defaults_and_the_tag() -> None:
    required = json_schema(Sample)["required"]
    assert required == ["name", "count", "flag", "amount", "maybe", "extra", "short", "type"]


def test_the_schema_accepts_what_it_describes() -> None:
    schema = json_schema(Sample)
    jsonschema.Draft202012Validator.check_schema(schema)
    good = {
        "name": "n",
        "count": 1,
        "flag": True,
        "amount": "12.50",
        "maybe": None,
        "extra": {},
        "short": "abc",
        "type": "sample",
    }
    jsonschema.validate(good, schema)
    for bad in (
        {**good, "type": "other"},
        {**good, "amount": "1E+2"},
        {**good, "short": "abcd"},
        {**good, "unknown": 1},
        {key: value for key, value in good.items() if key != "name"},
    ):
        assert not jsonschema.Draft202012Validator(schema).is_valid(bad)


def test_a_hint_without_a_schema_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Listed:
        """Lists have no schema here."""

        values: list[int]

    with pytest.raises(TypeError, match="no JSON Schema for"):
        json_schema(Listed)


def test_decimal_pattern_is_the_contract_grammar_anchored() -> None:
    assert f"^{DECIMAL.pattern}$" == DECIMAL_PATTERN
    for text in ("12.50", "0", "-3.1"):
        assert re.fullmatch(DECIMAL_PATTERN, text)
    for text in ("1E+2", " 12.5 ", "12.", ".5", "+1"):
        assert not re.fullmatch(DECIMAL_PATTERN, text)


def test_all_schemas_names_every_wire_type_once() -> None:
    schemas = all_schemas()
    expected = [
        *(cls.__name__ for cls in messages.CLIENT_MESSAGES.values()),
        *(cls.__name__ for cls in messages.SERVER_MESSAGES.values()),
        *http.__all__,
    ]
    assert sorted(schemas) == sorted(set(expected))
    for name, schema in schemas.items():
        assert schema["title"] == name
        jsonschema.Draft202012Validator.check_schema(schema)
        assert dataclasses.is_dataclass(getattr(http, name, None) or _message(name)), (
            f"{name} is not a contract dataclass"
        )


def _message(name: str) -> type[Any]:
    every = [*messages.CLIENT_MESSAGES.values(), *messages.SERVER_MESSAGES.values()]
    (cls,) = [cls for cls in every if cls.__name__ == name]
    return cls
