"""Read models for HTTP: an auction's public state and a bidder's own standing.

Both follow the visibility rules of :mod:`api.auctions.views`: bidders and observers see other
bidders by label only, no hidden reserve, and of the book and the format's own state only
what the format's :class:`~engine.formats.view.Secrecy` and views let be shown (nothing of
a sealed auction's bids before it ends, no one's proxy limit but their own). O(n) in the
bidders for rankings.
"""

from __future__ import annotations

from typing import Any

from api.auctions.views import AuctionViews, Audience, hide_reserve
from contracts.rules_json import rules_to_json
from engine import Auction, Outcome, Phase
from engine.codec import to_data
from engine.formats import Moment

__all__ = ["public_state", "standing"]


def _moment(auction: Auction) -> Moment:
    """How far ``auction`` has got for its secrets, read from its phase.

    An auction is opened by its close, never by a cancel: a cancelled auction's secrets
    stay secret (the engine publishes an empty ranking for it when its book was secret
    until the close, and its events stay redacted), so its live book is not shown either.
    """
    phase = auction.phase
    ended = auction.ended
    return Moment(
        started=phase is not Phase.NEW and phase is not Phase.SCHEDULED,
        opened=ended is not None and ended.outcome is not Outcome.CANCELLED,
    )


def public_state(
    auction_id: str, auction: Auction, views: AuctionViews, audience: Audience, now: int
) -> dict[str, Any]:
    """What ``audience`` may know of the auction right now."""
    rules = auction.rules
    fmt = auction.fmt
    assert rules is not None and fmt is not None
    shown_rules = hide_reserve(rules_to_json(rules), audience)

    def name(bidder: str) -> str:
        return bidder if audience.privileged else views.labels.get(bidder, "?")

    state: dict[str, Any] = {
        "id": auction_id,
        "format": shown_rules["format"],
        "phase": auction.phase.value,
        "seq": auction.seq,
        "server_time": now,
        "next_deadline": auction.next_deadline(),
        "currency": rules.currency,
        "rules": shown_rules,
        "bidders": len(auction.bidders),
    }
    if _moment(auction).hides(fmt.secrecy.book, audience.privileged):
        state["ranking"] = None
    else:
        state["ranking"] = [
            {"rank": s.rank, "bidder": name(s.bidder), "price": s.price, "score": to_data(s.score)}
            for s in fmt.ranking()
        ]
    view = fmt.view()
    if view.close is not None:
        state["ends_at"] = view.close.ends_at
    if view.clock is not None:
        state["price"] = view.clock.price
    if view.rounds is not None:
        state["round"] = view.rounds.round
        turn = view.rounds.turn
        state["turn"] = {"bidder": name(turn.bidder), "ends_at": turn.ends_at} if turn else None
    if auction.ended is not None:
        ended = to_data(auction.ended)
        if not audience.privileged:
            ended["winners"] = [name(w) for w in auction.ended.winners]
            for line in ended["ranking"]:
                line["bidder"] = name(line["bidder"])
        state["result"] = ended
    return state


def standing(auction: Auction, party: str, now: int) -> dict[str, Any]:
    """A bidder's own view: its label, its bid, its rank (only when the format shows the
    book to bidders), its proxy limit, whether it is its turn."""
    bidder = auction.bidders.get(party)
    if bidder is None:
        return {"registered": False, "server_time": now}
    fmt = auction.fmt
    assert fmt is not None
    entry = auction.book.get(party)
    # A bidder sees its own bid always; where it stands only when bidders may see the book.
    hidden = entry is None or _moment(auction).hides(fmt.secrecy.book, privileged=False)
    result: dict[str, Any] = {
        "registered": True,
        "bidder": party,
        "label": bidder.label,
        "disqualified": bidder.disqualified,
        "phase": auction.phase.value,
        "seq": auction.seq,
        "server_time": now,
        "next_deadline": auction.next_deadline(),
        "price": entry[3] if entry else None,
        "rank": None if hidden else auction.book.rank_of(party),
        "leading": None if hidden else auction.book.best() is entry,
    }
    own = fmt.own_view(party)
    if own.proxy is not None:
        result["proxy_limit"] = own.proxy.limit
    if own.turn is not None:
        result["your_turn"] = own.turn.yours
        result["pending_price"] = own.turn.pending_price
    return result
