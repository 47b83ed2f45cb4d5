"""Snapshots: restoring one mid-stream and going on gives the same events as never
stopping, for every format; bytes it did not write are refused. (The stateful machines
in test_stateful.py also restore a snapshot before every command they send.)"""

from __future__ import annotations

import json

import pytest

from engine import Auction, CommandRejected, CreateAuction, Phase, Tick
from engine.errors import MalformedRecord
from engine.snapshot import SNAPSHOT_VERSION, restore_snapshot, take_snapshot
from loadtests.bench_engine import FORMATS, _Feed, _workload
from tests.engine.helpers import english


@pytest.mark.parametrize("fmt", FORMATS)
def test_restoring_mid_stream_changes_nothing(fmt: str) -> None:
    feed = _Feed(_workload(fmt, seed=11, bidders=40), 3_000)
    plain = Auction()
    restored = Auction()
    restores = 0
    for index, command in enumerate(feed):
        if command is None:  # a new auction of the stream
            plain, restored = Auction(), Auction()
            continue
        if index % 37 == 0:
            snapshot = take_snapshot(restored)
            restored = restore_snapshot(snapshot)
            assert take_snapshot(restored) == snapshot
            restores += 1
        assert restored.handle(command) == plain.handle(command)
        assert restored.now == plain.now
    assert restores > 50
    assert restored == plain and restored.seq == plain.seq > 0
    restored._check()


def test_a_snapshot_keeps_proxies_extensions_and_the_close() -> None:
    feed = _Feed(_workload("english", seed=5, bidders=30), 2_000)
    auction = Auction()
    kinds: set[str] = set()
    for command in feed:
        if command is None:
            auction = Auction()
            continue
        kinds.update(type(event).__name__ for event in auction.handle(command))
    assert {"ProxySet", "EndExtended", "AuctionEnded"} <= kinds
    assert auction.phase is Phase.ENDED
    again = restore_snapshot(take_snapshot(auction))
    assert again == auction and again.ended == auction.ended
    assert again.fmt is not None and auction.fmt is not None
    assert again.fmt.state() == auction.fmt.state()


def test_taking_a_snapshot_leaves_the_book_unranked() -> None:
    auction = _english_with_bids()
    assert auction.book._ranking is None
    take_snapshot(auction)
    assert auction.book._ranking is None


def test_the_layout_is_canonical_json_with_its_version() -> None:
    snapshot = take_snapshot(_english_with_bids())
    tree = json.loads(snapshot)
    assert tree["v"] == SNAPSHOT_VERSION
    assert json.dumps(tree, sort_keys=True, separators=(",", ":")).encode() == snapshot
    assert tree["phase"] == "running" and len(tree["book"]) == 2
    assert take_snapshot(Auction()) == take_snapshot(restore_snapshot(take_snapshot(Auction())))


def _english_with_bids() -> Auction:
    from decimal import Decimal

    from engine import PlaceBid, RegisterBidder

    rules = english()
    auction = Auction()
    auction.handle(CreateAuction("c1", rules.starts_at - 10, rules))
    auction.handle(RegisterBidder("c2", rules.starts_at - 5, "ann"))
    auction.handle(RegisterBidder("c3", rules.starts_at - 4, "bob"))
    auction.handle(Tick("c4", rules.starts_at))
    price = Decimal(rules.start_price) / 100
    for number, bidder in enumerate(["ann", "bob", "ann", "bob"]):
        events = auction.handle(
            PlaceBid(f"b{number}", rules.starts_at + number, bidder, price + number, "EUR")
        )
        assert type(events[-1]) is not CommandRejected, events
    return auction


def _tampered(change: object) -> bytes:
    tree = json.loads(take_snapshot(_english_with_bids()))
    change(tree)  # type: ignore[operator]
    return json.dumps(tree, sort_keys=True, separators=(",", ":")).encode()


def _drop_rules(tree: dict[str, object]) -> None:
    tree["rules"] = None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"not json", "not JSON"),
        (b"[]", "version"),
        (json.dumps({"v": SNAPSHOT_VERSION + 1}).encode(), "version"),
        (_tampered(lambda t: t.update(v=0)), "version"),
        (_tampered(lambda t: t.update(extra=1)), "fields"),
        (_tampered(lambda t: t.pop("book")), "fields"),
        (_tampered(lambda t: t.update(seq="7")), "integer"),
        (_tampered(lambda t: t.update(phase="sleeping")), "sleeping"),
        (_tampered(lambda t: t["book"].append([-1, 99, "mallory", 1])), "unknown bidder"),
        (_tampered(lambda t: t["bidders"][0].__setitem__(5, True)), "not a snapshot"),
        (_tampered(lambda t: t["book"][0].__setitem__(0, "1/0")), "score"),
        (_tampered(lambda t: t["format"].update(ends_at=None)), "integer"),
        (_tampered(lambda t: t["format"].update(surprise=1)), "canonical"),
        (_tampered(_drop_rules), "not a snapshot"),
        (_tampered(lambda t: t["rules"].update(type="Nonsense")), "record"),
    ],
)
def test_bytes_it_did_not_write_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(MalformedRecord) as error:
        restore_snapshot(data)
    assert why.lower() in str(error.value).lower()


def test_white_space_or_key_order_is_not_canonical() -> None:
    snapshot = take_snapshot(_english_with_bids())
    spaced = json.dumps(json.loads(snapshot), sort_keys=True).encode()
    with pytest.raises(MalformedRecord, match="canonical"):
        restore_snapshot(spaced)
