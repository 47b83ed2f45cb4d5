"""The auction state machine: ``handle(command)`` in, events out.

Call order for a runner (the live service, the simulator, the auditor's replay):

1. ``auction = Auction()``, then ``auction.handle(CreateAuction(...))``.
2. For every command, ``events = auction.handle(command)``; persist ``events`` in order.
   ``command.at`` is the server time; it must never go backwards.
3. After each call, ask ``auction.next_deadline()`` and deliver a ``Tick`` no earlier than
   that time (a late tick is fine: deadlines take effect at their own time, and any command
   first applies every deadline that has passed).

The state is the fold of the events: ``replay(events) == auction`` always holds. A command
that is refused yields one ``CommandRejected`` event and changes nothing else. Per command
the work is O(log n) in the number of resting bids, plus what a format documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from engine import commands as c
from engine import events as e
from engine.bidder import Bidder
from engine.book import OrderBook
from engine.errors import (
    AuctionNotCreated,
    ClockWentBackwards,
    CorruptLog,
    IllegalTransition,
    UnknownCommand,
)
from engine.formats import Format, format_for
from engine.formats.view import Reveal
from engine.instant import iso_utc
from engine.money import to_minor
from engine.phases import REFUSALS, TRANSITIONS, Phase
from engine.reasons import Reason
from engine.rules import AuctionRules

__all__ = ["Auction", "Bidder", "replay", "MAX_COEFFICIENT"]

#: The largest MEAT coefficient a bidder may bring (the sum of its feature coefficients).
MAX_COEFFICIENT = Decimal(100)

#: The detail of a command the phase table (``phases.REFUSALS``) refuses, by reason;
#: ``auction_not_started`` says when bidding opens instead.
_PHASE_DETAILS = {
    Reason.AUCTION_EXISTS: "the auction was created already",
    Reason.AUCTION_CLOSED: "the auction has ended",
    Reason.REGISTRATION_CLOSED: "bidders join before the auction starts",
    Reason.OUT_OF_TURN: "the auction is paused between rounds: no turn is running",
}


class Auction:
    """One auction: a sans-I/O state machine driven by commands, folded from events."""

    __slots__ = (
        "phase",
        "seq",
        "rules",
        "bidders",
        "book",
        "fmt",
        "ended",
        "_now",
        "_out",
        "_apply_by_type",
    )

    def __init__(self) -> None:
        self.phase = Phase.NEW
        self.seq = 0
        self.rules: AuctionRules | None = None
        self.bidders: dict[str, Bidder] = {}
        self.book = OrderBook()
        self.fmt: Format | None = None
        #: The closing event once the auction has ended.
        self.ended: e.AuctionEnded | None = None
        self._now = 0
        self._out: list[e.Event] = []
        self._apply_by_type: dict[type[Any], Callable[[Any], None]] = {
            e.AuctionCreated: self._apply_created,
            e.BidderRegistered: self._apply_registered,
            e.BidderDisqualified: self._apply_disqualified,
            e.CommandRejected: _ignore,
            e.AuctionEnded: self._apply_ended,
        }

    # ------------------------------------------------------------------ commands

    def handle(self, command: c.Command) -> list[e.Event]:
        """Decide ``command`` and return the events it caused, already applied. O(log n).

        Raises only :class:`~engine.errors.EngineMisuse` subclasses, and then changes nothing.
        """
        kind = type(command)
        if kind not in _COMMAND_TYPES:
            raise UnknownCommand(f"not an engine command: {kind.__name__}")
        at = command.at
        if at < self._now:
            raise ClockWentBackwards(f"command at {at} is before {self._now}")
        out: list[e.Event] = []
        self._out = out
        if self.phase is Phase.NEW:
            if kind is not c.CreateAuction:
                raise AuctionNotCreated(f"{kind.__name__} before CreateAuction")
            self._create(command)  # type: ignore[arg-type]
            return out
        self._advance_if_due(at)
        reason = REFUSALS[self.phase].get(kind)
        if reason is not None:
            self.reject(command, reason, self._refused_in_phase(reason))
        elif kind is c.Tick:
            pass
        elif kind is c.RegisterBidder:
            self._register(command)  # type: ignore[arg-type]
        elif kind is c.DisqualifyBidder:
            self._disqualify(command)  # type: ignore[arg-type]
        elif kind is c.CancelAuction:
            self.finish(at, e.Outcome.CANCELLED, note=command.note)  # type: ignore[union-attr]
        else:
            assert self.fmt is not None
            self.fmt.decide(command)
        # A command can make a deadline due at once (a pass that ends a round with no
        # pause): apply it now rather than wait for a tick at the same instant.
        self._advance_if_due(at)
        self._now = at
        return out

    def next_deadline(self) -> int | None:
        """The server time at which the auction next needs a ``Tick``; ``None`` if never. O(1)."""
        if self.phase is Phase.SCHEDULED:
            assert self.rules is not None
            return self.rules.starts_at
        if self.phase is Phase.RUNNING or self.phase is Phase.PAUSED:
            assert self.fmt is not None
            return self.fmt.deadline()
        return None

    def _advance_if_due(self, at: int) -> None:
        """:meth:`_advance`, with the common case (running, nothing due) inlined."""
        fmt = self.fmt
        if self.phase is Phase.RUNNING and fmt is not None:
            due = fmt.deadline()
            if due is None or due > at:
                return
        self._advance(at)

    def _advance(self, at: int) -> None:
        """Let every deadline up to ``at`` take effect, each at its own time."""
        while True:
            due = self.next_deadline()
            if due is None or due > at:
                return
            fmt = self.fmt
            assert fmt is not None
            before = self.seq
            if self.phase is Phase.SCHEDULED:
                self.emit(e.AuctionStarted(self.seq + 1, due, fmt.scheduled_end()))
                fmt.on_start(due)
            else:
                fmt.on_deadline(due, at)
            if self.seq == before:
                raise AssertionError(f"deadline {due} fired without effect")  # pragma: no cover

    def _create(self, command: c.CreateAuction) -> None:
        problem = command.rules.problem()
        if problem is None and command.rules.starts_at < command.at:
            # Deadlines take effect at their own time; one before creation cannot.
            problem = "starts_at is before the time of creation"
        if problem is not None:
            self.reject(command, Reason.INVALID_RULES, problem)
        else:
            self.emit(e.AuctionCreated(self.seq + 1, command.at, command.rules))
        self._now = command.at

    def _register(self, command: c.RegisterBidder) -> None:
        rules, fmt = self.rules, self.fmt
        assert rules is not None and fmt is not None
        if command.bidder in self.bidders:
            registered = f"{command.bidder!r} is registered already"
            return self.reject(command, Reason.BIDDER_ALREADY_REGISTERED, registered)
        coefficient = command.coefficient
        if (
            not isinstance(coefficient, Decimal)
            or not coefficient.is_finite()
            or not Decimal(0) <= coefficient <= MAX_COEFFICIENT
        ):
            return self.reject(command, Reason.INVALID_SCORING_INPUT, "coefficient out of range")
        raw_cost = command.cost
        # is_zero() rather than == 0: comparing a signalling NaN raises.
        free = isinstance(raw_cost, Decimal) and raw_cost.is_zero()
        cost = 0 if free else to_minor(raw_cost, rules.currency, rules.max_amount)
        if isinstance(cost, Reason):
            return self.reject(command, Reason.INVALID_SCORING_INPUT, f"cost: {cost.value}")
        initial: int | None = None
        if command.initial_bid is not None:
            minor = to_minor(command.initial_bid, rules.currency, rules.max_amount)
            if isinstance(minor, Reason):
                words, bound = e.refused_amount(minor, rules.currency, rules.max_amount)
                return self.reject(command, minor, f"initial_bid: {words}", bound)
            initial = minor
        problem = fmt.registration_problem(self.phase, initial)
        if problem is not None:
            return self.reject(command, *problem)
        label = f"Bidder {len(self.bidders) + 1}"
        self.emit(
            e.BidderRegistered(
                self.seq + 1, command.at, command.bidder, label, coefficient, cost, initial
            )
        )

    def _disqualify(self, command: c.DisqualifyBidder) -> None:
        bidder = self.bidders.get(command.bidder)
        if bidder is None:
            return self.reject(command, Reason.UNKNOWN_BIDDER, _unknown(command.bidder))
        if bidder.disqualified:
            return self.reject(command, Reason.BIDDER_DISQUALIFIED, "disqualified already")
        self.emit(e.BidderDisqualified(self.seq + 1, command.at, command.bidder, command.note))
        assert self.fmt is not None
        self.fmt.on_disqualified(command.bidder, command.at, command.command_id)

    # ------------------------------------------------------------ helpers for formats

    def emit(self, event: Any) -> None:
        """Apply ``event`` and add it to the output of the command being handled. O(log n).

        The live path of :meth:`apply`: the engine numbers its own events (``seq`` is
        always the next one, ``at`` never before the clock), so only the phase table is
        consulted; :meth:`apply` checks everything for events read from a log.
        """
        kind = type(event)
        following = TRANSITIONS[self.phase].get(kind)
        if following is None:  # pragma: no cover - an engine bug, never a caller's
            raise IllegalTransition(f"{kind.__name__} in phase {self.phase.value}")
        handler = self._apply_by_type.get(kind)
        if handler is not None:
            handler(event)
        else:
            self.fmt.evolve(event)  # type: ignore[union-attr]
        self.phase = following
        self.seq = event.seq
        if event.at > self._now:
            self._now = event.at
        self._out.append(event)

    def reject(
        self, command: Any, reason: Reason, detail: str = "", bound: e.Bound | None = None
    ) -> None:
        """Record that ``command`` was refused for ``reason``; nothing else changes.
        ``bound``: the amount it broke, when ``detail`` names one (in major units)."""
        self.emit(
            e.CommandRejected(
                self.seq + 1,
                command.at,
                command.command_id,
                type(command).__name__,
                getattr(command, "bidder", None),
                reason,
                detail,
                bound,
            )
        )

    def _refused_in_phase(self, reason: Reason) -> str:
        """The detail of a command the phase table refuses for ``reason``. O(1)."""
        if reason is Reason.AUCTION_NOT_STARTED:
            assert self.rules is not None
            return f"bidding opens at {iso_utc(self.rules.starts_at)}"
        return _PHASE_DETAILS.get(reason, f"not while the auction is {self.phase.value}")

    def finish(self, at: int, outcome: e.Outcome, note: str = "") -> None:
        """End the auction: award the book's leader or record why there is no award."""
        assert self.fmt is not None
        ranking = self.fmt.ranking()
        if outcome is e.Outcome.CANCELLED and self.fmt.secrecy.book is Reveal.AT_CLOSE:
            # A cancelled auction is never opened: a book secret until the close (sealed
            # bids) stays secret for ever.
            ranking = ()
        if outcome is e.Outcome.AWARDED and ranking:
            winner = ranking[0]
            price, score = self.fmt.clearing(ranking)
            self.emit(
                e.AuctionEnded(
                    self.seq + 1, at, outcome, (winner.bidder,), price, score, ranking, note
                )
            )
        else:
            if outcome is e.Outcome.AWARDED:
                outcome = e.Outcome.NO_BIDS
            self.emit(e.AuctionEnded(self.seq + 1, at, outcome, (), None, None, ranking, note))

    def eligible(self, command: Any) -> Bidder | None:
        """The bidder behind ``command`` if it may bid; otherwise record the rejection."""
        bidder = self.bidders.get(command.bidder)
        if bidder is None:
            self.reject(command, Reason.UNKNOWN_BIDDER, _unknown(command.bidder))
            return None
        if bidder.disqualified:
            self.reject(command, Reason.BIDDER_DISQUALIFIED, "this bidder was disqualified")
            return None
        return bidder

    def money(self, command: Any, amount: Decimal, currency: str | None) -> int | None:
        """``amount`` in minor units if acceptable; otherwise record the rejection."""
        rules = self.rules
        assert rules is not None
        if currency != rules.currency:
            self.reject(command, Reason.WRONG_CURRENCY, f"this auction is in {rules.currency}")
            return None
        minor = to_minor(amount, currency, rules.max_amount)
        if isinstance(minor, Reason):
            self.reject(command, minor, *e.refused_amount(minor, currency, rules.max_amount))
            return None
        return minor

    # ------------------------------------------------------------------ events

    def apply(self, event: e.Event) -> None:
        """Fold one event into the state. O(log n); :class:`CorruptLog` if it cannot follow."""
        following = TRANSITIONS[self.phase].get(type(event))
        if following is None:
            raise IllegalTransition(f"{type(event).__name__} in phase {self.phase.value}")
        if event.seq != self.seq + 1:
            raise CorruptLog(f"event seq {event.seq} does not follow {self.seq}")
        if event.at < self._now and type(event) is not e.CommandRejected:
            raise CorruptLog(f"event at {event.at} is before {self._now}")
        handler = self._apply_by_type.get(type(event))
        if handler is not None:
            handler(event)
        else:
            assert self.fmt is not None
            self.fmt.evolve(event)
        self.phase = following
        self.seq = event.seq
        if event.at > self._now:
            self._now = event.at

    def _apply_created(self, event: e.AuctionCreated) -> None:
        self.rules = event.rules
        self.fmt = format_for(self, event.rules)

    def _apply_registered(self, event: e.BidderRegistered) -> None:
        self.bidders[event.bidder] = Bidder(
            event.label, Fraction(event.coefficient), event.cost, event.initial_bid
        )
        self.book.intern(event.bidder)
        assert self.fmt is not None
        self.fmt.evolve(event)

    def _apply_disqualified(self, event: e.BidderDisqualified) -> None:
        self.bidders[event.bidder] = replace(self.bidders[event.bidder], disqualified=True)
        self.book.remove(event.bidder)
        assert self.fmt is not None
        self.fmt.evolve(event)

    def _apply_ended(self, event: e.AuctionEnded) -> None:
        self.ended = event

    # ------------------------------------------------------------------ views

    @property
    def now(self) -> int:
        """The latest server time this auction has seen; the next command must not be earlier."""
        return self._now

    def state(self) -> tuple[object, ...]:
        """Everything the events determine, for comparing a live auction with its replay."""
        return (
            self.phase,
            self.seq,
            self.rules,
            dict(self.bidders),
            list(self.book),
            self.fmt.state() if self.fmt is not None else None,
            self.ended,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Auction) and self.state() == other.state()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Auction phase={self.phase.value} seq={self.seq} bids={len(self.book)}>"

    def _check(self) -> None:
        """Assert every invariant of the auction and its book. O(n)."""
        self.book._check()
        # entries(), not iteration: checking must not materialize the book's ranking.
        for _, _, bidder, _ in self.book.entries():
            assert bidder in self.bidders and not self.bidders[bidder].disqualified
        assert (self.phase is Phase.ENDED) == (self.ended is not None)
        assert (self.phase is Phase.NEW) == (self.rules is None)
        if self.fmt is not None:
            self.fmt.check()


def replay(events: Iterable[e.Event]) -> Auction:
    """Rebuild an auction by folding ``events`` in order. O(total events × log n)."""
    auction = Auction()
    for event in events:
        auction.apply(event)
    return auction


def _unknown(bidder: str) -> str:
    # Echoes the id the command itself named (the bidder's own, or the officer's choice
    # in a disqualification): the rejection is shown only to them and to officers.
    return f"{bidder!r} is not registered in this auction"


def _ignore(event: object) -> None:
    """Events that change nothing but the log position."""


_COMMAND_TYPES = frozenset(
    {
        c.CreateAuction,
        c.RegisterBidder,
        c.DisqualifyBidder,
        c.PlaceBid,
        c.SetProxy,
        c.AcceptPrice,
        c.WithdrawBid,
        c.PassTurn,
        c.CancelAuction,
        c.Tick,
    }
)
