"""Open Contracting Data Standard export of an auction: one release package, from its log.

:func:`release_package` reads a verified bundle's events (:mod:`api.audit_bundle`) and
describes the auction as OCDS 1.1 with the bids extension and the techniques fields:

- ``tender``: id, status (``active``, ``complete``, ``unsuccessful``, ``cancelled``),
  value (the start price: the budget ceiling of a procurement, the opening price of a
  sale), ``procurementMethod: open``, ``submissionMethod: ["electronicAuction"]``,
  ``tenderPeriod`` (start, scheduled end), ``techniques.hasElectronicAuction`` and
  ``techniques.electronicAuction.description`` (the rules in words);
- ``bids.details``: every accepted bid, bid by bid, in log order, with its time, bidder,
  amount and status (``valid``; ``withdrawn`` or ``disqualified`` when that happened
  later), so the package carries the auction's progress and not only its last bids;
  ``bids.statistics``: bids, valid bids, bidders, disqualified bidders, refused commands;
- ``awards``: one per winner, with the clearing price, the supplier and ``relatedBids``
  (the winner's last accepted bid);
- ``parties``: every bidder by its anonymous label (``tenderer``; ``supplier`` if it won).

Amounts are exact: money is held as integer minor units and written as JSON numbers from
their decimal text (:func:`dumps`), never through a float. Release ``id`` is
``<auction>-<last seq>``, so a later export of a longer log is a new release.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from api.story import rules_text
from contracts.canonical import event_from_bytes
from engine import (
    Auction,
    AuctionStarted,
    BidAccepted,
    BidderDisqualified,
    BidWithdrawn,
    CommandRejected,
    Outcome,
    Scoring,
)
from engine.money import minor_units

__all__ = ["OCDS_VERSION", "dumps", "release_package"]

OCDS_VERSION = "1.1"
#: The extensions a package declares (the bids extension; techniques, OCDS 1.2's).
EXTENSIONS = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_techniques_extension/master/extension.json",
)
_STATUS = {
    Outcome.AWARDED: "complete",
    Outcome.NO_BIDS: "unsuccessful",
    Outcome.RESERVE_NOT_MET: "unsuccessful",
    Outcome.LIMIT_REACHED: "unsuccessful",
    Outcome.CANCELLED: "cancelled",
}


def iso(at: int) -> str:
    """Server time in microseconds as an RFC 3339 date-time in UTC."""
    return datetime.fromtimestamp(at // 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{at % 1_000_000:06d}Z"
    )


def _value(minor: int, currency: str) -> dict[str, Any]:
    return {"amount": Decimal(minor).scaleb(-minor_units(currency)), "currency": currency}


def release_package(
    bundle: dict[str, Any],
    *,
    ocid_prefix: str = "ocds-gavel0",
    publisher: str = "Gavel",
    uri: str = "",
    published_at: int | None = None,
) -> dict[str, Any]:
    """The OCDS release package of the auction in ``bundle`` (verify it first). O(n)."""
    auction = Auction()
    bids: list[dict[str, Any]] = []
    last_bid: dict[str, dict[str, Any]] = {}
    refused = 0
    started: AuctionStarted | None = None
    for text in bundle["events"]:
        event = event_from_bytes(text.encode())
        auction.apply(event)
        kind = type(event)
        rules = auction.rules
        assert rules is not None
        if kind is BidAccepted:
            assert isinstance(event, BidAccepted)
            label = auction.bidders[event.bidder].label
            bid = {
                "id": f"{event.seq}",
                "date": iso(event.at),
                "status": "valid",
                "tenderers": [{"id": event.bidder, "name": label}],
                "value": _value(event.price, rules.currency),
            }
            bids.append(bid)
            last_bid[event.bidder] = bid
        elif kind is BidWithdrawn:
            assert isinstance(event, BidWithdrawn)
            if event.bidder in last_bid:
                last_bid.pop(event.bidder)["status"] = "withdrawn"
        elif kind is BidderDisqualified:
            assert isinstance(event, BidderDisqualified)
            for bid in bids:
                if bid["tenderers"][0]["id"] == event.bidder:
                    bid["status"] = "disqualified"
            last_bid.pop(event.bidder, None)
        elif kind is CommandRejected:
            refused += 1
        elif kind is AuctionStarted:
            assert isinstance(event, AuctionStarted)
            started = event
    rules = auction.rules
    if rules is None:
        raise ValueError("the bundle holds no AuctionCreated event")
    stream_id = str(bundle["stream"]["id"])
    ended = auction.ended
    last_at = event_at(bundle["events"][-1])
    winners = ended.winners if ended is not None else ()
    tender: dict[str, Any] = {
        "id": stream_id,
        "title": f"Electronic auction {stream_id}",
        "status": "active" if ended is None else _STATUS[ended.outcome],
        "procurementMethod": "open",
        "submissionMethod": ["electronicAuction"],
        "awardCriteria": "priceOnly" if _is_sale_or_price(rules) else "ratedCriteria",
        "tenderPeriod": {"startDate": iso(rules.starts_at)},
        "techniques": {
            "hasElectronicAuction": True,
            "electronicAuction": {"description": rules_text(rules)},
        },
        "numberOfTenderers": len(auction.bidders),
    }
    if rules.start_price is not None:
        tender["value"] = _value(rules.start_price, rules.currency)
    scheduled_end = getattr(rules, "ends_at", None)
    if scheduled_end is not None:
        tender["tenderPeriod"]["endDate"] = iso(scheduled_end)
    if started is not None and ended is not None:
        tender["auctionPeriod"] = {"startDate": iso(started.at), "endDate": iso(ended.at)}
    disqualified = sum(1 for b in auction.bidders.values() if b.disqualified)
    statistics = [
        ("bids", len(bids)),
        ("validBids", sum(1 for b in bids if b["status"] == "valid")),
        ("bidders", len({b["tenderers"][0]["id"] for b in bids})),
        ("disqualifiedBidders", disqualified),
        ("refusedCommands", refused),
    ]
    release: dict[str, Any] = {
        "ocid": f"{ocid_prefix}-{stream_id}",
        "id": f"{stream_id}-{auction.seq}",
        "date": iso(last_at),
        "tag": ["tender", "award"] if winners else ["tender"],
        "initiationType": "tender",
        "language": "en",
        "parties": [
            {
                "id": bidder,
                "name": record.label,
                "roles": ["tenderer", "supplier"] if bidder in winners else ["tenderer"],
            }
            for bidder, record in auction.bidders.items()
        ],
        "tender": tender,
        "bids": {
            "statistics": [
                {"id": str(n), "measure": measure, "value": value, "date": iso(last_at)}
                for n, (measure, value) in enumerate(statistics, 1)
            ],
            "details": bids,
        },
    }
    if ended is not None and winners:
        release["awards"] = [
            {
                "id": f"{stream_id}-award-{n}",
                "title": f"Award to {auction.bidders[w].label}",
                "status": "active",
                "date": iso(ended.at),
                **(
                    {"value": _value(ended.price, rules.currency)}
                    if ended.price is not None
                    else {}
                ),
                "suppliers": [{"id": w, "name": auction.bidders[w].label}],
                "relatedBids": [last_bid[w]["id"]] if w in last_bid else [],
            }
            for n, w in enumerate(winners, 1)
        ]
    return {
        "uri": uri or f"urn:gavel:auction:{stream_id}:ocds",
        "version": OCDS_VERSION,
        "extensions": list(EXTENSIONS),
        "publishedDate": iso(last_at if published_at is None else published_at),
        "publisher": {"name": publisher},
        "releases": [release],
    }


def event_at(text: str) -> int:
    """The ``at`` of an event's canonical text."""
    return int(event_from_bytes(text.encode()).at)


def _is_sale_or_price(rules: Any) -> bool:
    """Whether the price alone ranks (no MEAT or life-cycle-cost scoring)."""
    return getattr(rules, "scoring", Scoring.NONE) is Scoring.NONE


_DECIMAL = re.compile(r'"\\u0000dec:(-?[0-9.E+-]+)\\u0000"')


def dumps(package: dict[str, Any], indent: int | None = None) -> str:
    """JSON text of ``package`` with every ``Decimal`` written as an exact JSON number."""

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\u0000dec:{value}\u0000"
        raise TypeError(f"not JSON: {type(value).__name__}")

    text = json.dumps(package, default=mark, indent=indent)
    return _DECIMAL.sub(lambda m: m.group(1), text)
