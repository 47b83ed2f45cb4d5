"""Test vectors of the audit log's canonical bytes: events -> exact bytes -> leaf hash.

If one of these changes, every published checkpoint stops verifying: the canonical form
is a compatibility promise, so a change here must be a deliberate, versioned decision.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from fractions import Fraction

import pytest

from contracts.canonical import (
    event_bytes,
    event_from_bytes,
)
from contracts.transparency import leaf_hash, root
from engine import (
    AuctionCreated,
    AuctionEnded,
    BidAccepted,
    BidderRegistered,
    CommandRejected,
    EnglishRules,
    Event,
    Outcome,
    Standing,
    Step,
)
from engine.errors import MalformedRecord
from engine.reasons import Reason

RULES = EnglishRules(
    currency="EUR", starts_at=100_000_000, ends_at=200_000_000, start_price=1000, step=Step(100)
)

VECTORS: list[tuple[Event, bytes, str]] = [
    (
        AuctionCreated(1, 1_000, RULES),
        b'{"at":1000,"rules":{"allow_proxy":true,"currency":"EUR","ends_at":200000000,'
        b'"max_amount":1000000000000000,"reserve_price":null,"soft_close":null,'
        b'"start_price":1000,"starts_at":100000000,'
        b'"step":{"amount":100,"percent":null,"type":"Step"},"type":"EnglishRules"},'
        b'"seq":1,"type":"AuctionCreated"}',
        "fbce1cceee2ffd5bf3ec36c513a4fc029bb813cdb9e17f0d4b1b7d71e8decd9e",
    ),
    (
        BidderRegistered(2, 2_000, "acme", "Bidder 1", Decimal("0.10"), 0, None),
        b'{"at":2000,"bidder":"acme","coefficient":"0.10","cost":0,"initial_bid":null,'
        b'"label":"Bidder 1","seq":2,"type":"BidderRegistered"}',
        "398234bd5a39d6cb16b8e1a0b1ac9726e94bceb345907b80254be81cfcb4af52",
    ),
    (
        BidAccepted(3, 100_000_001, "cmd-1", "acme", 1500, -1500, False),
        b'{"at":100000001,"bidder":"acme","command_id":"cmd-1","price":1500,"proxy":false,'
        b'"score":-1500,"seq":3,"type":"BidAccepted"}',
        "c6db96ab1825c1953c0d9c3c5b2af93e54d34bd9a5d7df7118a88f0b53aa0d34",
    ),
    (
        CommandRejected(
            4,
            100_000_002,
            "cmd-2",
            "PlaceBid",
            "zeta",
            Reason.BELOW_START_PRICE,
            "below the start price",
        ),
        b'{"at":100000002,"bidder":"zeta","command":"PlaceBid","command_id":"cmd-2",'
        b'"detail":"below the start price","reason":"below_start_price","seq":4,'
        b'"type":"CommandRejected"}',
        "8f1f7afe8e6a0393735fd937a8aba4e7f61448b9e9f478acd4bae6544f9b6720",
    ),
    (
        AuctionEnded(
            5,
            200_000_000,
            Outcome.AWARDED,
            ("acme",),
            1500,
            Fraction(1500),
            (Standing(1, "acme", 1500, Fraction(3, 2)),),
            "Zuschlag für acme",
        ),
        b'{"at":200000000,"note":"Zuschlag f\xc3\xbcr acme","outcome":"awarded","price":1500,'
        b'"ranking":[{"bidder":"acme","price":1500,"rank":1,"score":"3/2","type":"Standing"}],'
        b'"score":"1500/1","seq":5,"type":"AuctionEnded","winners":["acme"]}',
        "04f3987e0f28d6b4178b93fb50b2b9205606fa180bfe340630f42a371b1b4866",
    ),
]


@pytest.mark.parametrize(("event", "data", "leaf"), VECTORS)
def test_vectors(event: Event, data: bytes, leaf: str) -> None:
    assert event_bytes(event) == data
    assert event_from_bytes(data) == event
    assert leaf_hash(event_bytes(event)).hex() == leaf
    assert hashlib.sha256(b"\x00" + data).hexdigest() == leaf


def test_the_vectors_log_root() -> None:
    """The root of the five vectors as one log, computed by hand from the leaf hashes."""
    leaves = [bytes.fromhex(leaf) for _, _, leaf in VECTORS]

    def node(a: bytes, b: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + a + b).digest()

    expected = node(node(node(leaves[0], leaves[1]), node(leaves[2], leaves[3])), leaves[4])
    assert root(data for _, data, _ in VECTORS) == expected


@pytest.mark.parametrize(
    "data",
    [
        VECTORS[2][1].replace(b",", b", ", 1),  # white space
        VECTORS[2][1].replace(b'"at":100000001,', b"") + b"",  # a missing field
        b'{"type":"BidAccepted","at":100000001,"bidder":"acme","command_id":"cmd-1",'
        b'"price":1500,"proxy":false,"score":-1500,"seq":3}',  # keys out of order
        VECTORS[1][1].replace(b'"0.10"', b"0.10"),  # a decimal as a number
    ],
)
def test_non_canonical_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedRecord):
        event_from_bytes(data)
