"""What every format provides to :class:`~engine.auction.Auction`, and the shared parts.

The auction owns the phase, the bidders and the book and handles the commands every
format shares (register, disqualify, cancel, tick). A format decides its own commands,
folds its own events, says when it next needs time, and prices the award.

Call order, all driven by the auction: ``scheduled_end`` and ``on_start`` when the start
time passes; ``decide`` for each format command while running; ``deadline`` after every
command; ``on_deadline(due, now)`` when ``due`` has passed; ``evolve`` for every event
the auction does not fold itself (and for ``BidderRegistered``/``BidderDisqualified``,
after the auction has).

What may be shown of a format is its own to say (:mod:`engine.formats.view`): the class
attribute ``secrecy`` (what is secret until when), ``view()`` (its public state) and
``own_view(bidder)`` (what one bidder alone may see). A format reaches its auction only
through :class:`~engine.formats.host.Host`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, ClassVar

from engine import events as e
from engine.bidder import Bidder
from engine.errors import IllegalTransition
from engine.formats.host import Host
from engine.formats.view import FormatView, OwnView, Secrecy
from engine.phases import Phase
from engine.reasons import Reason
from engine.rules import Side, Step
from engine.scoring import Score, Scoring, score_of

__all__ = ["Format", "Problem", "StepRule", "bounded"]

#: Why a command is refused: its reason, ``detail`` and, when it names an amount, bound.
Problem = tuple[Reason, str, e.Bound | None]


def bounded(
    kind: e.BoundKind, amount: int, currency: str, lead: str = "", tail: str = ""
) -> tuple[str, e.Bound]:
    """A rejection's ``detail`` naming ``amount`` (minor units of ``currency``) in major
    units, and its :class:`~engine.events.Bound`. O(digits).

    >>> bounded(e.BoundKind.MIN, 115000, "EUR")[0]
    'at least 1150.00 EUR'
    """
    bound = e.Bound(kind, amount, currency)
    return bound.words(lead, tail), bound


class StepRule:
    """A minimum step, absolute or a percentage of a positive reference. O(1).

    >>> from decimal import Decimal
    >>> StepRule(Step(percent=Decimal("2.5"))).of(1001)
    26
    """

    __slots__ = ("amount", "percent")

    def __init__(self, step: Step) -> None:
        self.amount = step.amount
        self.percent = None if step.percent is None else Fraction(step.percent) / 100

    def of_price(self, price: int) -> int:
        """The step for a price in minor units: a whole number of minor units, never zero."""
        percent = self.percent
        if percent is None:
            return self.amount
        return -((-price * percent.numerator) // percent.denominator)

    def of(self, reference: Score) -> Score:
        """The step for ``reference``: whole minor units for an ``int``, exact for a Fraction."""
        percent = self.percent
        if percent is None:
            return self.amount
        if type(reference) is int:
            # ceil(reference * percent) in integers: a percentage step is never zero.
            return -((-reference * percent.numerator) // percent.denominator)
        return reference * percent


class Format:
    """Base of the format logic objects; one instance per auction."""

    __slots__ = ("auction", "side", "scoring")

    #: What this format keeps secret and until when (:mod:`engine.formats.view`); the
    #: default keeps nothing secret but proxy limits.
    secrecy: ClassVar[Secrecy] = Secrecy()

    def __init__(self, auction: Host, side: Side, scoring: Scoring) -> None:
        self.auction = auction
        self.side = side
        self.scoring = scoring

    # -- called by the auction ------------------------------------------------

    def scheduled_end(self) -> int | None:
        """The end time announced in ``AuctionStarted`` (``None`` if not fixed)."""
        return None

    def on_start(self, at: int) -> None:
        """Emit whatever the format does when bidding opens at ``at``."""

    def deadline(self) -> int | None:
        """When this format next needs time to pass, or ``None``."""
        return None

    def on_deadline(self, due: int, now: int) -> None:  # pragma: no cover - abstract
        """Make the deadline ``due`` take effect; ``now`` is the time it is observed."""
        raise NotImplementedError

    def decide(self, command: Any) -> None:
        """Decide a format command. The default refuses every command."""
        self.auction.reject(command, Reason.NOT_SUPPORTED)

    def registration_problem(self, phase: Phase, initial_bid: int | None) -> Problem | None:
        """Why a bidder cannot register now, or ``None``. Default: no initial bids."""
        if initial_bid is not None:
            return Reason.NOT_SUPPORTED, "initial bids belong to multi-round auctions", None
        return None

    def on_disqualified(self, bidder: str, at: int, command_id: str) -> None:
        """Decide what else a disqualification causes (after ``BidderDisqualified``)."""

    def evolve(self, event: Any) -> None:
        """Fold a format event. Registration and disqualification need nothing by default."""
        if type(event) not in (e.BidderRegistered, e.BidderDisqualified):
            raise IllegalTransition(f"{type(event).__name__} in a {type(self).__name__}")

    def state(self) -> tuple[object, ...]:
        """The format's own folded state, for equality with a replay."""
        return ()

    def snapshot(self) -> dict[str, Any]:
        """The format's own folded state as JSON-ready data (:mod:`engine.snapshot`).

        Everything :meth:`state` holds and nothing derived from the rules. O(state).
        """
        return {}

    def restore(self, data: dict[str, Any]) -> None:
        """Set the state that :meth:`snapshot` wrote, on a format fresh from its rules.

        Raises ``MalformedRecord``, ``KeyError``, ``TypeError`` or ``ValueError`` for
        data it did not write (:mod:`engine.snapshot` turns them all into
        ``MalformedRecord``). O(state).
        """
        if data:
            raise ValueError(f"unexpected format state {sorted(data)}")

    def check(self) -> None:
        """Assert the format's invariants."""

    # -- what may be shown --------------------------------------------------------

    def view(self) -> FormatView:
        """The format's own state that everyone may see now, as a frozen snapshot. O(1).

        Secrets are not in it: what of the book may be shown is :attr:`secrecy`'s to say.
        """
        return FormatView()

    def own_view(self, bidder: str) -> OwnView:
        """What ``bidder`` alone may see of its own standing in the format. O(1)."""
        return OwnView()

    # -- shared parts -----------------------------------------------------------

    def score(self, bidder: Bidder, price: int) -> Score:
        """The score of ``price`` bid by ``bidder`` (the price itself without scoring)."""
        if self.scoring is Scoring.NONE:
            return price
        return score_of(self.scoring, price, bidder.coefficient, bidder.cost)

    def key(self, price: int, score: Score) -> Score:
        """The book key: lower is better (``-price`` for a sale, the score otherwise)."""
        return -price if self.side is Side.SALE else score

    def rest(self, event: e.BidAccepted) -> None:
        """Put an accepted bid in the book."""
        self.auction.book.place(
            self.key(event.price, event.score), event.seq, event.bidder, event.price
        )

    def ranking(self) -> tuple[e.Standing, ...]:
        """The book as a ranking, best first. O(n)."""
        sale = self.side is Side.SALE
        return tuple(
            e.Standing(rank, bidder, price, price if sale else key)
            for rank, (key, _, bidder, price) in enumerate(self.auction.book, 1)
        )

    def clearing(self, ranking: tuple[e.Standing, ...]) -> tuple[int, Score]:
        """Price and score the winner (``ranking[0]``) gets. Default: its own bid."""
        return ranking[0].price, ranking[0].score
