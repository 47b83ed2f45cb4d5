"""Events: facts an auction has recorded (past-tense names).

Every event carries ``seq`` (1, 2, 3, … within its auction, no gaps) and ``at`` (server
time in microseconds when the fact took effect: a command's time, or the deadline a
timer fired for). The state of an auction is the fold of its events, so replaying the
log reproduces it exactly. Events are frozen, slotted and never subclassed.

Amounts are ``int`` minor units; a score is ``int`` or an exact ``Fraction``.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from decimal import Decimal
from enum import StrEnum

from engine.money import format_minor, refusal
from engine.reasons import Reason
from engine.rules import AuctionRules
from engine.scoring import Score

__all__ = [
    "AuctionCreated",
    "AuctionEnded",
    "AuctionStarted",
    "Bound",
    "BoundKind",
    "refused_amount",
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


class BoundKind(StrEnum):
    """What a :class:`Bound` asks of the refused amount; the value is the wire name."""

    MIN = "min"  # the amount had to be at least the bound
    MAX = "max"  # the amount had to be at most the bound
    PRICE = "price"  # the amount had to be the bound exactly (the Dutch clock's price)


#: The words a rejection's ``detail`` puts before its bound, by kind.
_BOUND_WORDS = {
    BoundKind.MIN: "at least",
    BoundKind.MAX: "at most",
    BoundKind.PRICE: "the price is",
}


@dataclass(frozen=True, slots=True)
class Bound:
    """The amount a refused command broke, for machines: ``amount`` in integer minor units
    of ``currency``. The rejection's ``detail`` says the same in words, in major units.

    >>> Bound(BoundKind.MIN, 115000, "EUR").words()
    'at least 1150.00 EUR'
    >>> Bound(BoundKind.MAX, 9400, "JPY").words("at most", "to lead")
    'at most 9400 JPY to lead'
    """

    kind: BoundKind
    amount: int
    currency: str

    def words(self, lead: str = "", tail: str = "") -> str:
        """The bound in words, major units and currency: ``"at least 1150.00 EUR"``
        (``lead`` replaces the kind's words; ``tail`` follows the currency). O(digits)."""
        text = f"{lead or _BOUND_WORDS[self.kind]} {format_minor(self.amount, self.currency)}"
        return f"{text} {self.currency} {tail}" if tail else f"{text} {self.currency}"


def refused_amount(reason: Reason, currency: str, limit: int) -> tuple[str, Bound | None]:
    """The ``detail`` and ``bound`` of an amount :func:`engine.money.to_minor` refused
    for ``reason`` under ``limit``: the bound is the limit for ``amount_too_large``,
    ``None`` for the other reasons (they name no amount). O(1).

    >>> refused_amount(Reason.AMOUNT_TOO_LARGE, "EUR", 10**15)[1]
    Bound(kind=<BoundKind.MAX: 'max'>, amount=1000000000000000, currency='EUR')
    """
    words = refusal(reason, currency, limit)
    if reason is Reason.AMOUNT_TOO_LARGE:
        return words, Bound(BoundKind.MAX, limit, currency)
    return words, None


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """A command was refused and changed nothing but the log. ``command`` is its type.

    ``bound`` is the amount the command's amount had to meet when the refusal is about
    one (``detail`` names it in words); ``None`` otherwise. Logs written before it was
    added have no ``bound`` member, and a ``None`` bound is never written
    (:mod:`engine.codec` omits it), so their bytes stay canonical.
    """

    seq: int
    at: int
    command_id: str
    command: str
    bidder: str | None
    reason: Reason
    detail: str
    bound: Bound | None = field(default=None, metadata={"omit_none": True})


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
    same parameters (and defaults) and calls each slot descriptor's ``__set__``
    instead, half the time. The class stays frozen: assigning an attribute afterwards still
    raises ``FrozenInstanceError``. Called once per class at import.
    """
    names = [field.name for field in fields(cls)]
    setters = {f"_set_{name}": cls.__dict__[name].__set__ for name in names}
    # A field with a default (CommandRejected.bound) keeps it: ``name=_default_name``.
    defaults = {f"_default_{f.name}": f.default for f in fields(cls) if f.default is not MISSING}
    setters.update(defaults)
    parameters = ", ".join(
        f"{name}=_default_{name}" if f"_default_{name}" in defaults else name for name in names
    )
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
