"""What each role may see of each event: the visibility rules, in one place.

Officers and auditors see identities; bidders and observers see other bidders only by
their anonymous labels (a bidder's own events carry ``"you": true``). Before the auction
ends, nobody but the bidder itself sees a sealed bid, a multi-round bid before its turn
ends, a proxy limit, or a rejected command (officers see rejections, never sealed
amounts or proxy limits). Hidden events are delivered as ``{"type": "Redacted"}`` so the
seq stream stays gapless. A hidden reserve price is shown to officers and auditors only.

``AuctionViews`` folds the few facts rendering needs (labels, format, ended) from the
committed events, in order. ``render`` is O(size of the event).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import Auction, Phase
from engine import events as e
from engine.codec import to_data
from engine.rules import MultiRoundRules, SealedRules

__all__ = ["Audience", "AuctionViews", "PRIVILEGED", "REDACTED"]

PRIVILEGED = frozenset({"officer", "auditor"})
REDACTED: dict[str, Any] = {"type": "Redacted"}


@dataclass(frozen=True, slots=True)
class Audience:
    """Who is looking: a role, and for a bidder its party id."""

    role: str
    party: str | None = None

    @property
    def privileged(self) -> bool:
        """Officers and auditors see identities."""
        return self.role in PRIVILEGED


class AuctionViews:
    """Per-auction rendering context, folded from committed events."""

    __slots__ = ("labels", "sealed", "multiround", "started", "ended", "opened")

    def __init__(self) -> None:
        self.labels: dict[str, str] = {}
        self.sealed = False
        self.multiround = False
        self.started = False
        self.ended = False
        #: The auction ended other than by cancellation: secret bids may be shown. A
        #: cancelled auction is never opened (its sealed bids stay secret for ever, as
        #: the engine keeps its ranking empty), also to a client resuming from seq 0.
        self.opened = False

    def observe(self, event: e.Event) -> None:
        """Fold one committed event. O(1)."""
        # isinstance is an exact-type test here: event classes are never subclassed.
        if isinstance(event, e.BidderRegistered):
            self.labels[event.bidder] = event.label
        elif isinstance(event, e.AuctionCreated):
            self.sealed = isinstance(event.rules, SealedRules)
            self.multiround = isinstance(event.rules, MultiRoundRules)
        elif isinstance(event, e.AuctionStarted):
            self.started = True
        elif isinstance(event, e.AuctionEnded):
            self.ended = True
            self.opened = event.outcome is not e.Outcome.CANCELLED

    def restore(self, auction: Auction) -> None:
        """Take the state :meth:`observe` would have folded from the events of
        ``auction`` (one restored from a snapshot). O(bidders).

        Not for an ended auction: whether it had started is not in its state.
        """
        if auction.phase is Phase.ENDED:
            raise ValueError("views cannot be restored from an ended auction")
        self.labels = {party: bidder.label for party, bidder in auction.bidders.items()}
        self.sealed = isinstance(auction.rules, SealedRules)
        self.multiround = isinstance(auction.rules, MultiRoundRules)
        self.started = auction.phase in (Phase.RUNNING, Phase.PAUSED)
        self.ended = self.opened = False

    def concerns(self, event: e.Event) -> str | None:
        """The bidder an event is about, if any (its own view may differ)."""
        return getattr(event, "bidder", None)

    def render(self, event: e.Event, audience: Audience) -> dict[str, Any]:
        """``event`` as ``audience`` may see it now."""
        kind = type(event)
        bidder = getattr(event, "bidder", None)
        own = bidder is not None and bidder == audience.party and audience.role == "bidder"
        secret = not self.opened and (
            kind is e.ProxySet
            or (kind in (e.BidAccepted, e.BidWithdrawn) and (self.sealed or self.multiround))
        )
        if secret and not own:
            return REDACTED
        if kind is e.CommandRejected and not (own or audience.privileged):
            return REDACTED
        data: dict[str, Any] = to_data(event)
        if audience.privileged:
            return data
        if kind is e.AuctionCreated:
            data["rules"].pop("reserve_price", None)
        elif kind is e.BidderRegistered and self.multiround and not (self.started or own):
            # Tender-stage offers stay secret until the auction starts (Prozorro model).
            data["initial_bid"] = None
        if bidder is not None:
            data["bidder"] = self.labels.get(bidder, "?")
            if own:
                data["you"] = True
        if kind is e.RoundStarted:
            data["order"] = [self.labels.get(name, "?") for name in data["order"]]
        elif kind is e.AuctionEnded:
            data["winners"] = [self.labels.get(name, "?") for name in data["winners"]]
            for line in data["ranking"]:
                line["bidder"] = self.labels.get(line["bidder"], "?")
        return data
