"""JSON Schemas (draft 2020-12) generated from the contract dataclasses.

One function, :func:`json_schema`, turns a message or body class into its schema from
the type hints: ``str``, ``int``, ``bool``, ``Decimal`` (a JSON string holding a plain
decimal, :data:`contracts.bounds.DECIMAL`), ``T | None``, ``dict[str, Any]`` (an
object), ``Annotated[T, Bound]`` (``T``'s schema with the bound's limits: the same
declaration ``api.http.problems.parse_body`` enforces) and the ``type`` tag of protocol
messages (a ``const``). ``all_schemas()`` gives every wire type by name; ``gavel
schemas DIR`` writes them out, and a test checks the checked-in copies are current.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from decimal import Decimal
from typing import Any

from contracts import http, messages
from contracts.bounds import DECIMAL, Bound

__all__ = ["DECIMAL_PATTERN", "all_schemas", "json_schema"]

#: A plain decimal string: what amounts look like on the wire.
DECIMAL_PATTERN = f"^{DECIMAL.pattern}$"


def json_schema(cls: type[Any]) -> dict[str, Any]:
    """The JSON Schema of dataclass ``cls``: required fields are those without defaults."""
    hints = typing.get_type_hints(cls, include_extras=True)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in dataclasses.fields(cls):
        if field.name == "type" and isinstance(field.default, str):
            properties["type"] = {"const": field.default}
            required.append("type")
            continue
        properties[field.name] = _schema(hints[field.name])
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            required.append(field.name)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": cls.__name__,
        "description": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _schema(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(hint)
        schema = _schema(base)
        for bound in extras:
            if isinstance(bound, Bound):
                schema.update(bound.schema())
        return schema
    if origin is typing.Union or origin is types.UnionType:
        return {"anyOf": [_schema(option) for option in typing.get_args(hint)]}
    if hint is type(None):
        return {"type": "null"}
    if hint is str:
        return {"type": "string"}
    if hint is int:
        return {"type": "integer"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is Decimal:
        return {"type": "string", "pattern": DECIMAL_PATTERN, "maxLength": DECIMAL.max_length}
    if origin is dict:
        return {"type": "object"}
    raise TypeError(f"no JSON Schema for {hint!r}")  # pragma: no cover


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every wire type's schema, keyed by a file-friendly name."""
    classes: list[type[Any]] = [
        *messages.CLIENT_MESSAGES.values(),
        *messages.SERVER_MESSAGES.values(),
        *(getattr(http, name) for name in http.__all__),
    ]
    return {cls.__name__: json_schema(cls) for cls in classes}
