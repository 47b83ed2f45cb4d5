"""Read models for HTTP: an auction's public state and a bidder's own standing.

Both follow the visibility rules of :mod:`api.auctions.views`: bidders and observers see other
bidders by label only, nothing of a sealed auction's bids before it ends, no hidden
reserve, and no one's proxy limit but their own. O(n) in the bidders for rankings.
"""

from __future__ import annotations

from typing import Any

from api.auctions.views import AuctionViews, Audience
from contracts.rules_json import rules_to_json
from engine import Auction, Phase
from engine.codec import to_data
from engine.formats.dutch import Dutch
from engine.formats.multiround import MultiRound
from engine.formats.open_cry import OpenCry
from engine.formats.sealed import Sealed

__all__ = ["public_state", "standing"]


def public_state(
    auction_id: str, auction: Auction, views: AuctionViews, audience: Audience, now: int
) -> dict[str, Any]:
    """What ``audience`` may know of the auction right now."""
    rules = auction.rules
    assert rules is not None
    fmt = auction.fmt
    shown_rules = rules_to_json(rules)
    if not audience.privileged:
        shown_rules.pop("reserve_price", None)

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
    hidden = (isinstance(fmt, Sealed) and auction.phase is not Phase.ENDED) or (
        # Tender-stage offers of a multi-round auction stay secret until it starts.
        isinstance(fmt, MultiRound) and auction.phase is Phase.SCHEDULED and not audience.privileged
    )
    if hidden:
        state["ranking"] = None
    else:
        assert fmt is not None
        state["ranking"] = [
            {"rank": s.rank, "bidder": name(s.bidder), "price": s.price, "score": to_data(s.score)}
            for s in fmt.ranking()
        ]
    if isinstance(fmt, OpenCry):
        state["ends_at"] = fmt.ends_at
    if isinstance(fmt, Dutch):
        state["price"] = fmt.price
    if isinstance(fmt, MultiRound):
        state["round"] = fmt.round
        turn = fmt.order[fmt.turn] if fmt.turn >= 0 else None
        state["turn"] = {"bidder": name(turn), "ends_at": fmt.turn_ends_at} if turn else None
    if auction.ended is not None:
        ended = to_data(auction.ended)
        if not audience.privileged:
            ended["winners"] = [name(w) for w in auction.ended.winners]
            for line in ended["ranking"]:
                line["bidder"] = name(line["bidder"])
        state["result"] = ended
    return state


def standing(auction: Auction, party: str, now: int) -> dict[str, Any]:
    """A bidder's own view: its label, its bid, its rank (not in a sealed auction before
    the end), its proxy limit, whether it is its turn."""
    bidder = auction.bidders.get(party)
    if bidder is None:
        return {"registered": False, "server_time": now}
    fmt = auction.fmt
    entry = auction.book.get(party)
    sealed_open = (isinstance(fmt, Sealed) and auction.phase is not Phase.ENDED) or (
        isinstance(fmt, MultiRound) and auction.phase is Phase.SCHEDULED
    )
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
        "rank": None if sealed_open or entry is None else auction.book.rank_of(party),
        "leading": None if sealed_open or entry is None else auction.book.best() is entry,
    }
    if isinstance(fmt, OpenCry):
        proxy = fmt.proxies.get(party)
        result["proxy_limit"] = proxy[2] if proxy else None
    if isinstance(fmt, MultiRound):
        result["your_turn"] = fmt.turn >= 0 and fmt.order[fmt.turn] == party
        result["pending_price"] = fmt.pending[0] if fmt.pending and result["your_turn"] else None
    return result
