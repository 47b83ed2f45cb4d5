"""Worked examples of the Dutch clock auction (engine/formats/dutch.py).

Two clocks are used throughout, all amounts in EUR minor units (cents):

* Sale: 1,000.00 falling by 100.00 every 60 s from t = 10 s to the floor 700.00. The
  i-th price is 100_000 - i × 10_000, offered from 10 s + i × 60 s, for i = 0..3
  (the last index inside the floor is (100_000 - 70_000) // 10_000 = 3).
* Procurement: 500.00 rising by 50.00 every 30 s from t = 10 s to the ceiling 620.00.
  The i-th price is 50_000 + i × 5_000 from 10 s + i × 30 s, for i = 0..2
  ((62_000 - 50_000) // 5_000 = 2; 65_000 would be above the ceiling).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine import (
    AcceptPrice,
    AuctionEnded,
    AuctionStarted,
    BidAccepted,
    Command,
    CommandRejected,
    CreateAuction,
    DisqualifyBidder,
    DutchRules,
    Event,
    Outcome,
    PassTurn,
    PlaceBid,
    PriceChanged,
    Reason,
    RegisterBidder,
    SetProxy,
    Side,
    Standing,
    Tick,
    WithdrawBid,
)
from engine.events import Bound, BoundKind
from engine.formats.dutch import Dutch
from tests.engine.helpers import Run, S, assert_rejected

SALE = DutchRules(
    currency="EUR",
    starts_at=10 * S,
    start_price=100_000,
    step=10_000,
    interval_us=60 * S,
    limit_price=70_000,
)
PROCUREMENT = DutchRules(
    currency="EUR",
    starts_at=10 * S,
    start_price=50_000,
    step=5_000,
    interval_us=30 * S,
    limit_price=62_000,
    side=Side.PROCUREMENT,
)


class ClockRun(Run):
    """A recorded Dutch auction that checks replay and invariants after every command."""

    def __call__(self, command: Command) -> list[Event]:
        events = super().__call__(command)
        self.check()
        return events

    @property
    def clock(self) -> Dutch:
        fmt = self.auction.fmt
        assert isinstance(fmt, Dutch)
        return fmt


def created(rules: DutchRules, bidders: tuple[str, ...] = ("alice", "bob")) -> ClockRun:
    """``rules`` created at 0 s and ``bidders`` registered at 1 s, 2 s, … (seq 1, 2, …)."""
    run = ClockRun()
    run(CreateAuction("create", 0, rules))
    for number, bidder in enumerate(bidders, 1):
        run(RegisterBidder(f"register-{bidder}", number * S, bidder))
    return run


def price_changes(events: list[Event]) -> list[tuple[int, int, int]]:
    """``(at, price, next_at)`` of every ``PriceChanged`` in ``events``."""
    return [(x.at, x.price, x.next_at) for x in events if isinstance(x, PriceChanged)]


# -- the price schedule --------------------------------------------------------------


def test_sale_clock_opens_at_start_price_when_the_start_passes() -> None:
    run = created(SALE)
    assert run.auction.next_deadline() == 10 * S
    events = run(Tick("tick", 10 * S))
    # Price 0 is the start price, held until 10 s + 60 s = 70 s.
    assert events == [
        AuctionStarted(4, 10 * S, None),
        PriceChanged(5, 10 * S, 100_000, 70 * S),
    ]
    assert run.clock.price == 100_000
    assert run.auction.next_deadline() == 70 * S


def test_sale_clock_falls_one_step_at_each_step_time() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    seen = []
    for at in (70 * S, 130 * S, 190 * S):
        seen += price_changes(run(Tick(f"tick-{at}", at)))
    # 100_000 - 1 × 10_000 = 90_000 at 70 s, - 2 × = 80_000 at 130 s, - 3 × = 70_000 at 190 s;
    # each price holds for 60 s.
    assert seen == [
        (70 * S, 90_000, 130 * S),
        (130 * S, 80_000, 190 * S),
        (190 * S, 70_000, 250 * S),
    ]


def test_sale_clock_holds_its_price_until_the_next_step_time() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    # One microsecond before 70 s the start price is still on the clock.
    assert run(Tick("almost", 70 * S - 1)) == []
    assert run.clock.price == 100_000


def test_procurement_clock_rises_one_step_at_each_step_time() -> None:
    run = created(PROCUREMENT)
    seen = []
    for at in (10 * S, 40 * S, 70 * S):
        seen += price_changes(run(Tick(f"tick-{at}", at)))
    # 50_000 + 0, 1, 2 × 5_000, each offered for 30 s.
    assert seen == [
        (10 * S, 50_000, 40 * S),
        (40 * S, 55_000, 70 * S),
        (70 * S, 60_000, 100 * S),
    ]


# -- acceptance ----------------------------------------------------------------------


def test_first_accept_wins_at_the_clock_price() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    run(Tick("step-2", 130 * S))
    events = run(AcceptPrice("take", 150 * S, "alice"))
    # At 150 s price 2 is on the clock: 100_000 - 2 × 10_000 = 80_000. Log so far: created,
    # two registrations, started, two price changes (seq 1-6).
    ranking = (Standing(1, "alice", 80_000, 80_000),)
    assert events == [
        BidAccepted(7, 150 * S, "take", "alice", 80_000, 80_000, False),
        AuctionEnded(8, 150 * S, Outcome.AWARDED, ("alice",), 80_000, 80_000, ranking, ""),
    ]
    assert run.auction.next_deadline() is None


def test_accept_at_a_step_time_takes_the_new_price() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    events = run(AcceptPrice("take", 70 * S, "bob"))
    # The step at 70 s takes effect first: 90_000 is on the clock when bob accepts.
    assert price_changes(events) == [(70 * S, 90_000, 130 * S)]
    assert isinstance(events[-1], AuctionEnded)
    assert events[-1].winners == ("bob",)
    assert events[-1].price == 90_000


def test_procurement_first_accept_wins_at_the_clock_price() -> None:
    run = created(PROCUREMENT)
    run(Tick("start", 10 * S))
    events = run(AcceptPrice("take", 45 * S, "bob", Decimal("550.00"), "EUR"))
    # At 45 s price 1 is on the clock: 50_000 + 5_000 = 55_000 = 550.00 EUR, as expected.
    ended = events[-1]
    assert isinstance(ended, AuctionEnded)
    assert (ended.outcome, ended.winners, ended.price) == (Outcome.AWARDED, ("bob",), 55_000)
    assert ended.ranking == (Standing(1, "bob", 55_000, 55_000),)


def test_second_accept_after_the_award_is_auction_closed() -> None:
    run = created(SALE)
    run(AcceptPrice("first", 20 * S, "alice"))
    assert_rejected(run, AcceptPrice("second", 20 * S, "bob"), Reason.AUCTION_CLOSED)
    assert run.auction.ended is not None
    assert run.auction.ended.winners == ("alice",)


def test_accept_with_the_expected_price_wins() -> None:
    run = created(SALE)
    events = run(AcceptPrice("take", 20 * S, "alice", Decimal("1000.00"), "EUR"))
    # 1000.00 EUR = 100_000 cents, the start price on the clock from 10 s to 70 s.
    assert isinstance(events[-1], AuctionEnded)
    assert events[-1].price == 100_000


def test_expected_price_that_moved_is_stale_price() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    run(Tick("step-1", 70 * S))
    # The bidder saw 1000.00, but at 75 s the clock shows 100_000 - 10_000 = 90_000.
    rejection = assert_rejected(
        run, AcceptPrice("take", 75 * S, "alice", Decimal("1000.00"), "EUR"), Reason.STALE_PRICE
    )
    assert (rejection.detail, rejection.bound) == (
        "the price is 900.00 EUR",
        Bound(BoundKind.PRICE, 90000, "EUR"),
    )
    assert run.clock.price == 90_000


def test_expected_price_in_another_currency_is_wrong_currency() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    assert_rejected(
        run, AcceptPrice("take", 20 * S, "alice", Decimal("1000.00"), "USD"), Reason.WRONG_CURRENCY
    )


def test_expected_price_without_a_currency_is_wrong_currency() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    assert_rejected(
        run, AcceptPrice("take", 20 * S, "alice", Decimal("1000.00")), Reason.WRONG_CURRENCY
    )


@pytest.mark.parametrize(
    ("expected", "reason"),
    [
        (Decimal("999.999"), Reason.TOO_MANY_DECIMALS),  # a tenth of a cent
        (Decimal("-1000.00"), Reason.AMOUNT_NEGATIVE),
        (Decimal("0"), Reason.AMOUNT_ZERO),
        (Decimal("NaN"), Reason.AMOUNT_INVALID),
    ],
)
def test_expected_price_that_is_not_an_amount_is_rejected(
    expected: Decimal, reason: Reason
) -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    assert_rejected(run, AcceptPrice("take", 20 * S, "alice", expected, "EUR"), reason)


def test_accept_by_an_unknown_bidder_is_rejected() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    assert_rejected(run, AcceptPrice("take", 20 * S, "mallory"), Reason.UNKNOWN_BIDDER)


def test_accept_by_a_disqualified_bidder_is_rejected() -> None:
    run = created(SALE)
    run(DisqualifyBidder("out", 5 * S, "alice"))
    run(Tick("start", 10 * S))
    assert_rejected(run, AcceptPrice("take", 20 * S, "alice"), Reason.BIDDER_DISQUALIFIED)


def test_bidder_registered_while_the_clock_runs_may_accept() -> None:
    run = created(SALE, bidders=())
    run(Tick("start", 10 * S))
    run(RegisterBidder("late", 80 * S, "carol"))
    events = run(AcceptPrice("take", 90 * S, "carol"))
    # Price 1 from 70 s: 90_000.
    assert isinstance(events[-1], AuctionEnded)
    assert (events[-1].winners, events[-1].price) == (("carol",), 90_000)


@pytest.mark.parametrize(
    "command",
    [
        PlaceBid("bid", 20 * S, "alice", Decimal("950.00"), "EUR"),
        SetProxy("proxy", 20 * S, "alice", Decimal("800.00"), "EUR"),
        WithdrawBid("withdraw", 20 * S, "alice"),
        PassTurn("pass", 20 * S, "alice"),
    ],
    ids=lambda command: type(command).__name__,
)
def test_commands_of_other_formats_are_not_supported(command: Command) -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    assert_rejected(run, command, Reason.NOT_SUPPORTED)


# -- the limit -----------------------------------------------------------------------


def test_sale_reaching_the_floor_holds_it_one_interval_then_ends_without_award() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    for at in (70 * S, 130 * S, 190 * S):
        run(Tick(f"step-{at}", at))
    # 70_000 (the floor) is offered from 190 s for a whole interval: until 250 s.
    assert run(Tick("still", 250 * S - 1)) == []
    assert run.auction.next_deadline() == 250 * S
    events = run(Tick("end", 250 * S))
    assert events == [AuctionEnded(9, 250 * S, Outcome.LIMIT_REACHED, (), None, None, (), "")]
    assert run.auction.next_deadline() is None


def test_floor_between_steps_ends_after_the_last_price_above_it() -> None:
    rules = DutchRules("EUR", 10 * S, 100_000, 10_000, 60 * S, limit_price=75_000)
    run = created(rules)
    run(Tick("start", 10 * S))
    seen = price_changes(run(Tick("late", 190 * S)))
    # (100_000 - 75_000) // 10_000 = 2: the last price is 80_000 from 130 s to 190 s;
    # 70_000 is below the floor and is never offered.
    assert seen == [(130 * S, 80_000, 190 * S)]
    assert run.auction.ended is not None
    assert (run.auction.ended.at, run.auction.ended.outcome) == (190 * S, Outcome.LIMIT_REACHED)


def test_procurement_reaching_the_ceiling_ends_without_award() -> None:
    run = created(PROCUREMENT)
    run(Tick("start", 10 * S))
    run(Tick("last", 70 * S))
    # 60_000 is the last price inside the 62_000 ceiling, held from 70 s to 100 s.
    run(Tick("still", 100 * S - 1))
    assert run.auction.ended is None
    events = run(Tick("end", 100 * S))
    assert [type(x) for x in events] == [AuctionEnded]
    assert run.auction.ended is not None
    assert (run.auction.ended.at, run.auction.ended.outcome) == (100 * S, Outcome.LIMIT_REACHED)


def test_clock_whose_limit_is_its_start_price_offers_one_price_for_one_interval() -> None:
    rules = DutchRules("EUR", 10 * S, 100_000, 10_000, 60 * S, limit_price=100_000)
    run = created(rules)
    assert price_changes(run(Tick("start", 10 * S))) == [(10 * S, 100_000, 70 * S)]
    events = run(Tick("end", 70 * S))
    assert [(type(x), x.at) for x in events] == [(AuctionEnded, 70 * S)]


def test_accept_after_the_limit_is_auction_closed() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    events = run(AcceptPrice("too-late", 250 * S, "alice"))
    # The clock reached the floor at 190 s and ended at 250 s, before the accept.
    assert [type(x) for x in events] == [PriceChanged, AuctionEnded, CommandRejected]
    assert isinstance(events[-1], CommandRejected)
    assert events[-1].reason is Reason.AUCTION_CLOSED


# -- time jumps ----------------------------------------------------------------------


def test_time_jump_goes_straight_to_the_current_price_with_one_change() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    events = run(Tick("after-restart", 200 * S))
    # At 200 s, (200 - 10) // 60 = 3 intervals have passed: price 3 = 70_000, whose step
    # time is 10 + 3 × 60 = 190 s; the skipped 90_000 and 80_000 are never announced.
    assert events == [PriceChanged(6, 190 * S, 70_000, 250 * S)]


def test_time_jump_stops_short_of_the_limit() -> None:
    rules = DutchRules("EUR", 10 * S, 100_000, 10_000, 60 * S, limit_price=10_000)
    run = created(rules)
    run(Tick("start", 10 * S))
    events = run(Tick("after-restart", 161 * S))
    # (161 - 10) // 60 = 2 intervals: price 2 = 80_000 from 10 + 2 × 60 = 130 s.
    assert events == [PriceChanged(6, 130 * S, 80_000, 190 * S)]


def test_accept_after_a_time_jump_wins_at_the_current_price() -> None:
    run = created(PROCUREMENT)
    run(Tick("start", 10 * S))
    events = run(AcceptPrice("take", 99 * S, "alice"))
    # (99 - 10) // 30 = 2 intervals: 50_000 + 2 × 5_000 = 60_000 from 70 s.
    assert price_changes(events) == [(70 * S, 60_000, 100 * S)]
    assert isinstance(events[-1], AuctionEnded)
    assert events[-1].price == 60_000


def test_time_jump_past_the_limit_shows_the_last_price_then_ends_at_its_own_time() -> None:
    run = created(SALE)
    run(Tick("start", 10 * S))
    events = run(Tick("much-later", 10_000 * S))
    # The floor 70_000 came at 190 s and was held until 250 s; nothing is stamped later.
    assert events == [
        PriceChanged(6, 190 * S, 70_000, 250 * S),
        AuctionEnded(7, 250 * S, Outcome.LIMIT_REACHED, (), None, None, (), ""),
    ]
