"""Scripted auctions: one fixed, deterministic scenario per auction format.

A :class:`Scenario` is plain data: the command log a room of named bidders sends, with
fixed times (microseconds) and amounts (``Decimal`` major units). ``gavel demo`` plays each
one and prints its story; the tests check that each ends with the outcome and winner worked
out by hand in the scenario's docstring.

Call order: build the scenarios with :func:`scenarios` (or one builder such as
:func:`english`), create an :class:`~engine.Auction`, then iterate
``play(scenario, auction)``. Each step yields a command and the events it caused, after
``auction`` has applied them, so a caller can look at the auction between steps.
:func:`play` drives the auction the way the live runner will: before each scripted command
it sends a ``Tick`` for every deadline ``next_deadline()`` says has come, and after the
last command it keeps ticking until the auction has ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from engine import (
    AcceptPrice,
    Auction,
    AuctionRules,
    CreateAuction,
    DutchRules,
    EnglishRules,
    Event,
    MultiRoundRules,
    PassTurn,
    PlaceBid,
    Pricing,
    RegisterBidder,
    ReverseRules,
    Scoring,
    SealedRules,
    SetProxy,
    Side,
    SoftClose,
    Step,
    Tick,
    WithdrawBid,
)
from engine.commands import Command

__all__ = [
    "START",
    "Scenario",
    "dutch",
    "english",
    "multiround",
    "play",
    "reverse_meat",
    "scenarios",
    "sealed_first_price",
    "sealed_second_price",
]

#: Every scenario opens at 2025-03-01 09:00:00 UTC, in microseconds since the epoch.
START = 1_740_819_600_000_000

_SECOND = 1_000_000

#: More ticks than any scenario can need: a runaway loop is a bug, not a long auction.
_MAX_TICKS = 10_000


@dataclass(frozen=True, slots=True)
class Scenario:
    """A scripted auction: ``commands[0]`` is its ``CreateAuction``; times only go forward."""

    name: str
    title: str
    #: What to watch for while the story unfolds.
    about: str
    commands: tuple[Command, ...]

    @property
    def rules(self) -> AuctionRules:
        """The rules the scenario creates its auction with."""
        first = self.commands[0]
        assert isinstance(first, CreateAuction)
        return first.rules


def play(scenario: Scenario, auction: Auction) -> Iterator[tuple[Command, list[Event]]]:
    """Drive ``auction`` through ``scenario``, yielding each command with its events.

    ``auction`` must be new. Ticks are interleaved exactly where a runner sends them: at
    each deadline that falls at or before the next command's time, then until the end.
    """
    ticks = 0

    def tick(at: int) -> tuple[Command, list[Event]]:
        nonlocal ticks
        ticks += 1
        command = Tick(f"tick-{ticks}", at)
        return command, auction.handle(command)

    for command in scenario.commands:
        due = auction.next_deadline()
        while due is not None and due <= command.at:
            yield tick(due)
            due = auction.next_deadline()
        yield command, auction.handle(command)
    due = auction.next_deadline()
    while due is not None:
        if ticks >= _MAX_TICKS:  # pragma: no cover - a bug in the engine or a scenario
            raise RuntimeError(f"{scenario.name}: the auction does not end")
        yield tick(due)
        due = auction.next_deadline()


def scenarios() -> tuple[Scenario, ...]:
    """Every scripted scenario, in the order ``gavel demo`` plays them."""
    return tuple(build() for build in _BUILDERS)


class _Script:
    """Collects a scenario's commands; times are seconds relative to the start."""

    def __init__(self, prefix: str, currency: str) -> None:
        self.prefix = prefix
        self.currency = currency
        self.commands: list[Command] = []

    def _next(self, seconds: float) -> tuple[str, int]:
        command_id = f"{self.prefix}-{len(self.commands) + 1:02d}"
        return command_id, START + round(seconds * _SECOND)

    def create(self, seconds: float, rules: AuctionRules) -> None:
        self.commands.append(CreateAuction(*self._next(seconds), rules))

    def register(
        self,
        seconds: float,
        bidder: str,
        *,
        coefficient: str = "0",
        cost: str = "0",
        initial_bid: str | None = None,
    ) -> None:
        initial = None if initial_bid is None else Decimal(initial_bid)
        self.commands.append(
            RegisterBidder(
                *self._next(seconds), bidder, Decimal(coefficient), Decimal(cost), initial
            )
        )

    def bid(self, seconds: float, bidder: str, amount: str) -> None:
        self.commands.append(PlaceBid(*self._next(seconds), bidder, Decimal(amount), self.currency))

    def proxy(self, seconds: float, bidder: str, limit: str) -> None:
        self.commands.append(SetProxy(*self._next(seconds), bidder, Decimal(limit), self.currency))

    def accept(self, seconds: float, bidder: str, expected: str | None = None) -> None:
        price = None if expected is None else Decimal(expected)
        currency = None if expected is None else self.currency
        self.commands.append(AcceptPrice(*self._next(seconds), bidder, price, currency))

    def withdraw(self, seconds: float, bidder: str) -> None:
        self.commands.append(WithdrawBid(*self._next(seconds), bidder))

    def pass_turn(self, seconds: float, bidder: str) -> None:
        self.commands.append(PassTurn(*self._next(seconds), bidder))

    def scenario(self, name: str, title: str, about: str) -> Scenario:
        return Scenario(name, title, about, tuple(self.commands))


def _minutes(minutes: float) -> int:
    return START + round(minutes * 60 * _SECOND)


def english() -> Scenario:
    """English sale with proxy bidding and soft close: alice wins at 1950.00 EUR.

    Start 1000.00, step 50.00, reserve 1200.00; a bid in the last 60 s moves the end by
    60 s (never past 15:00). bob's proxy (limit 1800.00) opens at the reserve, 1200.00,
    and answers carol's bids by a step; at 05:40 alice's new proxy (2000.00) outbids bob's
    limit by a step, at 1850.00, inside the last minute, so the end moves from 06:00 to
    07:00. carol's 1900.00 at 06:50 moves it to 08:00 and alice's proxy answers with
    1950.00, which wins.
    """
    s = _Script("en", "EUR")
    rules = EnglishRules(
        currency="EUR",
        starts_at=START,
        ends_at=_minutes(5),
        start_price=1000_00,
        step=Step(amount=50_00),
        reserve_price=1200_00,
        soft_close=SoftClose(60 * _SECOND, 60 * _SECOND, hard_close_at=_minutes(15)),
    )
    s.create(-120, rules)
    s.register(-90, "alice")
    s.register(-80, "bob")
    s.register(-70, "carol")
    s.bid(20, "alice", "1000.00")
    s.proxy(45, "bob", "1800.00")
    s.bid(70, "carol", "1230.00")  # needs 1250.00: rejected
    s.bid(75, "carol", "1300.00")
    s.bid(120, "alice", "1300.005")  # three decimals: rejected
    s.bid(150, "mallory", "1400.00")  # never registered: rejected
    s.bid(270, "carol", "1500.00")  # inside the last minute: the end moves
    s.proxy(340, "alice", "2000.00")  # a proxy bid inside the last minute moves it too
    s.bid(410, "carol", "1900.00")
    return s.scenario(
        "english",
        "English ascending: proxy bidding and soft close",
        "bob's proxy opens at the reserve and answers every bid by one step; bids inside "
        "the last minute, alice's proxy bid among them, push the close back",
    )


def reverse_meat() -> Scenario:
    """Reverse open procurement ranked by MEAT score: gamma wins at 94000.00 UAH.

    Score = price / (1 + coefficient); alpha 0.10, beta 0, gamma 0.25. Budget ceiling
    100000.00, and each bid's score must beat the best score by 1 %. beta's 85000.00 loses
    to gamma's score of 80000.00; at the end gamma's 94000.00 scores 75200.00 and beats
    alpha's 84000.00 (about 76363.64) and beta's 78000.00 (78000.00).
    """
    s = _Script("rv", "UAH")
    rules = ReverseRules(
        currency="UAH",
        starts_at=START,
        ends_at=_minutes(10),
        start_price=100_000_00,
        step=Step(percent=Decimal("1")),
        scoring=Scoring.MEAT,
    )
    s.create(-120, rules)
    s.register(-60, "alpha", coefficient="0.10")
    s.register(-50, "beta")
    s.register(-40, "gamma", coefficient="0.25")
    s.bid(30, "beta", "95000.00")
    s.bid(60, "alpha", "99000.00")  # score 90000.00 beats 95000.00
    s.bid(90, "gamma", "120000.00")  # over the budget ceiling: rejected
    s.bid(120, "gamma", "100000.00")  # score 80000.00
    s.bid(180, "beta", "85000.00")  # cheaper, but score 85000.00: rejected
    s.bid(240, "beta", "78000.00")
    s.bid(300, "alpha", "93000.00")  # score about 84545.45: rejected
    s.bid(360, "alpha", "84000.00")
    s.bid(420, "gamma", "96000.00")  # score 76800.00 misses 75600.00: rejected
    s.bid(450, "gamma", "94000.00")
    return s.scenario(
        "reverse",
        "Reverse open procurement with MEAT scoring",
        "bids rank by price / (1 + quality coefficient): the winner is not the cheapest",
    )


def dutch() -> Scenario:
    """Dutch sale: the clock falls by 500.00 EUR every 20 s; dana takes it at 8000.00.

    10000.00 at 00:00, 9500.00 at 00:20, … 8000.00 at 01:20. eric's ordinary bid is not
    how a Dutch auction works; fay's acceptance at 01:05 expects 9000.00 but the clock
    shows 8500.00; dana accepts 8000.00 at 01:30 and eric is a quarter second late.
    """
    s = _Script("nl", "EUR")
    rules = DutchRules(
        currency="EUR",
        starts_at=START,
        start_price=10_000_00,
        step=500_00,
        interval_us=20 * _SECOND,
        limit_price=6_000_00,
    )
    s.create(-120, rules)
    s.register(-60, "dana")
    s.register(-50, "eric")
    s.register(-40, "fay")
    s.bid(35, "eric", "9000.00")  # not supported by a clock auction
    s.accept(65, "fay", "9000.00")  # the clock has moved on: stale
    s.accept(90, "dana", "8000.00")
    s.accept(90.25, "eric")  # too late: closed
    return s.scenario(
        "dutch",
        "Dutch (descending clock)",
        "the first bidder to take the price on the clock wins it",
    )


def sealed_first_price() -> Scenario:
    """Sealed first-price sale: hana wins and pays her own 29000.00 EUR.

    Minimum 20000.00, reserve 25000.00, bids close at 10:00. ivan's 19000.00 is under the
    minimum; jun withdraws 31000.00 and comes back with 28500.00; hana replaces 26000.00
    with 29000.00; kai's 40000.00 arrives after the close.
    """
    s = _Script("fp", "EUR")
    rules = SealedRules(
        currency="EUR",
        starts_at=START,
        ends_at=_minutes(10),
        pricing=Pricing.FIRST_PRICE,
        side=Side.SALE,
        start_price=20_000_00,
        reserve_price=25_000_00,
    )
    s.create(-300, rules)
    for offset, name in enumerate(("hana", "ivan", "jun", "kai")):
        s.register(-240 + 10 * offset, name)
    s.bid(60, "hana", "26000.00")
    s.bid(120, "ivan", "19000.00")  # under the minimum: rejected
    s.bid(150, "ivan", "27500.00")
    s.bid(240, "jun", "31000.00")
    s.bid(300, "kai", "28000.00")
    s.withdraw(360, "jun")
    s.bid(420, "hana", "29000.00")  # replaces her 26000.00
    s.bid(570, "jun", "28500.00")
    s.bid(605, "kai", "40000.00")  # after the close: rejected
    return s.scenario(
        "sealed_first",
        "Sealed bid, first price",
        "bids stay hidden until the close; the best bid pays what it bid",
    )


def sealed_second_price() -> Scenario:
    """Sealed second-price (Vickrey) procurement ranked by life-cycle cost: lima wins.

    Score = price + declared running cost (lima 5000.00, mike 12000.00, nora 2000.00),
    ceiling 60000.00. Final bids: lima 39500.00 (score 44500.00), mike 33000.00 (45000.00),
    nora 47000.00 (49000.00). lima is paid the highest price that ties the runner-up's
    score: 45000.00 - 5000.00 = 40000.00 EUR, score 45000.00.
    """
    s = _Script("vk", "EUR")
    rules = SealedRules(
        currency="EUR",
        starts_at=START,
        ends_at=_minutes(6),
        pricing=Pricing.SECOND_PRICE,
        side=Side.PROCUREMENT,
        start_price=60_000_00,
        scoring=Scoring.LCC,
    )
    s.create(-300, rules)
    s.register(-240, "lima", cost="5000.00")
    s.register(-230, "mike", cost="12000.00")
    s.register(-220, "nora", cost="2000.00")
    s.bid(60, "lima", "41000.00")
    s.bid(120, "mike", "36000.00")
    s.bid(180, "nora", "47000.00")
    s.bid(210, "nora", "65000.00")  # over the ceiling: rejected, 47000.00 stands
    s.bid(240, "mike", "33000.00")
    s.withdraw(270, "lima")
    s.withdraw(280, "lima")  # nothing left to withdraw: rejected
    s.bid(300, "lima", "39500.00")
    return s.scenario(
        "sealed_second",
        "Sealed bid, second price (Vickrey), life-cycle cost",
        "bids rank by price + running cost; the winner is paid the runner-up's score",
    )


def multiround() -> Scenario:
    """Multi-round (Prozorro) procurement, 3 bidders and 3 rounds: vega wins at 44300.00.

    Initial offers orion 50000.00, polaris 48000.00, vega 52000.00 (zeta's 56000.00 is over
    the 55000.00 ceiling). Turns of 60 s, worst offer first, 30 s between rounds; a bid must
    improve the bidder's own offer by 1 %.

    - Round 1 (00:00): vega 47500.00; polaris out of turn; orion's 49900.00 is not 1 %
      better, then 47000.00; polaris passes at 02:05.
    - Round 2 (02:35): polaris 46000.00, vega 45500.00, orion passes at 04:40.
    - Round 3 (05:10): orion 45000.00, polaris 44800.00, vega 44300.00; ends at 08:10.
    """
    s = _Script("mr", "UAH")
    rules = MultiRoundRules(
        currency="UAH",
        starts_at=START,
        turn_us=60 * _SECOND,
        step=Step(percent=Decimal("1")),
        rounds=3,
        pause_us=30 * _SECOND,
        start_price=55_000_00,
    )
    s.create(-600, rules)
    s.register(-300, "orion", initial_bid="50000.00")
    s.register(-280, "polaris", initial_bid="48000.00")
    s.register(-260, "vega", initial_bid="52000.00")
    s.register(-240, "zeta", initial_bid="56000.00")  # over the ceiling: rejected
    # Round 1: vega, orion, polaris.
    s.bid(20, "vega", "47500.00")
    s.bid(30, "polaris", "47000.00")  # not polaris's turn: rejected
    s.bid(70, "orion", "49900.00")  # improves by less than 1 %: rejected
    s.bid(80, "orion", "47000.00")
    s.pass_turn(125, "polaris")
    # Round 2 (02:35): polaris, vega, orion.
    s.bid(170, "polaris", "46000.00")
    s.bid(240, "vega", "45500.00")
    s.pass_turn(280, "orion")
    # Round 3 (05:10): orion, polaris, vega.
    s.bid(330, "orion", "45000.00")
    s.bid(400, "polaris", "44800.00")
    s.bid(470, "vega", "44300.00")
    return s.scenario(
        "multiround",
        "Multi-round procurement (Prozorro model): 3 bidders, 3 rounds",
        "each bidder bids alone in its turn, worst offer first; bids show when the turn ends",
    )


_BUILDERS: tuple[Callable[[], Scenario], ...] = (
    english,
    reverse_meat,
    dutch,
    sealed_first_price,
    sealed_second_price,
    multiround,
)
