"""The OpenAPI building blocks (:mod:`api.http.operations`): one operation object, the
problem responses by status and their schemas, the path parameters and the
``Idempotency-Key`` pattern.

How the tables use them is ``test_tender_operations.py``'s and
``test_audit_operations.py``'s; the whole document, ``test_openapi.py``'s.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from api.http.idempotency import IdempotencyKeyInvalid, parse_key
from api.http.operations import (
    IDEMPOTENCY_KEY,
    PATH_PARAMETERS,
    SHAPE_CODES,
    operation,
    problem_codes,
    problem_response,
    problem_schemas,
    time_query,
)
from api.http.problems import MAX_INT, Code
from contracts.bounds import MAX_TIME_US, MIN_TIME_US
from engine.reasons import Reason
from engine.tender_records import EnvelopeKind


def _accepted(header: str) -> bool:
    try:
        return parse_key(header) is not None
    except IdempotencyKeyInvalid:
        return False


def _documented(header: str) -> bool:
    # JSON Schema patterns are ECMA-262: ``$`` is the end of the text, so fullmatch.
    return re.fullmatch(IDEMPOTENCY_KEY, header) is not None


def test_problem_codes_are_every_code_by_its_status_but_500() -> None:
    codes = problem_codes()
    assert list(codes) == sorted(codes) and 500 not in codes
    for status, listed in codes.items():
        edge = [code.value for code in Code if code.status == status]
        engine = [reason.value for reason in Reason if reason.status_hint == status]
        # The edge's codes first, then the engine's reasons, each in declaration order.
        assert list(listed) == edge + engine
    documented = {code for listed in codes.values() for code in listed}
    assert documented == {c.value for c in Code if c.status != 500} | {
        r.value for r in Reason if r.status_hint != 500
    }
    assert problem_codes() is codes  # computed once


def test_the_shape_codes_are_edge_codes_of_a_malformed_request() -> None:
    by_value = {code.value: code for code in Code}
    assert set(by_value) >= SHAPE_CODES
    assert {by_value[code].status for code in SHAPE_CODES} <= {400, 415, 422}
    assert "idempotency_key_invalid" in SHAPE_CODES and "bad_json" in SHAPE_CODES
    # Refusals about the token, the state or the load are not the request's shape.
    assert not {"token_missing", "rate_limited", "idempotency_key_reused"} & SHAPE_CODES


def test_each_problem_status_has_a_schema_of_its_own_codes() -> None:
    schemas = problem_schemas()
    base = schemas["Problem"]
    assert set(base["required"]) == {"type", "title", "status", "detail", "code"}
    assert set(base["required"]) <= set(base["properties"])
    assert set(schemas) == {"Problem"} | {f"Problem{status}" for status in problem_codes()}
    for status, codes in problem_codes().items():
        schema = schemas[f"Problem{status}"]
        assert schema["allOf"] == [{"$ref": "#/components/schemas/Problem"}]
        assert schema["properties"]["status"] == {"const": status}
        assert schema["properties"]["code"]["enum"] == list(codes)
    assert schemas["Problem422"]["properties"]["code"]["enum"].count("invalid_field") == 1


def test_a_problem_response_points_at_its_status_schema_and_says_when_to_retry() -> None:
    schemas = problem_schemas()
    for status in problem_codes():
        response = problem_response(status)
        ref = response["content"]["application/problem+json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/Problem{status}"
        assert ref.rpartition("/")[2] in schemas
        assert response["description"]
        if status in (429, 503):
            assert response["headers"]["Retry-After"]["schema"] == {
                "type": "integer",
                "minimum": 0,
            }
        else:
            assert "headers" not in response
    assert "rate limited" in problem_response(429)["description"]
    assert problem_response(418)["description"] == "an RFC 9457 problem"
    # Each response owns its headers: changing one leaves the next untouched.
    problem_response(503)["headers"]["X-Other"] = {}
    assert set(problem_response(503)["headers"]) == {"Retry-After"}


def test_path_parameters_are_what_the_routes_can_find() -> None:
    assert PATH_PARAMETERS["kind"]["enum"] == [kind.value for kind in EnvelopeKind]
    assert PATH_PARAMETERS["seq"] == {"type": "integer", "minimum": 1, "maximum": MAX_INT}
    ident = re.compile(PATH_PARAMETERS["auction_id"]["pattern"])
    assert ident.fullmatch("a-1.b_2") and ident.fullmatch("x" * 100)
    assert not ident.fullmatch("x" * 101) and not ident.fullmatch("a/b")
    tender = re.compile(PATH_PARAMETERS["tender_id"]["pattern"])
    assert tender.fullmatch("t" * 200) and not tender.fullmatch("t" * 201)
    assert PATH_PARAMETERS["lot"] == PATH_PARAMETERS["tender_id"]
    assert all(schema["type"] in ("string", "integer") for schema in PATH_PARAMETERS.values())


def test_a_time_query_is_bounded_to_the_service_times() -> None:
    query = time_query("deadline", "when", required=True)
    schema = query.pop("schema")
    assert query == {"name": "deadline", "in": "query", "required": True, "description": "when"}
    assert schema["type"] == "integer"
    assert (schema["minimum"], schema["maximum"]) == (MIN_TIME_US, MAX_TIME_US)
    assert time_query("at", "")["required"] is False


@pytest.mark.parametrize(
    "header",
    [
        "order-7",
        " order-7\t",
        '"order-7"',
        '"a\\"b"',
        '"a\\\\b"',
        'a"b',
        "a b",
        "~",
        '"' + "x" * 255 + '"',
        '"' + "\\\\" * 255 + '"',
        "x" * 255,
        # refused
        "",
        " ",
        '"',
        '""',
        '"abc',
        '"a"b"',
        '"a\\b"',
        '"a\\"',
        "a\tb",
        "a\nb",
        "order-7\n",
        "clé",
        "\x7f",
        "x" * 256,
        '"' + "x" * 256 + '"',
        '"' + "\\\\" * 256 + '"',
    ],
)
def test_the_idempotency_key_pattern_is_what_the_server_parses(header: str) -> None:
    assert _documented(header) == _accepted(header)


def test_the_idempotency_key_pattern_agrees_on_random_headers() -> None:
    alphabet = ' \t"\\a~!#\x7f\né'
    rng = random.Random(13)
    accepted = 0
    for _ in range(5_000):
        header = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 9)))
        assert _documented(header) == _accepted(header), repr(header)
        accepted += _accepted(header)
    assert accepted > 100  # the sample holds keys of both kinds, not only refusals


def test_a_read_documents_its_path_and_the_refusals_of_a_token() -> None:
    read = operation("get", "/tenders/{tender_id}/lots/{lot}", "lot_get", "A lot", "any", 200)
    assert read["operationId"] == "lot_get" and read["summary"] == "A lot"
    assert read["parameters"] == [
        {
            "name": "tender_id",
            "in": "path",
            "required": True,
            "schema": PATH_PARAMETERS["tender_id"],
        },
        {"name": "lot", "in": "path", "required": True, "schema": PATH_PARAMETERS["lot"]},
    ]
    assert sorted(read["responses"], key=int) == ["200", "400", "401", "403", "404", "429", "503"]
    assert read["responses"]["404"] == problem_response(404)
    assert read["responses"]["200"] == {
        "description": "success",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    assert read["security"] == [{"bearer": []}]
    assert "requestBody" not in read and "x-state-fields" not in read
    assert read["description"] == "Role: any. Errors are RFC 9457 problems with a `code`."


def test_a_public_read_without_path_needs_no_token_and_cannot_be_404() -> None:
    public = operation("get", "/server-key", "key", "The key", "none", 200, description="Cached.")
    assert public["parameters"] == []
    assert sorted(public["responses"], key=int) == ["200", "400", "503"]
    assert "security" not in public
    assert public["description"] == "No token. Cached. Errors are RFC 9457 problems with a `code`."


def test_a_command_takes_a_body_and_an_idempotency_key() -> None:
    body = {"type": "object", "properties": {"a": {"type": "integer"}}}
    command = operation(
        "post",
        "/auctions/{auction_id}/bids",
        "bid",
        "Bid",
        "bidder",
        201,
        body=body,
        headers={"Location": {"schema": {"type": "string"}}},
        success={"type": "object", "required": ["seq"]},
    )
    names = [(p["name"], p["in"]) for p in command["parameters"]]
    assert names == [("auction_id", "path"), ("Idempotency-Key", "header")]
    key = command["parameters"][1]
    assert key["required"] is False and key["schema"]["pattern"] == IDEMPOTENCY_KEY
    assert command["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": body}},
    }
    assert command["requestBody"]["content"]["application/json"]["schema"] is not body
    assert sorted(command["responses"], key=int) == [
        "201", "400", "401", "403", "404", "409", "413", "415", "422", "429", "503",
    ]  # fmt: skip
    success = command["responses"]["201"]
    assert success["headers"] == {"Location": {"schema": {"type": "string"}}}
    assert success["content"]["application/json"]["schema"]["required"] == ["seq"]


def test_idempotency_keys_follow_the_method_unless_told() -> None:
    def keyed(op: dict[str, Any]) -> bool:
        return any(p["name"] == "Idempotency-Key" for p in op["parameters"])

    assert not keyed(operation("get", "/x", "x", "X", "any", 200))
    assert keyed(operation("post", "/x", "x", "X", "any", 200))
    assert not keyed(operation("post", "/x", "x", "X", "any", 200, idempotent=False))
    assert keyed(operation("get", "/x", "x", "X", "any", 200, idempotent=True))


def test_what_an_operation_takes_decides_its_refusals() -> None:
    def statuses(**options: Any) -> set[str]:
        method = options.pop("method", "get")
        return set(operation(method, "/x", "x", "X", "none", 200, **options)["responses"])

    bare = statuses()
    assert bare == {"200", "400", "503"}
    # A query can be refused as content; it has no body to be too large.
    assert statuses(query=[time_query("at", "")]) - bare == {"422"}
    # A body: too large, of another media type, or refused content.
    assert statuses(body={"type": "object"}) - bare == {"413", "415", "422"}
    # A POST without a body still meets the engine (409) and the body limit.
    assert statuses(method="post") - bare == {"409", "413", "422"}
    assert statuses(statuses=(409, 410)) - bare == {"409", "410"}


def test_a_raw_upload_documents_its_media_types_and_query() -> None:
    deadline = time_query("deadline", "sealed under")
    upload = operation(
        "post",
        "/up/{kind}",
        "up",
        "Upload",
        "bidder",
        201,
        body={"type": "string", "format": "binary"},
        body_required=False,
        media="application/octet-stream",
        success_media="application/x-receipt",
        query=[deadline],
    )
    assert upload["requestBody"]["required"] is False
    assert list(upload["requestBody"]["content"]) == ["application/octet-stream"]
    assert list(upload["responses"]["201"]["content"]) == ["application/x-receipt"]
    assert [p["name"] for p in upload["parameters"]] == ["kind", "deadline", "Idempotency-Key"]
    # The query parameter is copied: the operation never shares the caller's dict.
    assert upload["parameters"][1] == deadline and upload["parameters"][1] is not deadline


def test_state_fields_are_published_and_explained() -> None:
    proof = operation(
        "get",
        "/p",
        "p",
        "Proof",
        "any",
        200,
        query=[time_query("size", "")],
        state_fields={"size": "must not pass the log", "seq": "must be stored"},
    )
    assert proof["x-state-fields"] == {"size": "must not pass the log", "seq": "must be stored"}
    assert proof["description"].endswith(
        " Refused against the state: size must not pass the log; seq must be stored"
    )


def test_a_path_parameter_without_a_schema_is_refused() -> None:
    with pytest.raises(KeyError):
        operation("get", "/things/{thing}", "thing", "A thing", "any", 200)
