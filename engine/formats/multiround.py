"""Multi-round procurement auction (the Prozorro model).

Bidders register with their initial offers from the tender stage. At the start: no
offers cancels the auction; one offer is awarded at once; otherwise ``rounds`` rounds
follow. A round orders the bidders from the worst current offer to the best (the leader
bids last; ties: the later offer goes first) and gives each an exclusive turn of
``turn_us``. During its turn a bidder may bid (each bid must improve its offer from
before the turn by at least the step; a later bid in the same turn replaces an earlier
one) or pass, which ends the turn at once. A bid stays private until its turn ends; then
``TurnEnded`` makes it the bidder's offer. Rounds are separated by ``pause_us``. After the
last round the best offer wins. A disqualified bidder loses its turns and its offer.
Every command is O(log n); starting a round is O(n).
"""

from __future__ import annotations

from typing import Any

from engine import commands as c
from engine import events as e
from engine.codec import from_data, to_data
from engine.formats.base import Format, Problem, StepRule, bounded
from engine.formats.host import Host
from engine.formats.view import FormatView, OwnView, Reveal, Rounds, Secrecy, Turn, TurnView
from engine.instant import iso_utc
from engine.phases import Phase
from engine.reasons import Reason
from engine.rules import MultiRoundRules, Side
from engine.scoring import Score

__all__ = ["MultiRound"]


class MultiRound(Format):
    """Logic of the multi-round procurement auction."""

    __slots__ = (
        "rules",
        "round",
        "order",
        "turn",
        "turn_ends_at",
        "pending",
        "resumes_at",
        "_step",
    )

    #: A turn's bids stay private until the close (``TurnEnded`` shows each turn's
    #: result); the tender-stage offers, and the book they make, until bidding opens.
    secrecy = Secrecy(bids=Reveal.AT_CLOSE, book=Reveal.AT_START, offers=Reveal.AT_START)

    def __init__(self, auction: Host, rules: MultiRoundRules) -> None:
        super().__init__(auction, Side.PROCUREMENT, rules.scoring)
        self.rules = rules
        self.round = 0
        self.order: tuple[str, ...] = ()
        #: Index in ``order`` of the bidder whose turn it is (-1 between turns).
        self.turn = -1
        self.turn_ends_at: int | None = None
        #: The private bid of the current turn: (price, score, seq).
        self.pending: tuple[int, Score, int] | None = None
        self.resumes_at: int | None = None
        self._step = StepRule(rules.step)

    # -- registration -----------------------------------------------------------

    def registration_problem(self, phase: Phase, initial_bid: int | None) -> Problem | None:
        if phase is not Phase.SCHEDULED:
            return Reason.REGISTRATION_CLOSED, "bidders join before the auction starts", None
        if initial_bid is None:
            return Reason.AMOUNT_INVALID, "an initial_bid is required", None
        start = self.rules.start_price
        if start is not None and initial_bid > start:
            return Reason.ABOVE_START_PRICE, *bounded(e.BoundKind.MAX, start, self.rules.currency)
        return None

    # -- timing -----------------------------------------------------------------

    def on_start(self, at: int) -> None:
        count = len(self.auction.book)
        if count == 0:
            self.auction.finish(at, e.Outcome.CANCELLED, "no bids")
        elif count == 1:
            self.auction.finish(at, e.Outcome.AWARDED, "single bidder")
        else:
            self._start_round(1, at)

    def deadline(self) -> int | None:
        if self.auction.phase is Phase.PAUSED:
            return self.resumes_at
        return self.turn_ends_at

    def on_deadline(self, due: int, now: int) -> None:
        if self.auction.phase is Phase.PAUSED:
            self._start_round(self.round + 1, due)
        else:
            self._end_turn(due, passed=False)

    def _start_round(self, number: int, at: int) -> None:
        auction = self.auction
        order = tuple(entry[2] for entry in reversed(list(auction.book)))
        auction.emit(e.RoundStarted(auction.seq + 1, at, number, order))
        self._next_turn(at)

    def _next_turn(self, at: int) -> None:
        auction = self.auction
        for index in range(self.turn + 1, len(self.order)):
            bidder = self.order[index]
            if not auction.bidders[bidder].disqualified:
                auction.emit(
                    e.TurnStarted(auction.seq + 1, at, self.round, bidder, at + self.rules.turn_us)
                )
                return
        last = self.round >= self.rules.rounds
        resumes = None if last else at + self.rules.pause_us
        auction.emit(e.RoundEnded(auction.seq + 1, at, self.round, resumes))
        if last:
            auction.finish(at, e.Outcome.AWARDED)

    def _end_turn(self, at: int, passed: bool) -> None:
        auction = self.auction
        bidder = self.order[self.turn]
        price: int | None = None
        score: Score | None = None
        if self.pending is not None:
            price, score, _ = self.pending
        else:
            own = auction.book.get(bidder)
            if own is not None:
                price, score = own[3], own[0]
        auction.emit(e.TurnEnded(auction.seq + 1, at, self.round, bidder, price, score, passed))
        self._next_turn(at)

    # -- commands ---------------------------------------------------------------

    def decide(self, command: Any) -> None:
        auction = self.auction
        kind = type(command)
        if kind is not c.PlaceBid and kind is not c.PassTurn:
            only = "a multi-round auction takes bids and passes only"
            return auction.reject(command, Reason.NOT_SUPPORTED, only)
        bidder = auction.eligible(command)
        if bidder is None:
            return None
        if self.turn < 0 or self.order[self.turn] != command.bidder:
            return auction.reject(command, Reason.OUT_OF_TURN, self._turn_now())
        if kind is c.PassTurn:
            return self._end_turn(command.at, passed=True)
        price = auction.money(command, command.amount, command.currency)
        if price is None:
            return None
        own = auction.book.get(command.bidder)
        assert own is not None
        ceiling = own[3] - self._step.of_price(own[3])
        if price > ceiling:
            why = bounded(e.BoundKind.MAX, ceiling, self.rules.currency)
            return auction.reject(command, Reason.INSUFFICIENT_IMPROVEMENT, *why)
        score = self.score(bidder, price)
        auction.emit(
            e.BidAccepted(
                auction.seq + 1, command.at, command.command_id, command.bidder, price, score, False
            )
        )
        return None

    def on_disqualified(self, bidder: str, at: int, command_id: str) -> None:
        if self.turn >= 0 and self.order[self.turn] == bidder:
            self._end_turn(at, passed=False)

    # -- what may be shown ------------------------------------------------------

    def view(self) -> FormatView:
        turn = None if self.turn < 0 else Turn(self.order[self.turn], self.turn_ends_at)
        return FormatView(rounds=Rounds(self.round, turn))

    def own_view(self, bidder: str) -> OwnView:
        yours = self.turn >= 0 and self.order[self.turn] == bidder
        pending = self.pending[0] if yours and self.pending is not None else None
        return OwnView(turn=TurnView(yours, pending))

    def _turn_now(self) -> str:
        # Whose turn it is, without naming the bidder: an out_of_turn rejection's detail.
        if self.turn < 0:
            return "no turn is running"
        turn, ends = self.turn + 1, self.turn_ends_at
        assert ends is not None
        return f"turn {turn} of round {self.round} is another bidder's, until {iso_utc(ends)}"

    # -- events -----------------------------------------------------------------

    def evolve(self, event: Any) -> None:
        kind = type(event)
        if kind is e.BidAccepted:
            self.pending = (event.price, event.score, event.seq)
        elif kind is e.TurnStarted:
            self.turn = self.order.index(event.bidder, self.turn + 1)
            self.turn_ends_at = event.ends_at
            self.pending = None
        elif kind is e.TurnEnded:
            if self.pending is not None:
                price, score, seq = self.pending
                self.auction.book.place(score, seq, event.bidder, price)
            self.pending = None
            self.turn_ends_at = None
        elif kind is e.RoundStarted:
            self.round = event.round
            self.order = event.order
            self.turn = -1
            self.resumes_at = None
        elif kind is e.RoundEnded:
            self.turn = -1
            self.resumes_at = event.resumes_at
        elif kind is e.BidderRegistered:
            assert event.initial_bid is not None
            bidder = self.auction.bidders[event.bidder]
            score = self.score(bidder, event.initial_bid)
            self.auction.book.place(score, event.seq, event.bidder, event.initial_bid)
        elif kind is e.BidderDisqualified:
            if self.turn >= 0 and self.order[self.turn] == event.bidder:
                self.pending = None
        elif kind is not e.AuctionStarted:
            super().evolve(event)

    def state(self) -> tuple[object, ...]:
        return (
            self.round,
            self.order,
            self.turn,
            self.turn_ends_at,
            self.pending,
            self.resumes_at,
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "order": to_data(self.order),
            "turn": self.turn,
            "turn_ends_at": self.turn_ends_at,
            "pending": to_data(self.pending),
            "resumes_at": self.resumes_at,
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.round = from_data(int, data["round"], "round")
        self.order = from_data(tuple[str, ...], data["order"], "order")
        self.turn = from_data(int, data["turn"], "turn")
        self.turn_ends_at = from_data(int | None, data["turn_ends_at"], "turn_ends_at")
        pending = data["pending"]
        self.pending = (
            None
            if pending is None
            else (
                from_data(int, pending[0], "pending"),
                from_data(Score, pending[1], "pending"),
                from_data(int, pending[2], "pending"),
            )
        )
        self.resumes_at = from_data(int | None, data["resumes_at"], "resumes_at")

    def check(self) -> None:
        assert 0 <= self.round <= self.rules.rounds
        assert (self.turn >= 0) == (self.turn_ends_at is not None)
        assert self.pending is None or self.turn >= 0
