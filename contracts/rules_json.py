"""Auction rules on the wire: JSON objects with decimal-string amounts, parsed exactly.

An officer's ``rules`` object names its ``format`` and gives the fields of the matching
rules class (``engine.rules``): amounts as decimal strings in major units of
``currency`` (``"1000.00"``), times and durations as integer microseconds (server
clock), percentages as decimal strings, enums by their value. For example::

    {"format": "english", "currency": "EUR", "starts_at": 1790000000000000,
     "ends_at": 1790000600000000, "start_price": "1000.00", "step": {"amount": "10.00"},
     "soft_close": {"window_us": 60000000, "extension_us": 60000000}}

``rules_from_json`` raises :class:`RulesError` naming the offending field;
``rules_to_json`` is its inverse. Both are O(fields).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from engine.money import CURRENCIES, format_minor, to_minor
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

__all__ = ["FORMATS", "RulesError", "rules_from_json", "rules_to_json"]

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


class RulesError(ValueError):
    """The rules object is malformed; ``field`` names where."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


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
        values[name] = _value(hints[name], data[name], currency, where, money)
    return cls(**values)


def _is_money(cls: type[Any], name: str) -> bool:
    if cls is DutchRules and name == "step":
        return True
    return name in _MONEY


def _value(hint: Any, raw: Any, currency: str, where: str, money: bool) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = [o for o in typing.get_args(hint) if o is not type(None)]
        if raw is None:
            if len(options) < len(typing.get_args(hint)):
                return None
            raise RulesError(where, "must not be null")
        return _value(options[0], raw, currency, where, money)
    if hint is int and money:
        return _money(raw, currency, where)
    if hint is int:
        if type(raw) is not int:
            raise RulesError(where, "must be an integer")
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
    if type(raw) is not str:
        raise RulesError(where, "must be a decimal string")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise RulesError(where, "must be a decimal string") from None
    if not value.is_finite():
        raise RulesError(where, "must be finite")
    return value


def _money(raw: Any, currency: str, where: str) -> int:
    value = _decimal(raw, where)
    if not value:
        return 0  # a zero amount is for the rules' own check (a step of zero is invalid)
    minor = to_minor(value, currency, DEFAULT_MAX_AMOUNT * 1000)
    if isinstance(minor, Reason):
        raise RulesError(where, minor.value)
    return minor


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
