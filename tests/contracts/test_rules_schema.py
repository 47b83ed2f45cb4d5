"""The published schemas of the rules and of a tender's creation body agree with the
parsers: every rules body the tests, the scripted scenarios, the demo and the docs send is
valid, every body the server refuses for its shape is refused by the schema too, and the
OpenAPI document carries them (no more ``{type: object}``)."""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from api.http.openapi import openapi_document
from api.tenders.bodies import tender_spec
from api.tenders.errors import TenderError
from bidders_sim.scripted import scenarios
from contracts.rules_json import FORMATS, RulesError, rules_from_json, rules_to_json
from contracts.rules_schema import (
    FIELD_DESCRIPTIONS,
    create_auction_schema,
    rules_components,
    tender_create_schema,
)
from engine.rules import MultiRoundRules, Step

ROOT = Path(__file__).resolve().parents[2]
T = 1_800_000_000_000_000
_URI = "urn:gavel:openapi"
#: Every name a rules object may hold.
_FIELDS = {"format"} | {f.name for cls in FORMATS.values() for f in dataclasses.fields(cls)}


def _validator(name: str) -> Draft202012Validator:
    """A validator of component ``name`` with every ``$ref`` of the document resolved."""
    document = openapi_document()
    registry: Registry[Any] = Registry().with_resource(
        _URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    schema = {"$ref": f"{_URI}#/components/schemas/{name}"}
    return Draft202012Validator(schema, registry=registry)


RULES = _validator("Rules")

# -- the bodies that are sent ----------------------------------------------------------

#: A valid stand-in for a value the source computes (``now + 60 * S``), by field name.
_STAND_INS: dict[str, Any] = {
    "starts_at": T,
    "ends_at": T + 600_000_000,
    "hard_close_at": T + 900_000_000,
    "window_us": 60_000_000,
    "extension_us": 60_000_000,
    "interval_us": 60_000_000,
    "turn_us": 60_000_000,
    "pause_us": 0,
    "rounds": 2,
    "currency": "EUR",
    "start_price": "1000.00",
    "reserve_price": "900.00",
    "limit_price": "500.00",
    "max_amount": "100000.00",
    "amount": "10.00",
    "percent": "1",
    "step": {"amount": "10.00"},
}


def _value(node: ast.expr, key: str) -> Any:
    if isinstance(node, ast.Dict):
        return _literal(node)
    try:
        return ast.literal_eval(node)
    except ValueError:
        if key == "step" and not isinstance(node, ast.Dict):
            return "50.00"  # a Dutch step is an amount; others are written as dicts
        return _STAND_INS[key]


def _literal(node: ast.Dict) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found[key.value] = _value(value, key.value)
    return found


def sent_rules() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every rules object written as a dict literal in the tests and the sources (values
    the source computes replaced by valid stand-ins), the scenarios' and the demo's rules
    on the wire, and the docs' examples."""
    for path in sorted([*ROOT.glob("tests/**/*.py"), *ROOT.glob("api/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Dict):
                continue
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            named = dict(zip(node.keys, node.values, strict=True))
            fmt = next(
                (
                    v
                    for k, v in named.items()
                    if isinstance(k, ast.Constant) and k.value == "format"
                ),
                None,
            )
            if {"format", "currency"} <= keys <= _FIELDS and isinstance(fmt, ast.Constant):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                yield where, _literal(node)
    for scenario in scenarios():
        yield f"scenario {scenario.name}", rules_to_json(scenario.rules)
    doc = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    for number, block in enumerate(re.findall(r"^```(?:gavel|json)\n(.*?)^```", doc, re.M | re.S)):
        lines = block.splitlines()
        end = next((i for i, line in enumerate(lines) if not line.startswith((" ", "{"))), None)
        yield f"docs/formats.md #{number}", json.loads("\n".join(lines[:end]))


_SENT = list(sent_rules())


def test_many_bodies_are_found() -> None:
    assert len(_SENT) > 50
    assert {body.get("format") for _, body in _SENT} >= set(FORMATS)


@pytest.mark.parametrize(("where", "body"), _SENT, ids=[where for where, _ in _SENT])
def test_every_rules_body_sent_gets_the_same_verdict_from_schema_and_parser(
    where: str, body: dict[str, Any]
) -> None:
    errors = list(RULES.iter_errors(body))
    try:
        rules_from_json(body)
    except RulesError as error:
        if error.reason is None:  # refused for its shape: the schema refuses it too
            assert errors, (where, error)
        return
    assert not errors, (where, [e.message for e in errors])


def test_the_demo_auction_rules_are_valid() -> None:
    text = (ROOT / "api" / "demo.py").read_text(encoding="utf-8")
    assert "ReverseRules(" in text  # built in Python: its wire form is what the API shows
    from engine.rules import ReverseRules, SoftClose

    rules = ReverseRules(
        "EUR", T, T + 1_800_000_000, 10_000_000, Step(50_000), soft_close=SoftClose(1, 1)
    )
    assert not list(RULES.iter_errors(rules_to_json(rules)))


# -- shape refusals -----------------------------------------------------------------------


def _multiround() -> dict[str, Any]:
    return rules_to_json(MultiRoundRules("EUR", T, 60_000_000, Step(percent=None, amount=1000)))


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_what_the_parser_refuses_for_shape_the_schema_refuses(name: str) -> None:
    body = next(body for _, body in _SENT if body.get("format") == name and _parses(body))
    assert not list(RULES.iter_errors(body))
    bad: list[dict[str, Any]] = []
    for field, value in body.items():
        if field == "format":
            continue
        bad.append({k: v for k, v in body.items() if k != field})  # missing (or optional)
        wrong = 1.5 if isinstance(value, str) else "1"
        bad.append(body | {field: wrong})  # the wrong type
        bad.append(body | {field: [value]})
    bad += [body | {"extra": 1}, body | {"format": "auction"}, body | {"currency": "XYZ"}]
    for each in bad:
        try:
            rules_from_json(each)
        except RulesError as error:
            if error.reason is None:
                assert list(RULES.iter_errors(each)), (each, error)
            continue
        assert not list(RULES.iter_errors(each)), each


def _parses(body: dict[str, Any]) -> bool:
    try:
        rules_from_json(body)
    except RulesError:
        return False
    return True


# -- the schemas themselves -------------------------------------------------------------


def test_the_schemas_are_valid_and_every_field_is_described() -> None:
    components = rules_components()
    for schema in components.values():
        Draft202012Validator.check_schema(schema)
    used: set[str | tuple[str, str]] = set()
    for name, cls in FORMATS.items():
        schema = components[cls.__name__]
        assert schema["properties"]["format"]["const"] == name
        for field, prop in schema["properties"].items():
            assert prop["description"], (name, field)
            used.add((name, field) if (name, field) in FIELD_DESCRIPTIONS else field)
    used |= {"amount", "percent", "window_us", "extension_us", "hard_close_at"}
    assert set(FIELD_DESCRIPTIONS) == used  # no description of a field that is gone
    mapping = components["Rules"]["discriminator"]["mapping"]
    assert mapping == {name: f"#/components/schemas/{c.__name__}" for name, c in FORMATS.items()}


def test_the_openapi_document_carries_the_schemas() -> None:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    create_auction = {k: v for k, v in schemas["CreateAuction"].items() if k != "examples"}
    assert create_auction == create_auction_schema()
    for name, schema in rules_components().items():
        assert schemas[name] == schema
    assert "see contracts/" not in json.dumps(schemas)
    create = document["paths"]["/api/v1/auctions"]["post"]
    answer = create["responses"]["201"]["content"]["application/json"]["schema"]
    assert answer["properties"]["rules"] == {"$ref": "#/components/schemas/Rules"}
    tender = document["paths"]["/api/v1/tenders"]["post"]["requestBody"]["content"]
    schema = tender["application/json"]["schema"]
    assert {k: v for k, v in schema.items() if k != "examples"} == tender_create_schema()
    template = schema["properties"]["auction_rules"]
    assert template["required"] == ["format"]
    assert template["properties"]["format"] == schemas["MultiRoundRules"]["properties"]["format"]
    assert _validator("CreateAuction").is_valid({"rules": _multiround()})
    assert not _validator("CreateAuction").is_valid({"rules": {"format": "english"}})


# -- the tender's creation body ---------------------------------------------------------

TENDER = {
    "title": "Road repairs",
    "currency": "EUR",
    "officers": [{"id": "officer-1", "public_key": "09" * 32}],
    "threshold": 1,
    "lots": [{"id": "L1", "deadline": T, "opening_at": T + 1, "kinds": ["financial"]}],
    "publication": "public",
    "follow_up": "auction",
    "auction_rules": {"format": "multiround"},
    "criterion": "meat",
    "features": [{"name": "warranty", "weight": "0.1", "maximum": "1"}],
}


def test_tender_bodies_sent_are_valid() -> None:
    schema = tender_create_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    full = TENDER | {"auction_rules": _multiround()}
    for body in (TENDER, full, {k: v for k, v in TENDER.items() if k != "auction_rules"}):
        assert not list(validator.iter_errors(body)), body
        tender_spec(copy.deepcopy(body))


def test_tender_bodies_refused_for_shape_are_refused_by_the_schema() -> None:
    validator = Draft202012Validator(tender_create_schema())
    bad: list[dict[str, Any]] = [TENDER | {"extra": 1}]
    for field in ("title", "currency", "officers", "threshold", "lots"):
        bad.append({k: v for k, v in TENDER.items() if k != field})
    for field, wrong in (
        ("title", 5),
        ("title", ""),
        ("threshold", "1"),
        ("threshold", True),
        ("officers", []),
        ("officers", [{"id": "o1"}]),
        ("officers", [{"id": "o1", "public_key": "zz" * 32}]),
        ("lots", []),
        ("lots", [{"id": "L1", "deadline": 10**30, "opening_at": T}]),
        ("lots", [{"id": "L1", "deadline": T, "opening_at": T, "kinds": ["nope"]}]),
        ("lots", [{"id": "L 1", "deadline": T, "opening_at": T}]),
        ("publication", "everyone"),
        ("criterion", "cheapest"),
        ("features", "warranty"),
    ):
        bad.append(TENDER | {field: wrong})
    for body in bad:
        with pytest.raises(TenderError):
            tender_spec(copy.deepcopy(body))
        assert list(validator.iter_errors(body)), body
