"""Request and response bodies of the HTTP API, version 1 (``/api/v1``).

Request bodies are frozen dataclasses read strictly by ``api.problems.parse_body``: a
field with a default is optional, every other one is required, unknown fields are
refused, and amounts are JSON strings holding plain decimals (``"12.50"``). The rules
object of ``POST /api/v1/auctions`` is read by :mod:`contracts.rules_json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "AcceptBody",
    "BidBody",
    "CancelBody",
    "DisqualifyBody",
    "EmptyBody",
    "ProxyBody",
    "RegisterBidderBody",
    "TokenBody",
]


@dataclass(frozen=True, slots=True)
class RegisterBidderBody:
    """Admit ``party`` as a bidder; MEAT ``coefficient`` and LCC ``cost`` feed scoring,
    ``initial_bid`` is the tender-stage offer of a multi-round auction."""

    party: str
    name: str | None = None
    coefficient: Decimal | None = None
    cost: Decimal | None = None
    initial_bid: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BidBody:
    """A bid of ``amount`` ``currency``."""

    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class ProxyBody:
    """A secret proxy limit."""

    limit: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class AcceptBody:
    """Take the Dutch price; with ``expected``, only if it is still that price."""

    expected: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class EmptyBody:
    """No fields (withdraw, pass)."""


@dataclass(frozen=True, slots=True)
class DisqualifyBody:
    """Exclude ``bidder`` (a party id) from the auction."""

    bidder: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class CancelBody:
    """Cancel the auction."""

    note: str = ""


@dataclass(frozen=True, slots=True)
class TokenBody:
    """Issue a credential: ``role`` for ``party``, optionally bound to one ``auction``."""

    role: str
    party: str
    auction: str | None = None
    ttl_s: int | None = None
