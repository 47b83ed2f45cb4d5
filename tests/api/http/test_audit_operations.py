"""The audit routes' OpenAPI table (:mod:`api.http.audit_operations`)."""

from __future__ import annotations

from api.access.rules import ROUTES
from api.http.audit_operations import openapi_paths


def test_every_audit_route_once_with_its_rule() -> None:
    paths = openapi_paths()
    assert len(paths) == 14
    names = {item["get"]["operationId"] for item in paths.values()}
    assert "audit_key" in names
    for kind in ("auction", "tender"):
        for last in ("checkpoint", "inclusion", "consistency", "export", "ocds"):
            assert f"audit_{kind}_{last}" in names
    assert paths["/api/v1/audit/auctions/{auction_id}/flags"]["get"]["operationId"] == (
        "audit_auction_flags"
    )
    assert paths["/api/v1/audit/tenders/{tender_id}/flags"]["get"]["operationId"] == (
        "audit_tender_flags"
    )
    # Each operation is the route's name, which its access rule is found by.
    assert names <= set(ROUTES)


def test_the_proof_queries_are_bounded_integers() -> None:
    paths = openapi_paths()
    inclusion = paths["/api/v1/auctions/{auction_id}/proofs/inclusion"]["get"]
    query = {p["name"]: p for p in inclusion["parameters"] if p["in"] == "query"}
    assert query["seq"]["required"] and not query["size"]["required"]
    assert query["seq"]["schema"]["minimum"] == 1
    consistency = paths["/api/v1/audit/tenders/{tender_id}/proofs/consistency"]["get"]
    query = {p["name"]: p for p in consistency["parameters"] if p["in"] == "query"}
    assert query["from"]["required"] and query["to"]["schema"]["minimum"] == 0
