"""Every phase of an auction and every transition between them, in two tables.

``TRANSITIONS[phase][event type]`` is the phase after that event; an event with no row
in the current phase is an :class:`~engine.errors.IllegalTransition` (the log is not one
this engine wrote). ``REFUSALS[phase][command type]`` is the reason a command is
rejected in that phase before any format rule looks at it. Commands without a row go on
to the format's rules. Both lookups are O(1).

::

    NEW ──AuctionCreated──▶ SCHEDULED ──AuctionStarted──▶ RUNNING ◀──RoundStarted── PAUSED
                                │                           │  └──RoundEnded──────▶ │
                                └──────AuctionEnded─────────┴──▶ ENDED ◀────────────┘
"""

from __future__ import annotations

from enum import StrEnum

from engine import commands as c
from engine import events as e
from engine.reasons import Reason

__all__ = ["Phase", "TRANSITIONS", "REFUSALS"]


class Phase(StrEnum):
    """Where an auction is in its life."""

    NEW = "new"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"


_NEW, _SCHEDULED, _RUNNING, _PAUSED, _ENDED = Phase

TRANSITIONS: dict[Phase, dict[type[object], Phase]] = {
    _NEW: {e.AuctionCreated: _SCHEDULED, e.CommandRejected: _NEW},
    _SCHEDULED: {
        e.BidderRegistered: _SCHEDULED,
        e.BidderDisqualified: _SCHEDULED,
        e.CommandRejected: _SCHEDULED,
        e.AuctionStarted: _RUNNING,
        e.AuctionEnded: _ENDED,
    },
    _RUNNING: {
        e.BidderRegistered: _RUNNING,
        e.BidderDisqualified: _RUNNING,
        e.CommandRejected: _RUNNING,
        e.BidAccepted: _RUNNING,
        e.BidWithdrawn: _RUNNING,
        e.ProxySet: _RUNNING,
        e.EndExtended: _RUNNING,
        e.PriceChanged: _RUNNING,
        e.RoundStarted: _RUNNING,
        e.TurnStarted: _RUNNING,
        e.TurnEnded: _RUNNING,
        e.RoundEnded: _PAUSED,
        e.AuctionEnded: _ENDED,
    },
    _PAUSED: {
        e.BidderDisqualified: _PAUSED,
        e.CommandRejected: _PAUSED,
        e.RoundStarted: _RUNNING,
        e.AuctionEnded: _ENDED,
    },
    _ENDED: {e.CommandRejected: _ENDED},
}

_BIDDING = (c.PlaceBid, c.SetProxy, c.AcceptPrice, c.WithdrawBid, c.PassTurn)

REFUSALS: dict[Phase, dict[type[object], Reason]] = {
    _NEW: {},
    _SCHEDULED: {
        c.CreateAuction: Reason.AUCTION_EXISTS,
        **{kind: Reason.AUCTION_NOT_STARTED for kind in _BIDDING},
    },
    _RUNNING: {c.CreateAuction: Reason.AUCTION_EXISTS},
    _PAUSED: {
        c.CreateAuction: Reason.AUCTION_EXISTS,
        c.RegisterBidder: Reason.REGISTRATION_CLOSED,
        **{kind: Reason.OUT_OF_TURN for kind in _BIDDING},
    },
    _ENDED: {
        c.CreateAuction: Reason.AUCTION_EXISTS,
        c.RegisterBidder: Reason.AUCTION_CLOSED,
        c.DisqualifyBidder: Reason.AUCTION_CLOSED,
        c.CancelAuction: Reason.AUCTION_CLOSED,
        **{kind: Reason.AUCTION_CLOSED for kind in _BIDDING},
    },
}
