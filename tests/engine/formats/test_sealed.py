"""Worked examples of the sealed-bid auctions (engine/formats/sealed.py).

Every auction here is in EUR (amounts in rules and events are cents), opens at 10 s and
closes at 100 s; bids are typed in euros.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from engine import (
    AcceptPrice,
    Auction,
    AuctionEnded,
    AuctionStarted,
    BidAccepted,
    BidWithdrawn,
    CancelAuction,
    Command,
    CommandRejected,
    CreateAuction,
    DisqualifyBidder,
    Event,
    Outcome,
    PassTurn,
    PlaceBid,
    Pricing,
    Reason,
    RegisterBidder,
    Scoring,
    SealedRules,
    SetProxy,
    Side,
    Standing,
    Tick,
    WithdrawBid,
    replay,
)
from engine.events import Bound, BoundKind
from tests.engine.helpers import Run, S, assert_rejected

OPEN = 10 * S
CLOSE = 100 * S


def sealed(**changes: Any) -> SealedRules:
    """A first-price EUR sale from ``OPEN`` to ``CLOSE`` unless ``changes`` say otherwise."""
    return replace(SealedRules(currency="EUR", starts_at=OPEN, ends_at=CLOSE), **changes)


class SealedRun(Run):
    """A recorded sealed auction that checks replay and invariants after every command."""

    def __call__(self, command: Command) -> list[Event]:
        events = super().__call__(command)
        self.check()
        return events

    def close(self) -> AuctionEnded:
        """Let the deadline pass and return the closing event."""
        events = self.tick(CLOSE)
        assert len(events) == 1
        ended = events[0]
        assert isinstance(ended, AuctionEnded)
        assert ended.at == CLOSE
        return ended


def opened(
    rules: SealedRules,
    bidders: tuple[str, ...] = ("alice", "bob", "carol"),
    coefficients: dict[str, str] | None = None,
    costs: dict[str, str] | None = None,
) -> SealedRun:
    """``rules`` created and ``bidders`` registered at 0 s, then opened at ``OPEN``."""
    coefficients = coefficients or {}
    costs = costs or {}
    run = SealedRun()
    run(CreateAuction("create", 0, rules))
    for bidder in bidders:
        coefficient = Decimal(coefficients.get(bidder, "0"))
        cost = Decimal(costs.get(bidder, "0"))
        run(RegisterBidder(f"register-{bidder}", 0, bidder, coefficient, cost))
    run.tick(OPEN)
    return run


def bids_from_20s(run: SealedRun, *bids: tuple[str, str]) -> None:
    """Place ``(bidder, euros)`` bids at 20 s, 21 s, 22 s, …"""
    for offset, (bidder, amount) in enumerate(bids):
        run.bid(bidder, amount, 20 * S + offset * S)


# -- opening and the deadline ----------------------------------------------------------


def test_opening_announces_the_close_and_the_deadline_is_the_close() -> None:
    run = SealedRun()
    run(CreateAuction("create", 0, sealed()))
    assert run.auction.next_deadline() == OPEN
    assert run.tick(OPEN) == [AuctionStarted(2, OPEN, CLOSE)]
    assert run.auction.next_deadline() == CLOSE


def test_close_without_bids_is_no_bids() -> None:
    run = opened(sealed())
    ended = run.close()
    assert (ended.outcome, ended.winners, ended.price, ended.ranking) == (
        Outcome.NO_BIDS,
        (),
        None,
        (),
    )
    assert run.auction.next_deadline() is None


def test_bid_at_the_close_is_too_late() -> None:
    run = opened(sealed())
    events = run.bid("alice", "1000.00", CLOSE)
    # The deadline at 100 s takes effect before a bid observed at 100 s.
    assert [type(x) for x in events] == [AuctionEnded, CommandRejected]
    assert isinstance(events[1], CommandRejected)
    assert events[1].reason is Reason.AUCTION_CLOSED


# -- first price ---------------------------------------------------------------------


def test_first_price_sale_highest_bid_wins_and_pays_it() -> None:
    run = opened(sealed())
    bids_from_20s(run, ("alice", "1200.00"), ("bob", "1500.00"), ("carol", "1300.00"))
    ended = run.close()
    # Highest first: bob 150_000, carol 130_000, alice 120_000; bob pays his own bid.
    assert ended.outcome is Outcome.AWARDED
    assert (ended.winners, ended.price, ended.score) == (("bob",), 150_000, 150_000)
    assert ended.ranking == (
        Standing(1, "bob", 150_000, 150_000),
        Standing(2, "carol", 130_000, 130_000),
        Standing(3, "alice", 120_000, 120_000),
    )


def test_first_price_procurement_lowest_bid_wins_and_is_paid_it() -> None:
    run = opened(sealed(side=Side.PROCUREMENT))
    bids_from_20s(run, ("alice", "900.00"), ("bob", "800.00"), ("carol", "850.00"))
    ended = run.close()
    # Lowest first: bob 80_000, carol 85_000, alice 90_000; bob is paid his own bid.
    assert (ended.winners, ended.price, ended.score) == (("bob",), 80_000, 80_000)
    assert [s.bidder for s in ended.ranking] == ["bob", "carol", "alice"]


# -- second price (Vickrey) ------------------------------------------------------------


def test_second_price_sale_winner_pays_the_runner_up_bid() -> None:
    run = opened(sealed(pricing=Pricing.SECOND_PRICE))
    bids_from_20s(run, ("alice", "1200.00"), ("bob", "1500.00"), ("carol", "1300.00"))
    ended = run.close()
    # bob bid 150_000 and wins; he pays carol's 130_000, the second-highest bid.
    assert (ended.winners, ended.price, ended.score) == (("bob",), 130_000, 130_000)
    assert ended.ranking[0] == Standing(1, "bob", 150_000, 150_000)


def test_second_price_sale_pays_at_least_the_reserve() -> None:
    rules = sealed(pricing=Pricing.SECOND_PRICE, reserve_price=100_000)
    run = opened(rules)
    bids_from_20s(run, ("alice", "1400.00"), ("bob", "800.00"))
    ended = run.close()
    # max(runner-up 80_000, reserve 100_000) = 100_000.
    assert (ended.winners, ended.price) == (("alice",), 100_000)


def test_second_price_procurement_winner_is_paid_the_runner_up_bid() -> None:
    run = opened(sealed(pricing=Pricing.SECOND_PRICE, side=Side.PROCUREMENT))
    bids_from_20s(run, ("alice", "900.00"), ("bob", "800.00"), ("carol", "850.00"))
    ended = run.close()
    # bob bid 80_000 and wins; without scoring the price whose score ties carol's
    # 85_000 is 85_000 itself.
    assert (ended.winners, ended.price, ended.score) == (("bob",), 85_000, 85_000)


@pytest.mark.parametrize(
    ("changes", "price"),
    [
        # Alone with a reserve: the reserve, 1000.00.
        ({"reserve_price": 100_000, "start_price": 50_000}, 100_000),
        # No reserve: the start price, 500.00.
        ({"start_price": 50_000}, 50_000),
        # Neither: its own bid, 1400.00.
        ({}, 140_000),
    ],
    ids=["reserve", "start-price", "own-bid"],
)
def test_second_price_sale_with_one_bidder(changes: dict[str, int], price: int) -> None:
    run = opened(sealed(pricing=Pricing.SECOND_PRICE, **changes))
    run.bid("alice", "1400.00", 20 * S)
    ended = run.close()
    assert (ended.outcome, ended.winners, ended.price, ended.score) == (
        Outcome.AWARDED,
        ("alice",),
        price,
        price,
    )


@pytest.mark.parametrize(
    ("changes", "price"),
    [
        # Alone with a reserve: the reserve, 900.00.
        ({"reserve_price": 90_000, "start_price": 100_000}, 90_000),
        # No reserve: the ceiling, 1000.00.
        ({"start_price": 100_000}, 100_000),
        # Neither: its own bid, 700.00.
        ({}, 70_000),
    ],
    ids=["reserve", "ceiling", "own-bid"],
)
def test_second_price_procurement_with_one_bidder(changes: dict[str, int], price: int) -> None:
    rules = sealed(pricing=Pricing.SECOND_PRICE, side=Side.PROCUREMENT, **changes)
    run = opened(rules)
    run.bid("alice", "700.00", 20 * S)
    ended = run.close()
    assert (ended.winners, ended.price, ended.score) == (("alice",), price, price)


def test_second_price_procurement_alone_is_never_paid_above_the_ceiling() -> None:
    # A reserve above the ceiling cannot raise the payment past the ceiling:
    # min(reserve 120_000, ceiling 100_000) = 100_000.
    rules = sealed(
        pricing=Pricing.SECOND_PRICE,
        side=Side.PROCUREMENT,
        start_price=100_000,
        reserve_price=120_000,
    )
    run = opened(rules)
    run.bid("alice", "900.00", 20 * S)
    assert run.close().price == 100_000


def test_second_price_sale_alone_never_pays_below_the_start_price() -> None:
    # A reserve below the start price cannot lower the payment under the least bid allowed:
    # max(reserve 40_000, start 50_000) = 50_000.
    rules = sealed(pricing=Pricing.SECOND_PRICE, start_price=50_000, reserve_price=40_000)
    run = opened(rules)
    run.bid("alice", "600.00", 20 * S)
    assert run.close().price == 50_000


MEAT_COEFFICIENTS = {"alice": "0.3", "bob": "0.1", "carol": "0"}


def test_second_price_meat_procurement_pays_the_highest_price_tying_the_runner_up() -> None:
    rules = sealed(pricing=Pricing.SECOND_PRICE, side=Side.PROCUREMENT, scoring=Scoring.MEAT)
    run = opened(rules, coefficients=MEAT_COEFFICIENTS)
    bids_from_20s(run, ("alice", "1000.00"), ("bob", "999.99"), ("carol", "950.00"))
    ended = run.close()
    # Scores are price / (1 + coefficient):
    #   alice 100_000 / 1.3 = 1_000_000/13 ≈ 76_923.08  (best)
    #   bob    99_999 / 1.1 =   999_990/11 ≈ 90_908.18  (runner-up)
    #   carol  95_000 / 1   =                 95_000
    assert ended.ranking == (
        Standing(1, "alice", 100_000, Fraction(1_000_000, 13)),
        Standing(2, "bob", 99_999, Fraction(999_990, 11)),
        Standing(3, "carol", 95_000, Fraction(95_000)),
    )
    # alice is paid the highest p with p / 1.3 <= 999_990/11, i.e.
    # p <= 999_990/11 × 13/10 = 1_299_987/11 ≈ 118_180.64, so p = 118_180, whose score is
    # 118_180 / 1.3 = 1_181_800/13 ≈ 90_907.69; one cent more, 118_181 / 1.3 ≈ 90_908.46,
    # would score worse than bob.
    assert ended.winners == ("alice",)
    assert ended.price == 118_180
    assert ended.score == Fraction(1_181_800, 13)


def test_second_price_meat_procurement_is_capped_by_the_ceiling() -> None:
    rules = sealed(
        pricing=Pricing.SECOND_PRICE,
        side=Side.PROCUREMENT,
        scoring=Scoring.MEAT,
        start_price=110_000,
    )
    run = opened(rules, coefficients=MEAT_COEFFICIENTS)
    bids_from_20s(run, ("alice", "1000.00"), ("bob", "999.99"))
    ended = run.close()
    # The tie price 118_180 (see above) is above the 110_000 ceiling: min(118_180, 110_000);
    # its score is 110_000 / 1.3 = 1_100_000/13.
    assert (ended.price, ended.score) == (110_000, Fraction(1_100_000, 13))


def test_second_price_meat_procurement_is_capped_by_the_ceiling_despite_a_higher_reserve() -> None:
    rules = sealed(
        pricing=Pricing.SECOND_PRICE,
        side=Side.PROCUREMENT,
        scoring=Scoring.MEAT,
        start_price=110_000,
        reserve_price=120_000,
    )
    run = opened(rules, coefficients=MEAT_COEFFICIENTS)
    bids_from_20s(run, ("alice", "1000.00"), ("bob", "999.99"))
    ended = run.close()
    # The tie price 118_180 is under the 120_000 reserve but above the 110_000 ceiling:
    # min(118_180, 120_000, 110_000) = 110_000, score 110_000 / 1.3 = 1_100_000/13.
    assert (ended.price, ended.score) == (110_000, Fraction(1_100_000, 13))


def test_second_price_lcc_procurement_adds_the_declared_cost() -> None:
    rules = sealed(pricing=Pricing.SECOND_PRICE, side=Side.PROCUREMENT, scoring=Scoring.LCC)
    run = opened(rules, bidders=("alice", "bob"), costs={"alice": "100.00"})
    bids_from_20s(run, ("alice", "800.00"), ("bob", "950.00"))
    ended = run.close()
    # Scores are price + cost: alice 80_000 + 10_000 = 90_000, bob 95_000 + 0 = 95_000.
    # alice is paid the highest p with p + 10_000 <= 95_000: p = 85_000, score 95_000.
    assert ended.ranking == (
        Standing(1, "alice", 80_000, 90_000),
        Standing(2, "bob", 95_000, 95_000),
    )
    assert (ended.winners, ended.price, ended.score) == (("alice",), 85_000, 95_000)


# -- replacing and withdrawing ---------------------------------------------------------


def test_a_new_bid_replaces_the_old_one_with_no_step_rule() -> None:
    run = opened(sealed())
    run.bid("alice", "1000.00", 20 * S)
    lower = run.bid("alice", "900.00", 30 * S)
    # Lower than before is fine: a sealed bid is simply replaced.
    assert lower == [BidAccepted(7, 30 * S, "cmd-3", "alice", 90_000, 90_000, False)]
    run.bid("alice", "900.01", 40 * S)
    assert list(run.auction.book) == [(-90_001, 8, "alice", 90_001)]
    ended = run.close()
    assert (ended.winners, ended.price) == (("alice",), 90_001)


def test_withdrawn_bid_leaves_the_book() -> None:
    run = opened(sealed())
    run.bid("alice", "1000.00", 20 * S)
    run.bid("bob", "900.00", 21 * S)
    events = run(WithdrawBid("withdraw", 30 * S, "alice"))
    assert events == [BidWithdrawn(8, 30 * S, "withdraw", "alice")]
    ended = run.close()
    assert (ended.winners, ended.price) == (("bob",), 90_000)
    assert ended.ranking == (Standing(1, "bob", 90_000, 90_000),)


def test_withdraw_without_a_bid_is_no_bid_to_withdraw() -> None:
    run = opened(sealed())
    assert_rejected(run, WithdrawBid("withdraw", 20 * S, "alice"), Reason.NO_BID_TO_WITHDRAW)
    run.bid("alice", "1000.00", 21 * S)
    run(WithdrawBid("withdraw-1", 22 * S, "alice"))
    assert_rejected(run, WithdrawBid("withdraw-2", 23 * S, "alice"), Reason.NO_BID_TO_WITHDRAW)


def test_withdraw_by_an_unknown_bidder_is_rejected() -> None:
    run = opened(sealed())
    assert_rejected(run, WithdrawBid("withdraw", 20 * S, "mallory"), Reason.UNKNOWN_BIDDER)


def test_disqualified_bidder_loses_its_bid_and_cannot_bid_again() -> None:
    run = opened(sealed())
    run.bid("alice", "1000.00", 20 * S)
    run.bid("bob", "900.00", 21 * S)
    run(DisqualifyBidder("out", 30 * S, "alice"))
    assert run.auction.book.get("alice") is None
    assert_rejected(
        run,
        PlaceBid("again", 31 * S, "alice", Decimal("2000.00"), "EUR"),
        Reason.BIDDER_DISQUALIFIED,
    )
    assert run.close().winners == ("bob",)


# -- price bounds and the reserve ------------------------------------------------------


def test_sale_bid_below_the_start_price_is_rejected() -> None:
    run = opened(sealed(start_price=50_000))
    rejection = assert_rejected(
        run, PlaceBid("low", 20 * S, "alice", Decimal("499.99"), "EUR"), Reason.BELOW_START_PRICE
    )
    assert (rejection.detail, rejection.bound) == (
        "at least 500.00 EUR",
        Bound(BoundKind.MIN, 50000, "EUR"),
    )
    # Exactly the start price is fine.
    assert isinstance(run.bid("alice", "500.00", 21 * S)[0], BidAccepted)


def test_procurement_bid_above_the_ceiling_is_rejected() -> None:
    run = opened(sealed(side=Side.PROCUREMENT, start_price=100_000))
    rejection = assert_rejected(
        run, PlaceBid("high", 20 * S, "alice", Decimal("1000.01"), "EUR"), Reason.ABOVE_START_PRICE
    )
    assert (rejection.detail, rejection.bound) == (
        "at most 1000.00 EUR",
        Bound(BoundKind.MAX, 100000, "EUR"),
    )
    assert isinstance(run.bid("alice", "1000.00", 21 * S)[0], BidAccepted)


def test_sale_below_the_reserve_is_reserve_not_met() -> None:
    run = opened(sealed(reserve_price=100_000))
    bids_from_20s(run, ("alice", "999.99"), ("bob", "950.00"))
    ended = run.close()
    # The best bid 99_999 is one cent short of the 100_000 reserve: no award, but the
    # ranking is still reported.
    assert (ended.outcome, ended.winners, ended.price, ended.score) == (
        Outcome.RESERVE_NOT_MET,
        (),
        None,
        None,
    )
    assert [s.price for s in ended.ranking] == [99_999, 95_000]


def test_sale_exactly_at_the_reserve_is_awarded() -> None:
    run = opened(sealed(reserve_price=100_000))
    run.bid("alice", "1000.00", 20 * S)
    ended = run.close()
    assert (ended.outcome, ended.price) == (Outcome.AWARDED, 100_000)


def test_procurement_above_the_reserve_is_reserve_not_met() -> None:
    run = opened(sealed(side=Side.PROCUREMENT, reserve_price=80_000))
    run.bid("alice", "800.01", 20 * S)
    # The best offer 80_001 is one cent above the 80_000 reserve.
    assert run.close().outcome is Outcome.RESERVE_NOT_MET


def test_procurement_within_the_reserve_is_awarded() -> None:
    run = opened(sealed(side=Side.PROCUREMENT, reserve_price=80_000))
    run.bid("alice", "800.00", 20 * S)
    assert run.close().outcome is Outcome.AWARDED


# -- ties --------------------------------------------------------------------------------


def test_equal_bids_go_to_the_earlier_one() -> None:
    run = opened(sealed(pricing=Pricing.SECOND_PRICE))
    bids_from_20s(run, ("bob", "1000.00"), ("alice", "1000.00"))
    ended = run.close()
    # bob bid 100_000 at 20 s, alice the same at 21 s: bob wins and pays alice's 100_000.
    assert [s.bidder for s in ended.ranking] == ["bob", "alice"]
    assert (ended.winners, ended.price) == (("bob",), 100_000)


def test_a_replaced_bid_ranks_from_the_time_it_was_replaced() -> None:
    run = opened(sealed(side=Side.PROCUREMENT))
    bids_from_20s(run, ("bob", "900.00"), ("alice", "900.00"), ("bob", "900.00"))
    # bob's replacement at 22 s is now later than alice's bid at 21 s.
    assert run.close().winners == ("alice",)


# -- other commands -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        SetProxy("proxy", 20 * S, "alice", Decimal("1000.00"), "EUR"),
        AcceptPrice("accept", 20 * S, "alice"),
        PassTurn("pass", 20 * S, "alice"),
    ],
    ids=lambda command: type(command).__name__,
)
def test_commands_of_other_formats_are_not_supported(command: Command) -> None:
    run = opened(sealed())
    assert_rejected(run, command, Reason.NOT_SUPPORTED)


def test_bid_in_another_currency_is_rejected() -> None:
    run = opened(sealed())
    assert_rejected(
        run, PlaceBid("usd", 20 * S, "alice", Decimal("1000.00"), "USD"), Reason.WRONG_CURRENCY
    )


def test_bidder_registered_after_the_opening_may_bid() -> None:
    run = opened(sealed(), bidders=("alice",))
    run(RegisterBidder("late", 50 * S, "dave"))
    run.bid("dave", "10.00", 60 * S)
    assert run.close().winners == ("dave",)


def test_tick_before_the_close_changes_nothing() -> None:
    run = opened(sealed())
    run.bid("alice", "10.00", 20 * S)
    assert run(Tick("tick", CLOSE - 1)) == []


def test_a_cancelled_sealed_auction_never_reveals_its_bids() -> None:
    auction = Auction()
    created = auction.handle(CreateAuction("c", 0, SealedRules("EUR", 10, 100)))
    registered = auction.handle(RegisterBidder("r", 10, "ann"))
    bid = auction.handle(PlaceBid("b", 11, "ann", Decimal("5.00"), "EUR"))
    (ended,) = auction.handle(CancelAuction("x", 12, "tender withdrawn"))
    assert isinstance(ended, AuctionEnded)
    # the bid exists in the book but the closing event publishes no ranking
    assert ended.outcome is Outcome.CANCELLED and ended.ranking == ()
    assert replay([*created, *registered, *bid, ended]) == auction
