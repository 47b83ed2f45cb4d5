"""Auction rules on the wire: JSON objects with decimal-string amounts, parsed exactly.

An officer's ``rules`` object names its ``format`` and gives the fields of the matching
rules class (``engine.rules``): amounts as decimal strings in major units of
``currency`` (``"1000.00"``), times and durations as integer microseconds (server
clock), percentages as decimal strings, enums by their value. For example::

    {"format": "english", "currency": "EUR", "starts_at": 1790000000000000,
     "ends_at": 1790000600000000, "start_price": "1000.00", "step": {"amount": "10.00"},
     "soft_close": {"window_us": 60000000, "extension_us": 60000000}}

Every time is within :data:`contracts.bounds.TIME` (2000-01-01 .. 2200-01-01), every
duration within :data:`~contracts.bounds.DURATION`, every other integer within its own
bound (:data:`BOUNDS`); amounts and percentages are plain decimal strings
(:mod:`contracts.decimal`: ``"1E+2"`` and ``" 12.5 "`` are refused, as everywhere).

``rules_from_json`` raises :class:`RulesError` naming the offending field;
``rules_to_json`` is its inverse. Both are O(fields). ``rules_schema`` is the JSON
Schema of what ``rules_from_json`` takes, built from the same tables: the OpenAPI
document publishes it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from decimal import Decimal
from enum import Enum
from typing import Any

from contracts.bounds import DECIMAL, DURATION, PAUSE, TIME, Bound
from contracts.decimal import PlainDecimalError, parse_plain
from engine.money import CURRENCIES, format_minor, refusal, to_minor
from engine.reasons import Reason
from engine.rules import (
    DEFAULT_MAX_AMOUNT,
    AuctionRules,
    DutchRules,
    EnglishRules,
    MultiRoundRules,
    ReverseRules,
    SealedRules,
    SoftClose,
    Step,
)

__all__ = ["BOUNDS", "FORMATS", "RulesError", "rules_from_json", "rules_schema", "rules_to_json"]

#: Wire name of each format.
FORMATS: dict[str, type[Any]] = {
    "english": EnglishRules,
    "reverse": ReverseRules,
    "dutch": DutchRules,
    "sealed": SealedRules,
    "multiround": MultiRoundRules,
}
_NAMES = {cls: name for name, cls in FORMATS.items()}

#: Fields holding money (minor units inside, decimal strings outside).
_MONEY = frozenset({"start_price", "reserve_price", "limit_price", "max_amount", "amount"})
#: The bound of every integer field that is not money, by field name (a test checks that
#: every format's integers are covered).
BOUNDS: dict[str, Bound] = {
    "starts_at": TIME,
    "ends_at": TIME,
    "hard_close_at": TIME,
    "window_us": DURATION,
    "extension_us": DURATION,
    "interval_us": DURATION,
    "turn_us": DURATION,
    "pause_us": PAUSE,
    "rounds": Bound(minimum=1, maximum=100, description="rounds of turns, 1..100"),
}


class RulesError(ValueError):
    """The rules object is malformed; ``field`` names where.

    ``reason`` is set when the value is well formed but not an acceptable amount
    (``amount_negative``, ``too_many_decimals``, ``amount_too_large``): the same
    reasons, and codes, as a bid with that amount gets.
    """

    def __init__(self, field: str, detail: str, reason: Reason | None = None) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail
        self.reason = reason


def rules_from_json(data: Any) -> AuctionRules:
    """Parse a rules object. Raises :class:`RulesError`."""
    if not isinstance(data, dict):
        raise RulesError("rules", "must be an object")
    name = data.get("format")
    cls = FORMATS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise RulesError("rules.format", f"must be one of {sorted(FORMATS)}")
    currency = data.get("currency")
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise RulesError("rules.currency", "must be an ISO 4217 code")
    fields = {key: value for key, value in data.items() if key != "format"}
    return typing.cast(AuctionRules, _object(cls, fields, currency, "rules"))


def rules_to_json(rules: AuctionRules) -> dict[str, Any]:
    """The wire form of ``rules`` (amounts as decimal strings)."""
    data = _dump(rules, rules.currency)
    assert isinstance(data, dict)
    data["format"] = _NAMES[type(rules)]
    return data


def _object(cls: type[Any], data: Any, currency: str, path: str) -> Any:
    if not isinstance(data, dict):
        raise RulesError(path, "must be an object")
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise RulesError(f"{path}.{sorted(unknown)[0]}", "unknown field")
    values: dict[str, Any] = {}
    for name, field in fields.items():
        where = f"{path}.{name}"
        if name not in data:
            if field.default is dataclasses.MISSING:
                raise RulesError(where, "is required")
            continue
        money = _is_money(cls, name)
        values[name] = _value(hints[name], data[name], currency, where, money, name)
    return cls(**values)


def _is_money(cls: type[Any], name: str) -> bool:
    if cls is DutchRules and name == "step":
        return True
    return name in _MONEY


def _value(hint: Any, raw: Any, currency: str, where: str, money: bool, name: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = [o for o in typing.get_args(hint) if o is not type(None)]
        if raw is None:
            if len(options) < len(typing.get_args(hint)):
                return None
            raise RulesError(where, "must not be null")
        return _value(options[0], raw, currency, where, money, name)
    if hint is int and money:
        return _money(raw, currency, where)
    if hint is int:
        if type(raw) is not int:
            raise RulesError(where, "must be an integer")
        wrong = BOUNDS[name].problem(raw)
        if wrong is not None:
            raise RulesError(where, wrong)
        return raw
    if hint is bool:
        if type(raw) is not bool:
            raise RulesError(where, "must be true or false")
        return raw
    if hint is str:
        if type(raw) is not str:
            raise RulesError(where, "must be a string")
        return raw
    if hint is Decimal:
        return _decimal(raw, where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(raw)
        except ValueError:
            choices = [member.value for member in hint]
            raise RulesError(where, f"must be one of {choices}") from None
    if hint is Step or hint is SoftClose:
        return _object(hint, raw, currency, where)
    raise RulesError(where, "unsupported field")  # pragma: no cover


def _decimal(raw: Any, where: str) -> Decimal:
    # The one plain-decimal grammar, as in request bodies and frames: no "1E+2", " 12.5 ".
    try:
        return parse_plain(raw)
    except PlainDecimalError as error:
        raise RulesError(where, error.detail) from None


def _money(raw: Any, currency: str, where: str) -> int:
    value = _decimal(raw, where)
    if not value:
        return 0  # a zero amount is for the rules' own check (a step of zero is invalid)
    limit = DEFAULT_MAX_AMOUNT * 1000
    minor = to_minor(value, currency, limit)
    if isinstance(minor, Reason):
        raise RulesError(where, refusal(minor, currency, limit), minor)
    return minor


def rules_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a rules object: one alternative per format,
    each naming its ``format``, with every field's type and bounds. What it cannot say
    (a window's end after its start, a step given once, a price the currency can hold)
    the engine checks: ``invalid_rules``, or the amount's own reason. O(fields)."""
    return {
        "description": "auction rules, see contracts/rules_json.py",
        "oneOf": [_format_schema(name, cls) for name, cls in FORMATS.items()],
    }


def _format_schema(name: str, cls: type[Any]) -> dict[str, Any]:
    schema = _object_schema(cls)
    schema["title"] = cls.__name__
    schema["properties"] = {"format": {"const": name}, **schema["properties"]}
    schema["required"] = ["format", *schema["required"]]
    return schema


def _object_schema(cls: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    return {
        "type": "object",
        "properties": {f.name: _field_schema(cls, f.name, hints[f.name]) for f in fields},
        "required": [f.name for f in fields if f.default is dataclasses.MISSING],
        "additionalProperties": False,
    }


def _field_schema(owner: type[Any], name: str, hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        (option,) = (o for o in typing.get_args(hint) if o is not type(None))
        return {"anyOf": [_field_schema(owner, name, option), {"type": "null"}]}
    if hint is int and _is_money(owner, name):
        return {"type": "string", **DECIMAL.schema(), "description": "an amount in major units"}
    if hint is int:
        return {"type": "integer", **BOUNDS[name].schema()}
    if hint is bool:
        return {"type": "boolean"}
    if hint is str:  # the currency, the only text field
        return {"type": "string", "enum": sorted(CURRENCIES)}
    if hint is Decimal:
        return {"type": "string", **DECIMAL.schema()}
    if isinstance(hint, type) and issubclass(hint, Enum):
        return {"type": "string", "enum": [member.value for member in hint]}
    return _object_schema(hint)  # Step or SoftClose


def _dump(value: Any, currency: str, name: str = "", owner: type[Any] | None = None) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        return {
            field.name: _dump(getattr(value, field.name), currency, field.name, cls)
            for field in dataclasses.fields(cls)
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if type(value) is int and owner is not None and _is_money(owner, name):
        return format_minor(value, currency)
    return value
