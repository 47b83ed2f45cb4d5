"""Canonical JSON for events, commands and rules: the bytes that are stored, hashed and sent.

The canonical form of a record is UTF-8 JSON with object keys sorted, no insignificant
white space, and these encodings:

========================  ==================================================
Python value              JSON
========================  ==================================================
dataclass record          object with its fields plus ``"type"``: class name
``int``                   number (all amounts and times stay below 2**53)
``str``, ``bool``, None   string, ``true``/``false``, ``null``
``Decimal``               string, exactly as written (``"10.50"``)
``Fraction`` (a score)    string ``"numerator/denominator"`` (``"1000/1"``)
enum member               its string value
``tuple``                 array
========================  ==================================================

A field added to a record after logs were written is left out when ``None``
(``CommandRejected.bound``), so an old record's bytes stay canonical.
``decode_*`` accept exactly this form (unknown or missing fields, wrong types and
non-canonical JSON raise :class:`~engine.errors.MalformedRecord`), so
``encode(decode(b)) == b`` for every accepted ``b``. Encoding and decoding are O(size).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import Enum
from fractions import Fraction
from typing import Any, Union

from engine import commands as c
from engine import events as e
from engine import rules as r
from engine.errors import MalformedRecord

__all__ = [
    "decode_command",
    "decode_event",
    "dumps",
    "encode",
    "encode_command",
    "encode_event",
    "from_data",
    "to_data",
]

_EVENTS: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(e.Event)}
_COMMANDS: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(c.Command)}
_RECORDS: dict[str, type[Any]] = {
    **_EVENTS,
    **_COMMANDS,
    **{cls.__name__: cls for cls in typing.get_args(r.AuctionRules)},
    "Step": r.Step,
    "SoftClose": r.SoftClose,
    "Standing": e.Standing,
}


def to_data(value: Any) -> Any:
    """The JSON-ready form of ``value`` (dicts, lists, str, int, bool, None). O(size)."""
    kind = type(value)
    if kind is int or kind is str or kind is bool or value is None:
        return value
    if kind is Fraction:
        return f"{value.numerator}/{value.denominator}"
    if kind is Decimal:
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if kind is tuple or kind is list:
        return [to_data(item) for item in value]
    if dataclasses.is_dataclass(value):
        data = {field: to_data(getattr(value, field)) for field in _field_names(kind)}
        for field in _omissible(kind):
            if data[field] is None:
                del data[field]
        data["type"] = kind.__name__
        return data
    raise TypeError(f"no canonical form for {kind.__name__}")


def dumps(data: Any) -> bytes:
    """Canonical JSON bytes of JSON-ready ``data`` (as :func:`to_data` returns, or dicts
    and lists of it): keys sorted, no white space, UTF-8. O(size)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def encode(value: Any) -> bytes:
    """Canonical JSON bytes of a record. O(size)."""
    return dumps(to_data(value))


def encode_event(event: e.Event) -> bytes:
    """Canonical bytes of an event."""
    return encode(event)


def encode_command(command: c.Command) -> bytes:
    """Canonical bytes of a command."""
    return encode(command)


def decode_event(data: bytes) -> e.Event:
    """The event whose canonical bytes are ``data``; ``MalformedRecord`` otherwise."""
    return typing.cast(e.Event, _decode(data, _EVENTS))


def decode_command(data: bytes) -> c.Command:
    """The command whose canonical bytes are ``data``; ``MalformedRecord`` otherwise."""
    return typing.cast(c.Command, _decode(data, _COMMANDS))


def _decode(data: bytes, allowed: dict[str, type[Any]]) -> Any:
    try:
        tree = json.loads(data)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise MalformedRecord(f"not JSON: {error}") from None
    if not isinstance(tree, dict):
        raise MalformedRecord("not a known record type")
    record = _record(tree, allowed)
    try:
        canonical = encode(record)
    except UnicodeEncodeError:
        raise MalformedRecord("a string is not valid Unicode") from None
    if canonical != data:
        raise MalformedRecord("not in canonical form")
    return record


# ----------------------------------------------------------------------------- decoding


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(field.name for field in dataclasses.fields(cls))
    return names


def _omissible(cls: type[Any]) -> frozenset[str]:
    """The fields of ``cls`` left out of its canonical form when ``None``: those added to
    a record after logs were written (``metadata={"omit_none": True}``), so an old
    record's bytes, which lack them, stay canonical. Empty for almost every record."""
    names = _OMISSIBLE.get(cls)
    if names is None:
        fields = dataclasses.fields(cls)
        names = _OMISSIBLE[cls] = frozenset(f.name for f in fields if f.metadata.get("omit_none"))
    return names


_NAMES: dict[type[Any], tuple[str, ...]] = {}
_OMISSIBLE: dict[type[Any], frozenset[str]] = {}
_HINTS: dict[type[Any], dict[str, Any]] = {}


def _record(tree: Any, allowed: dict[str, type[Any]]) -> Any:
    if not isinstance(tree, dict):
        raise MalformedRecord("expected an object")
    kind = tree.get("type")
    cls = allowed.get(kind) if type(kind) is str else None
    if cls is None:
        raise MalformedRecord(f"unexpected record type {tree.get('type')!r}")
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    names = _field_names(cls)
    if set(tree) != {*names, "type"}:
        odd = set(tree) ^ {*names, "type"}
        if odd - _omissible(cls):
            raise MalformedRecord(f"{cls.__name__}: fields {sorted(odd)}")
        # Only omissible fields are missing: they take their default (None).
        names = tuple(name for name in names if name in tree)
    return cls(**{name: _value(hints[name], tree[name], name) for name in names})


def _value(hint: Any, raw: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        options = typing.get_args(hint)
        if raw is None and type(None) in options:
            return None
        records: list[type[Any]] = [o for o in options if isinstance(o, type) and _is_record(o)]
        if records:
            return _record(raw, {cls.__name__: cls for cls in records})
        if Fraction in options and isinstance(raw, str):
            return _fraction(raw, name)
        for option in options:
            if option is not type(None) and option is not Fraction:
                return _value(option, raw, name)
        raise MalformedRecord(f"{name}: no matching type")  # pragma: no cover
    if origin is tuple:
        if not isinstance(raw, list):
            raise MalformedRecord(f"{name}: expected an array")
        item = typing.get_args(hint)[0]
        return tuple(_value(item, entry, name) for entry in raw)
    decoder = _SCALARS.get(hint)
    if decoder is not None:
        return decoder(raw, name)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(raw)
        except ValueError:
            raise MalformedRecord(f"{name}: {raw!r} is not a {hint.__name__}") from None
    if isinstance(hint, type) and _is_record(hint):
        return _record(raw, {hint.__name__: hint})
    raise MalformedRecord(f"{name}: unsupported type {hint!r}")  # pragma: no cover


def _is_record(cls: type[Any]) -> bool:
    return dataclasses.is_dataclass(cls)


def _int(raw: Any, name: str) -> int:
    if type(raw) is not int:
        raise MalformedRecord(f"{name}: expected an integer")
    return raw


def _str(raw: Any, name: str) -> str:
    if type(raw) is not str:
        raise MalformedRecord(f"{name}: expected a string")
    return raw


def _bool(raw: Any, name: str) -> bool:
    if type(raw) is not bool:
        raise MalformedRecord(f"{name}: expected a boolean")
    return raw


def _decimal(raw: Any, name: str) -> Decimal:
    try:
        return Decimal(_str(raw, name))
    except InvalidOperation:
        raise MalformedRecord(f"{name}: not a decimal") from None


def _fraction(raw: str, name: str) -> Fraction:
    numerator, slash, denominator = raw.partition("/")
    try:
        value = Fraction(int(numerator), int(denominator))
    except (ValueError, ZeroDivisionError):
        raise MalformedRecord(f"{name}: not a fraction") from None
    if not slash or f"{value.numerator}/{value.denominator}" != raw:
        raise MalformedRecord(f"{name}: not a canonical fraction")
    return value


_SCALARS: dict[Any, Callable[[Any, str], Any]] = {
    int: _int,
    str: _str,
    bool: _bool,
    Decimal: _decimal,
}


def from_data(hint: Any, raw: Any, name: str) -> Any:
    """The value of type ``hint`` (``int``, ``int | None``, a score, a record or union of
    records, …) whose :func:`to_data` form is ``raw``; ``MalformedRecord`` naming
    ``name`` otherwise. For state kept outside records (:mod:`engine.snapshot`). O(size).
    """
    return _value(hint, raw, name)


def decode_as(data: bytes, kinds: tuple[type[Any], ...]) -> Any:
    """The record of one of ``kinds`` whose canonical bytes are ``data``. O(size).

    For record families kept outside this module (the tender's, in
    :mod:`engine.tender_records`); ``MalformedRecord`` as for :func:`decode_event`.
    """
    return _decode(data, {cls.__name__: cls for cls in kinds})
