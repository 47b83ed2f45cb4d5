"""The tender routes' OpenAPI table (:mod:`api.http.tender_operations`): one operation per
route of :mod:`api.http.tenders`, under its route name and access rule, with closed body
schemas that take what the routes take.

That the server answers as these schemas say is ``test_openapi_fuzz.py``'s.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from api.access.rules import ROUTES, Binding
from api.http.operations import IDEMPOTENCY_KEY
from api.http.tender_operations import openapi_paths
from api.http.tenders import tenders_blueprint
from api.node import Node
from api.settings import Settings
from contracts import sealing

_POST_BODIES = {
    "tender_create",
    "tender_schedule",
    "tender_submit",
    "tender_upload",
    "tender_share",
    "tender_exclude",
    "tender_hand_off",
}


def _operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Each operation by id: its method, path and object."""
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in openapi_paths().items():
        for method, op in item.items():
            assert op["operationId"] not in found, op["operationId"]
            found[op["operationId"]] = (method, path, op)
    return found


def _body(op: dict[str, Any]) -> dict[str, Any]:
    content = op["requestBody"]["content"]
    assert len(content) == 1
    schema: dict[str, Any] = next(iter(content.values()))["schema"]
    return schema


def _objects(schema: Any) -> list[dict[str, Any]]:
    """Every schema object with ``properties`` inside ``schema``, itself included."""
    if isinstance(schema, list):
        return [each for item in schema for each in _objects(item)]
    if not isinstance(schema, dict):
        return []
    found = [schema] if "properties" in schema and schema.get("type") == "object" else []
    for value in schema.values():
        found += _objects(value)
    return found


def test_every_tender_route_has_one_operation_on_its_path(tmp_path: Path) -> None:
    node = Node(Settings.from_env({"GAVEL_DATA_DIR": str(tmp_path)}))
    # The route's ``<tender_id>`` (``<seq:int>``) is the document's ``{tender_id}``.
    routes = {
        route.name.rpartition(".")[2]: (
            sorted(method.lower() for method in route.methods or ()),
            re.sub(r"<(\w+)(:\w+)?>", r"{\1}", route.uri),
        )
        for route in tenders_blueprint(node)._future_routes
    }
    documented = {name: ([method], path) for name, (method, path, _) in _operations().items()}
    assert len(documented) == 17
    assert routes == documented
    assert all(path.startswith("/api/v1/tenders") for _, path in documented.values())


def test_each_operation_is_the_route_name_its_access_rule_is_found_by() -> None:
    for name, (_, _, op) in _operations().items():
        rule = ROUTES[name]
        role = op["description"].partition(".")[0]
        if rule.binding is Binding.PUBLIC:
            assert role == "No token" and "security" not in op, name
            assert "401" not in op["responses"], name
            continue
        assert op["security"] == [{"bearer": []}], name
        assert {"401", "403", "429"} <= set(op["responses"]), name
        # The role the table names is one the rule admits (the route may narrow it further:
        # an officer of the tender's committee).
        named = role.removeprefix("Role: ").split()[0]
        if named != "any":
            assert named in {r.value for r in rule.roles}, name


def test_commands_take_an_idempotency_key_and_reads_do_not() -> None:
    for name, (method, _, op) in _operations().items():
        keys = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
        if method == "post":
            assert len(keys) == 1 and keys[0]["schema"]["pattern"] == IDEMPOTENCY_KEY, name
            assert {"409", "413", "422"} <= set(op["responses"]), name
        else:
            assert not keys and method == "get", name
            assert "requestBody" not in op, name
    # Listing envelopes before the deadline is refused, and logged: a command's 409.
    assert "409" in _operations()["tender_bids"][2]["responses"]
    assert "409" not in _operations()["tender_offers"][2]["responses"]


def test_the_commands_with_a_body_are_the_ones_the_routes_read() -> None:
    with_body = {name for name, (_, _, op) in _operations().items() if "requestBody" in op}
    assert with_body == _POST_BODIES
    for name in with_body:
        op = _operations()[name][2]
        assert op["requestBody"]["required"] is True
        assert {"413", "415", "422"} <= set(op["responses"]), name


def test_every_json_body_is_closed() -> None:
    for name in _POST_BODIES - {"tender_upload"}:
        op = _operations()[name][2]
        assert list(op["requestBody"]["content"]) == ["application/json"], name
        body = _body(op)
        Draft202012Validator.check_schema(body)
        objects = _objects(body)
        assert body in objects, name
        for each in objects:
            assert each["additionalProperties"] is False, (name, each)
            assert set(each["required"]) <= set(each["properties"]), (name, each)


def test_the_create_example_is_a_valid_body_and_gets_a_location() -> None:
    op = _operations()["tender_create"][2]
    body = _body(op)
    validator = Draft202012Validator(body)
    [example] = body["examples"]
    assert not list(validator.iter_errors(example))
    assert list(validator.iter_errors(example | {"extra": 1}))
    assert list(validator.iter_errors({k: v for k, v in example.items() if k != "lots"}))
    assert op["responses"]["201"]["headers"] == {"Location": {"schema": {"type": "string"}}}
    schedule = _body(_operations()["tender_schedule"][2])
    assert not list(Draft202012Validator(schedule).iter_errors(schedule["examples"][0]))


def test_the_json_envelope_is_base64_of_an_envelope_size_under_the_body_limit() -> None:
    submit = _body(_operations()["tender_submit"][2])
    pattern = re.compile(submit["properties"]["ciphertext"]["pattern"])
    carried = [size for size in sorted(sealing.ENVELOPE_SIZES) if size * 4 // 3 < 16_000]
    assert carried and len(carried) < len(sealing.ENVELOPE_SIZES)
    for size in sorted(sealing.ENVELOPE_SIZES):
        text = base64.b64encode(bytes(range(256)) * (size // 256) + bytes(size % 256)).decode()
        assert bool(pattern.fullmatch(text)) == (size in carried), size
        # One byte more or less is no envelope, and the padding must be right.
        for other in (size - 1, size + 1):
            assert not pattern.fullmatch(base64.b64encode(bytes(other)).decode()), other
        assert not pattern.fullmatch(base64.urlsafe_b64encode(b"\xff" * size).decode())
    assert not pattern.fullmatch("")


def test_the_raw_upload_is_one_envelope_size_with_its_deadline() -> None:
    op = _operations()["tender_upload"][2]
    assert list(op["requestBody"]["content"]) == ["application/octet-stream"]
    body = _body(op)
    lengths = [(one["minLength"], one["maxLength"]) for one in body["oneOf"]]
    assert lengths == [(size, size) for size in sorted(sealing.ENVELOPE_SIZES)]
    query = [p for p in op["parameters"] if p["in"] == "query"]
    assert [(p["name"], p["required"]) for p in query] == [("deadline", False)]
    assert query[0]["schema"]["type"] == "integer"
    path = [p["name"] for p in op["parameters"] if p["in"] == "path"]
    assert path == ["tender_id", "lot", "kind"]


def test_the_hand_off_says_which_field_the_state_refuses() -> None:
    hand_off = _operations()["tender_hand_off"][2]
    assert hand_off["x-state-fields"] == {"rules": "must be in the tender's currency"}
    assert "currency" in hand_off["description"]
    rules = _body(hand_off)["properties"]["rules"]
    assert {"$ref": "#/components/schemas/Rules"} in rules["allOf"]
    others = [op for name, (_, _, op) in _operations().items() if name != "tender_hand_off"]
    assert not any("x-state-fields" in op for op in others)


def test_success_statuses_match_what_the_routes_answer() -> None:
    created = {
        name
        for name, (_, _, op) in _operations().items()
        if "201" in op["responses"] and "200" not in op["responses"]
    }
    assert created == {
        "tender_create",
        "tender_ceremony",
        "tender_submit",
        "tender_upload",
        "tender_share",
        "tender_hand_off",
    }
