"""Events: facts an auction has recorded (past-tense names).

Every event carries ``seq`` (1, 2, 3, … within its auction, no gaps) and ``at`` (server
time in microseconds when the fact took effect: a command's time, or the deadline a
timer fired for). The state of an auction is the fold of its events, so replaying the
log reproduces it exactly. Events are frozen, slotted and never subclassed.

Amounts are ``int`` minor units; a score is ``int`` or an exact ``Fraction``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum

from engine.reasons import Reason
from engine.rules import AuctionRules
from engine.scoring import Score

__all__ = [
    "AuctionCreated",
    "AuctionEnded",
    "AuctionStarted",
    "BidAccepted",
    "BidWithdrawn",
    "BidderDisqualified",
    "BidderRegistered",
    "CommandRejected",
    "EndExtended",
    "Event",
    "Outcome",
    "PriceChanged",
    "ProxySet",
    "RoundEnded",
    "RoundStarted",
    "Standing",
    "TurnEnded",
    "TurnStarted",
]


class Outcome(StrEnum):
    """How an auction ended; the value is the wire name."""

    AWARDED = "awarded"
    NO_BIDS = "no_bids"
    RESERVE_NOT_MET = "reserve_not_met"
    LIMIT_REACHED = "limit_reached"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Standing:
    """One line of a ranking: 1 is best. ``price`` is what was bid, ``score`` what ranked it."""

    rank: int
    bidder: str
    price: int
    score: Score


@dataclass(frozen=True, slots=True)
class AuctionCreated:
    """The auction exists with these rules; it waits for ``rules.starts_at``."""

    seq: int
    at: int
    rules: AuctionRules


@dataclass(frozen=True, slots=True)
class AuctionStarted:
    """Bidding opened. ``ends_at`` is the scheduled end, if the format has a fixed one."""

    seq: int
    at: int
    ends_at: int | None


@dataclass(frozen=True, slots=True)
class BidderRegistered:
    """A bidder was admitted. ``label`` is the anonymous name other bidders see."""

    seq: int
    at: int
    bidder: str
    label: str
    coefficient: Decimal
    cost: int
    initial_bid: int | None


@dataclass(frozen=True, slots=True)
class BidderDisqualified:
    """A bidder was excluded; its bids no longer count."""

    seq: int
    at: int
    bidder: str
    note: str


@dataclass(frozen=True, slots=True)
class BidAccepted:
    """A bid entered the book. ``proxy`` is true when the engine placed it for the bidder."""

    seq: int
    at: int
    command_id: str
    bidder: str
    price: int
    score: Score
    proxy: bool


@dataclass(frozen=True, slots=True)
class BidWithdrawn:
    """A sealed bid was withdrawn before the deadline."""

    seq: int
    at: int
    command_id: str
    bidder: str


@dataclass(frozen=True, slots=True)
class ProxySet:
    """A bidder set (or changed) its secret proxy limit."""

    seq: int
    at: int
    command_id: str
    bidder: str
    limit: int


@dataclass(frozen=True, slots=True)
class EndExtended:
    """Soft close: a late bid moved the end to ``ends_at``."""

    seq: int
    at: int
    ends_at: int


@dataclass(frozen=True, slots=True)
class PriceChanged:
    """The Dutch clock moved to ``price``; it holds until ``next_at``."""

    seq: int
    at: int
    price: int
    next_at: int


@dataclass(frozen=True, slots=True)
class RoundStarted:
    """A multi-round auction round began; ``order`` is the turn order, worst offer first."""

    seq: int
    at: int
    round: int
    order: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """``bidder`` alone may bid until ``ends_at``."""

    seq: int
    at: int
    round: int
    bidder: str
    ends_at: int


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The turn is over; its (possibly unchanged) offer is now public to the room."""

    seq: int
    at: int
    round: int
    bidder: str
    price: int | None
    score: Score | None
    passed: bool


@dataclass(frozen=True, slots=True)
class RoundEnded:
    """A round finished. The next one starts at ``resumes_at`` (``None`` after the last)."""

    seq: int
    at: int
    round: int
    resumes_at: int | None


@dataclass(frozen=True, slots=True)
class AuctionEnded:
    """The auction is over: outcome, winner(s), clearing price and score, full ranking."""

    seq: int
    at: int
    outcome: Outcome
    winners: tuple[str, ...]
    price: int | None
    score: Score | None
    ranking: tuple[Standing, ...]
    note: str


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """A command was refused and changed nothing but the log. ``command`` is its type."""

    seq: int
    at: int
    command_id: str
    command: str
    bidder: str | None
    reason: Reason
    detail: str


Event = (
    AuctionCreated
    | AuctionStarted
    | BidderRegistered
    | BidderDisqualified
    | BidAccepted
    | BidWithdrawn
    | ProxySet
    | EndExtended
    | PriceChanged
    | RoundStarted
    | TurnStarted
    | TurnEnded
    | RoundEnded
    | AuctionEnded
    | CommandRejected
)


def _direct_init(cls: type) -> None:
    """Give the frozen event class ``cls`` an ``__init__`` that writes its slots directly.

    A frozen dataclass's generated ``__init__`` goes through ``object.__setattr__`` once
    per field (a global lookup, an attribute lookup and the generic setattr path); for an
    event built on every accepted bid that is most of its cost. This ``__init__`` has the
    same parameters (events have no defaults) and calls each slot descriptor's ``__set__``
    instead, half the time. The class stays frozen: assigning an attribute afterwards still
    raises ``FrozenInstanceError``. Called once per class at import.
    """
    names = [field.name for field in fields(cls)]
    setters = {f"_set_{name}": cls.__dict__[name].__set__ for name in names}
    parameters = ", ".join(names)
    body = "".join(f"    _set_{name}(self, {name})\n" for name in names)
    exec(f"def __init__(self, {parameters}):\n{body}", setters)  # noqa: S102 - fixed text
    init = setters["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__init__", init)  # noqa: B010 - mypy keeps the dataclass signature


for _event_type in (
    AuctionCreated,
    AuctionStarted,
    BidderRegistered,
    BidderDisqualified,
    BidAccepted,
    BidWithdrawn,
    ProxySet,
    EndExtended,
    PriceChanged,
    RoundStarted,
    TurnStarted,
    TurnEnded,
    RoundEnded,
    AuctionEnded,
    CommandRejected,
    Standing,
):
    _direct_init(_event_type)
del _event_type
