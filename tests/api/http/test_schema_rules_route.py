"""The auction rules' and the tender body's JSON Schemas served to the officer's create
forms (``GET /api/v1/schemas/rules.json``, ``/tender.json``, :mod:`api.http.app_assets`):
the OpenAPI document's own schemas with local references, accepting what the server
takes and refusing what it refuses; each route an operation of the document; and the
engine's ``invalid_rules`` refusal naming the field at fault (``field``), as a parse
refusal does, so the form shows it beside that field; a tender the engine refuses names
its field and JSON Pointer (``lots``, ``/lots/1/deadline``) too. On a real server.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from api.http.app_assets import rules_document, tender_document
from api.http.openapi import openapi_document
from api.http.pages import SEAL_CSP
from api.http.problems import rules_field
from api.http.schema_operations import openapi_paths
from contracts.rules_json import rules_from_json

if TYPE_CHECKING:
    from tests.api.conftest import Live

START = 1_790_000_000_000_000


def _reverse(**extra: Any) -> dict[str, Any]:
    return {
        "format": "reverse",
        "currency": "AZN",
        "starts_at": START,
        "ends_at": START + 600_000_000,
        "start_price": "1000.00",
        "step": {"amount": "10.00"},
        **extra,
    }


def _valid(document: dict[str, Any], value: Any) -> bool:
    return jsonschema.Draft202012Validator(document).is_valid(value)


def test_the_documents_are_the_openapi_schemas_with_local_references() -> None:
    components = openapi_document()["components"]["schemas"]
    rules = rules_document()
    text = json.dumps(rules)
    assert "#/components/" not in text
    assert set(rules["$defs"]) == {
        "Rules",
        "EnglishRules",
        "ReverseRules",
        "DutchRules",
        "SealedRules",
        "MultiRoundRules",
        "CreateAuction",
    }
    for name, schema in rules["$defs"].items():
        openapi = json.loads(
            json.dumps(components[name]).replace("#/components/schemas/", "#/$defs/")
        )
        openapi.pop("examples", None)  # the document's examples, not the contract
        assert openapi == schema, name
    tender = tender_document()["$defs"]["CreateTender"]
    create = openapi_document()["paths"]["/api/v1/tenders"]["post"]["requestBody"]
    assert {**create["content"]["application/json"]["schema"], "examples": None} == {
        **tender,
        "examples": None,
    }
    for document in (rules, tender_document()):
        jsonschema.Draft202012Validator.check_schema(document)


@pytest.mark.parametrize(
    ("rules", "ok"),
    [
        (_reverse(), True),
        (_reverse(soft_close={"window_us": 60_000_000, "extension_us": 120_000_000}), True),
        (_reverse(step={"percent": "0.5"}), True),
        (_reverse(step={"amount": "1e3"}), False),
        (_reverse(colour="red"), False),
        (_reverse(format="auction"), False),
        (_reverse(ends_at="soon"), False),
        ({**_reverse(), "format": "dutch"}, False),  # a Dutch clock has no ends_at
    ],
)
def test_the_rules_document_agrees_with_the_parser(rules: dict[str, Any], ok: bool) -> None:
    assert _valid(rules_document(), rules) is ok
    try:
        rules_from_json(rules)
        parsed = True
    except ValueError:
        parsed = False
    assert parsed is ok


def test_the_tender_document_takes_a_tender_and_refuses_a_bad_one() -> None:
    body = {
        "title": "Office chairs",
        "currency": "AZN",
        "officers": [{"id": "o1", "public_key": "ab" * 32}],
        "threshold": 1,
        "lots": [{"id": "lot-1", "deadline": START, "opening_at": START + 1}],
    }
    assert _valid(tender_document(), body)
    assert not _valid(tender_document(), {**body, "threshold": 0})
    assert not _valid(tender_document(), {**body, "lots": []})
    bad_key = [{"id": "o1", "public_key": "zz"}]
    assert not _valid(tender_document(), {**body, "officers": bad_key})


def test_the_routes_are_operations_of_the_openapi_document() -> None:
    document = openapi_document()
    for name, served in (("rules", rules_document()), ("tender", tender_document())):
        path = f"/api/v1/schemas/{name}.json"
        operation = document["paths"][path]["get"]
        assert operation == openapi_paths()[path]["get"]
        assert operation["operationId"] == f"schemas_{name}"
        assert "security" not in operation
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(served, answer)


def test_an_invalid_rules_sentence_names_its_field() -> None:
    rules = rules_from_json(_reverse())
    for detail, field in (
        ("step.amount must be positive", "rules.step.amount"),
        ("give step.amount or step.percent, not both", "rules.step.amount"),
        ("soft_close window and extension must be positive", "rules.soft_close"),
        ("soft_close.hard_close_at must not be before ends_at", "rules.soft_close.hard_close_at"),
        ("ends_at must be after starts_at", "rules.ends_at"),
        ("starts_at is before the time of creation", "rules.starts_at"),
        ("unknown currency 'XXX'", "rules.currency"),
    ):
        assert rules_field(rules, detail) == {"field": field}, detail
    assert rules_field(rules, "nothing to see") == {}


@pytest.mark.asyncio(loop_scope="module")
async def test_the_routes_serve_the_documents_and_invalid_rules_name_the_field(
    server: Live,
) -> None:
    for name, document in (("rules", rules_document()), ("tender", tender_document())):
        reply = await server.get(f"/api/v1/schemas/{name}.json")
        assert reply.status == 200
        assert reply.json() == document
        assert reply.headers["content-type"] == "application/json"
        assert reply.headers["content-security-policy"] == SEAL_CSP
    now = int(time.time() * 1_000_000)
    sound = _reverse(starts_at=now + 3_600_000_000, ends_at=now + 7_200_000_000)
    for rules, field in (
        ({**sound, "step": {"amount": "0"}}, "rules.step.amount"),
        ({**sound, "ends_at": sound["starts_at"]}, "rules.ends_at"),
        ({**sound, "starts_at": now - 60_000_000}, "rules.starts_at"),
        ({**sound, "step": {"amount": "0.001"}}, "rules.step.amount"),  # the parser's own
    ):
        assert _valid(rules_document(), rules)  # only the server refuses these
        reply = await server.post("/api/v1/auctions", {"rules": rules}, token=server.officer)
        assert reply.status == 422, reply.body
        assert reply.json()["field"] == field, reply.body
        assert reply.json()["detail"]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_tender_the_engine_refuses_names_the_field_at_fault(server: Live) -> None:
    now = int(time.time() * 1_000_000)
    lot = {"id": "L1", "deadline": now + 86_400_000_000, "opening_at": now + 90_000_000_000}
    body = {
        "title": "Chairs",
        "currency": "AZN",
        "officers": [{"id": "officer-1", "public_key": "ab" * 32}],
        "threshold": 1,
        "lots": [lot],
    }
    past = {**lot, "id": "L2", "deadline": now - 60_000_000}
    for changed, code, field, pointer in (
        ({"threshold": 2}, "invalid_tender", "threshold", "/threshold"),
        ({"lots": [lot, past]}, "invalid_tender", "lots", "/lots/1/deadline"),
        (
            {"officers": [{"id": "officer-9", "public_key": "ab" * 32}]},
            "not_tender_officer",
            "officers",
            "/officers",
        ),
    ):
        tender = {**body, **changed}
        assert _valid(tender_document(), tender)  # only the engine refuses these
        reply = await server.post("/api/v1/tenders", tender, token=server.officer)
        assert reply.status in (403, 409, 422), reply.body
        found = reply.json()
        assert (found["code"], found["field"], found["pointer"]) == (code, field, pointer)
