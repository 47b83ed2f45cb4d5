"""The OpenAPI document's assembly (:mod:`api.http.openapi`) from its tables
(:mod:`api.http.tender_operations`, :mod:`api.http.audit_operations`) and its building
blocks (:mod:`api.http.operations`): no import loop, every tender route documented under
its route name, and operations that say what a route can be refused for.

That the server answers as the document says is ``test_openapi_fuzz.py``'s (schemathesis).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from api.http.openapi import openapi_document
from api.http.operations import operation, problem_codes
from api.http.tenders import tenders_blueprint
from api.node import Node
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def test_the_document_is_built_without_the_routes_or_the_app() -> None:
    """Importing the document's module alone imports its tables, not the route modules:
    the tables import the building blocks, never the document (no loop)."""
    code = (
        "import sys, api.http.openapi as o; o.openapi_document(); "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('api.http'))))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "api.http.openapi" in found and "api.http.tender_operations" in found
    assert not {"api.http.app", "api.http.tenders", "api.http.audit"} & set(found), found


def test_every_tender_route_is_documented_under_its_route_name(tmp_path: Path) -> None:
    """The blueprint's routes and the tender table name the same operations, on the same
    paths and methods (the route's ``<tender_id>`` is the document's ``{tender_id}``)."""
    node = Node(Settings.from_env({"GAVEL_DATA_DIR": str(tmp_path)}))
    routes = {
        (method, re.sub(r"<(\w+)(:\w+)?>", r"{\1}", route.uri), route.name.rpartition(".")[2])
        for route in tenders_blueprint(node)._future_routes
        for method in route.methods
    }
    documented = {
        (method.upper(), path, op["operationId"])
        for path, item in openapi_document()["paths"].items()
        for method, op in item.items()
        if op["operationId"].startswith("tender_")
    }
    assert len(routes) == 17
    assert routes == documented


def test_an_operation_documents_its_refusals_by_what_it_takes() -> None:
    read = operation("get", "/tenders/{tender_id}", "tender_get", "A tender", "any", 200)
    assert [p["name"] for p in read["parameters"]] == ["tender_id"]
    assert sorted(read["responses"]) == ["200", "400", "401", "403", "404", "429", "503"]
    assert read["security"] == [{"bearer": []}]
    command = operation(
        "post", "/tenders", "tender_create", "Create", "officer", 201, body={"type": "object"}
    )
    assert [p["name"] for p in command["parameters"]] == ["Idempotency-Key"]
    assert {"409", "413", "415", "422"} <= set(command["responses"])
    public = operation("get", "/tenders/server-key", "k", "Key", "none", 200)
    assert "security" not in public and "401" not in public["responses"]
    assert public["description"].startswith("No token.")
    # Every documented problem status lists the codes answered with it; 500 never.
    assert 500 not in problem_codes() and all(problem_codes().values())
