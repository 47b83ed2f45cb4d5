"""The hand-off saga (:mod:`api.tenders.handoff`) without HTTP: a tender service on a real
PostgreSQL, and the auctions behind the saga's port as engine auctions in memory (each
command handled by :class:`engine.auction.Auction`, its events kept).

A lot whose follow-up is an auction is sealed into, opened (ann 120.00, bob 110.00) and
handed off; then the ways it can go wrong, and the retry after a crash between the
auction's creation and the tender's record of it.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.auctions.service import AuctionExists
from api.storage.tenders import PostgresTenderStore
from api.tenders.errors import AuctionTaken, InvalidField, Refused, UnknownLot
from api.tenders.handoff import auction_for_lot, hand_off
from api.tenders.service import TenderService
from contracts import custody, sealing
from contracts.rules_json import rules_from_json
from engine.auction import Auction
from engine.commands import CreateAuction, RegisterBidder
from engine.events import AuctionCreated, BidderRegistered, CommandRejected, Event
from engine.reasons import Reason
from engine.rules import AuctionRules, MultiRoundRules
from engine.tender_records import EnvelopeKind, FollowUp, LotHandedOff, Rank
from tests.api.http.test_tenders import KEYS, S, committee_spec

FIN = EnvelopeKind.FINANCIAL


def rules(currency: str = "EUR", rounds: int = 1) -> MultiRoundRules:
    parsed = rules_from_json(
        {
            "format": "multiround",
            "currency": currency,
            "starts_at": 4_102_444_800_000_000,
            "turn_us": 30 * S,
            "step": {"amount": "1.00"},
            "rounds": rounds,
        }
    )
    assert isinstance(parsed, MultiRoundRules)
    return parsed


class EngineAuctions:
    """The saga's Auctions port over engine auctions in memory."""

    def __init__(self) -> None:
        self.auctions: dict[str, Auction] = {}
        self.events: dict[str, list[Event]] = {}
        self.registered: list[tuple[str, str, Decimal]] = []
        self.create_raises = False
        self._ids = itertools.count(1)

    def _handle(self, auction_id: str, command: Any) -> list[Event]:
        events = self.auctions[auction_id].handle(command)
        self.events[auction_id].extend(e for e in events if not isinstance(e, CommandRejected))
        return events

    async def history(self, auction_id: str, after: int) -> list[Event]:
        return [e for e in self.events.get(auction_id, []) if e.seq > after]

    async def create(self, auction_id: str, rules: AuctionRules, command_id: str) -> list[Event]:
        if self.create_raises or auction_id in self.auctions:
            raise AuctionExists(auction_id)
        self.auctions[auction_id] = Auction()
        self.events[auction_id] = []
        return self._handle(auction_id, CreateAuction(command_id, 1, rules))

    async def register(self, auction_id: str, bidder: str, initial: Decimal) -> None:
        command = RegisterBidder(f"r{next(self._ids)}", 2, bidder, Decimal(0), Decimal(0), initial)
        [event] = self._handle(auction_id, command)
        assert isinstance(event, BidderRegistered), event
        self.registered.append((auction_id, bidder, initial))


async def opened(pg_pool: asyncpg.Pool, *, open_it: bool = True) -> TenderService:
    """Tender ``t1`` (follow-up: auction) with ann and bob sealed in, opened unless told."""
    clock = [10 * S]
    key = Ed25519PrivateKey.generate()
    service = TenderService(PostgresTenderStore(pg_pool), key, clock=lambda: clock[0])
    await service.create(
        "t1",
        "o1",
        replace(
            committee_spec(), follow_up=FollowUp.AUCTION, auction_rules='{"format":"multiround"}'
        ),
    )
    [published] = await service.ceremony("t1", "o1")
    public = bytes.fromhex(published.public_key)  # type: ignore[union-attr]
    for bidder, price in (("ann", 120_00), ("bob", 110_00)):
        info = sealing.envelope_info("t1", "L1", "financial", bidder, 100 * S)
        offer = sealing.encode_offer(sealing.Offer(price, "EUR"))
        await service.submit("t1", bidder, "L1", FIN, sealing.seal(public, info, offer))
    clock[0] = 101 * S
    if open_it:
        for officer in ("o1", "o2"):
            text = await service.store.share("t1", officer)
            assert text is not None
            share = custody.decrypt_share(
                custody.EncryptedShare.from_json(json.loads(text)),
                KEYS[officer].encryption_private,
                ceremony_public=key.public_key().public_bytes_raw(),
                tender_id="t1",
            )
            await service.submit_share("t1", officer, "L1", FIN, share)
    return service


async def logged_types(service: TenderService) -> list[str]:
    return [type(e).__name__ for e in await service.history("t1")]


async def test_the_opened_prices_become_the_initial_bids_and_the_tender_records_it(
    pg_pool: asyncpg.Pool,
) -> None:
    service = await opened(pg_pool)
    auctions = EngineAuctions()
    tender = await service.tender("t1")
    handed = await hand_off(service, auctions, "t1", tender, "L1", "o1", "a-1", rules())
    assert isinstance(handed, LotHandedOff) and handed.auction_id == "a-1"
    assert [(r.bidder, r.price) for r in handed.ranking] == [("bob", 110_00), ("ann", 120_00)]
    created = auctions.events["a-1"][0]
    assert isinstance(created, AuctionCreated) and created.rules == rules()
    assert auctions.registered == [
        ("a-1", "bob", Decimal("110.00")),
        ("a-1", "ann", Decimal("120.00")),
    ]
    assert (await service.history("t1"))[-1] == handed
    assert (await service.tender("t1")).lots["L1"].decision == handed


async def test_a_retry_after_a_crash_finishes_the_auction_a_previous_attempt_began(
    pg_pool: asyncpg.Pool,
) -> None:
    service = await opened(pg_pool)
    auctions = EngineAuctions()
    # The previous attempt created the auction and registered bob, then died.
    await auctions.create("a-1", rules(), "c-0")
    await auctions.register("a-1", "bob", Decimal("110.00"))
    before = await logged_types(service)
    tender = await service.tender("t1")
    handed = await hand_off(service, auctions, "t1", tender, "L1", "o1", "a-1", rules())
    assert [bidder for _, bidder, _ in auctions.registered] == ["bob", "ann"]  # ann only now
    assert await logged_types(service) == [*before, "LotHandedOff"]
    assert handed.auction_id == "a-1"


async def test_another_attempt_creating_the_auction_meanwhile_is_taken_as_this_ones(
    pg_pool: asyncpg.Pool,
) -> None:
    auctions = EngineAuctions()
    await auctions.create("a-1", rules(), "c-0")
    auctions.create_raises = True
    history = auctions.history

    async def empty_first(auction_id: str, after: int) -> list[Event]:
        auctions.history = history  # type: ignore[method-assign]
        return []

    auctions.history = empty_first  # type: ignore[method-assign]
    ranking = (Rank(1, "bob", 110_00, 110_00), Rank(2, "ann", 120_00, 120_00))
    await auction_for_lot(auctions, "a-1", rules(), ranking, "EUR")
    assert [bidder for _, bidder, _ in auctions.registered] == ["bob", "ann"]


@pytest.mark.parametrize("which", ["other rules", "other price", "not created first"])
async def test_an_auction_that_is_not_this_lots_is_refused_and_nothing_is_recorded(
    pg_pool: asyncpg.Pool, which: str
) -> None:
    service = await opened(pg_pool)
    auctions = EngineAuctions()
    if which == "other rules":
        await auctions.create("a-1", rules(rounds=2), "c-0")
    else:
        await auctions.create("a-1", rules(), "c-0")
        await auctions.register("a-1", "bob", Decimal("99.00"))
    if which == "not created first":
        auctions.events["a-1"] = auctions.events["a-1"][1:]
    before = await logged_types(service)
    tender = await service.tender("t1")
    with pytest.raises(AuctionTaken, match="auction 'a-1' exists and is not this lot's"):
        await hand_off(service, auctions, "t1", tender, "L1", "o1", "a-1", rules())
    assert await logged_types(service) == before


async def test_rules_of_another_currency_or_an_unknown_lot_are_refused_before_any_work(
    pg_pool: asyncpg.Pool,
) -> None:
    service = await opened(pg_pool)
    auctions = EngineAuctions()
    tender = await service.tender("t1")
    before = await logged_types(service)
    with pytest.raises(InvalidField) as wrong:
        await hand_off(service, auctions, "t1", tender, "L1", "o1", "a-1", rules("USD"))
    assert wrong.value.field == "rules" and str(wrong.value).endswith("auction in EUR")
    with pytest.raises(UnknownLot, match="no lot 'L9'"):
        await hand_off(service, auctions, "t1", tender, "L9", "o1", "a-1", rules())
    assert auctions.auctions == {} and await logged_types(service) == before


async def test_a_hand_off_the_engine_refuses_is_logged_and_creates_no_auction(
    pg_pool: asyncpg.Pool,
) -> None:
    service = await opened(pg_pool, open_it=False)
    auctions = EngineAuctions()
    tender = await service.tender("t1")
    with pytest.raises(Refused) as refused:
        await hand_off(service, auctions, "t1", tender, "L1", "o1", "a-1", rules())
    assert refused.value.rejected.reason is not Reason.AUCTION_EXISTS
    assert str(refused.value)  # the refusal's detail, in words
    assert (await service.history("t1"))[-1] == refused.value.rejected  # logged for real
    assert auctions.auctions == {}


async def test_a_creation_the_engine_refuses_is_raised_as_refused() -> None:
    auctions = EngineAuctions()
    bad = replace(rules(), turn_us=0)
    ranking = (Rank(1, "bob", 110_00, 110_00),)
    with pytest.raises(Refused) as refused:
        await auction_for_lot(auctions, "a-1", bad, ranking, "EUR")
    assert refused.value.rejected.reason is Reason.INVALID_RULES
    assert auctions.registered == []
