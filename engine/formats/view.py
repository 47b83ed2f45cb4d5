"""What a format lets be shown: its secrets and when they open, and a read-only view of it.

Every secrecy rule of the auction formats is stated here once, as data, and read by every
adapter that shows an auction (the public state, the per-role event stream, the demo's
narration) and by the engine itself (a cancelled auction whose book is secret until the
close publishes an empty ranking):

- :class:`Secrecy` says, per format, *what* is kept secret and until *when*
  (a :class:`Reveal`); ``secrecy_for(rules)`` in :mod:`engine.formats` gives it from the
  rules alone, ``Format.secrecy`` from the logic object.
- :class:`Moment` is how far an auction has got, and :meth:`Moment.hides` is the one rule
  that decides whether something is hidden from a viewer at that moment.
- :class:`FormatView` (``Format.view()``) and :class:`OwnView` (``Format.own_view(bidder)``)
  are frozen snapshots of the format's public and per-bidder state; a section is ``None``
  for a format that has no such thing (a sealed auction has no clock).

Nothing here is ever hidden from the bidder it belongs to: a bidder always sees its own
bids, offers and proxy limit. Views are built in O(1).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Clock",
    "Close",
    "FormatView",
    "Moment",
    "OwnView",
    "ProxyView",
    "Reveal",
    "Rounds",
    "Secrecy",
    "Turn",
    "TurnView",
]


class Reveal(StrEnum):
    """When something a format keeps secret may be shown to those it is kept from.

    - ``at_once``: public as it happens.
    - ``at_start``: kept from bidders and observers until bidding opens; officers and
      auditors see it before (they handed it over: a tender's opened offers).
    - ``at_close``: kept from everyone but its own bidder, officers and auditors too, until
      the auction ends; an auction that ends by cancellation is never opened.
    """

    AT_ONCE = "at_once"
    AT_START = "at_start"
    AT_CLOSE = "at_close"


@dataclass(frozen=True, slots=True)
class Moment:
    """How far an auction has got, as far as its secrets care: whether bidding has
    opened, and whether the auction has been opened at its close."""

    started: bool
    opened: bool

    def hides(self, reveal: Reveal, privileged: bool) -> bool:
        """Whether something revealed ``reveal`` is hidden now from a viewer other than
        its own bidder (``privileged``: an officer or auditor). O(1).

        >>> Moment(started=True, opened=False).hides(Reveal.AT_CLOSE, privileged=True)
        True
        >>> Moment(started=False, opened=False).hides(Reveal.AT_START, privileged=True)
        False
        """
        if reveal is Reveal.AT_CLOSE:
            return not self.opened
        if reveal is Reveal.AT_START:
            return not (self.started or privileged)
        return False


@dataclass(frozen=True, slots=True)
class Secrecy:
    """What a format keeps secret, and until when.

    ``bids``: the bids bidders place and withdraw (``BidAccepted``, ``BidWithdrawn``).
    ``book``: the standing book (the live ranking, who leads, a bidder's rank).
    ``offers``: the initial offers bidders register with.
    ``proxies``: proxy limits (``ProxySet``): secret until the close in every format.
    """

    bids: Reveal = Reveal.AT_ONCE
    book: Reveal = Reveal.AT_ONCE
    offers: Reveal = Reveal.AT_ONCE
    proxies: Reveal = Reveal.AT_CLOSE


@dataclass(frozen=True, slots=True)
class Close:
    """An open-cry auction's current end (a soft close moves it)."""

    ends_at: int


@dataclass(frozen=True, slots=True)
class Clock:
    """A Dutch auction's clock: the price on offer now (``None`` before the start)."""

    price: int | None


@dataclass(frozen=True, slots=True)
class Turn:
    """Whose exclusive turn it is in a multi-round auction, and when it ends."""

    bidder: str
    ends_at: int | None


@dataclass(frozen=True, slots=True)
class Rounds:
    """A multi-round auction's progress: the round (0 before the first) and the turn
    (``None`` between turns)."""

    round: int
    turn: Turn | None


@dataclass(frozen=True, slots=True)
class FormatView:
    """What a format shows everyone of its own state now, beside the ranking; a section
    is ``None`` when the format has no such thing."""

    close: Close | None = None
    clock: Clock | None = None
    rounds: Rounds | None = None


@dataclass(frozen=True, slots=True)
class ProxyView:
    """A bidder's own proxy limit in an open-cry auction (``None``: no proxy)."""

    limit: int | None


@dataclass(frozen=True, slots=True)
class TurnView:
    """A bidder's own turn in a multi-round auction: whether it is its turn, and the
    private bid it has placed in it (``None`` when not its turn or no bid yet)."""

    yours: bool
    pending_price: int | None


@dataclass(frozen=True, slots=True)
class OwnView:
    """What a format shows one bidder of its own standing, and no one else; a section is
    ``None`` when the format has no such thing."""

    proxy: ProxyView | None = None
    turn: TurnView | None = None
