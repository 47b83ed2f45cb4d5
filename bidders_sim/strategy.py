"""What a simulated bidder sees and what it may do: the contract between strategies and
the runners that drive them.

A strategy (:mod:`bidders_sim.strategies`) is a small pure object: no I/O, no clock, no
global randomness. A runner (``gavel sim``'s websocket runner, the demo's opponents)
keeps a :class:`View` of one auction up to date from what the server sends the bidder
(``welcome``, ``event``, ``ack``, ``reject``, ``heartbeat``), and asks the strategy
:meth:`Strategy.decide` after every change and again at :meth:`Strategy.wake_at`. The
answer is one :data:`Action` or ``None`` (nothing now). Randomness arrives as the
``random.Random`` the strategy was built with, seeded by the runner, so the same seed
gives the same commands.

Call order: build with :func:`bidders_sim.strategies.build` (``party``, ``value``,
``rng``), then for each new view: ``decide(view)`` -> maybe send the action; then
``wake_at(view)`` -> sleep until that server time (or the next frame) and ask again.

All amounts are integer minor units of ``View.currency``; all times are microseconds of
server time since the Unix epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

__all__ = ["Accept", "Action", "Bid", "Pass", "Proxy", "Strategy", "View"]

Format = Literal["english", "reverse", "dutch", "sealed", "multi_round"]


@dataclass(frozen=True, slots=True)
class View:
    """One bidder's knowledge of one auction at server time ``now``.

    ``better`` says which way an offer improves: ``"higher"`` on a sale (English, a
    Dutch or sealed sale), ``"lower"`` on a procurement (reverse, a Dutch or sealed
    procurement, multi-round). ``next_valid`` is the least improving amount the rules
    accept from this bidder now (``None`` where no bid is possible now: not started,
    ended, not its turn, a sealed bid already placed, a Dutch clock); a runner works it
    out from the rules and the standing best, and corrects it from a ``reject``'s
    ``bound``. In a sealed auction ``next_valid`` is the bound a bid must respect (a
    sale's minimum, a procurement's ceiling) until the bidder has bid.

    The optional fields after ``bids_seen`` are what some strategies use when a runner can
    tell (``None`` otherwise; a strategy then falls back to waiting for news):
    ``my_proxy`` the bidder's own proxy limit standing now (from its ``ProxySet``);
    ``bidders`` how many bidders are registered (a sealed-bid shader's ``n``);
    ``pricing`` a sealed auction's ``"first_price"`` or ``"second_price"``;
    ``dutch_step`` and ``dutch_interval_us`` a Dutch clock's move and its period (with
    ``start_price`` and ``starts_at`` they tell when the clock reaches a price).
    """

    format: Format
    better: Literal["higher", "lower"]
    currency: str
    now: int
    phase: Literal["scheduled", "running", "ended"]
    starts_at: int
    ends_at: int | None
    start_price: int | None
    best: int | None
    leading: bool
    next_valid: int | None
    my_best: int | None = None
    bids_seen: int = 0
    soft_close_window_us: int | None = None
    dutch_price: int | None = None
    round: int | None = None
    my_turn: bool = False
    turn_ends_at: int | None = None
    my_proxy: int | None = None
    bidders: int | None = None
    pricing: Literal["first_price", "second_price"] | None = None
    dutch_step: int | None = None
    dutch_interval_us: int | None = None


@dataclass(frozen=True, slots=True)
class Bid:
    """Place a bid of ``amount``."""

    amount: int


@dataclass(frozen=True, slots=True)
class Proxy:
    """Set a proxy (automatic bidding) up to ``limit``."""

    limit: int


@dataclass(frozen=True, slots=True)
class Accept:
    """Accept the Dutch clock's price, expected to be ``expected``."""

    expected: int


@dataclass(frozen=True, slots=True)
class Pass:
    """Pass this multi-round turn."""


Action = Bid | Proxy | Accept | Pass


class Strategy(Protocol):
    """A simulated bidder's mind: pure, deterministic given its ``rng``'s seed."""

    #: The name ``gavel sim --strategy`` and the summary use.
    name: ClassVar[str]

    def decide(self, view: View) -> Action | None:
        """The action to send now, or ``None``. O(1); called after every change."""
        ...

    def wake_at(self, view: View) -> int | None:
        """The server time at which to be asked again though nothing arrived (a sniper's
        last seconds, a Dutch price reaching its value), or ``None``: only on news."""
        ...
