"""Request and response bodies of the HTTP API, version 1 (``/api/v1``).

Request bodies are frozen dataclasses read strictly by ``api.http.problems.parse_body``: a
field with a default is optional, every other one is required, unknown fields are
refused, and amounts are JSON strings holding plain decimals (``"12.50"``). The rules
object of ``POST /api/v1/auctions`` is read by :mod:`contracts.rules_json`.

Every string and integer field carries its limits (``Annotated[T, Bound]``, see
:mod:`contracts.bounds`): the parser enforces them and the OpenAPI document publishes
them, so a body the document calls valid is one the parser takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from contracts.bounds import Bound, Ident, Text

__all__ = [
    "AcceptBody",
    "BidBody",
    "CancelBody",
    "DisqualifyBody",
    "EmptyBody",
    "InvitationBody",
    "ProxyBody",
    "RedeemInvitationBody",
    "RegisterBidderBody",
    "TokenBody",
]

#: A token's lifetime in seconds: 0 (or absent) for the server's default, else up to a week.
TokenTtl = Annotated[
    int, Bound(minimum=0, maximum=7 * 86_400, description="seconds; 0 for the default")
]


@dataclass(frozen=True, slots=True)
class RegisterBidderBody:
    """Admit ``party`` as a bidder; MEAT ``coefficient`` and LCC ``cost`` feed scoring,
    ``initial_bid`` is the tender-stage offer of a multi-round auction.

    ``cost`` is the life-cycle cost in major units, the one name and unit it has on the
    wire (a sealed tender offer's ``cost`` too); events record it in minor units."""

    party: Ident
    name: Text | None = None
    coefficient: Decimal | None = None
    cost: Decimal | None = None
    initial_bid: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BidBody:
    """A bid of ``amount`` ``currency``."""

    amount: Decimal
    currency: Text


@dataclass(frozen=True, slots=True)
class ProxyBody:
    """A secret proxy limit."""

    limit: Decimal
    currency: Text


@dataclass(frozen=True, slots=True)
class AcceptBody:
    """Take the Dutch price; with ``expected``, only if it is still that price."""

    expected: Decimal | None = None
    currency: Text | None = None


@dataclass(frozen=True, slots=True)
class EmptyBody:
    """No fields (withdraw, pass)."""


@dataclass(frozen=True, slots=True)
class DisqualifyBody:
    """Exclude ``bidder`` (a party id) from the auction."""

    bidder: Ident
    note: Text = ""


@dataclass(frozen=True, slots=True)
class CancelBody:
    """Cancel the auction."""

    note: Text = ""


@dataclass(frozen=True, slots=True)
class TokenBody:
    """Issue a credential: ``role`` for ``party``, optionally bound to one ``auction``."""

    role: Ident
    party: Ident
    auction: Ident | None = None
    ttl_s: TokenTtl | None = None


#: How long an invitation may be redeemed, in seconds: absent for the server's default
#: (7 days), else 1 s to 30 days.
InvitationLifetime = Annotated[
    int, Bound(minimum=1, maximum=30 * 86_400, description="seconds, 1..30 days")
]
#: An invitation's code: 32 random bytes in base64url without padding (43 characters).
InvitationCode = Annotated[
    str,
    Bound(
        pattern="[A-Za-z0-9_-]{43}",
        description="43 characters of letters, digits, '-' or '_' (an invitation link's code)",
    ),
]


@dataclass(frozen=True, slots=True)
class InvitationBody:
    """Invite ``party``, a registered bidder of the auction, to sign in by a one-time
    link, redeemable for ``expires_in_s`` seconds (absent: the server's default)."""

    party: Ident
    expires_in_s: InvitationLifetime | None = None


@dataclass(frozen=True, slots=True)
class RedeemInvitationBody:
    """Exchange an invitation's ``code`` (from the link's fragment) for its token, once."""

    code: InvitationCode
