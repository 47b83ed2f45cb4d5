"""OCDS export of an auction, validated against the OCDS 1.1 release-package schema.

No PyPI package ships the OCDS schema files (libcoveocds and ocdskit fetch them over the
network at run time), so the schema below is written here from the OCDS 1.1
specification (release package, release, tender, award, organization, value, period),
the bids extension (``bids.statistics``, ``bids.details``, ``Award.relatedBids``) and the
techniques extension (``techniques.hasElectronicAuction``, ``electronicAuction``). It is
the subset of those schemas that our output touches, with the closed codelists as enums;
like OCDS, it allows additional properties.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from api.audit.bundle import save_bundle
from api.audit.cli import main as audit_main
from api.audit.ocds import dumps, iso, release_package
from engine import CancelAuction, DisqualifyBidder
from tests.api.audit.test_bundle import EVENTS, bundle_of
from tests.engine.helpers import END, START, english, reverse, started

DATE_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"

VALUE = {
    "type": "object",
    "properties": {
        "amount": {"type": ["number", "null"]},
        "currency": {"type": ["string", "null"], "pattern": "^[A-Z]{3}$"},
    },
}
PERIOD = {
    "type": "object",
    "properties": {
        "startDate": {"type": ["string", "null"], "pattern": DATE_TIME},
        "endDate": {"type": ["string", "null"], "pattern": DATE_TIME},
    },
}
ORGANIZATION_REFERENCE = {
    "type": "object",
    "properties": {"id": {"type": ["string", "integer"]}, "name": {"type": ["string", "null"]}},
}
#: The tender status codelist (closed), also used for lots.
TENDER_STATUS = {
    "enum": [
        "planning",
        "planned",
        "active",
        "cancelled",
        "unsuccessful",
        "complete",
        "withdrawn",
        None,
    ]  # fmt: skip
}
PARTY_ROLES = [
    "buyer", "procuringEntity", "supplier", "tenderer", "funder", "enquirer", "payer",
    "payee", "reviewBody", "interestedParty",
]  # fmt: skip
RELEASE = {
    "type": "object",
    "required": ["ocid", "id", "date", "tag", "initiationType"],
    "properties": {
        "ocid": {"type": "string", "minLength": 1},
        "id": {"type": "string", "minLength": 1},
        "date": {"type": "string", "pattern": DATE_TIME},
        "tag": {
            "type": "array",
            "minItems": 1,
            "items": {
                "enum": [
                    "planning",
                    "planningUpdate",
                    "tender",
                    "tenderAmendment",
                    "tenderUpdate",
                    "tenderCancellation",
                    "award",
                    "awardUpdate",
                    "awardCancellation",
                    "contract",
                    "contractUpdate",
                    "contractAmendment",
                    "implementation",
                    "implementationUpdate",
                    "contractTermination",
                    "compiled",
                ]  # fmt: skip
            },
        },
        "initiationType": {"enum": ["tender"]},
        "language": {"type": ["string", "null"]},
        "parties": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": ["string", "null"]},
                    "roles": {"type": ["array", "null"], "items": {"enum": PARTY_ROLES}},
                },
            },
        },
        "tender": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": ["string", "integer"]},
                "title": {"type": ["string", "null"]},
                "status": TENDER_STATUS,
                "value": VALUE,
                "procurementMethod": {"enum": ["open", "selective", "limited", "direct", None]},
                "awardCriteria": {"type": ["string", "null"]},
                "submissionMethod": {"type": ["array", "null"], "items": {"type": "string"}},
                "tenderPeriod": PERIOD,
                "auctionPeriod": PERIOD,
                "numberOfTenderers": {"type": ["integer", "null"]},
                # The lots extension (Lot: id, title, status from the tender status list).
                "lots": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id"],
                        "properties": {
                            "id": {"type": ["string", "integer"]},
                            "title": {"type": ["string", "null"]},
                            "status": TENDER_STATUS,
                        },
                    },
                },
                "techniques": {
                    "type": "object",
                    "properties": {
                        "hasElectronicAuction": {"type": ["boolean", "null"]},
                        "electronicAuction": {
                            "type": "object",
                            "properties": {
                                "description": {"type": ["string", "null"]},
                                "url": {"type": ["string", "null"]},
                            },
                        },
                    },
                },
            },
        },
        "bids": {
            "type": "object",
            "properties": {
                "statistics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "measure"],
                        "properties": {
                            "id": {"type": "string"},
                            "measure": {"type": "string"},
                            "value": {"type": ["number", "null"]},
                            "date": {"type": ["string", "null"], "pattern": DATE_TIME},
                        },
                    },
                },
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id"],
                        "properties": {
                            "id": {"type": "string"},
                            "date": {"type": ["string", "null"], "pattern": DATE_TIME},
                            "status": {
                                "enum": [
                                    "invited",
                                    "pending",
                                    "valid",
                                    "disqualified",
                                    "withdrawn",
                                    None,
                                ]  # fmt: skip
                            },
                            "tenderers": {"type": "array", "items": ORGANIZATION_REFERENCE},
                            "value": VALUE,
                            "relatedLots": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        },
        "awards": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": ["string", "integer"]},
                    "status": {"enum": ["pending", "active", "cancelled", "unsuccessful", None]},
                    "date": {"type": ["string", "null"], "pattern": DATE_TIME},
                    "value": VALUE,
                    "suppliers": {"type": ["array", "null"], "items": ORGANIZATION_REFERENCE},
                    "relatedBids": {"type": ["array", "null"], "items": {"type": "string"}},
                    "relatedLots": {"type": ["array", "null"], "items": {"type": "string"}},
                },
            },
        },
    },
}
RELEASE_PACKAGE = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["uri", "publisher", "publishedDate", "releases", "version"],
    "properties": {
        "uri": {"type": "string", "format": "uri"},
        "version": {"type": "string", "pattern": r"^(\d+\.)(\d+)$"},
        "extensions": {"type": "array", "items": {"type": "string", "format": "uri"}},
        "publishedDate": {"type": "string", "pattern": DATE_TIME},
        "publisher": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
        },
        "releases": {"type": "array", "minItems": 1, "items": RELEASE},
    },
}


def validate(package: dict[str, Any]) -> dict[str, Any]:
    text = dumps(package)
    tree: dict[str, Any] = json.loads(text, parse_float=Decimal)
    jsonschema.Draft4Validator.check_schema(RELEASE_PACKAGE)
    jsonschema.Draft4Validator(RELEASE_PACKAGE).validate(tree)
    return tree


def test_an_awarded_english_auction() -> None:
    tree = validate(release_package(bundle_of(EVENTS), published_at=START))
    assert tree["publishedDate"] == iso(START) == "1970-01-01T00:01:40.000000Z"
    (release,) = tree["releases"]
    assert release["tag"] == ["tender", "award"]
    tender = release["tender"]
    assert tender["status"] == "complete"
    assert tender["value"] == {"amount": Decimal("10.00"), "currency": "EUR"}
    assert tender["techniques"]["hasElectronicAuction"] is True
    assert tender["submissionMethod"] == ["electronicAuction"]
    details = release["bids"]["details"]
    assert [(b["tenderers"][0]["id"], b["value"]["amount"]) for b in details] == [
        ("ann", Decimal("10.00")),
        ("bob", Decimal("12.00")),
        ("ann", Decimal("15.00")),
    ]
    stats = {s["measure"]: s["value"] for s in release["bids"]["statistics"]}
    assert stats == {
        "bids": 3,
        "validBids": 3,
        "bidders": 2,
        "disqualifiedBidders": 0,
        "refusedCommands": 1,
    }
    (award,) = release["awards"]
    assert award["suppliers"] == [{"id": "ann", "name": "Bidder 1"}]
    assert award["relatedBids"] == [details[-1]["id"]]
    assert award["value"]["amount"] == Decimal("15.00")
    assert '"amount": 15.00' in dumps(release_package(bundle_of(EVENTS)))


def test_a_cancelled_procurement_with_a_disqualified_bidder() -> None:
    run = started(reverse())
    run.bid("ann", "99.00", START + 1)
    run.bid("bob", "98.00", START + 2)
    run(DisqualifyBidder("d", START + 3, "bob", "forged papers"))
    run(CancelAuction("c", START + 4, "budget withdrawn"))
    tree = validate(release_package(bundle_of(run.events, [len(run.events)])))
    (release,) = tree["releases"]
    assert release["tender"]["status"] == "cancelled"
    assert "awards" not in release and release["tag"] == ["tender"]
    assert [b["status"] for b in release["bids"]["details"]] == ["valid", "disqualified"]
    stats = {s["measure"]: s["value"] for s in release["bids"]["statistics"]}
    assert stats["disqualifiedBidders"] == 1 and stats["validBids"] == 1


def test_a_running_auction_and_an_empty_bundle() -> None:
    run = started(english(), bidders=("ann",))
    run.bid("ann", "10.00", START + 1)
    tree = validate(release_package(bundle_of(run.events, [len(run.events)])))
    assert tree["releases"][0]["tender"]["status"] == "active"
    assert "auctionPeriod" not in tree["releases"][0]["tender"]
    with pytest.raises((ValueError, IndexError)):
        release_package({"events": [], "stream": {"id": "x"}})


def test_no_bids_is_unsuccessful() -> None:
    run = started(english(reserve_price=5000))
    run.tick(END + 1)
    tree = validate(release_package(bundle_of(run.events, [len(run.events)])))
    assert tree["releases"][0]["tender"]["status"] == "unsuccessful"


def test_gavel_audit_ocds(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "bundle.json"
    save_bundle(bundle_of(EVENTS), path)
    out = tmp_path / "ocds.json"
    assert audit_main(["ocds", str(path), "-o", str(out), "--ocid-prefix", "ocds-abc123"]) == 0
    tree = json.loads(out.read_text(), parse_float=Decimal)
    jsonschema.Draft4Validator(RELEASE_PACKAGE).validate(tree)
    assert tree["releases"][0]["ocid"] == "ocds-abc123-A-1"
    assert audit_main(["ocds", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "1.1"
    bundle = json.loads(path.read_text())
    bundle["result"]["price"] = 1
    path.write_text(json.dumps(bundle))
    assert audit_main(["ocds", str(path)]) == 1  # a bundle that fails is not published


def test_a_sealed_auction_with_a_withdrawn_bid() -> None:
    from engine import CreateAuction, RegisterBidder, SealedRules, WithdrawBid
    from tests.engine.helpers import Run

    run = Run()
    run(CreateAuction("c", 0, SealedRules(currency="EUR", starts_at=START, ends_at=END)))
    for name in ("ann", "bob"):
        run(RegisterBidder(run.next_id(), 0, name))
    run.tick(START)
    run.bid("ann", "50.00", START + 1)
    run.bid("bob", "40.00", START + 2)
    run(WithdrawBid("w", START + 3, "ann"))
    run(WithdrawBid("w2", START + 4, "ann"))  # nothing left to withdraw: refused
    run.tick(END + 1)
    tree = validate(release_package(bundle_of(run.events, [len(run.events)])))
    (release,) = tree["releases"]
    assert "value" not in release["tender"]  # a sealed sale may have no start price
    assert [b["status"] for b in release["bids"]["details"]] == ["withdrawn", "valid"]
    assert release["awards"][0]["suppliers"][0]["id"] == "bob"


def test_dumps_refuses_what_is_not_json() -> None:
    with pytest.raises(TypeError):
        dumps({"x": object()})


@pytest.mark.parametrize(
    ("at", "text"),
    [
        (0, "1970-01-01T00:00:00.000000Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
        (1_796_596_632_624_499, "2026-12-06T22:37:12.624499Z"),
        (10**30, "9999-12-31T23:59:59.999999Z"),
        (-(10**30), "0001-01-01T00:00:00.000000Z"),
        (2**63, "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_the_date_formatter_is_total(at: int, text: str) -> None:
    """Issue 12, item 5: a starts_at of 10**30 made /ocds answer 500 (OverflowError).
    The API now refuses such times; a log that holds one still exports, clamped."""
    assert iso(at) == text
    assert re.fullmatch(DATE_TIME, iso(at))


def test_a_log_with_an_absurd_start_still_exports() -> None:
    from engine import CreateAuction, SealedRules
    from tests.engine.helpers import Run

    run = Run()
    run(CreateAuction("c", 0, SealedRules(currency="EUR", starts_at=10**30, ends_at=10**30 + 1)))
    tree = validate(release_package(bundle_of(run.events, [len(run.events)])))
    period = tree["releases"][0]["tender"]["tenderPeriod"]
    assert period == {"startDate": "9999-12-31T23:59:59.999999Z", "endDate": iso(10**30 + 1)}
