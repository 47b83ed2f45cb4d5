"""What each role may see of each event: the visibility rules, in one place.

Officers and auditors see identities; bidders and observers see other bidders only by
their anonymous labels (a bidder's own events carry ``"you": true``). What a format keeps
secret, and until when, is the format's to say (:class:`engine.formats.view.Secrecy`,
decided by :meth:`engine.formats.view.Moment.hides`): before the auction ends, nobody but
the bidder itself sees a proxy limit, a sealed bid or a multi-round bid (officers neither);
before a multi-round auction starts, only officers and auditors see the tender-stage
offers. A rejected command is seen by its bidder and by officers and auditors only.
Hidden events are delivered as ``{"type": "Redacted"}`` so the seq stream stays gapless.
A hidden reserve price is shown to officers and auditors only (:func:`hide_reserve`).

``AuctionViews`` folds the few facts rendering needs (labels, the format's secrecy,
started, ended) from the committed events, in order. ``render`` is O(size of the event).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import Auction, Phase
from engine import events as e
from engine.codec import to_data
from engine.formats import Moment, Secrecy, secrecy_for

__all__ = ["Audience", "AuctionViews", "PRIVILEGED", "REDACTED", "hide_reserve"]

PRIVILEGED = frozenset({"officer", "auditor"})
REDACTED: dict[str, Any] = {"type": "Redacted"}

_BEFORE_START = Moment(started=False, opened=False)


@dataclass(frozen=True, slots=True)
class Audience:
    """Who is looking: a role, and for a bidder its party id."""

    role: str
    party: str | None = None

    @property
    def privileged(self) -> bool:
        """Officers and auditors see identities."""
        return self.role in PRIVILEGED


def hide_reserve(rules: dict[str, Any], audience: Audience) -> dict[str, Any]:
    """``rules`` (JSON-ready, changed in place) without a reserve price unless
    ``audience`` is an officer or auditor; returns ``rules``. O(1)."""
    if not audience.privileged:
        rules.pop("reserve_price", None)
    return rules


class AuctionViews:
    """Per-auction rendering context, folded from committed events."""

    __slots__ = ("labels", "secrecy", "moment", "ended")

    def __init__(self) -> None:
        self.labels: dict[str, str] = {}
        #: What the auction's format keeps secret (nothing but proxies until it is created).
        self.secrecy = Secrecy()
        #: Whether bidding has opened, and whether the auction ended other than by
        #: cancellation (secrets kept until the close may be shown). A cancelled auction is
        #: never opened (its sealed bids stay secret for ever, as the engine keeps its
        #: ranking empty), also to a client resuming from seq 0.
        self.moment = _BEFORE_START
        self.ended = False

    @property
    def started(self) -> bool:
        """Bidding has opened (``AuctionStarted`` was seen)."""
        return self.moment.started

    @property
    def opened(self) -> bool:
        """The auction ended other than by cancellation."""
        return self.moment.opened

    def observe(self, event: e.Event) -> None:
        """Fold one committed event. O(1)."""
        # isinstance is an exact-type test here: event classes are never subclassed.
        if isinstance(event, e.BidderRegistered):
            self.labels[event.bidder] = event.label
        elif isinstance(event, e.AuctionCreated):
            self.secrecy = secrecy_for(event.rules)
        elif isinstance(event, e.AuctionStarted):
            self.moment = Moment(started=True, opened=False)
        elif isinstance(event, e.AuctionEnded):
            self.ended = True
            opened = event.outcome is not e.Outcome.CANCELLED
            self.moment = Moment(self.moment.started, opened)

    def restore(self, auction: Auction) -> None:
        """Take the state :meth:`observe` would have folded from the events of
        ``auction`` (one restored from a snapshot). O(bidders).

        Not for an ended auction: whether it had started is not in its state.
        """
        if auction.phase is Phase.ENDED:
            raise ValueError("views cannot be restored from an ended auction")
        self.labels = {party: bidder.label for party, bidder in auction.bidders.items()}
        self.secrecy = Secrecy() if auction.rules is None else secrecy_for(auction.rules)
        started = auction.phase in (Phase.RUNNING, Phase.PAUSED)
        self.moment = Moment(started=started, opened=False)
        self.ended = False

    def concerns(self, event: e.Event) -> str | None:
        """The bidder an event is about, if any (its own view may differ)."""
        return getattr(event, "bidder", None)

    def render(self, event: e.Event, audience: Audience) -> dict[str, Any]:
        """``event`` as ``audience`` may see it now."""
        kind = type(event)
        bidder = getattr(event, "bidder", None)
        own = bidder is not None and bidder == audience.party and audience.role == "bidder"
        privileged = audience.privileged
        if not own:
            moment = self.moment
            if kind is e.ProxySet:
                if moment.hides(self.secrecy.proxies, privileged):
                    return REDACTED
            elif kind is e.BidAccepted or kind is e.BidWithdrawn:
                if moment.hides(self.secrecy.bids, privileged):
                    return REDACTED
            elif kind is e.CommandRejected and not privileged:
                return REDACTED
        data: dict[str, Any] = to_data(event)
        if privileged:
            return data
        if kind is e.AuctionCreated:
            hide_reserve(data["rules"], audience)
        elif (
            kind is e.BidderRegistered
            and not own
            and self.moment.hides(self.secrecy.offers, privileged)
        ):
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
