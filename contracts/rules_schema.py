"""The published JSON Schemas (draft 2020-12) of the auction rules and of a tender's
creation body: what ``POST /api/v1/auctions`` and ``POST /api/v1/tenders`` take.

The types and bounds come from the declarations the server parses with: every rules
field's type, bound and required-ness from :func:`contracts.rules_json.rules_schema`
(itself built from :mod:`engine.rules` and :data:`contracts.rules_json.BOUNDS`), amounts
as plain decimal strings (:mod:`contracts.decimal`), times and durations within
:mod:`contracts.bounds`, enums from the engine's. This module adds what a reader needs:
one named schema per format (``EnglishRules`` ... ``MultiRoundRules``), ``Rules`` as
their ``oneOf`` with an OpenAPI ``discriminator`` on ``format``, and a sentence for every
field (:data:`FIELD_DESCRIPTIONS`; a test checks every field has one). What a schema
cannot say (an end after the start, a step given once, a price the currency can hold) the
engine checks and answers ``invalid_rules`` or the amount's own reason;
``docs/formats.md`` says what the rules mean, with worked examples.

:func:`tender_create_schema` is the body :func:`api.tenders.bodies.tender_spec` reads,
its ``auction_rules`` the multi-round template (``MultiRoundRules``' fields, all but
``format`` optional: the hand-off gives the auction's full rules). Every function is
O(fields).
"""

from __future__ import annotations

import copy
from typing import Any

from contracts.bounds import TENDER_IDENT, TIME
from contracts.rules_json import FORMATS, rules_schema
from engine.money import CURRENCIES
from engine.tender_records import (
    MAX_FEATURES,
    MAX_OFFICERS,
    Criterion,
    EnvelopeKind,
    FollowUp,
    Publication,
)

__all__ = [
    "FIELD_DESCRIPTIONS",
    "create_auction_schema",
    "rules_components",
    "tender_create_schema",
]

_REF = "#/components/schemas/"

#: What each rules field means, by field name; ``(format, field)`` where one format means
#: something else by it.
FIELD_DESCRIPTIONS: dict[str | tuple[str, str], str] = {
    "format": "the auction format; names which of the alternatives applies",
    "currency": "ISO 4217 code; every amount is in its major units",
    "starts_at": "when bidding opens",
    "ends_at": "the scheduled close (a soft close may move it later)",
    "start_price": "the least first bid of a sale, the budget ceiling of a procurement",
    ("dutch", "start_price"): "the first price on the clock",
    ("sealed", "start_price"): "the least bid of a sale, the ceiling of a procurement",
    ("multiround", "start_price"): "the budget ceiling, if any",
    "reserve_price": "below it (for a procurement: above it) there is no award",
    "step": "the minimum step: an amount, or a percent of the reference rounded up",
    ("dutch", "step"): "how much the clock price moves each interval, an amount",
    ("multiround", "step"): "how much a bid must improve the bidder's own offer",
    "soft_close": "a bid near the end moves the end later, up to hard_close_at",
    "allow_proxy": "whether bidders may set a secret proxy limit",
    "max_amount": "the largest amount a bid may name (default: 10**15 minor units)",
    "improvement": "beat_best: a step below the best bid; beat_own: below one's own",
    "scoring": (
        "none: by price; meat: price / (1 + coefficient); lcc: price + cost, the bidder's"
        " life-cycle cost, registered as cost, a decimal string in major units"
    ),
    ("sealed", "scoring"): "for procurements: none, meat or lcc, as in reverse auctions",
    "interval_us": "how long each clock price is offered",
    "limit_price": "the floor of a sale's clock, the ceiling of a procurement's",
    "side": "sale: the price is good high; procurement: good low",
    "pricing": "first_price: the winner pays its bid; second_price: the runner-up's",
    "turn_us": "the length of one bidder's exclusive turn",
    "rounds": "how many rounds of turns, worst offer first",
    "pause_us": "the pause between rounds",
    "amount": "an absolute step in major units",
    "percent": "a step as a percentage (0, 100] of the reference, rounded up",
    "window_us": "a bid accepted when at most this much time remains extends the end",
    "extension_us": "how much later the end moves (once per instant)",
    "hard_close_at": "the end never moves past this time",
}


def _describe(schema: dict[str, Any], name: str) -> None:
    for field, prop in schema["properties"].items():
        text = FIELD_DESCRIPTIONS.get((name, field)) or FIELD_DESCRIPTIONS[field]
        words = prop.get("description")
        prop["description"] = f"{text} ({words})" if words else text
        for option in prop.get("anyOf", [prop]):
            if option.get("type") == "object":
                _describe(option, name)


def _alternatives() -> dict[str, dict[str, Any]]:
    """Each format's schema, by the rules class's name, with every field described."""
    found: dict[str, dict[str, Any]] = {}
    for (name, cls), schema in zip(FORMATS.items(), rules_schema()["oneOf"], strict=True):
        assert schema["title"] == cls.__name__
        _describe(schema, name)
        schema["description"] = (cls.__doc__ or "").strip().splitlines()[0]
        found[cls.__name__] = schema
    return found


def rules_components() -> dict[str, dict[str, Any]]:
    """The OpenAPI components of the rules: ``Rules`` (a ``oneOf`` discriminated by
    ``format``) and one schema per format, named by its rules class."""
    alternatives = _alternatives()
    names = {name: cls.__name__ for name, cls in FORMATS.items()}
    rules = {
        "description": "auction rules: one alternative per format, named by its format "
        "(see docs/formats.md); times and durations in microseconds, amounts as decimal "
        "strings in major units of the currency",
        "oneOf": [{"$ref": f"{_REF}{title}"} for title in names.values()],
        "discriminator": {
            "propertyName": "format",
            "mapping": {name: f"{_REF}{title}" for name, title in names.items()},
        },
    }
    return {"Rules": rules, **alternatives}


def create_auction_schema() -> dict[str, Any]:
    """The body of ``POST /api/v1/auctions``: an optional id and the rules."""
    return {
        "type": "object",
        "required": ["rules"],
        "additionalProperties": False,
        "properties": {
            "id": {
                "anyOf": [
                    {"type": "string", "pattern": "^[A-Za-z0-9._-]{0,100}$"},
                    {"type": "null"},
                ],
                "description": "1-100 characters of letters, digits, '-', '_' or '.'; "
                "empty or null: the server picks one",
            },
            "rules": {"$ref": f"{_REF}Rules"},
        },
    }


def _template() -> dict[str, Any]:
    """``MultiRoundRules``' schema with only ``format`` required."""
    schema = copy.deepcopy(_alternatives()["MultiRoundRules"])
    schema["required"] = ["format"]
    schema["title"] = "MultiRoundTemplate"
    schema["description"] = (
        "the multi-round rules the lot's auction is meant to run with (recorded as given; "
        "the hand-off names the auction's rules)"
    )
    return schema


def _closed(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def tender_create_schema() -> dict[str, Any]:
    """The body of ``POST /api/v1/tenders`` (:func:`api.tenders.bodies.tender_spec`)."""
    ident = {"type": "string", **TENDER_IDENT.schema()}
    text = {"type": "string", "minLength": 1, "maxLength": 200}
    time = {"type": "integer", **TIME.schema()}
    number = {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$", "maxLength": 40}
    kinds = [kind.value for kind in EnvelopeKind]
    return _closed(
        ["title", "currency", "officers", "threshold", "lots"],
        {
            "id": ident | {"description": "the tender's id; absent: the server picks one"},
            "title": text,
            "currency": {"type": "string", "enum": sorted(CURRENCIES)},
            "officers": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_OFFICERS,
                "description": "the opening committee, each with its X25519 public key",
                "items": _closed(
                    ["id", "public_key"],
                    {"id": ident, "public_key": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}},
                ),
            },
            "threshold": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_OFFICERS,
                "description": "how many officers' shares open an envelope (at most officers)",
            },
            "lots": {
                "type": "array",
                "minItems": 1,
                "items": _closed(
                    ["id", "deadline", "opening_at"],
                    {
                        "id": ident,
                        "title": {"type": "string"},
                        "deadline": time,
                        "opening_at": time,
                        "kinds": {
                            "type": "array",
                            "items": {"type": "string", "enum": kinds},
                            "minItems": 1,
                            "uniqueItems": True,
                            "description": "the envelopes each bidder seals (default financial)",
                        },
                    },
                ),
            },
            "publication": {"type": "string", "enum": [p.value for p in Publication]},
            "follow_up": {"type": "string", "enum": [f.value for f in FollowUp]},
            "auction_rules": _template(),
            "criterion": {"type": "string", "enum": [c.value for c in Criterion]},
            "features": {
                "type": "array",
                "maxItems": MAX_FEATURES,
                "items": _closed(
                    ["name", "weight", "maximum"],
                    {"name": text, "weight": number, "maximum": number},
                ),
            },
        },
    )
