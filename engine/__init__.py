"""The pure auction core of Gavel: commands in, events out, no I/O.

``Auction.handle(command)`` decides a command and returns the events it caused;
``replay(events)`` folds a log back into the same state; ``Auction.next_deadline()`` tells
the runner when to deliver a ``Tick``. Time, ids and amounts arrive inside commands: this
package never reads a clock, a random source, the network or the disk, so the service,
the simulator and the auditor's offline replay all get the same answers.
"""

from __future__ import annotations

from engine.auction import Auction, replay
from engine.bidder import Bidder
from engine.book import OrderBook
from engine.commands import (
    AcceptPrice,
    CancelAuction,
    Command,
    CreateAuction,
    DisqualifyBidder,
    PassTurn,
    PlaceBid,
    RegisterBidder,
    SetProxy,
    Tick,
    WithdrawBid,
)
from engine.errors import (
    AuctionNotCreated,
    ClockWentBackwards,
    CorruptLog,
    EngineError,
    EngineMisuse,
    IllegalTransition,
    UnknownCommand,
)
from engine.events import (
    AuctionCreated,
    AuctionEnded,
    AuctionStarted,
    BidAccepted,
    BidderDisqualified,
    BidderRegistered,
    BidWithdrawn,
    CommandRejected,
    EndExtended,
    Event,
    Outcome,
    PriceChanged,
    ProxySet,
    RoundEnded,
    RoundStarted,
    Standing,
    TurnEnded,
    TurnStarted,
)
from engine.phases import Phase
from engine.reasons import Reason
from engine.rules import (
    AuctionRules,
    DutchRules,
    EnglishRules,
    Improvement,
    MultiRoundRules,
    Pricing,
    ReverseRules,
    SealedRules,
    Side,
    SoftClose,
    Step,
)
from engine.scoring import Scoring

__all__ = [
    "AcceptPrice",
    "Auction",
    "AuctionCreated",
    "AuctionEnded",
    "AuctionNotCreated",
    "AuctionRules",
    "AuctionStarted",
    "BidAccepted",
    "BidWithdrawn",
    "Bidder",
    "BidderDisqualified",
    "BidderRegistered",
    "CancelAuction",
    "ClockWentBackwards",
    "Command",
    "CommandRejected",
    "CorruptLog",
    "CreateAuction",
    "DisqualifyBidder",
    "DutchRules",
    "EndExtended",
    "EngineError",
    "EngineMisuse",
    "EnglishRules",
    "Event",
    "IllegalTransition",
    "Improvement",
    "MultiRoundRules",
    "OrderBook",
    "Outcome",
    "PassTurn",
    "Phase",
    "PlaceBid",
    "PriceChanged",
    "Pricing",
    "ProxySet",
    "Reason",
    "RegisterBidder",
    "ReverseRules",
    "RoundEnded",
    "RoundStarted",
    "Scoring",
    "SealedRules",
    "SetProxy",
    "Side",
    "SoftClose",
    "Standing",
    "Step",
    "Tick",
    "TurnEnded",
    "TurnStarted",
    "UnknownCommand",
    "WithdrawBid",
    "replay",
]
