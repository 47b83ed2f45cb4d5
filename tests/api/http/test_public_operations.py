"""api.http.public_operations: the OpenAPI operation of the public list of auctions."""

from __future__ import annotations

import jsonschema
import pytest

from api.http.openapi import openapi_document
from api.http.public import FIELDS, LIST_LIMIT
from api.http.public_operations import openapi_paths

PATH = "/api/v1/public/auctions"


def answer_schema() -> dict[str, object]:
    schema: dict[str, object] = openapi_paths()[PATH]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    return schema


def test_the_list_is_an_operation_of_the_document_without_a_token() -> None:
    operation = openapi_document()["paths"][PATH]["get"]
    assert operation == openapi_paths()[PATH]["get"]
    assert operation["operationId"] == "public_auctions"
    assert "security" not in operation
    assert {"200", "429"} <= set(operation["responses"])
    assert "401" not in operation["responses"] and "403" not in operation["responses"]


def test_the_documented_entry_has_exactly_the_served_fields() -> None:
    entry = answer_schema()["properties"]["auctions"]["items"]  # type: ignore[index]
    assert tuple(entry["properties"]) == FIELDS
    assert entry["required"] == list(FIELDS) and entry["additionalProperties"] is False


ENTRY = {
    "id": "a-1",
    "format": "english",
    "phase": "running",
    "currency": "EUR",
    "starts_at": 1,
    "ends_at": 2,
    "next_deadline": 2,
}


@pytest.mark.parametrize(
    "extra",
    [{"price": 100}, {"bidders": 3}, {"reserve_price": "1.00"}, {"ranking": []}],
)
def test_a_secret_field_would_break_the_documented_answer(extra: dict[str, object]) -> None:
    good = {"server_time": 1, "auctions": [ENTRY], "more": False}
    jsonschema.validate(good, answer_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**good, "auctions": [{**ENTRY, **extra}]}, answer_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**good, "auctions": [ENTRY] * (LIST_LIMIT + 1)}, answer_schema())
