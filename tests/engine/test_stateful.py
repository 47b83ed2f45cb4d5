"""Random command streams for every auction format, checked after every step.

One Hypothesis ``RuleBasedStateMachine`` per format (English; reverse with each improvement
rule and with MEAT and LCC scoring; Dutch sale and procurement; sealed first and second
price, sale and procurement; multi-round with and without scoring). Each machine creates an
auction from drawn rules, then sends random commands: registrations (some with MEAT
coefficients, LCC costs and initial bids, some invalid), bids and proxy limits near the
current best and junk ones (negative, zero, non-finite, absurdly large, too many decimals,
wrong currency, unknown bidder), price acceptances, withdrawals, passes, disqualifications,
cancellations and ticks. Time only moves forward: small and large steps, and steps onto a
deadline, one microsecond before it or one after it. Once an auction is over the machine
may go on with a fresh one, so a run spends most of its commands on live auctions.

What every run proves, after every command:

- ``handle`` never raises: the machine never misuses the engine, so no exception at all
  (documented or not) may escape;
- ``auction._check()`` holds, ``replay(all events) == auction`` and the incremental fold
  equals it too;
- every event survives the codec byte for byte, and so does every command;
- ``seq`` is 1..n without gaps and event times never go backwards nor pass the command;
- a command first lets due deadlines take effect exactly as a ``Tick`` at its time would,
  then adds its own events; if it is refused, its own events are one ``CommandRejected``
  naming it, and the state is the ticked state apart from ``seq``;
- the reject reason is the documented one wherever the outcome is unambiguous (phase
  refusals, unknown or disqualified bidders, wrong currency, bad amounts, out of turn,
  stale Dutch price, sealed start prices, step rules), and valid commands are accepted;
- ``next_deadline()`` is ``None`` exactly when the auction is new or over, never in the past;
- accepted bids, proxy bids, soft-close extensions, Dutch prices, turns and the result
  (winner, clearing price, ranking, outcome) obey their format's rules;
- in open auctions every proxy has answered: none that is not leading could still lead.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any, ClassVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import engine
from engine import (
    AcceptPrice,
    Auction,
    AuctionCreated,
    AuctionEnded,
    AuctionRules,
    BidAccepted,
    BidderDisqualified,
    BidderRegistered,
    CancelAuction,
    CommandRejected,
    CreateAuction,
    DisqualifyBidder,
    DutchRules,
    EndExtended,
    EnglishRules,
    Event,
    Improvement,
    MultiRoundRules,
    Outcome,
    PassTurn,
    Phase,
    PlaceBid,
    PriceChanged,
    Pricing,
    ProxySet,
    Reason,
    RegisterBidder,
    ReverseRules,
    RoundEnded,
    RoundStarted,
    Scoring,
    SealedRules,
    SetProxy,
    Side,
    SoftClose,
    Step,
    Tick,
    TurnEnded,
    TurnStarted,
    WithdrawBid,
)
from engine.codec import decode_command, decode_event, encode_command, encode_event
from engine.commands import Command
from engine.money import CURRENCIES
from engine.snapshot import restore_snapshot, take_snapshot

SECOND = 1_000_000
#: When every auction here is created (microseconds since the epoch).
T0 = 1_000 * SECOND
DEFAULT_MAX = 10**15

BIDDERS = ("alice", "bob", "carol", "dave", "zoë")
UNKNOWN = "mallory"
WRONG_CURRENCIES = ("USD", "JPY", "KWD", "XXX", "eur", "")
VALID_COEFFICIENTS = ("0", "0.1", "0.25", "1", "2.5", "100", "-0", "0.10")
BAD_COEFFICIENTS = ("-0.1", "100.01", "NaN", "Infinity", "sNaN")

#: A quarter of the profile's example budget per format (the dev/ci profiles in
#: conftest.py give 100, so 25 runs of up to 50 commands per format; "thorough" gives more).
EXAMPLES = max(5, settings().max_examples // 4)
RUN = settings(max_examples=EXAMPLES, stateful_step_count=50, deadline=None)

_BIDDING = (PlaceBid, SetProxy, AcceptPrice, WithdrawBid, PassTurn)
#: The bidding commands each format decides (the others it refuses as not supported).
_SUPPORTED: dict[type[Any], tuple[type[Any], ...]] = {
    EnglishRules: (PlaceBid, SetProxy),
    ReverseRules: (PlaceBid, SetProxy),
    DutchRules: (AcceptPrice,),
    SealedRules: (PlaceBid, WithdrawBid),
    MultiRoundRules: (PlaceBid, PassTurn),
    type(None): (),
}


# ------------------------------------------------------------------------ independent oracles


def money(amount: Decimal, currency: str, limit: int) -> int | frozenset[Reason]:
    """Minor units of ``amount``, or every documented reason that rejects it.

    An amount can be wrong in two ways at once (``0.105`` EUR against a cap of 10 cents is
    both too precise and too large); the engine may name either, so all are returned.
    """
    if not amount.is_finite():
        return frozenset({Reason.AMOUNT_INVALID})
    if amount < 0:
        return frozenset({Reason.AMOUNT_NEGATIVE})
    if amount == 0:
        return frozenset({Reason.AMOUNT_ZERO})
    if amount.adjusted() > 20:
        return frozenset({Reason.AMOUNT_TOO_LARGE})
    numerator, denominator = amount.as_integer_ratio()
    minor, remainder = divmod(numerator * 10 ** CURRENCIES[currency], denominator)
    problems = set()
    if remainder:
        problems.add(Reason.TOO_MANY_DECIMALS)
    if minor > limit or (minor == limit and remainder):
        problems.add(Reason.AMOUNT_TOO_LARGE)
    return frozenset(problems) if problems else minor


def major(minor: int, currency: str, extra_zeros: int = 0) -> Decimal:
    """``minor`` units as a decimal in major units, optionally with trailing zeros."""
    digits = CURRENCIES[currency] + extra_zeros
    amount: Decimal = Decimal(minor) / 10 ** CURRENCIES[currency]
    return amount.quantize(Decimal(1).scaleb(-digits))


def step_of(step: Step, reference: int | Fraction) -> int | Fraction:
    """A minimum step for ``reference``: the amount, or the percentage (ceil for integers)."""
    if step.percent is None:
        return step.amount
    exact = Fraction(reference) * Fraction(step.percent) / 100
    if isinstance(reference, int):
        return -(-exact.numerator // exact.denominator)
    return exact


def score_of(scoring: Scoring, price: int, coefficient: Decimal, cost: int) -> int | Fraction:
    """The documented score: the price, price + cost (LCC), or price / (1 + coefficient)."""
    if scoring is Scoring.LCC:
        return price + cost
    if scoring is Scoring.MEAT:
        return Fraction(price) / (1 + Fraction(coefficient))
    return price


def side_of(rules: AuctionRules) -> Side:
    """Whether ``rules`` describe a sale or a procurement."""
    if isinstance(rules, EnglishRules):
        return Side.SALE
    if isinstance(rules, ReverseRules | MultiRoundRules):
        return Side.PROCUREMENT
    return rules.side


def scoring_of(rules: AuctionRules) -> Scoring:
    """The scoring the rules use (``NONE`` for formats without scoring)."""
    return getattr(rules, "scoring", Scoring.NONE)


def state_without_seq(auction: Auction) -> tuple[object, ...]:
    """The auction's state with the log position left out."""
    state = auction.state()
    return state[:1] + state[2:]


# ------------------------------------------------------------------------ rules strategies

_STARTS = st.integers(0, 2 * SECOND).map(lambda offset: T0 + offset)
_CURRENCY = st.sampled_from(("EUR", "JPY", "KWD", "CLF"))
_PRICE = st.one_of(st.sampled_from((1, 100, 999, 10_000, 123_456)), st.integers(1, 10**6))
_STEP = st.one_of(
    st.builds(Step, amount=st.integers(1, 1_000)),
    st.builds(
        Step,
        percent=st.sampled_from(("0.5", "1", "2.5", "10", "33.3", "100")).map(Decimal),
    ),
)


@st.composite
def _max_amount(draw: st.DrawFn, *prices: int | None) -> int:
    """The default cap, or sometimes a cap just above the rules' prices."""
    if draw(st.booleans()):
        return DEFAULT_MAX
    floor = max((p for p in prices if p is not None), default=1)
    return floor * draw(st.integers(1, 20))


@st.composite
def _soft_close(draw: st.DrawFn, ends_at: int) -> SoftClose | None:
    if draw(st.booleans()):
        return None
    hard = draw(st.none() | st.integers(0, 30 * SECOND).map(lambda extra: ends_at + extra))
    return SoftClose(
        window_us=draw(st.integers(1, 10 * SECOND)),
        extension_us=draw(st.integers(1, 10 * SECOND)),
        hard_close_at=hard,
    )


@st.composite
def english_rules(draw: st.DrawFn) -> EnglishRules:
    """Valid English sale rules, with or without reserve, soft close and proxies."""
    starts = draw(_STARTS)
    ends = starts + draw(st.integers(5 * SECOND, 60 * SECOND))
    start_price = draw(_PRICE)
    reserve = draw(st.none() | st.integers(1, 3 * start_price))
    return EnglishRules(
        currency=draw(_CURRENCY),
        starts_at=starts,
        ends_at=ends,
        start_price=start_price,
        step=draw(_STEP),
        reserve_price=reserve,
        soft_close=draw(_soft_close(ends)),
        allow_proxy=draw(st.integers(0, 4)) > 0,
        max_amount=draw(_max_amount(start_price, reserve)),
    )


@st.composite
def reverse_rules(
    draw: st.DrawFn,
    improvement: Improvement | None = None,
    scoring: Scoring | None = None,
) -> ReverseRules:
    """Valid reverse-auction rules; ``None`` arguments are drawn."""
    starts = draw(_STARTS)
    ends = starts + draw(st.integers(5 * SECOND, 60 * SECOND))
    start_price = draw(_PRICE.map(lambda price: price * 10))
    return ReverseRules(
        currency=draw(_CURRENCY),
        starts_at=starts,
        ends_at=ends,
        start_price=start_price,
        step=draw(_STEP),
        improvement=improvement or draw(st.sampled_from(Improvement)),
        scoring=scoring or draw(st.sampled_from(Scoring)),
        soft_close=draw(_soft_close(ends)),
        allow_proxy=draw(st.integers(0, 4)) > 0,
        max_amount=draw(_max_amount(start_price)),
    )


@st.composite
def dutch_rules(draw: st.DrawFn, side: Side) -> DutchRules:
    """Valid Dutch clock rules for ``side``, with a limit a few dozen steps away."""
    start_price = draw(_PRICE.map(lambda price: price * 10))
    step = draw(st.integers(1, 1_000))
    distance = draw(st.integers(0, 30)) * step + draw(st.integers(0, step - 1))
    limit = max(1, start_price - distance) if side is Side.SALE else start_price + distance
    return DutchRules(
        currency=draw(_CURRENCY),
        starts_at=draw(_STARTS),
        start_price=start_price,
        step=step,
        interval_us=draw(st.integers(SECOND // 2, 5 * SECOND)),
        limit_price=limit,
        side=side,
        max_amount=draw(_max_amount(start_price, limit)),
    )


@st.composite
def sealed_rules(draw: st.DrawFn, pricing: Pricing, side: Side) -> SealedRules:
    """Valid sealed-bid rules; procurements draw a scoring, sales use none."""
    starts = draw(_STARTS)
    start_price = draw(st.none() | _PRICE.map(lambda price: price * 10))
    reserve = draw(st.none() | _PRICE.map(lambda price: price * 10))
    return SealedRules(
        currency=draw(_CURRENCY),
        starts_at=starts,
        ends_at=starts + draw(st.integers(5 * SECOND, 60 * SECOND)),
        pricing=pricing,
        side=side,
        start_price=start_price,
        reserve_price=reserve,
        scoring=draw(st.sampled_from(Scoring)) if side is Side.PROCUREMENT else Scoring.NONE,
        max_amount=draw(_max_amount(start_price, reserve, 10_000)),
    )


@st.composite
def multiround_rules(draw: st.DrawFn, scored: bool) -> MultiRoundRules:
    """Valid multi-round rules; ``scored`` draws MEAT or LCC, otherwise no scoring."""
    start_price = draw(st.none() | _PRICE.map(lambda price: price * 10))
    scoring = draw(st.sampled_from((Scoring.MEAT, Scoring.LCC))) if scored else Scoring.NONE
    return MultiRoundRules(
        currency=draw(_CURRENCY),
        starts_at=draw(_STARTS),
        turn_us=draw(st.integers(SECOND // 2, 5 * SECOND)),
        step=draw(_STEP),
        rounds=draw(st.integers(1, 4)),
        pause_us=draw(st.sampled_from((0, 1)) | st.integers(0, 3 * SECOND)),
        start_price=start_price,
        scoring=scoring,
        max_amount=draw(_max_amount(start_price, 100_000)),
    )


def shifted(rules: AuctionRules, delta: int) -> AuctionRules:
    """``rules`` with every point in time moved ``delta`` microseconds later."""
    if delta == 0:
        return rules
    moved = replace(rules, starts_at=rules.starts_at + delta)
    if isinstance(moved, EnglishRules | ReverseRules | SealedRules):
        moved = replace(moved, ends_at=moved.ends_at + delta)
    soft = getattr(moved, "soft_close", None)
    if soft is not None and soft.hard_close_at is not None:
        later = replace(soft, hard_close_at=soft.hard_close_at + delta)
        moved = replace(moved, soft_close=later)
    return moved


def broken(rules: AuctionRules, now: int) -> Iterable[AuctionRules]:
    """Variants of ``rules`` that ``CreateAuction`` at ``now`` must refuse."""
    yield replace(rules, starts_at=now - 1)  # a start in the past
    yield replace(rules, currency="XXX")
    yield replace(rules, starts_at=-1)
    yield replace(rules, max_amount=0)
    if isinstance(rules, EnglishRules | ReverseRules | SealedRules):
        yield replace(rules, ends_at=rules.starts_at)
    if isinstance(rules, EnglishRules | ReverseRules | MultiRoundRules):
        yield replace(rules, step=Step(amount=0))
        yield replace(rules, step=Step(amount=1, percent=Decimal(1)))
        yield replace(rules, step=Step(percent=Decimal("100.5")))
    if isinstance(rules, DutchRules):
        yield replace(rules, step=0)
        yield replace(rules, interval_us=0)
    if isinstance(rules, MultiRoundRules):
        yield replace(rules, rounds=0)


@st.composite
def _when(draw: st.DrawFn) -> tuple[str, int]:
    """How time moves for the next command: mostly up to a second, rarely a lot, and
    sometimes onto the next deadline (``("deadline", -1 | 0 | 1)``: one microsecond before
    it, on it or after it). Rare enough that most runs see the auction running."""
    mode = draw(st.integers(0, 99))
    if mode < 88:
        return ("after", draw(st.integers(0, SECOND)))
    if mode < 91:
        return ("after", draw(st.integers(0, 10 * SECOND)))
    return ("deadline", draw(st.sampled_from((0, -1, 1))))


_WHO = st.sampled_from((*BIDDERS, UNKNOWN))


# ------------------------------------------------------------------------ the machine


class AuctionMachine(RuleBasedStateMachine):
    """Drives one auction with random commands and checks it after every step.

    Subclasses set ``rules_strategy``; everything else is shared by all formats.
    """

    rules_strategy: ClassVar[st.SearchStrategy[AuctionRules]]

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.ids = itertools.count(1)
        self._reset()

    def _reset(self) -> None:
        """Forget the current auction; the next ``_open`` starts another."""
        self.auction = Auction()
        self.events: list[Event] = []
        #: The fold of ``events``, one event at a time, with per-event checks.
        self.shadow = Auction()
        self.checked = 0
        self.terms: AuctionRules | None = None

    # -- sending --------------------------------------------------------------------

    def _id(self) -> str:
        return f"cmd-{next(self.ids)}"

    def _at(self, when: tuple[str, int]) -> int:
        mode, value = when
        deadline = self.auction.next_deadline()
        if mode == "deadline" and deadline is not None:
            return max(self.now, deadline + value)
        return self.now + (value if mode == "after" else SECOND)

    def send(self, command: Command) -> list[Event]:
        """Hand ``command`` to the auction and check what came out."""
        assert command.at >= self.now
        encoded = encode_command(command)
        assert encode_command(decode_command(encoded)) == encoded
        assert type(decode_command(encoded)) is type(command)

        ticked: list[Event] = []
        ticked_state: Auction | None = None
        expected: frozenset[Reason] | None = None
        if self.auction.phase is not Phase.NEW:
            ticked_state = engine.replay(self.events)
            ticked = ticked_state.handle(Tick("probe", command.at))
            expected = self.expect(ticked_state, [*self.events, *ticked], command)

        # An auction restored from a snapshot of this moment must decide the command the
        # same way (recovery: snapshot plus the tail of the log).
        snapshot = take_snapshot(self.auction)
        twin = restore_snapshot(snapshot)
        assert take_snapshot(twin) == snapshot
        assert twin == self.auction and twin.now == self.auction.now
        try:
            out = self.auction.handle(command)
        except Exception as error:  # the machine never misuses the engine
            raise AssertionError(
                f"{type(error).__name__} escaped handle({command!r}): {error}"
            ) from error
        self.now = command.at
        assert twin.handle(command) == out
        assert twin == self.auction and twin.now == self.auction.now

        # Deadlines first, exactly as a Tick at the command's time would fire them.
        assert out[: len(ticked)] == ticked, (out, ticked)
        own = out[len(ticked) :]
        rejections = [event for event in own if type(event) is CommandRejected]
        if type(command) is Tick:
            assert own == []
        elif rejections:
            assert own == rejections[:1], own
            rejected = rejections[0]
            assert rejected.command_id == command.command_id
            assert rejected.command == type(command).__name__
            assert rejected.bidder == getattr(command, "bidder", None)
            assert rejected.at == command.at
            if ticked_state is not None:
                assert state_without_seq(ticked_state) == state_without_seq(self.auction)
        else:
            assert own, f"{command!r} caused nothing"
        if expected is not None and type(command) is not Tick:
            if expected:
                assert rejections, f"{command!r} accepted; expected one of {set(expected)}"
                assert rejections[0].reason in expected, (rejections[0], expected)
            else:
                assert not rejections, f"{command!r} refused: {rejections[0]!r}"

        self.events.extend(out)
        for event in out:
            self.fold(event)
        return out

    # -- what the engine must answer ------------------------------------------------

    def expect(
        self, auction: Auction, log: list[Event], command: Command
    ) -> frozenset[Reason] | None:
        """The reasons of which the engine must give one (empty: it must accept), or
        ``None`` when the outcome depends on rules this oracle does not model."""
        kind = type(command)
        phase = auction.phase
        if kind is Tick:
            return frozenset()
        if kind is CreateAuction:
            return frozenset({Reason.AUCTION_EXISTS})
        if phase is Phase.ENDED:
            return frozenset({Reason.AUCTION_CLOSED})
        if phase is Phase.SCHEDULED and kind in _BIDDING:
            return frozenset({Reason.AUCTION_NOT_STARTED})
        if phase is Phase.PAUSED and kind in _BIDDING:
            return frozenset({Reason.OUT_OF_TURN})
        if phase is Phase.PAUSED and kind is RegisterBidder:
            return frozenset({Reason.REGISTRATION_CLOSED})
        if kind is CancelAuction:
            return frozenset()
        if isinstance(command, DisqualifyBidder):
            bidder = auction.bidders.get(command.bidder)
            if bidder is None:
                return frozenset({Reason.UNKNOWN_BIDDER})
            return frozenset({Reason.BIDDER_DISQUALIFIED} if bidder.disqualified else ())
        if isinstance(command, RegisterBidder):
            return self._expect_registration(auction, command)
        return self._expect_bidding(auction, log, command)

    def _money(self, amount: Decimal, currency: str | None) -> int | frozenset[Reason]:
        rules = self.terms
        assert rules is not None
        if currency != rules.currency:
            return frozenset({Reason.WRONG_CURRENCY})
        return money(amount, rules.currency, rules.max_amount)

    def _expect_registration(
        self, auction: Auction, command: RegisterBidder
    ) -> frozenset[Reason] | None:
        rules = self.terms
        assert rules is not None
        problems: set[Reason] = set()
        if command.bidder in auction.bidders:
            problems.add(Reason.BIDDER_ALREADY_REGISTERED)
        coefficient = command.coefficient
        if not coefficient.is_finite() or not 0 <= coefficient <= 100:
            problems.add(Reason.INVALID_SCORING_INPUT)
        if not (command.cost.is_finite() and command.cost.is_zero()) and isinstance(
            money(command.cost, rules.currency, rules.max_amount), frozenset
        ):
            problems.add(Reason.INVALID_SCORING_INPUT)
        initial: int | frozenset[Reason] | None = None
        if command.initial_bid is not None:
            initial = money(command.initial_bid, rules.currency, rules.max_amount)
            if isinstance(initial, frozenset):
                problems.update(initial)
        if isinstance(rules, MultiRoundRules):
            if auction.phase is not Phase.SCHEDULED:
                problems.add(Reason.REGISTRATION_CLOSED)
            if initial is None:
                problems.add(Reason.AMOUNT_INVALID)
            elif isinstance(initial, int) and initial > (rules.start_price or initial):
                problems.add(Reason.ABOVE_START_PRICE)
        elif initial is not None:
            problems.add(Reason.NOT_SUPPORTED)
        return frozenset(problems)

    def _expect_bidding(
        self, auction: Auction, log: list[Event], command: Command
    ) -> frozenset[Reason] | None:
        rules = self.terms
        assert rules is not None
        kind = type(command)
        if kind not in _SUPPORTED[type(rules)] or (
            kind is SetProxy and not getattr(rules, "allow_proxy", False)
        ):
            return frozenset({Reason.NOT_SUPPORTED})
        name: str = command.bidder  # type: ignore[union-attr]
        bidder = auction.bidders.get(name)
        problems: set[Reason] = set()
        if bidder is None:
            problems.add(Reason.UNKNOWN_BIDDER)
        elif bidder.disqualified:
            problems.add(Reason.BIDDER_DISQUALIFIED)
        if isinstance(rules, MultiRoundRules) and turn_holder(log) != name:
            problems.add(Reason.OUT_OF_TURN)
        price: int | frozenset[Reason] | None = None
        if isinstance(command, PlaceBid):
            price = self._money(command.amount, command.currency)
        elif isinstance(command, SetProxy):
            price = self._money(command.limit, command.currency)
        elif isinstance(command, AcceptPrice) and command.expected is not None:
            price = self._money(command.expected, command.currency)
        if isinstance(price, frozenset):
            problems.update(price)
        if problems or bidder is None:
            return frozenset(problems)
        # Identity and money are fine: what remains is each format's own price rule.
        own = auction.book.get(name)
        best = auction.book.best()
        if isinstance(command, WithdrawBid):
            return frozenset({Reason.NO_BID_TO_WITHDRAW} if own is None else ())
        if isinstance(command, PassTurn):
            return frozenset()
        if isinstance(command, AcceptPrice):
            clock = clock_price(log)
            stale = price is not None and price != clock
            return frozenset({Reason.STALE_PRICE} if stale else ())
        if isinstance(command, SetProxy):
            return None
        assert isinstance(price, int)
        if isinstance(rules, SealedRules):
            start = rules.start_price
            if start is not None and rules.side is Side.SALE and price < start:
                return frozenset({Reason.BELOW_START_PRICE})
            if start is not None and rules.side is Side.PROCUREMENT and price > start:
                return frozenset({Reason.ABOVE_START_PRICE})
            return frozenset()
        if isinstance(rules, MultiRoundRules):
            assert own is not None
            ceiling = own[3] - step_of(rules.step, own[3])
            return frozenset({Reason.INSUFFICIENT_IMPROVEMENT} if price > ceiling else ())
        if isinstance(rules, EnglishRules):
            if best is None:
                return frozenset({Reason.BELOW_START_PRICE} if price < rules.start_price else ())
            need = best[3] + step_of(rules.step, best[3])
            return frozenset({Reason.INSUFFICIENT_IMPROVEMENT} if price < need else ())
        assert isinstance(rules, ReverseRules)
        if price > rules.start_price:
            return frozenset({Reason.ABOVE_START_PRICE})
        if rules.improvement is Improvement.BEAT_OWN:
            if own is not None and price > own[3] - step_of(rules.step, own[3]):
                return frozenset({Reason.INSUFFICIENT_IMPROVEMENT})
            return frozenset()
        if best is not None:
            mine = score_of(rules.scoring, price, registered(log, name).coefficient, bidder.cost)
            if mine > best[0] - step_of(rules.step, best[0]):
                return frozenset({Reason.INSUFFICIENT_IMPROVEMENT})
        return frozenset()

    # -- the fold, one event at a time --------------------------------------------------

    def fold(self, event: Event) -> None:
        """Apply ``event`` to the shadow auction, checking the format's rules around it."""
        before = self.shadow
        rules = self.terms
        encoded = encode_event(event)
        decoded = decode_event(encoded)
        assert decoded == event and type(decoded) is type(event)
        assert encode_event(decoded) == encoded
        if rules is not None:
            self.check_event(before, rules, self.events[: event.seq - 1], event)
        before.apply(event)
        if type(event) is AuctionCreated:
            self.terms = event.rules
        if type(event) is BidAccepted and rules is not None:
            self.check_accepted(before, rules, event)

    def check_event(
        self, auction: Auction, rules: AuctionRules, log: list[Event], event: Event
    ) -> None:
        """Per-event rules, seen from the state and the ``log`` just before ``event``."""
        sale = side_of(rules) is Side.SALE
        if isinstance(event, BidAccepted):
            assert 0 < event.price <= rules.max_amount
            bidder = auction.bidders[event.bidder]
            assert not bidder.disqualified
            coefficient = registered(log, event.bidder).coefficient
            assert event.score == score_of(scoring_of(rules), event.price, coefficient, bidder.cost)
            if isinstance(rules, EnglishRules):
                assert event.price >= rules.start_price
            if isinstance(rules, ReverseRules | MultiRoundRules) and rules.start_price:
                assert event.price <= rules.start_price
            if event.proxy:
                proxy = auction.fmt.proxies[event.bidder]  # type: ignore[union-attr]
                limit = proxy[2]
                assert event.price <= limit if sale else event.price >= limit
            if isinstance(rules, DutchRules):
                assert event.price == clock_price(log)
            if isinstance(rules, MultiRoundRules):
                assert turn_holder(log) == event.bidder
        elif isinstance(event, EndExtended):
            assert isinstance(rules, EnglishRules | ReverseRules)
            soft = rules.soft_close
            assert soft is not None
            current = auction.fmt.ends_at  # type: ignore[union-attr]
            assert event.ends_at > current
            assert current - event.at <= soft.window_us
            assert event.ends_at <= current + soft.extension_us
            assert soft.hard_close_at is None or event.ends_at <= soft.hard_close_at
        elif isinstance(event, PriceChanged):
            assert isinstance(rules, DutchRules)
            moved = event.price - rules.start_price
            assert moved % rules.step == 0
            assert moved <= 0 if sale else moved >= 0
            if sale:
                assert event.price >= rules.limit_price
            else:
                assert event.price <= rules.limit_price
            previous = clock_price(log)
            if previous is not None:
                assert event.price < previous if sale else event.price > previous
            assert event.next_at == event.at + rules.interval_us
        elif isinstance(event, RoundStarted):
            assert isinstance(rules, MultiRoundRules)
            worst_first = tuple(entry[2] for entry in reversed(list(auction.book)))
            assert event.order == worst_first
            assert 1 <= event.round <= rules.rounds
        elif isinstance(event, TurnStarted):
            assert isinstance(rules, MultiRoundRules)
            assert not auction.bidders[event.bidder].disqualified
            assert event.ends_at == event.at + rules.turn_us
        elif isinstance(event, AuctionEnded):
            self.check_result(auction, rules, event)

    def check_accepted(self, auction: Auction, rules: AuctionRules, event: BidAccepted) -> None:
        """After a bid enters an open book it leads, unless only one's own bid must improve."""
        if isinstance(rules, EnglishRules) or (
            isinstance(rules, ReverseRules) and rules.improvement is Improvement.BEAT_BEST
        ):
            best = auction.book.best()
            assert best is not None and best[2] == event.bidder and best[1] == event.seq

    def check_result(self, auction: Auction, rules: AuctionRules, event: AuctionEnded) -> None:
        """The closing event: its ranking is the book, and the award follows the format."""
        sale = side_of(rules) is Side.SALE
        ranking = event.ranking
        assert [standing.rank for standing in ranking] == list(range(1, len(ranking) + 1))
        if event.outcome is Outcome.CANCELLED and isinstance(rules, SealedRules):
            assert ranking == ()  # a cancelled sealed auction is never opened
        else:
            assert [s.bidder for s in ranking] == [entry[2] for entry in auction.book]
            assert [s.price for s in ranking] == [entry[3] for entry in auction.book]
        for standing in ranking:
            assert not auction.bidders[standing.bidder].disqualified
        if sale:
            prices = [standing.price for standing in ranking]
            assert prices == sorted(prices, reverse=True)
        else:
            scores = [standing.score for standing in ranking]
            assert scores == sorted(scores)
        if event.outcome is not Outcome.AWARDED:
            assert event.winners == () and event.price is None and event.score is None
        if event.outcome is Outcome.NO_BIDS:
            assert ranking == ()
        if event.outcome is Outcome.LIMIT_REACHED:
            assert isinstance(rules, DutchRules) and ranking == ()
        if event.outcome is Outcome.RESERVE_NOT_MET:
            reserve = getattr(rules, "reserve_price", None)
            assert reserve is not None and ranking
            short = ranking[0].price < reserve if sale else ranking[0].price > reserve
            assert short
        if event.outcome is not Outcome.AWARDED:
            return
        assert ranking and event.winners == (ranking[0].bidder,)
        assert event.price is not None and event.score is not None
        winner = ranking[0]
        reserve = getattr(rules, "reserve_price", None)
        if reserve is not None:
            assert winner.price >= reserve if sale else winner.price <= reserve
        if isinstance(rules, SealedRules) and rules.pricing is Pricing.SECOND_PRICE:
            if sale:
                assert event.price <= winner.price
                if len(ranking) > 1:
                    assert event.price >= ranking[1].price
            else:
                assert event.price >= winner.price
        else:
            assert (event.price, event.score) == (winner.price, winner.score)

    # -- rules: setup ---------------------------------------------------------------------

    @initialize(data=st.data())
    def create(self, data: st.DataObject) -> None:
        """Create the auction and admit a few bidders."""
        self._open(data)

    @precondition(lambda self: self.auction.phase is Phase.ENDED)
    @rule(data=st.data())
    def next_auction(self, data: st.DataObject) -> None:
        """Once the auction is over, go on with a fresh one (time keeps moving forward)."""
        self._reset()
        self._open(data)

    def _open(self, data: st.DataObject) -> None:
        """Create an auction (sometimes after a refused attempt), then admit a few bidders."""
        rules = shifted(data.draw(self.rules_strategy, label="rules"), self.now - T0)
        assert rules.problem() is None, rules.problem()
        if data.draw(st.booleans(), label="refused create first"):
            bad = data.draw(st.sampled_from(list(broken(rules, self.now))), label="broken rules")
            out = self.send(CreateAuction(self._id(), self.now, bad))
            assert [type(event) for event in out] == [CommandRejected]
            assert out[0].reason is Reason.INVALID_RULES  # type: ignore[union-attr]
        out = self.send(CreateAuction(self._id(), self.now, rules))
        assert [type(event) for event in out] == [AuctionCreated]
        for name in BIDDERS[: data.draw(st.integers(0, len(BIDDERS)), label="bidders")]:
            self.send(
                RegisterBidder(
                    self._id(),
                    self.now,
                    name,
                    coefficient=Decimal(data.draw(st.sampled_from(VALID_COEFFICIENTS))),
                    cost=self._cost(data, valid=True),
                    initial_bid=self._initial_bid(data, valid=True),
                )
            )

    def _cost(self, data: st.DataObject, valid: bool) -> Decimal:
        """A non-price cost in major units: usually zero, sometimes junk unless ``valid``."""
        assert self.terms is not None
        kind = data.draw(st.integers(0, 9 if valid else 12), label="cost kind")
        if kind <= 5:
            return Decimal(0)
        if kind <= 9:
            return major(data.draw(st.integers(1, 50_000)), self.terms.currency)
        return Decimal(data.draw(st.sampled_from(("-1", "NaN", "0.00001", "1E+30", "sNaN"))))

    def _initial_bid(self, data: st.DataObject, valid: bool) -> Decimal | None:
        """An initial offer for multi-round auctions (and, rarely, for others)."""
        rules = self.terms
        assert rules is not None
        multi = isinstance(rules, MultiRoundRules)
        if not multi and (valid or data.draw(st.integers(0, 4), label="stray initial") > 0):
            return None
        if not valid and data.draw(st.integers(0, 4), label="initial junk") == 0:
            return None if data.draw(st.booleans()) else self._junk(data)
        ceiling = getattr(rules, "start_price", None) or 100_000
        top = ceiling if valid else ceiling + ceiling // 10 + 1  # sometimes above the start
        minor = data.draw(st.integers(max(1, ceiling // 2), top), label="initial minor")
        return major(minor, rules.currency)

    def _junk(self, data: st.DataObject) -> Decimal:
        """An amount no auction may accept."""
        rules = self.terms
        assert rules is not None
        currency = rules.currency
        kind = data.draw(st.integers(0, 4), label="junk kind")
        if kind == 0:
            return -major(data.draw(st.integers(1, 10**6)), currency)
        if kind == 1:
            return Decimal(data.draw(st.sampled_from(("0", "-0", "0.00", "0E+5"))))
        if kind == 2:
            return Decimal(data.draw(st.sampled_from(("NaN", "-NaN", "Infinity", "-Infinity"))))
        if kind == 3:
            huge = data.draw(st.sampled_from((rules.max_amount + 1, 10**22, 10**100)))
            return major(huge, currency) if huge < 10**30 else Decimal(huge)
        if data.draw(st.booleans(), label="far too many"):
            return Decimal(data.draw(st.sampled_from(("1E-40", "0." + "0" * 39 + "1"))))
        # One digit more than the currency has (exact: at most 13 significant digits).
        return major(data.draw(st.integers(0, 10**6)), currency) + Decimal(1).scaleb(
            -CURRENCIES[currency] - 1
        )

    def _currency(self, data: st.DataObject) -> str:
        assert self.terms is not None
        if data.draw(st.integers(0, 9), label="currency kind") > 0:
            return self.terms.currency
        wrong = [code for code in WRONG_CURRENCIES if code != self.terms.currency]
        return data.draw(st.sampled_from(wrong), label="wrong currency")

    def _reference(self, name: str) -> tuple[int, int, int]:
        """A price a bid of ``name`` would be judged against, a step, and the good direction."""
        rules = self.terms
        book = self.auction.book
        best = book.best()
        own = book.get(name)
        if isinstance(rules, EnglishRules):
            reference = best[3] if best else rules.start_price
            return reference, int(step_of(rules.step, reference)), 1
        if isinstance(rules, ReverseRules):
            if rules.improvement is Improvement.BEAT_OWN and own is not None:
                reference = own[3]
            else:
                reference = best[3] if best else rules.start_price
            return reference, int(step_of(rules.step, reference)), -1
        if isinstance(rules, MultiRoundRules):
            reference = own[3] if own else rules.start_price or 100_000
            return reference, int(step_of(rules.step, reference)), -1
        if isinstance(rules, DutchRules):
            reference = clock_price(self.events) or rules.start_price
            return reference, rules.step, 1 if rules.side is Side.SALE else -1
        assert isinstance(rules, SealedRules)
        reference = best[3] if best else rules.start_price or rules.reserve_price or 10_000
        return reference, max(1, reference // 20), 1 if rules.side is Side.SALE else -1

    def _amount(self, data: st.DataObject, name: str) -> Decimal:
        """Mostly a plausible amount a few steps around the reference; sometimes junk."""
        assert self.terms is not None
        kind = data.draw(st.integers(0, 9), label="amount kind")
        if kind >= 8:
            return self._junk(data)
        reference, step, direction = self._reference(name)
        steps = data.draw(st.integers(-1, 3), label="steps")
        nudge = data.draw(st.integers(-1, 1), label="nudge")
        minor = max(1, reference + direction * (steps * step + nudge))
        return major(minor, self.terms.currency, extra_zeros=2 if kind == 7 else 0)

    # -- rules: commands -----------------------------------------------------------------

    @rule(who=_WHO, data=st.data(), when=_when())
    def register(self, who: str, data: st.DataObject, when: tuple[str, int]) -> None:
        """Register a bidder, sometimes with bad scoring input or a stray initial bid."""
        if data.draw(st.integers(0, 3), label="coefficient kind") == 0:
            coefficient = Decimal(data.draw(st.sampled_from(BAD_COEFFICIENTS)))
        else:
            coefficient = Decimal(data.draw(st.sampled_from(VALID_COEFFICIENTS)))
        self.send(
            RegisterBidder(
                self._id(),
                self._at(when),
                who,
                coefficient=coefficient,
                cost=self._cost(data, valid=False),
                initial_bid=self._initial_bid(data, valid=False),
            )
        )

    def _supports(self, kind: type[Any]) -> bool:
        """Does this machine's format decide ``kind`` itself (rather than refuse it)?"""
        return kind in _SUPPORTED[type(self.terms)]

    def _who(self, data: st.DataObject) -> str:
        """A bidder name: mostly a registered one (in a multi-round auction often the one
        whose turn it is), sometimes anyone, including a name never registered."""
        kind = data.draw(st.integers(0, 3), label="who kind")
        holder = turn_holder(self.events)
        names = sorted(self.auction.bidders)
        if kind == 1 and holder is not None:
            return holder
        if kind > 0 and names:
            return data.draw(st.sampled_from(names), label="registered")
        return data.draw(_WHO, label="anyone")

    @precondition(lambda self: self._supports(PlaceBid))
    @rule(data=st.data(), when=_when())
    def bid(self, data: st.DataObject, when: tuple[str, int]) -> None:
        """Bid near the current best (or junk) in the right or a wrong currency."""
        who = self._who(data)
        amount = self._amount(data, who)
        self.send(PlaceBid(self._id(), self._at(when), who, amount, self._currency(data)))

    @precondition(lambda self: self._supports(SetProxy))
    @rule(data=st.data(), when=_when())
    def proxy(self, data: st.DataObject, when: tuple[str, int]) -> None:
        """Set a proxy limit a few steps beyond the current best (or junk)."""
        self.send(self._proxy(self._who(data), data, self._at(when)))

    def _proxy(self, who: str, data: st.DataObject, at: int) -> SetProxy:
        assert self.terms is not None
        kind = data.draw(st.integers(0, 9), label="limit kind")
        if kind >= 8:
            limit = self._junk(data)
        else:
            reference, step, direction = self._reference(who)
            steps = data.draw(st.integers(-1, 30), label="limit steps")
            minor = max(1, reference + direction * steps * step)
            limit = major(minor, self.terms.currency)
        return SetProxy(self._id(), at, who, limit, self._currency(data))

    @precondition(lambda self: self._supports(AcceptPrice))
    @rule(data=st.data(), when=_when())
    def accept(self, data: st.DataObject, when: tuple[str, int]) -> None:
        """Take the Dutch price, blind or expecting the clock's price (or a stale one)."""
        self.send(self._accept(self._who(data), data, self._at(when)))

    def _accept(self, who: str, data: st.DataObject, at: int) -> AcceptPrice:
        assert self.terms is not None
        kind = data.draw(st.integers(0, 5), label="expectation")
        expected: Decimal | None = None
        currency: str | None = None
        if kind >= 2:
            reference, step, direction = self._reference(who)
            stale = data.draw(st.sampled_from((0, 0, 1, -1)), label="stale by")
            expected = major(max(1, reference + stale * step * direction), self.terms.currency)
            currency = self._currency(data) if kind < 5 else None
        elif kind == 1:
            expected = self._junk(data)
            currency = self.terms.currency
        return AcceptPrice(self._id(), at, who, expected, currency)

    @precondition(lambda self: self._supports(WithdrawBid))
    @rule(data=st.data(), when=_when())
    def withdraw(self, data: st.DataObject, when: tuple[str, int]) -> None:
        """Withdraw a sealed bid."""
        self.send(WithdrawBid(self._id(), self._at(when), self._who(data)))

    @precondition(lambda self: self._supports(PassTurn))
    @rule(data=st.data(), when=_when())
    def pass_turn(self, data: st.DataObject, when: tuple[str, int]) -> None:
        """Pass a multi-round turn."""
        self.send(PassTurn(self._id(), self._at(when), self._who(data)))

    @rule(data=st.data(), when=_when())
    def stray(self, data: st.DataObject, when: tuple[str, int]) -> None:
        """A bidding command this format does not decide: it must be refused."""
        kinds = [kind for kind in _BIDDING if not self._supports(kind)]
        kind = data.draw(st.sampled_from(kinds), label="stray command")
        who = self._who(data)
        at = self._at(when)
        if kind is PlaceBid:
            self.send(PlaceBid(self._id(), at, who, self._amount(data, who), self._currency(data)))
        elif kind is SetProxy:
            self.send(self._proxy(who, data, at))
        elif kind is AcceptPrice:
            self.send(self._accept(who, data, at))
        elif kind is WithdrawBid:
            self.send(WithdrawBid(self._id(), at, who))
        else:
            self.send(PassTurn(self._id(), at, who))

    @rule(who=_WHO, data=st.data(), when=_when())
    def officer(self, who: str, data: st.DataObject, when: tuple[str, int]) -> None:
        """Disqualify a bidder, or (rarely) cancel the auction or try to create it again."""
        assert self.terms is not None
        kind = data.draw(st.integers(0, 19), label="officer action")
        at = self._at(when)
        if kind <= 17:
            self.send(DisqualifyBidder(self._id(), at, who, note=f"check {kind}"))
        elif kind == 18:
            self.send(CancelAuction(self._id(), at, note="cancelled by officer"))
        else:
            self.send(CreateAuction(self._id(), at, self.terms))

    @rule(when=_when())
    def tick(self, when: tuple[str, int]) -> None:
        """Let time pass."""
        self.send(Tick(self._id(), self._at(when)))

    @rule(data=st.data())
    def tick_to_the_end(self, data: st.DataObject) -> None:
        """Tick far past every deadline: every format must then be over."""
        if data.draw(st.integers(0, 9), label="really") > 0:
            return
        self.send(Tick(self._id(), self.now + 10**6 * SECOND))
        assert self.auction.phase is Phase.ENDED

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        """``_check()``, replay equality, gap-free seqs and a sane next deadline."""
        auction = self.auction
        auction._check()
        self.shadow._check()
        assert engine.replay(self.events) == auction
        assert self.shadow == auction
        fresh = self.events[self.checked :]
        for offset, event in enumerate(fresh, self.checked + 1):
            assert event.seq == offset
            if offset > 1:
                assert event.at >= self.events[offset - 2].at
            assert event.at <= self.now
        self.checked = len(self.events)
        assert auction.seq == len(self.events)
        deadline = auction.next_deadline()
        over = auction.phase in (Phase.NEW, Phase.ENDED)
        assert (deadline is None) == over, (auction.phase, deadline)
        assert deadline is None or deadline >= self.now
        if auction.phase is Phase.ENDED:
            assert type(self.events[-1]) in (AuctionEnded, CommandRejected)

    @invariant()
    def proxies_have_answered(self) -> None:
        """In an open auction no proxy is left that could still take the lead.

        "After every change the engine lets proxies answer": once a command is handled,
        every proxy that is not leading must be unable to beat the best bid by a step
        within its limit (English: a maximum; reverse: a floor).
        """
        rules = self.terms
        auction = self.auction
        if not isinstance(rules, EnglishRules | ReverseRules) or auction.phase is not Phase.RUNNING:
            return
        best = auction.book.best()
        sale = isinstance(rules, EnglishRules)
        for name, limit in proxy_limits(self.events).items():
            if best is not None and best[2] == name:
                continue
            lead = self._lead_price(rules, name)
            if lead is not None:
                can = lead <= limit if sale else lead >= limit
                assert not can, f"{name}'s proxy (limit {limit}) could still bid {lead}"

    def _lead_price(self, rules: EnglishRules | ReverseRules, name: str) -> int | None:
        """The least aggressive valid price by which ``name`` would take the lead."""
        book = self.auction.book
        best = book.best()
        if best is None:
            return rules.start_price
        if isinstance(rules, EnglishRules):
            price = int(best[3] + step_of(rules.step, best[3]))
            return price if price <= rules.max_amount else None
        target = best[0] - step_of(rules.step, best[0])
        bidder = self.auction.bidders[name]
        if rules.scoring is Scoring.MEAT:
            coefficient = registered(self.events, name).coefficient
            price = math.floor(target * (1 + Fraction(coefficient)))
        else:
            price = math.floor(target) - (bidder.cost if rules.scoring is Scoring.LCC else 0)
        price = min(price, rules.start_price)
        own = book.get(name)
        if rules.improvement is Improvement.BEAT_OWN and own is not None:
            price = min(price, int(own[3] - step_of(rules.step, own[3])))
        return price if price > 0 else None


# ------------------------------------------------------------------------ helpers over logs


def registered(log: list[Event], bidder: str) -> BidderRegistered:
    """The registration event of ``bidder``."""
    for event in log:
        if type(event) is BidderRegistered and event.bidder == bidder:
            return event
    raise AssertionError(f"{bidder} never registered")


def proxy_limits(log: list[Event]) -> dict[str, int]:
    """Every live proxy after ``log``: the latest limit of each bidder not disqualified."""
    limits: dict[str, int] = {}
    for event in log:
        if type(event) is ProxySet:
            limits[event.bidder] = event.limit
        elif type(event) is BidderDisqualified:
            limits.pop(event.bidder, None)
    return limits


def clock_price(log: list[Event]) -> int | None:
    """The Dutch clock's price after ``log`` (``None`` before the first price)."""
    for event in reversed(log):
        if type(event) is PriceChanged:
            return event.price
    return None


def turn_holder(log: list[Event]) -> str | None:
    """Whose multi-round turn it is after ``log``, if anyone's."""
    for event in reversed(log):
        kind = type(event)
        if kind is TurnStarted:
            return event.bidder  # type: ignore[union-attr]
        if kind in (TurnEnded, RoundEnded, AuctionEnded, RoundStarted):
            return None
        if kind is BidderDisqualified:
            continue
    return None


def _machine(name: str, doc: str, strategy: st.SearchStrategy[Any]) -> type[AuctionMachine]:
    machine: type[AuctionMachine] = type(
        name, (AuctionMachine,), {"rules_strategy": strategy, "__doc__": doc}
    )
    machine.TestCase.settings = RUN
    return machine


EnglishMachine = _machine(
    "EnglishMachine",
    "English sales: reserve, absolute or percentage steps, soft close, proxies.",
    english_rules(),
)
ReverseBeatBestMachine = _machine(
    "ReverseBeatBestMachine",
    "Reverse auctions by price where a bid must beat the best by a step.",
    reverse_rules(Improvement.BEAT_BEST, Scoring.NONE),
)
ReverseBeatOwnMachine = _machine(
    "ReverseBeatOwnMachine",
    "Reverse auctions by price where a bid must only beat the bidder's own by a step.",
    reverse_rules(Improvement.BEAT_OWN, Scoring.NONE),
)
ReverseMeatMachine = _machine(
    "ReverseMeatMachine",
    "Reverse auctions ranked by MEAT score, either improvement rule.",
    reverse_rules(scoring=Scoring.MEAT),
)
ReverseLccMachine = _machine(
    "ReverseLccMachine",
    "Reverse auctions ranked by life-cycle cost, either improvement rule.",
    reverse_rules(scoring=Scoring.LCC),
)
DutchSaleMachine = _machine(
    "DutchSaleMachine", "Dutch clock sales falling to a floor.", dutch_rules(Side.SALE)
)
DutchProcurementMachine = _machine(
    "DutchProcurementMachine",
    "Reverse Dutch procurements rising to a ceiling.",
    dutch_rules(Side.PROCUREMENT),
)
SealedFirstSaleMachine = _machine(
    "SealedFirstSaleMachine",
    "Sealed first-price sales.",
    sealed_rules(Pricing.FIRST_PRICE, Side.SALE),
)
SealedSecondSaleMachine = _machine(
    "SealedSecondSaleMachine",
    "Sealed second-price (Vickrey) sales.",
    sealed_rules(Pricing.SECOND_PRICE, Side.SALE),
)
SealedFirstProcurementMachine = _machine(
    "SealedFirstProcurementMachine",
    "Sealed first-price procurements, with or without scoring.",
    sealed_rules(Pricing.FIRST_PRICE, Side.PROCUREMENT),
)
SealedSecondProcurementMachine = _machine(
    "SealedSecondProcurementMachine",
    "Sealed second-price procurements, with or without scoring.",
    sealed_rules(Pricing.SECOND_PRICE, Side.PROCUREMENT),
)
MultiRoundMachine = _machine(
    "MultiRoundMachine", "Multi-round procurements by price.", multiround_rules(scored=False)
)
MultiRoundScoredMachine = _machine(
    "MultiRoundScoredMachine",
    "Multi-round procurements ranked by MEAT or LCC score.",
    multiround_rules(scored=True),
)

TestEnglish = EnglishMachine.TestCase
TestReverseBeatBest = ReverseBeatBestMachine.TestCase
TestReverseBeatOwn = ReverseBeatOwnMachine.TestCase
TestReverseMeat = ReverseMeatMachine.TestCase
TestReverseLcc = ReverseLccMachine.TestCase
TestDutchSale = DutchSaleMachine.TestCase
TestDutchProcurement = DutchProcurementMachine.TestCase
TestSealedFirstSale = SealedFirstSaleMachine.TestCase
TestSealedSecondSale = SealedSecondSaleMachine.TestCase
TestSealedFirstProcurement = SealedFirstProcurementMachine.TestCase
TestSealedSecondProcurement = SealedSecondProcurementMachine.TestCase
TestMultiRound = MultiRoundMachine.TestCase
TestMultiRoundScored = MultiRoundScoredMachine.TestCase
