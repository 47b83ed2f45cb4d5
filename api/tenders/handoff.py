"""The hand-off saga: a lot's opened prices become the initial bids of a new multi-round
auction, and the tender records that it did.

Two logs change, the auction's and the tender's, and no transaction spans both. The
saga orders its steps so that a crash between them leaves nothing a retry cannot finish:

1. dry run: the tender, replayed from its log, says whether a hand-off is allowed now
   and ranks the bidders (nothing is written; a refusal is then logged for real, like
   every refused attempt, and raised);
2. the auction: created with the rules and every ranked bidder registered with its
   opened price (:func:`auction_for_lot`); an auction of the same id that a previous
   attempt made is recognised (same rules, each bidder it has at the same price) and
   completed, anything else is :class:`~api.tenders.errors.AuctionTaken`;
3. the tender's ``HandOff`` command, whose ``LotHandedOff`` names the auction.

A crash after 2 leaves an auction the tender does not name yet; a retry with the same
auction id (by default derived from the tender and the lot) finds it and finishes.

Call order for one request: load the tender (:meth:`TenderService.tender`); if the
request's idempotency reservation already committed the hand-off, read its events back
(:meth:`TenderService.recorded`) and answer from them; else call :func:`hand_off`.
Nothing here knows HTTP; the auctions are reached through the :class:`Auctions` port.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from api.auctions.outcomes import new_command_id
from api.auctions.service import AuctionExists
from api.storage.ports import CommandMark
from api.tenders.errors import AuctionTaken, InvalidField, Refused, UnknownLot
from api.tenders.service import TenderService, own_event
from engine.events import AuctionCreated, BidderRegistered, CommandRejected, Event
from engine.money import minor_units
from engine.rules import AuctionRules, MultiRoundRules
from engine.tender import Tender, replay_tender
from engine.tender_records import HandOff, LotHandedOff, Rank

__all__ = ["Auctions", "auction_for_lot", "hand_off"]


class Auctions(Protocol):
    """What the saga needs of the auctions (met by an adapter over
    :class:`api.auctions.service.Service`)."""

    async def history(self, auction_id: str, after: int) -> list[Event]:
        """Committed events of ``auction_id`` with ``seq > after``, in order."""
        ...

    async def create(self, auction_id: str, rules: AuctionRules, command_id: str) -> list[Event]:
        """Create the auction; its events (a rejection is not stored).
        :class:`~api.auctions.service.AuctionExists` if the id is taken."""
        ...

    async def register(self, auction_id: str, bidder: str, initial: Decimal) -> None:
        """Register ``bidder`` with ``initial`` as its initial bid; raise if refused."""
        ...


async def hand_off(
    tenders: TenderService,
    auctions: Auctions,
    tender_id: str,
    tender: Tender,
    lot: str,
    by: str,
    auction_id: str,
    rules: AuctionRules,
    mark: CommandMark | None = None,
) -> LotHandedOff:
    """Hand ``lot`` of ``tender`` (just loaded) off to the multi-round auction
    ``auction_id``, for officer ``by``; the tender's commands commit with ``mark``.

    Raises :class:`~api.tenders.errors.InvalidField` (``rules`` not multi-round in the
    tender's currency), :class:`~api.tenders.errors.UnknownLot`,
    :class:`~api.tenders.errors.Refused` (the engine's refusal, logged),
    :class:`~api.tenders.errors.AuctionTaken`, and what the service and ``auctions``
    raise. O(events of the tender + bidders ranked).
    """
    spec = tender.spec
    assert spec is not None
    if not isinstance(rules, MultiRoundRules) or rules.currency != spec.currency:
        raise InvalidField("rules", f"must be a multiround auction in {spec.currency}")
    if lot not in tender.lots:
        raise UnknownLot(lot)

    def record(at: int) -> HandOff:
        return HandOff(new_command_id("handoff"), at, by, lot, auction_id)

    # Dry run first: the engine says whether a hand-off is allowed now, before an
    # auction is created for it. The recorded HandOff comes after the auction exists.
    probe = replay_tender(await tenders.history(tender_id))
    dry = probe.handle(HandOff("probe", max(probe.now, tenders.clock()), by, lot, auction_id))
    if isinstance(dry[-1], CommandRejected):
        # The refusal is logged for real, like every refused attempt.
        own_event(await tenders.command(tender_id, record, mark))
    probed = dry[-1]
    assert isinstance(probed, LotHandedOff)  # the dry run's hand-off was allowed
    await auction_for_lot(auctions, auction_id, rules, probed.ranking, spec.currency)
    handed = own_event(await tenders.command(tender_id, record, mark))
    assert isinstance(handed, LotHandedOff)  # a hand-off's own event
    return handed


async def auction_for_lot(
    auctions: Auctions,
    auction_id: str,
    rules: MultiRoundRules,
    ranking: tuple[Rank, ...],
    currency: str,
) -> None:
    """Make ``auction_id`` the lot's multi-round auction: created with ``rules``, each
    ranked bidder registered with its opened price as initial bid.

    An auction that exists already is taken as a previous attempt's (a crash before
    ``LotHandedOff`` was recorded) only if it was created with the same rules and every
    bidder it registered is ranked here with the same price; the bidders still missing
    are then registered. Anything else is :class:`~api.tenders.errors.AuctionTaken`; a
    creation the engine refuses is :class:`~api.tenders.errors.Refused`. O(bidders).
    """
    prices = {rank.bidder: rank.price for rank in ranking}
    taken = f"auction {auction_id!r} exists and is not this lot's"
    history = await auctions.history(auction_id, 0)
    if not history:
        try:
            created = await auctions.create(auction_id, rules, new_command_id("create"))
        except AuctionExists:
            history = await auctions.history(auction_id, 0)  # another attempt, meanwhile
        else:
            if isinstance(created[0], CommandRejected):
                raise Refused(created[0])
    registered: dict[str, int | None] = {}
    if history:
        first = history[0]
        if not isinstance(first, AuctionCreated) or first.rules != rules:
            raise AuctionTaken(taken)
        for event in history:
            if isinstance(event, BidderRegistered):
                registered[event.bidder] = event.initial_bid
        if any(prices.get(bidder) != price for bidder, price in registered.items()):
            raise AuctionTaken(taken)
    scale = Decimal(10) ** minor_units(currency)
    for rank in ranking:
        if rank.bidder not in registered:
            await auctions.register(auction_id, rank.bidder, Decimal(rank.price) / scale)
