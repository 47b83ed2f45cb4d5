"""Worked examples for engine.formats.open_cry: English (sale) and reverse open auctions.

Unless a test says otherwise (see ``tests.engine.helpers``): EUR, bidding from ``START`` to
``END``; an English auction starts at 10.00 with a 1.00 step, a reverse one has a 100.00
ceiling and a 1.00 step. Amounts in comments are in EUR; events carry cents.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import pytest

from engine import (
    AcceptPrice,
    AuctionEnded,
    AuctionStarted,
    BidAccepted,
    BidderDisqualified,
    CommandRejected,
    CreateAuction,
    DisqualifyBidder,
    EndExtended,
    Event,
    IllegalTransition,
    Improvement,
    Outcome,
    PassTurn,
    PlaceBid,
    PriceChanged,
    ProxySet,
    Reason,
    RegisterBidder,
    Scoring,
    SetProxy,
    SoftClose,
    Standing,
    Step,
    WithdrawBid,
)
from engine.commands import Command
from engine.events import Bound, BoundKind
from tests.engine.helpers import END, START, Run, S, assert_rejected, english, reverse, started

SOFT = SoftClose(window_us=60 * S, extension_us=30 * S)


def bids(events: list[Event]) -> list[tuple[str, int, bool]]:
    """``(bidder, price, proxy)`` of every accepted bid, in order."""
    return [(e.bidder, e.price, e.proxy) for e in events if isinstance(e, BidAccepted)]


def extensions(events: list[Event]) -> list[int]:
    """The new end of every soft-close extension, in order."""
    return [e.ends_at for e in events if isinstance(e, EndExtended)]


def close(run: Run, at: int = END) -> AuctionEnded:
    """Tick at ``at`` and return the single closing event."""
    [ended] = run.tick(at)
    assert isinstance(ended, AuctionEnded)
    run.check()
    return ended


# -- English: award ------------------------------------------------------------------------


def test_auction_start_announces_the_scheduled_end() -> None:
    run = started(english())
    started_event = run.events[-1]
    assert isinstance(started_event, AuctionStarted)
    assert (started_event.at, started_event.ends_at) == (START, END)
    assert run.auction.next_deadline() == END
    run.check()


def test_english_awards_the_highest_bid_at_its_own_price() -> None:
    run = started(english())
    run.bid("ann", "10.00", START + 1)
    run.bid("bob", "11.00", START + 2)
    run.bid("cat", "13.50", START + 3)  # 13.50 >= 11.00 + 1.00
    ended = close(run)
    assert ended.outcome is Outcome.AWARDED
    assert ended.winners == ("cat",)
    assert (ended.price, ended.score) == (1350, 1350)
    assert ended.ranking == (
        Standing(1, "cat", 1350, 1350),
        Standing(2, "bob", 1100, 1100),
        Standing(3, "ann", 1000, 1000),
    )
    assert run.auction.next_deadline() is None


def test_english_close_takes_effect_at_the_end_even_when_observed_later() -> None:
    run = started(english())
    run.bid("ann", "10.00", START + 1)
    ended = close(run, END + 5 * S)
    assert ended.at == END


def test_english_reserve_not_met_means_no_award() -> None:
    run = started(english(reserve_price=1500))
    run.bid("ann", "10.00", START + 1)
    run.bid("bob", "14.99", START + 2)
    ended = close(run)
    # best bid 14.99 < reserve 15.00
    assert ended.outcome is Outcome.RESERVE_NOT_MET
    assert (ended.winners, ended.price, ended.score) == ((), None, None)
    assert ended.ranking == (Standing(1, "bob", 1499, 1499), Standing(2, "ann", 1000, 1000))


def test_english_reserve_exactly_met_is_awarded() -> None:
    run = started(english(reserve_price=1500))
    run.bid("ann", "15.00", START + 1)
    ended = close(run)
    # 15.00 = reserve 15.00
    assert (ended.outcome, ended.winners, ended.price) == (Outcome.AWARDED, ("ann",), 1500)


@pytest.mark.parametrize("reserve", [None, 1500])
def test_english_without_bids_ends_with_no_bids(reserve: int | None) -> None:
    run = started(english(reserve_price=reserve))
    ended = close(run)
    assert ended.outcome is Outcome.NO_BIDS
    assert (ended.winners, ended.price, ended.ranking) == ((), None, ())


# -- English: price rules ------------------------------------------------------------------


def test_english_first_bid_may_equal_the_start_price() -> None:
    run = started(english())
    assert bids(run.bid("ann", "10.00", START + 1)) == [("ann", 1000, False)]
    run.check()


def test_english_first_bid_below_the_start_price() -> None:
    run = started(english())
    # 9.99 < start 10.00
    command = PlaceBid("b1", START + 1, "ann", Decimal("9.99"), "EUR")
    rejected = assert_rejected(run, command, Reason.BELOW_START_PRICE)
    assert (rejected.detail, rejected.bound) == (
        "at least 10.00 EUR",
        Bound(BoundKind.MIN, 1000, "EUR"),
    )
    assert rejected.bidder == "ann"
    assert rejected.command == "PlaceBid"


def test_english_absolute_step() -> None:
    run = started(english())
    run.bid("ann", "10.00", START + 1)
    # next bid must be at least 10.00 + 1.00 = 11.00
    command = PlaceBid("b2", START + 2, "bob", Decimal("10.99"), "EUR")
    rejected = assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    assert (rejected.detail, rejected.bound) == (
        "at least 11.00 EUR",
        Bound(BoundKind.MIN, 1100, "EUR"),
    )
    assert bids(run.bid("bob", "11.00", START + 3)) == [("bob", 1100, False)]
    run.check()


def test_english_leader_must_also_beat_its_own_bid_by_a_step() -> None:
    run = started(english())
    run.bid("ann", "10.00", START + 1)
    command = PlaceBid("b2", START + 2, "ann", Decimal("10.50"), "EUR")
    assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    # 11.00 = 10.00 + 1.00: the leader raises its own bid; the book keeps one bid for ann
    assert bids(run.bid("ann", "11.00", START + 3)) == [("ann", 1100, False)]
    assert len(run.auction.book) == 1
    run.check()


def test_english_percentage_step_is_rounded_up_to_a_cent() -> None:
    run = started(english(start_price=1001, step=Step(percent=Decimal("2.5"))))
    run.bid("ann", "10.01", START + 1)
    # 2.5% of 10.01 = 0.25025, rounded up to 0.26: at least 10.27
    command = PlaceBid("b2", START + 2, "bob", Decimal("10.26"), "EUR")
    rejected = assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    assert (rejected.detail, rejected.bound) == (
        "at least 10.27 EUR",
        Bound(BoundKind.MIN, 1027, "EUR"),
    )
    assert bids(run.bid("bob", "10.27", START + 3)) == [("bob", 1027, False)]
    run.check()


def test_english_exact_percentage_step_is_not_rounded() -> None:
    run = started(english(step=Step(percent=Decimal("2.5"))))
    run.bid("ann", "10.00", START + 1)
    # 2.5% of 10.00 = 0.25 exactly: 10.25 is enough
    assert bids(run.bid("bob", "10.25", START + 2)) == [("bob", 1025, False)]
    run.check()


# -- reverse: award and price rules ---------------------------------------------------------


def test_reverse_awards_the_lowest_price() -> None:
    run = started(reverse())
    run.bid("ann", "95.00", START + 1)
    run.bid("bob", "90.00", START + 2)  # 90.00 <= 95.00 - 1.00
    ended = close(run)
    assert (ended.outcome, ended.winners, ended.price, ended.score) == (
        Outcome.AWARDED,
        ("bob",),
        9000,
        9000,
    )
    assert ended.ranking == (Standing(1, "bob", 9000, 9000), Standing(2, "ann", 9500, 9500))


def test_reverse_without_bids_ends_with_no_bids() -> None:
    run = started(reverse())
    assert close(run).outcome is Outcome.NO_BIDS


def test_reverse_first_bid_may_equal_the_ceiling() -> None:
    run = started(reverse())
    assert bids(run.bid("ann", "100.00", START + 1)) == [("ann", 10_000, False)]
    run.check()


def test_reverse_bid_above_the_ceiling() -> None:
    run = started(reverse())
    command = PlaceBid("b1", START + 1, "ann", Decimal("100.01"), "EUR")
    rejected = assert_rejected(run, command, Reason.ABOVE_START_PRICE)
    # ceiling 100.00 = 10000 cents
    assert (rejected.detail, rejected.bound) == (
        "at most 100.00 EUR",
        Bound(BoundKind.MAX, 10000, "EUR"),
    )


def test_reverse_beat_best_needs_a_step_below_the_best() -> None:
    run = started(reverse())
    run.bid("ann", "95.00", START + 1)
    # must be at most 95.00 - 1.00 = 94.00
    command = PlaceBid("b2", START + 2, "bob", Decimal("94.01"), "EUR")
    rejected = assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    assert (rejected.detail, rejected.bound) == (
        "at most 94.00 EUR",
        Bound(BoundKind.MAX, 9400, "EUR"),
    )
    assert bids(run.bid("bob", "94.00", START + 3)) == [("bob", 9400, False)]
    run.check()


def test_reverse_beat_own_needs_a_step_below_the_own_bid_only() -> None:
    run = started(reverse(improvement=Improvement.BEAT_OWN))
    run.bid("ann", "95.00", START + 1)
    # bob's first bid only has to respect the ceiling, even though it trails ann
    assert bids(run.bid("bob", "97.00", START + 2)) == [("bob", 9700, False)]
    # bob's next bid: at most 97.00 - 1.00 = 96.00
    command = PlaceBid("b3", START + 3, "bob", Decimal("96.01"), "EUR")
    rejected = assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    assert (rejected.detail, rejected.bound) == (
        "at most 96.00 EUR",
        Bound(BoundKind.MAX, 9600, "EUR"),
    )
    run.bid("bob", "96.00", START + 4)
    ended = close(run)
    assert ended.winners == ("ann",)
    assert ended.ranking == (Standing(1, "ann", 9500, 9500), Standing(2, "bob", 9600, 9600))


def test_reverse_tie_goes_to_the_earlier_accepted_bid() -> None:
    run = started(reverse(improvement=Improvement.BEAT_OWN))
    run.bid("bob", "99.00", START + 1)
    run.bid("ann", "95.00", START + 2)
    run.bid("bob", "95.00", START + 3)  # 95.00 <= 99.00 - 1.00, equal to ann's 95.00
    ended = close(run)
    # equal prices: ann's 95.00 was accepted first
    assert (ended.winners, ended.price) == (("ann",), 9500)
    assert [s.bidder for s in ended.ranking] == ["ann", "bob"]


def test_reverse_percentage_step_is_rounded_up_to_a_cent() -> None:
    run = started(reverse(step=Step(percent=Decimal("2.5"))))
    run.bid("ann", "10.01", START + 1)
    # 2.5% of 10.01 = 0.25025, rounded up to 0.26: at most 10.01 - 0.26 = 9.75
    command = PlaceBid("b2", START + 2, "bob", Decimal("9.76"), "EUR")
    assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    assert bids(run.bid("bob", "9.75", START + 3)) == [("bob", 975, False)]
    run.check()


def test_reverse_beat_own_percentage_step() -> None:
    run = started(reverse(improvement=Improvement.BEAT_OWN, step=Step(percent=Decimal(10))))
    run.bid("ann", "50.01", START + 1)
    # 10% of 50.01 = 5.001, rounded up to 5.01: at most 50.01 - 5.01 = 45.00
    command = PlaceBid("b2", START + 2, "ann", Decimal("45.01"), "EUR")
    assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    assert bids(run.bid("ann", "45.00", START + 3)) == [("ann", 4500, False)]
    run.check()


# -- reverse with scoring --------------------------------------------------------------------


def test_reverse_meat_ranks_by_score_and_reports_price_and_score() -> None:
    # MEAT score = price / (1 + coefficient)
    run = started(reverse(scoring=Scoring.MEAT), ann=("0.25", "0"), cat=("0.1", "0"))
    # ann: 100.00 / 1.25 = 80.00
    [ann] = run.bid("ann", "100.00", START + 1)
    assert isinstance(ann, BidAccepted)
    assert (ann.price, ann.score) == (10_000, Fraction(8000))
    # bob (coefficient 0): 85.00 is a lower price, but its score 8500 > 8000 - 100
    command = PlaceBid("b2", START + 2, "bob", Decimal("85.00"), "EUR")
    rejected = assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    assert rejected.detail == "score at most 7900"
    assert rejected.bound is None
    # cat: 8600 / 1.1 = 86000/11 = 7818.18… <= 7900
    [cat] = run.bid("cat", "86.00", START + 3)
    assert isinstance(cat, BidAccepted)
    assert (cat.price, cat.score) == (8600, Fraction(86000, 11))
    # bob now needs a score <= 86000/11 - 100 = 84900/11 = 7718.18…: 77.19 is one cent too much
    command = PlaceBid("b4", START + 4, "bob", Decimal("77.19"), "EUR")
    rejected = assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    assert rejected.detail == "score at most 84900/11"
    assert rejected.bound is None
    run.bid("bob", "77.18", START + 5)
    ended = close(run)
    assert (ended.winners, ended.price, ended.score) == (("bob",), 7718, 7718)
    assert ended.ranking == (
        Standing(1, "bob", 7718, Fraction(7718)),
        Standing(2, "cat", 8600, Fraction(86000, 11)),
        Standing(3, "ann", 10_000, Fraction(8000)),
    )


def test_reverse_meat_percentage_step_is_exact_on_the_score() -> None:
    run = started(reverse(scoring=Scoring.MEAT, step=Step(percent=Decimal(10))), bob=("0.25", "0"))
    # ann: 90.00 / 1 = 9000; 10% of it is 900 exactly: ceiling score 8100
    run.bid("ann", "90.00", START + 1)
    # bob: price / 1.25 <= 8100  =>  price <= 101.25, capped by the ceiling at 100.00
    [bob] = run.bid("bob", "100.00", START + 2)
    assert isinstance(bob, BidAccepted)
    assert bob.score == 8000  # 100.00 / 1.25
    # next: 10% of 8000 = 800: ann needs a score <= 7200, so 72.01 fails and 72.00 passes
    command = PlaceBid("b3", START + 3, "ann", Decimal("72.01"), "EUR")
    assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    assert bids(run.bid("ann", "72.00", START + 4)) == [("ann", 7200, False)]
    run.check()


def test_reverse_lcc_ranks_by_price_plus_cost() -> None:
    # LCC score = price + declared cost; ann declares 20.00 of running costs
    run = started(reverse(scoring=Scoring.LCC), ann=("0", "20.00"))
    assert run.auction.bidders["ann"].cost == 2000
    [ann] = run.bid("ann", "90.00", START + 1)
    assert isinstance(ann, BidAccepted)
    # 9000 + 2000 = 11000
    assert (ann.price, ann.score) == (9000, 11_000)
    # bob: 9900 + 0 = 9900 <= 11000 - 100: a higher price, a better score
    run.bid("bob", "99.00", START + 2)
    # ann: 8800 + 2000 = 10800 > 9900 - 100 = 9800
    command = PlaceBid("b3", START + 3, "ann", Decimal("88.00"), "EUR")
    assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    ended = close(run)
    assert (ended.winners, ended.price, ended.score) == (("bob",), 9900, 9900)
    assert ended.ranking == (Standing(1, "bob", 9900, 9900), Standing(2, "ann", 9000, 11_000))


# -- timing ------------------------------------------------------------------------------------


def test_bid_before_the_start_is_not_started() -> None:
    run = Run()
    run(CreateAuction("c1", 0, english()))
    run(RegisterBidder("r1", 0, "ann"))
    assert run.auction.next_deadline() == START
    command = PlaceBid("b1", START - 1, "ann", Decimal("10.00"), "EUR")
    assert_rejected(run, command, Reason.AUCTION_NOT_STARTED)
    proxy = SetProxy("p1", START - 1, "ann", Decimal("20.00"), "EUR")
    assert_rejected(run, proxy, Reason.AUCTION_NOT_STARTED)


def test_bid_one_microsecond_before_the_end_is_accepted() -> None:
    run = started(english())
    assert bids(run.bid("ann", "10.00", END - 1)) == [("ann", 1000, False)]
    run.check()


def test_bid_at_the_end_is_closed_and_the_close_comes_first() -> None:
    run = started(english())
    run.bid("ann", "10.00", START + 1)
    ended, rejected = run.bid("bob", "11.00", END)
    assert isinstance(ended, AuctionEnded)
    assert (ended.at, ended.winners) == (END, ("ann",))
    assert isinstance(rejected, CommandRejected)
    assert (rejected.at, rejected.reason) == (END, Reason.AUCTION_CLOSED)
    run.check()


def test_bid_after_the_end_is_closed_with_the_close_at_its_own_time() -> None:
    run = started(english())
    ended, rejected = run.bid("ann", "10.00", END + 7 * S)
    assert isinstance(ended, AuctionEnded)
    assert ended.at == END
    assert isinstance(rejected, CommandRejected)
    assert rejected.reason is Reason.AUCTION_CLOSED
    run.check()


def test_commands_after_the_close_change_nothing() -> None:
    run = started(english())
    close(run)
    bid = PlaceBid("late", END + 1, "ann", Decimal("10.00"), "EUR")
    assert_rejected(run, bid, Reason.AUCTION_CLOSED)
    proxy = SetProxy("late-proxy", END + 2, "ann", Decimal("20.00"), "EUR")
    assert_rejected(run, proxy, Reason.AUCTION_CLOSED)


# -- soft close ----------------------------------------------------------------------------


def test_soft_close_bid_inside_the_window_extends_the_end() -> None:
    run = started(english(soft_close=SOFT))
    events = run.bid("ann", "10.00", END - 10 * S)
    # 10 s left <= 60 s window: the end moves by 30 s, from END to END + 30 s
    assert extensions(events) == [END + 30 * S]
    assert run.auction.next_deadline() == END + 30 * S
    assert run.tick(END) == []
    # at END + 5 s, 25 s are left: accepted, and the end moves again to END + 60 s
    assert extensions(run.bid("bob", "11.00", END + 5 * S)) == [END + 60 * S]
    ended = close(run, END + 60 * S)
    assert (ended.at, ended.winners) == (END + 60 * S, ("bob",))


def test_soft_close_window_boundary() -> None:
    run = started(english(soft_close=SOFT))
    # 60 s and 1 µs left: outside the 60 s window, no extension
    assert extensions(run.bid("ann", "10.00", END - 60 * S - 1)) == []
    # exactly 60 s left: inside
    assert extensions(run.bid("bob", "11.00", END - 60 * S)) == [END + 30 * S]
    run.check()


def test_soft_close_bid_outside_the_window_does_not_extend() -> None:
    run = started(english(soft_close=SOFT))
    events = run.bid("ann", "10.00", START + 1)
    assert extensions(events) == []
    assert close(run).at == END


def test_soft_close_never_passes_the_hard_close() -> None:
    soft = SoftClose(60 * S, 30 * S, hard_close_at=END + 45 * S)
    run = started(english(soft_close=soft))
    # END - 10 s: END + 30 s, under the cap
    assert extensions(run.bid("ann", "10.00", END - 10 * S)) == [END + 30 * S]
    # END + 20 s: END + 60 s would pass the cap, so END + 45 s
    assert extensions(run.bid("bob", "11.00", END + 20 * S)) == [END + 45 * S]
    # END + 40 s: already at the cap, accepted without an extension
    events = run.bid("cat", "12.00", END + 40 * S)
    assert bids(events) == [("cat", 1200, False)]
    assert extensions(events) == []
    ended, rejected = run.bid("ann", "13.00", END + 45 * S)
    assert isinstance(ended, AuctionEnded)
    assert (ended.at, ended.winners) == (END + 45 * S, ("cat",))
    assert isinstance(rejected, CommandRejected)
    assert rejected.reason is Reason.AUCTION_CLOSED
    run.check()


def test_soft_close_proxy_bid_extends_exactly_like_a_manual_one() -> None:
    manual = started(english(soft_close=SOFT))
    manual_events = manual.bid("ann", "10.00", END - 10 * S)
    by_proxy = started(english(soft_close=SOFT))
    proxy_events = by_proxy.proxy("ann", "20.00", END - 10 * S)
    # the proxy bids the start price 10.00 for ann, and the end moves to END + 30 s
    assert bids(proxy_events) == [("ann", 1000, True)]
    assert extensions(proxy_events) == extensions(manual_events) == [END + 30 * S]
    assert by_proxy.auction.next_deadline() == manual.auction.next_deadline() == END + 30 * S
    manual.check()
    by_proxy.check()


def test_soft_close_a_bid_and_its_proxy_answer_extend_once() -> None:
    run = started(english(soft_close=SOFT))
    run.proxy("ann", "20.00", START + 1)  # ann's proxy bids 10.00, far from the end
    events = run.bid("bob", "11.00", END - 10 * S)
    # bob's bid: 10 s left -> END + 30 s; ann's proxy answers 12.00 at the same instant,
    # which is the same moment of bidding: no second extension
    assert bids(events) == [("bob", 1100, False), ("ann", 1200, True)]
    assert extensions(events) == [END + 30 * S]
    # a later bid inside the new window extends again
    later = run.bid("bob", "13.00", END + 20 * S)
    # bob 13.00 -> ann answers 14.00; 10 s left -> END + 60 s, once
    assert extensions(later) == [END + 60 * S]
    run.check()


def test_an_english_proxy_that_reaches_the_reserve_bids_it() -> None:
    run = started(english(reserve_price=1500))
    events = run.proxy("ann", "20.00", START + 1)
    # alone, ann's proxy would bid the start price 10.00, which can never win under a
    # 15.00 reserve; her limit 20.00 reaches it, so she bids 15.00 at once
    assert bids(events) == [("ann", 1500, True)]
    ended = close(run, END)
    assert (ended.outcome, ended.price) == (Outcome.AWARDED, 1500)
    run.check()


def test_soft_close_proxy_answer_outside_the_window_does_not_extend() -> None:
    run = started(english(soft_close=SOFT))
    run.proxy("ann", "20.00", START + 1)
    events = run.bid("bob", "11.00", START + 2)
    assert bids(events) == [("bob", 1100, False), ("ann", 1200, True)]
    assert extensions(events) == []
    run.check()


# -- English proxies -------------------------------------------------------------------------


def test_proxy_on_an_empty_book_bids_the_start_price() -> None:
    run = started(english())
    set_event, bid = run.proxy("ann", "15.00", START + 1)
    assert isinstance(set_event, ProxySet)
    assert set_event.limit == 1500
    assert isinstance(bid, BidAccepted)
    assert (bid.bidder, bid.price, bid.proxy) == ("ann", 1000, True)
    # the engine's bid echoes the id of the command that caused it
    assert bid.command_id == set_event.command_id
    run.check()


def test_proxy_answers_a_manual_bidder_by_the_minimum_step() -> None:
    run = started(english())
    run.proxy("ann", "15.00", START + 1)  # ann: 10.00
    # bob 11.00 -> ann's proxy 11.00 + 1.00 = 12.00
    assert bids(run.bid("bob", "11.00", START + 2)) == [("bob", 1100, False), ("ann", 1200, True)]
    # bob 14.00 -> ann's proxy 15.00, exactly its limit
    assert bids(run.bid("bob", "14.00", START + 3)) == [("bob", 1400, False), ("ann", 1500, True)]
    # bob 16.00 -> ann would need 17.00 > 15.00: the proxy is exhausted
    assert bids(run.bid("bob", "16.00", START + 4)) == [("bob", 1600, False)]
    assert close(run).winners == ("bob",)


def test_proxy_bids_by_a_percentage_step() -> None:
    run = started(english(start_price=1001, step=Step(percent=Decimal("2.5"))))
    run.proxy("ann", "20.00", START + 1)  # ann: 10.01
    # bob 10.27; ann answers 10.27 + 2.5% of 10.27 = 0.25675, rounded up 0.26: 10.53
    assert bids(run.bid("bob", "10.27", START + 2)) == [("bob", 1027, False), ("ann", 1053, True)]
    run.check()


def test_stronger_proxy_jumps_to_the_weaker_limit_plus_a_step() -> None:
    run = started(english())
    run.proxy("ann", "15.50", START + 1)  # ann leads at 10.00
    # bob's 20.00 beats ann's 15.50: bob bids 15.50 + 1.00 = 16.50 in one go
    assert bids(run.proxy("bob", "20.00", START + 2)) == [("bob", 1650, True)]
    ended = close(run)
    assert (ended.winners, ended.price) == (("bob",), 1650)


def test_leaders_stronger_proxy_lets_the_challenger_bid_then_answers() -> None:
    run = started(english())
    run.proxy("ann", "20.00", START + 1)  # ann leads at 10.00
    # ann can answer anything up to 20.00 - 1.00 = 19.00, so bob's proxy goes to its
    # limit 15.50 on the record; ann answers 15.50 + 1.00 = 16.50
    assert bids(run.proxy("bob", "15.50", START + 2)) == [("bob", 1550, True), ("ann", 1650, True)]
    ended = close(run)
    assert (ended.winners, ended.price) == (("ann",), 1650)


def test_stronger_proxy_is_capped_at_its_own_limit() -> None:
    run = started(english())
    run.proxy("ann", "16.00", START + 1)  # ann leads at 10.00
    # ann can answer up to 16.00 - 1.00 = 15.00: bob's proxy stops there; ann would beat
    # bob's 15.50 limit with 16.50 but may only go to 16.00
    assert bids(run.proxy("bob", "15.50", START + 2)) == [("bob", 1500, True), ("ann", 1600, True)]
    assert close(run).price == 1600


def test_stronger_challenger_is_capped_at_its_own_limit() -> None:
    run = started(english())
    run.bid("ann", "10.00", START + 1)
    assert bids(run.proxy("bob", "15.50", START + 2)) == [("bob", 1100, True)]
    # cat's 16.00 beats bob's 15.50; 15.50 + 1.00 = 16.50 is over 16.00, so 16.00
    assert bids(run.proxy("cat", "16.00", START + 3)) == [("cat", 1600, True)]
    assert close(run).winners == ("cat",)


def test_equal_proxy_limits_the_proxy_set_first_wins() -> None:
    run = started(english())
    run.proxy("ann", "15.00", START + 1)  # ann leads at 10.00
    # equal 15.00 limits, ann's set first: bob's proxy bids 14.00 (ann can still answer
    # 15.00), ann answers with her full limit
    assert bids(run.proxy("bob", "15.00", START + 2)) == [("bob", 1400, True), ("ann", 1500, True)]
    assert close(run).winners == ("ann",)


def test_equal_proxy_limits_the_earlier_proxy_wins_even_when_trailing() -> None:
    run = started(english())
    run.bid("ann", "10.00", START + 1)
    run.proxy("bob", "15.00", START + 2)  # bob: 11.00
    run.bid("ann", "12.00", START + 3)  # bob's proxy: 13.00
    # ann sets the same 15.00 limit later: her proxy bids 14.00, bob's answers 15.00
    assert bids(run.proxy("ann", "15.00", START + 4)) == [("ann", 1400, True), ("bob", 1500, True)]
    assert close(run).winners == ("bob",)


def test_stronger_proxy_that_cannot_answer_by_a_full_step_loses_the_lead() -> None:
    # proxy bids obey the step rule like manual ones
    run = started(english())
    run.bid("ann", "10.00", START + 1)
    run.proxy("ann", "11.50", START + 2)  # the leader's proxy, no bid needed
    # bob's 11.20 must bid 11.00 to lead; ann would need 12.00 > 11.50 to answer
    assert bids(run.proxy("bob", "11.20", START + 3)) == [("bob", 1100, True)]
    assert close(run).winners == ("bob",)


def test_three_proxies_settle_on_the_strongest() -> None:
    run = started(english())
    run.bid("ann", "10.00", START + 1)
    run.proxy("bob", "13.00", START + 2)  # bob: 11.00
    run.proxy("cat", "18.00", START + 3)  # cat: 13.00 + 1.00 = 14.00
    # ann's 16.00 is second to cat's 18.00: ann bids 16.00, cat answers 17.00
    assert bids(run.proxy("ann", "16.00", START + 4)) == [("ann", 1600, True), ("cat", 1700, True)]
    ended = close(run)
    assert (ended.winners, ended.price) == (("cat",), 1700)
    assert [s.bidder for s in ended.ranking] == ["cat", "ann", "bob"]


def test_leader_may_raise_its_proxy_without_bidding() -> None:
    run = started(english())
    run.proxy("ann", "12.00", START + 1)  # ann: 10.00
    assert bids(run.proxy("ann", "30.00", START + 2)) == []
    # bob 20.00 -> ann 21.00 under the new limit
    assert bids(run.bid("bob", "20.00", START + 3)) == [("bob", 2000, False), ("ann", 2100, True)]
    run.check()


def test_proxy_limit_below_the_start_price_is_too_low() -> None:
    run = started(english())
    command = SetProxy("p1", START + 1, "ann", Decimal("9.99"), "EUR")
    rejected = assert_rejected(run, command, Reason.PROXY_LIMIT_TOO_LOW)
    # the first bid must be the start price 10.00
    assert (rejected.detail, rejected.bound) == (
        "at least 10.00 EUR to lead",
        Bound(BoundKind.MIN, 1000, "EUR"),
    )


def test_proxy_limit_that_cannot_lead_is_too_low() -> None:
    run = started(english())
    run.bid("ann", "12.00", START + 1)
    command = SetProxy("p2", START + 2, "bob", Decimal("12.99"), "EUR")
    rejected = assert_rejected(run, command, Reason.PROXY_LIMIT_TOO_LOW)
    # leading needs 12.00 + 1.00 = 13.00
    assert (rejected.detail, rejected.bound) == (
        "at least 13.00 EUR to lead",
        Bound(BoundKind.MIN, 1300, "EUR"),
    )


def test_leaders_proxy_below_its_own_bid_is_too_low() -> None:
    run = started(english())
    run.bid("ann", "12.00", START + 1)
    command = SetProxy("p2", START + 2, "ann", Decimal("11.99"), "EUR")
    rejected = assert_rejected(run, command, Reason.PROXY_LIMIT_TOO_LOW)
    assert (rejected.detail, rejected.bound) == (
        "at least 12.00 EUR (your bid)",
        Bound(BoundKind.MIN, 1200, "EUR"),
    )
    # a limit equal to the standing bid is fine: nothing to bid yet
    assert [type(e) for e in run.proxy("ann", "12.00", START + 3)] == [ProxySet]
    run.check()


def test_proxy_cannot_lead_past_the_maximum_amount() -> None:
    run = started(english(max_amount=1500))
    run.bid("ann", "15.00", START + 1)
    # leading would need 16.00 > max_amount 15.00: no valid bid exists at all
    command = SetProxy("p2", START + 2, "bob", Decimal("15.00"), "EUR")
    rejected = assert_rejected(run, command, Reason.PROXY_LIMIT_TOO_LOW)
    assert rejected.detail == "no valid bid can lead"


def test_proxy_falls_silent_at_the_maximum_amount() -> None:
    run = started(english(max_amount=1500))
    run.proxy("ann", "15.00", START + 1)  # ann: 10.00
    # bob 15.00 = max_amount; ann's next bid 16.00 cannot exist
    assert bids(run.bid("bob", "15.00", START + 2)) == [("bob", 1500, False)]
    run.check()


def test_proxy_bidding_switched_off() -> None:
    run = started(english(allow_proxy=False))
    command = SetProxy("p1", START + 1, "ann", Decimal("20.00"), "EUR")
    assert_rejected(run, command, Reason.NOT_SUPPORTED)


# -- reverse proxies -------------------------------------------------------------------------


def test_reverse_proxy_floor_answers_by_the_minimum_step() -> None:
    run = started(reverse())
    run.bid("ann", "95.00", START + 1)
    # bob's floor 90.00: his proxy bids 95.00 - 1.00 = 94.00
    assert bids(run.proxy("bob", "90.00", START + 2)) == [("bob", 9400, True)]
    # ann 93.00 -> bob 92.00
    assert bids(run.bid("ann", "93.00", START + 3)) == [("ann", 9300, False), ("bob", 9200, True)]
    # ann 89.50 -> bob would need 88.50 < floor 90.00
    assert bids(run.bid("ann", "89.50", START + 4)) == [("ann", 8950, False)]
    assert close(run).winners == ("ann",)


def test_reverse_two_floors_the_lower_wins_a_step_under_the_other() -> None:
    run = started(reverse())
    # on an empty book a proxy bids the ceiling
    assert bids(run.proxy("ann", "80.00", START + 1)) == [("ann", 10_000, True)]
    # ann's floor 80.00 is stronger: bob's proxy goes down to its floor 85.00 (ann can
    # still answer), ann answers 85.00 - 1.00 = 84.00
    assert bids(run.proxy("bob", "85.00", START + 2)) == [("bob", 8500, True), ("ann", 8400, True)]
    ended = close(run)
    assert (ended.winners, ended.price) == (("ann",), 8400)


def test_reverse_proxy_floor_that_cannot_lead_is_too_low() -> None:
    run = started(reverse())
    run.bid("ann", "95.00", START + 1)
    # leading needs 95.00 - 1.00 = 94.00, below the floor 94.50
    command = SetProxy("p2", START + 2, "bob", Decimal("94.50"), "EUR")
    rejected = assert_rejected(run, command, Reason.PROXY_LIMIT_TOO_LOW)
    assert (rejected.detail, rejected.bound) == (
        "at most 94.00 EUR to lead",
        Bound(BoundKind.MAX, 9400, "EUR"),
    )


def test_reverse_proxy_cannot_lead_below_zero() -> None:
    run = started(reverse())
    run.bid("ann", "0.50", START + 1)
    # leading needs 0.50 - 1.00 = -0.50: no positive price leads
    command = SetProxy("p2", START + 2, "bob", Decimal("0.01"), "EUR")
    rejected = assert_rejected(run, command, Reason.PROXY_LIMIT_TOO_LOW)
    assert rejected.detail == "no valid bid can lead"


def test_reverse_meat_proxy_bids_by_score() -> None:
    run = started(reverse(scoring=Scoring.MEAT), ann=("0.25", "0"))
    run.bid("bob", "90.00", START + 1)  # bob's score 9000
    # ann needs a score <= 9000 - 100 = 8900: price <= 8900 × 1.25 = 111.25, capped by the
    # 100.00 ceiling; at 100.00 her score is 100.00 / 1.25 = 80.00
    [_, ann] = run.proxy("ann", "80.00", START + 2)
    assert isinstance(ann, BidAccepted)
    assert (ann.price, ann.score, ann.proxy) == (10_000, Fraction(8000), True)
    # bob 79.00 (score 7900 <= 8000 - 100); ann: score <= 7800, price <= 7800 × 1.25 = 97.50
    assert bids(run.bid("bob", "79.00", START + 3)) == [("bob", 7900, False), ("ann", 9750, True)]
    ended = close(run)
    assert (ended.winners, ended.price, ended.score) == (("ann",), 9750, Fraction(7800))
    assert ended.ranking == (
        Standing(1, "ann", 9750, Fraction(7800)),
        Standing(2, "bob", 7900, 7900),
    )


def test_reverse_beat_own_proxies_lead_by_beating_the_best() -> None:
    run = started(reverse(improvement=Improvement.BEAT_OWN))
    run.bid("ann", "95.00", START + 1)
    run.bid("bob", "97.00", START + 2)
    # bob's proxy must lead: at most 95.00 - 1.00 = 94.00 (and his own 97.00 - 1.00 = 96.00)
    assert bids(run.proxy("bob", "90.00", START + 3)) == [("bob", 9400, True)]
    # cat (no bid yet) has the stronger floor 85.00: bob's floor 90.00 - 1.00 = 89.00
    assert bids(run.proxy("cat", "85.00", START + 4)) == [("cat", 8900, True)]
    ended = close(run)
    assert [(s.bidder, s.price) for s in ended.ranking] == [
        ("cat", 8900),
        ("bob", 9400),
        ("ann", 9500),
    ]


# -- disqualification --------------------------------------------------------------------------


def test_disqualifying_the_leader_removes_its_bid_and_proxy() -> None:
    run = started(english())
    run.proxy("ann", "20.00", START + 1)  # ann: 10.00
    run.bid("bob", "11.00", START + 2)  # ann: 12.00
    events = run(DisqualifyBidder("dq", START + 3, "ann", "forged guarantee"))
    assert bids(events) == []
    fmt = run.auction.fmt
    assert fmt is not None
    assert fmt.state() == (END, -1, {})  # (ends_at, last extension time, proxies)
    assert run.auction.book.best() == (-1100, 8, "bob", 1100)
    # bob's 11.00 now leads; cat needs 12.00
    command = PlaceBid("b", START + 4, "cat", Decimal("11.99"), "EUR")
    assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    ended = close(run)
    assert (ended.winners, ended.price) == (("bob",), 1100)
    assert ended.ranking == (Standing(1, "bob", 1100, 1100),)


def test_proxy_answers_the_new_leader_after_a_disqualification() -> None:
    run = started(reverse(improvement=Improvement.BEAT_OWN), ("ann", "bob", "cat", "dan"))
    run.bid("bob", "50.00", START + 1)
    run.proxy("ann", "20.00", START + 2)  # ann: 49.00
    run.bid("cat", "15.00", START + 3)  # ann would need 14.00 < 20.00: silent
    run.bid("dan", "38.00", START + 4)  # beat_own: dan trails cat, no answer needed
    # without cat, dan's 38.00 leads and ann's floor 20.00 can beat it with 37.00
    events = run(DisqualifyBidder("dq", START + 5, "cat"))
    [disqualified, answer] = events
    assert isinstance(disqualified, BidderDisqualified)
    assert isinstance(answer, BidAccepted)
    # 38.00 - 1.00 = 37.00 >= floor 20.00; the bid echoes the command that caused it
    assert (answer.bidder, answer.price, answer.proxy, answer.command_id) == (
        "ann",
        3700,
        True,
        "dq",
    )
    ended = close(run)
    assert (ended.winners, ended.price) == (("ann",), 3700)


def test_disqualifying_a_trailing_bidder_leaves_settled_proxies_silent() -> None:
    run = started(english())
    run.proxy("ann", "20.00", START + 1)  # ann: 10.00
    run.bid("bob", "11.00", START + 2)  # ann: 12.00
    [event] = run(DisqualifyBidder("dq", START + 3, "bob"))
    assert isinstance(event, BidderDisqualified)
    assert run.auction.book.best() == (-1200, 9, "ann", 1200)
    run.check()


def test_replaying_an_event_of_another_format_is_an_illegal_transition() -> None:
    run = started(english())
    # a Dutch clock event has a row in the RUNNING phase, but no meaning in an English auction
    with pytest.raises(IllegalTransition):
        run.auction.apply(PriceChanged(run.auction.seq + 1, START + 1, 900, START + 2))


# -- every reason these formats give ----------------------------------------------------------

FORMAT_REASONS = {
    Reason.UNKNOWN_BIDDER,
    Reason.BIDDER_DISQUALIFIED,
    Reason.WRONG_CURRENCY,
    Reason.TOO_MANY_DECIMALS,
    Reason.AMOUNT_INVALID,
    Reason.AMOUNT_NEGATIVE,
    Reason.AMOUNT_ZERO,
    Reason.AMOUNT_TOO_LARGE,
    Reason.BELOW_START_PRICE,
    Reason.ABOVE_START_PRICE,
    Reason.INSUFFICIENT_IMPROVEMENT,
    Reason.PROXY_LIMIT_TOO_LOW,
    Reason.AUCTION_NOT_STARTED,
    Reason.AUCTION_CLOSED,
    Reason.NOT_SUPPORTED,
}


def _bid(amount: str, bidder: str = "bob", currency: str = "EUR") -> Command:
    return PlaceBid("x", START + 10, bidder, Decimal(amount), currency)


def _proxy(limit: str, bidder: str = "bob", currency: str = "EUR") -> Command:
    return SetProxy("x", START + 10, bidder, Decimal(limit), currency)


def _english_with_a_bid() -> Run:
    run = started(english())
    run.bid("ann", "10.00", START + 1)
    return run


def _disqualified_bob() -> Run:
    run = started(english())
    run(DisqualifyBidder("dq", START + 1, "bob"))
    return run


def _not_started() -> Run:
    run = Run()
    run(CreateAuction("c", 0, english()))
    run(RegisterBidder("r", 0, "bob"))
    return run


def _closed() -> Run:
    run = started(english())
    run.tick(END)
    return run


# (reason, how to get there, the refused command); every case is checked by assert_rejected
CASES: list[tuple[Reason, Callable[[], Run], Command]] = [
    (Reason.UNKNOWN_BIDDER, _english_with_a_bid, _bid("11.00", bidder="zed")),
    (Reason.UNKNOWN_BIDDER, _english_with_a_bid, _proxy("20.00", bidder="zed")),
    (Reason.BIDDER_DISQUALIFIED, _disqualified_bob, _bid("10.00")),
    (Reason.BIDDER_DISQUALIFIED, _disqualified_bob, _proxy("20.00")),
    (Reason.WRONG_CURRENCY, _english_with_a_bid, _bid("11.00", currency="USD")),
    (Reason.WRONG_CURRENCY, _english_with_a_bid, _proxy("20.00", currency="USD")),
    (Reason.TOO_MANY_DECIMALS, _english_with_a_bid, _bid("11.001")),
    (Reason.TOO_MANY_DECIMALS, _english_with_a_bid, _proxy("20.001")),
    (Reason.AMOUNT_INVALID, _english_with_a_bid, _bid("NaN")),
    (Reason.AMOUNT_INVALID, _english_with_a_bid, _proxy("Infinity")),
    (Reason.AMOUNT_NEGATIVE, _english_with_a_bid, _bid("-11.00")),
    (Reason.AMOUNT_NEGATIVE, _english_with_a_bid, _proxy("-20.00")),
    (Reason.AMOUNT_ZERO, _english_with_a_bid, _bid("0.00")),
    (Reason.AMOUNT_ZERO, _english_with_a_bid, _proxy("0")),
    # default max_amount 10^15 cents = 10^13 EUR
    (Reason.AMOUNT_TOO_LARGE, _english_with_a_bid, _bid("10000000000000.01")),
    (Reason.AMOUNT_TOO_LARGE, _english_with_a_bid, _proxy("1E+20")),
    (Reason.BELOW_START_PRICE, lambda: started(english()), _bid("9.99")),
    (Reason.ABOVE_START_PRICE, lambda: started(reverse()), _bid("100.01")),
    (Reason.INSUFFICIENT_IMPROVEMENT, _english_with_a_bid, _bid("10.99")),
    (Reason.PROXY_LIMIT_TOO_LOW, _english_with_a_bid, _proxy("10.99")),
    (Reason.AUCTION_NOT_STARTED, _not_started, PlaceBid("x", 1, "bob", Decimal(10), "EUR")),
    (Reason.AUCTION_CLOSED, _closed, PlaceBid("x", END + 1, "bob", Decimal(10), "EUR")),
    (Reason.NOT_SUPPORTED, lambda: started(english(allow_proxy=False)), _proxy("20.00")),
    (Reason.NOT_SUPPORTED, _english_with_a_bid, AcceptPrice("x", START + 10, "bob")),
    (Reason.NOT_SUPPORTED, _english_with_a_bid, WithdrawBid("x", START + 10, "ann")),
    (Reason.NOT_SUPPORTED, lambda: started(reverse()), PassTurn("x", START + 10, "bob")),
    # initial bids belong to multi-round auctions
    (
        Reason.NOT_SUPPORTED,
        _english_with_a_bid,
        RegisterBidder("x", START + 10, "dan", initial_bid=Decimal(10)),
    ),
]


@pytest.mark.parametrize(
    ("reason", "setup", "command"),
    CASES,
    ids=[f"{reason.value}-{type(command).__name__}" for reason, _, command in CASES],
)
def test_rejection_changes_nothing_but_seq(
    reason: Reason, setup: Callable[[], Run], command: Command
) -> None:
    assert_rejected(setup(), command, reason)


def test_every_reason_of_these_formats_has_a_case() -> None:
    assert {reason for reason, _, _ in CASES} == FORMAT_REASONS
