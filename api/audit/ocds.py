"""Open Contracting Data Standard export of an auction: one release package, from its log.

:func:`release_package` reads a verified bundle's events (:mod:`api.audit.bundle`) and
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

A tender's bundle (``stream.kind`` ``tender``) becomes a release with ``tender.lots``
(the lots extension: id, title, status), ``tenderPeriod`` from the publication to the
last deadline, ``bids.details`` with one bid per lot and bidder whose envelopes were
opened (its financial price as value, ``relatedLots``; ``disqualified`` if an envelope
was invalid or the bidder excluded), ``bids.statistics`` (envelopes received, withdrawn,
opened, invalid; bidders; refused commands), ``awards`` per ``LotAwarded`` with
``relatedBids`` and ``relatedLots`` (``unsuccessful`` without a valid offer), and, for a
lot handed off to a multi-round auction, ``techniques.hasElectronicAuction`` with the
auction named in ``electronicAuction.description``.

Amounts are exact: money is held as integer minor units and written as JSON numbers from
their decimal text (:func:`dumps`), never through a float. Release ``id`` is
``<auction>-<last seq>``, so a later export of a longer log is a new release.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from api.auctions.story import rules_text
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
from engine.tender import Tender
from engine.tender_records import (
    BidderExcluded,
    EnvelopeInvalid,
    EnvelopeKind,
    EnvelopeOpened,
    EnvelopeReceived,
    EnvelopeWithdrawn,
    FollowUp,
    LotAwarded,
    LotHandedOff,
    TenderPublished,
    decode_tender_event,
)

__all__ = ["OCDS_VERSION", "dumps", "release_package"]

OCDS_VERSION = "1.1"
#: The extensions a package declares (the bids extension; techniques, OCDS 1.2's).
EXTENSIONS = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_techniques_extension/master/extension.json",
)
#: A tender's: the bids and lots extensions, and techniques for the hand-off.
TENDER_EXTENSIONS = (
    EXTENSIONS[0],
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/v1.1.5/extension.json",
    EXTENSIONS[1],
)
_STATUS = {
    Outcome.AWARDED: "complete",
    Outcome.NO_BIDS: "unsuccessful",
    Outcome.RESERVE_NOT_MET: "unsuccessful",
    Outcome.LIMIT_REACHED: "unsuccessful",
    Outcome.CANCELLED: "cancelled",
}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The times :func:`iso` can write: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z.
ISO_MIN_US = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
ISO_MAX_US = (datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC) - _EPOCH) // timedelta(
    microseconds=1
)


def iso(at: int) -> str:
    """Server time in microseconds as an RFC 3339 date-time in UTC, for any ``int``.

    Total: a time beyond what RFC 3339 can write (years 1-9999) is clamped to the first
    or last instant it can, never an exception (a ``starts_at`` of 10**30 once made
    ``/ocds`` answer 500). The API refuses such times (:data:`contracts.bounds.TIME`), so
    only a log written before that bound can hold one. Integer arithmetic only. O(1).
    """
    d = _EPOCH + timedelta(microseconds=min(max(at, ISO_MIN_US), ISO_MAX_US))
    # Not strftime: its %Y writes the year 1 as "1", not "0001", on glibc.
    return (
        f"{d.year:04d}-{d.month:02d}-{d.day:02d}T"
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{d.microsecond:06d}Z"
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
    """The OCDS release package of the auction or tender in ``bundle`` (verify it
    first). O(n)."""
    stream = bundle.get("stream")
    if isinstance(stream, dict) and stream.get("kind") == "tender":
        release = _tender_release(bundle, ocid_prefix)
        kind = "tender"
    else:
        release = _auction_release(bundle, ocid_prefix)
        kind = "auction"
    return {
        "uri": uri or f"urn:gavel:{kind}:{bundle['stream']['id']}:ocds",
        "version": OCDS_VERSION,
        "extensions": list(EXTENSIONS if kind == "auction" else TENDER_EXTENSIONS),
        "publishedDate": release["date"] if published_at is None else iso(published_at),
        "publisher": {"name": publisher},
        "releases": [release],
    }


def _auction_release(bundle: dict[str, Any], ocid_prefix: str) -> dict[str, Any]:
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
            bid: dict[str, Any] = {
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
    return release


def _tender_release(bundle: dict[str, Any], ocid_prefix: str) -> dict[str, Any]:
    tender = Tender()
    bids: dict[tuple[str, str], dict[str, Any]] = {}
    counts = {"receipts": 0, "withdrawn": 0, "opened": 0, "invalid": 0, "refused": 0}
    bidders: set[str] = set()
    published: TenderPublished | None = None
    decisions: list[LotAwarded | LotHandedOff] = []
    for text in bundle["events"]:
        event = decode_tender_event(text.encode())
        if isinstance(event, (EnvelopeOpened, EnvelopeInvalid)):
            envelope = tender.lots[event.lot].envelopes[(event.bidder, event.kind)]
            bid = bids.setdefault(
                (event.lot, event.bidder),
                {
                    "id": f"{event.lot}-{event.bidder}",
                    "date": iso(envelope.received_at),
                    "status": "valid",
                    "tenderers": [{"id": event.bidder, "name": event.bidder}],
                    "relatedLots": [event.lot],
                },
            )
            if isinstance(event, EnvelopeInvalid):
                counts["invalid"] += 1
                bid["status"] = "disqualified"
            else:
                counts["opened"] += 1
                if event.kind is EnvelopeKind.FINANCIAL and event.price is not None:
                    assert tender.spec is not None
                    bid["value"] = _value(event.price, tender.spec.currency)
        elif isinstance(event, BidderExcluded):
            if (event.lot, event.bidder) in bids:
                bids[(event.lot, event.bidder)]["status"] = "disqualified"
        elif isinstance(event, EnvelopeReceived):
            counts["receipts"] += 1
            bidders.add(event.bidder)
        elif isinstance(event, EnvelopeWithdrawn):
            counts["withdrawn"] += 1
        elif isinstance(event, CommandRejected):
            counts["refused"] += 1
        elif isinstance(event, TenderPublished):
            published = event
        elif isinstance(event, (LotAwarded, LotHandedOff)):
            decisions.append(event)
        tender.apply(event)
    spec = tender.spec
    if spec is None:
        raise ValueError("the bundle holds no TenderCreated event")
    stream_id = str(bundle["stream"]["id"])
    last_at = event_at_tender(bundle["events"][-1])
    winners = {d.winner for d in decisions if isinstance(d, LotAwarded) and d.winner}
    lots = []
    for name, lot in tender.lots.items():
        decision = lot.decision
        status = "active"
        if isinstance(decision, LotAwarded):
            status = "complete" if decision.winner else "unsuccessful"
        lots.append({"id": name, "title": lot.spec.title, "status": status})
    statuses = {lot["status"] for lot in lots}
    status = "active"
    if all(lot.decision is not None for lot in tender.lots.values()) and "active" not in statuses:
        status = "complete" if "complete" in statuses else "unsuccessful"
    handed = [d for d in decisions if isinstance(d, LotHandedOff)]
    auction_words = "; ".join(
        f"lot {d.lot}: the opened prices are the initial bids of multi-round auction {d.auction_id}"
        for d in handed
    )
    body: dict[str, Any] = {
        "id": stream_id,
        "title": spec.title,
        "status": status,
        "procurementMethod": "open",
        "submissionMethod": ["electronicSubmission"]
        + (["electronicAuction"] if spec.follow_up is FollowUp.AUCTION else []),
        "awardCriteria": "priceOnly",
        "tenderPeriod": {
            "startDate": iso(published.at if published is not None else tender.now),
            "endDate": iso(max(lot.deadline for lot in tender.lots.values())),
        },
        "numberOfTenderers": len(bidders),
        "lots": lots,
        "techniques": {"hasElectronicAuction": spec.follow_up is FollowUp.AUCTION},
    }
    if auction_words:
        body["techniques"]["electronicAuction"] = {"description": auction_words}
    statistics = [
        ("envelopesReceived", counts["receipts"]),
        ("envelopesWithdrawn", counts["withdrawn"]),
        ("envelopesOpened", counts["opened"]),
        ("envelopesInvalid", counts["invalid"]),
        ("bidders", len(bidders)),
        ("refusedCommands", counts["refused"]),
    ]
    awards = []
    for decision in decisions:
        if not isinstance(decision, LotAwarded):
            continue
        award: dict[str, Any] = {
            "id": f"{stream_id}-{decision.lot}-award",
            "title": f"Award of lot {decision.lot}",
            "status": "active" if decision.winner else "unsuccessful",
            "date": iso(decision.at),
            "relatedLots": [decision.lot],
        }
        if decision.winner is not None and decision.price is not None:
            award["value"] = _value(decision.price, spec.currency)
            award["suppliers"] = [{"id": decision.winner, "name": decision.winner}]
            related = bids.get((decision.lot, decision.winner))
            award["relatedBids"] = [related["id"]] if related is not None else []
        awards.append(award)
    release: dict[str, Any] = {
        "ocid": f"{ocid_prefix}-{stream_id}",
        "id": f"{stream_id}-{tender.seq}",
        "date": iso(last_at),
        "tag": ["tender", "award"] if awards else ["tender"],
        "initiationType": "tender",
        "language": "en",
        "parties": [
            {
                "id": bidder,
                "name": bidder,
                "roles": ["tenderer", "supplier"] if bidder in winners else ["tenderer"],
            }
            for bidder in sorted(bidders)
        ],
        "tender": body,
        "bids": {
            "statistics": [
                {"id": str(n), "measure": measure, "value": value, "date": iso(last_at)}
                for n, (measure, value) in enumerate(statistics, 1)
            ],
            "details": list(bids.values()),
        },
    }
    if awards:
        release["awards"] = awards
    return release


def event_at_tender(text: str) -> int:
    """The ``at`` of a tender event's canonical text."""
    return int(decode_tender_event(text.encode()).at)


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
