"""Commands: what a caller asks an auction to do (imperative names).

Every command carries ``command_id`` (unique per auction, chosen by the caller; it is
echoed in the events it causes) and ``at``, the server time in microseconds when the
runner accepted it. The engine never reads a clock: ``at`` *is* the time. Commands are
frozen, slotted and never subclassed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.rules import AuctionRules

__all__ = [
    "AcceptPrice",
    "CancelAuction",
    "Command",
    "CreateAuction",
    "DisqualifyBidder",
    "PassTurn",
    "PlaceBid",
    "RegisterBidder",
    "SetProxy",
    "Tick",
    "WithdrawBid",
]


@dataclass(frozen=True, slots=True)
class CreateAuction:
    """Create the auction with its rules. Must be the first command an auction sees."""

    command_id: str
    at: int
    rules: AuctionRules


@dataclass(frozen=True, slots=True)
class RegisterBidder:
    """Admit a bidder. ``coefficient`` (MEAT) and ``cost`` (LCC, in currency units) feed
    scoring; ``initial_bid`` is the tender-stage offer of a multi-round auction."""

    command_id: str
    at: int
    bidder: str
    coefficient: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    initial_bid: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DisqualifyBidder:
    """Exclude a bidder: its bids leave the book and it can bid no more."""

    command_id: str
    at: int
    bidder: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class PlaceBid:
    """Bid ``amount`` of ``currency`` (a decimal in major units, e.g. ``Decimal("10.50")``)."""

    command_id: str
    at: int
    bidder: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class SetProxy:
    """Set a secret limit (a maximum in a sale, a floor in a procurement) the engine
    bids up to on the bidder's behalf, by the minimum step."""

    command_id: str
    at: int
    bidder: str
    limit: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class AcceptPrice:
    """Take the current Dutch price. With ``expected`` set, reject if the price moved."""

    command_id: str
    at: int
    bidder: str
    expected: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class WithdrawBid:
    """Withdraw the bidder's sealed bid before the deadline."""

    command_id: str
    at: int
    bidder: str


@dataclass(frozen=True, slots=True)
class PassTurn:
    """End the bidder's multi-round turn now, keeping its current offer."""

    command_id: str
    at: int
    bidder: str


@dataclass(frozen=True, slots=True)
class CancelAuction:
    """Cancel the auction (officer). It ends with no award."""

    command_id: str
    at: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    """Tell the auction what time it is, so deadlines that have passed take effect."""

    command_id: str
    at: int


Command = (
    CreateAuction
    | RegisterBidder
    | DisqualifyBidder
    | PlaceBid
    | SetProxy
    | AcceptPrice
    | WithdrawBid
    | PassTurn
    | CancelAuction
    | Tick
)
