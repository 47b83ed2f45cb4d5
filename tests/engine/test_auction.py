"""Worked examples of the auction state machine itself (engine/auction.py).

Most examples use a first-price sealed sale in EUR (amounts in cents) that opens at
10 s and closes at 100 s: it has a fixed deadline and accepts any bid, so the rules of
the ``Auction`` class show without format rules in the way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest

from engine import (
    AcceptPrice,
    Auction,
    AuctionCreated,
    AuctionEnded,
    AuctionNotCreated,
    AuctionStarted,
    BidAccepted,
    BidderDisqualified,
    BidderRegistered,
    CancelAuction,
    ClockWentBackwards,
    Command,
    CommandRejected,
    CorruptLog,
    CreateAuction,
    DisqualifyBidder,
    EngineError,
    EngineMisuse,
    Event,
    IllegalTransition,
    MultiRoundRules,
    Outcome,
    PassTurn,
    Phase,
    PlaceBid,
    Reason,
    RegisterBidder,
    SealedRules,
    SetProxy,
    Standing,
    Step,
    Tick,
    UnknownCommand,
    WithdrawBid,
    replay,
)
from tests.engine.helpers import Run, S, assert_rejected

OPEN = 10 * S
CLOSE = 100 * S
RULES = SealedRules(currency="EUR", starts_at=OPEN, ends_at=CLOSE)


class CheckedRun(Run):
    """A recorded auction that checks replay and invariants after every command."""

    def __call__(self, command: Command) -> list[Event]:
        events = super().__call__(command)
        self.check()
        return events


def created(rules: Any = RULES, bidders: tuple[str, ...] = ("alice", "bob")) -> CheckedRun:
    """``rules`` created at 0 s, then ``bidders`` registered at 1 s (seq 1, 2, …)."""
    run = CheckedRun()
    run(CreateAuction("create", 0, rules))
    for bidder in bidders:
        run(RegisterBidder(f"register-{bidder}", 1 * S, bidder))
    return run


def opened(rules: Any = RULES, bidders: tuple[str, ...] = ("alice", "bob")) -> CheckedRun:
    """As :func:`created`, then opened at the start time."""
    run = created(rules, bidders)
    run.tick(rules.starts_at)
    return run


# -- creating --------------------------------------------------------------------------


def test_create_records_the_rules_and_schedules_the_start() -> None:
    run = CheckedRun()
    assert run.auction.phase is Phase.NEW
    assert run(CreateAuction("create", 0, RULES)) == [AuctionCreated(1, 0, RULES)]
    assert run.auction.phase is Phase.SCHEDULED
    assert run.auction.rules == RULES


def test_create_with_invalid_rules_is_rejected_and_the_auction_stays_new() -> None:
    run = CheckedRun()
    bad = SealedRules(currency="EUR", starts_at=OPEN, ends_at=OPEN)
    events = run(CreateAuction("bad", 5 * S, bad))
    assert events == [
        CommandRejected(
            1,
            5 * S,
            "bad",
            "CreateAuction",
            None,
            Reason.INVALID_RULES,
            "ends_at must be after starts_at",
        )
    ]
    assert (run.auction.phase, run.auction.rules) == (Phase.NEW, None)
    assert run.auction.next_deadline() is None
    # The caller may try again with sound rules.
    assert run(CreateAuction("good", 6 * S, RULES)) == [AuctionCreated(2, 6 * S, RULES)]


def test_create_with_a_start_before_its_own_time_is_invalid_rules() -> None:
    run = CheckedRun()
    # Created at 11 s for a start at 10 s: that deadline could never take effect on time.
    rejection = assert_rejected(run, CreateAuction("late", 11 * S, RULES), Reason.INVALID_RULES)
    assert rejection.detail == "starts_at is before the time of creation"
    assert run.auction.phase is Phase.NEW


def test_create_exactly_at_the_start_time_is_fine() -> None:
    run = CheckedRun()
    assert run(CreateAuction("now", OPEN, RULES)) == [AuctionCreated(1, OPEN, RULES)]


@pytest.mark.parametrize(
    ("at", "phase"), [(5 * S, Phase.SCHEDULED), (OPEN, Phase.RUNNING), (CLOSE, Phase.ENDED)]
)
def test_second_create_is_auction_exists(at: int, phase: Phase) -> None:
    run = created()
    run.tick(at)
    assert run.auction.phase is phase
    assert_rejected(run, CreateAuction("again", at, RULES), Reason.AUCTION_EXISTS)


# -- misuse: raises, changes nothing ------------------------------------------------------


def test_misuse_errors_are_engine_errors_and_assertion_errors() -> None:
    for error in (ClockWentBackwards, AuctionNotCreated, UnknownCommand):
        assert issubclass(error, EngineMisuse)
        assert issubclass(error, EngineError)
        assert issubclass(error, AssertionError)


def test_command_before_create_raises_auction_not_created() -> None:
    auction = Auction()
    with pytest.raises(AuctionNotCreated):
        auction.handle(Tick("tick", 0))
    assert auction == Auction()
    assert (auction.phase, auction.seq) == (Phase.NEW, 0)


def test_command_back_in_time_raises_clock_went_backwards_and_changes_nothing() -> None:
    run = opened()
    run.bid("alice", "10.00", 50 * S)
    before = run.auction.state()
    with pytest.raises(ClockWentBackwards):
        run.auction.handle(PlaceBid("past", 50 * S - 1, "bob", Decimal("20.00"), "EUR"))
    assert run.auction.state() == before
    # The same instant as the last command is fine.
    assert isinstance(run.bid("bob", "20.00", 50 * S)[0], BidAccepted)


def test_tick_that_changed_nothing_still_moves_the_clock() -> None:
    run = created()
    assert run.auction.now == 1 * S  # the registrations
    assert run.tick(5 * S) == []
    assert run.auction.now == 5 * S
    with pytest.raises(ClockWentBackwards):
        run.auction.handle(Tick("past", 5 * S - 1))


@dataclass(frozen=True, slots=True)
class Teleport:
    """Looks like a command, but is not one of the engine's."""

    command_id: str
    at: int


@pytest.mark.parametrize("thing", [Teleport("x", 20 * S), "PlaceBid", None])
def test_foreign_object_raises_unknown_command_and_changes_nothing(thing: Any) -> None:
    run = opened()
    before = run.auction.state()
    with pytest.raises(UnknownCommand):
        run.auction.handle(thing)
    assert run.auction.state() == before


def test_unknown_command_is_detected_before_the_auction_exists() -> None:
    with pytest.raises(UnknownCommand):
        Auction().handle(Teleport("x", 0))  # type: ignore[arg-type]


# -- registering --------------------------------------------------------------------------


def test_registration_gives_anonymous_labels_in_order() -> None:
    run = created(bidders=())
    events = run(RegisterBidder("a", 1 * S, "alice", Decimal("0.5"), Decimal("250.00")))
    # 250.00 EUR of declared life-cycle cost is 25_000 cents.
    assert events == [BidderRegistered(2, 1 * S, "alice", "Bidder 1", Decimal("0.5"), 25_000, None)]
    run(RegisterBidder("b", 2 * S, "bob"))
    assert run.auction.bidders["bob"].label == "Bidder 2"


def test_registering_twice_is_bidder_already_registered() -> None:
    run = created()
    command = RegisterBidder("again", 2 * S, "alice")
    assert_rejected(run, command, Reason.BIDDER_ALREADY_REGISTERED)


def test_registration_while_running_is_allowed_in_a_sealed_auction() -> None:
    run = opened()
    events = run(RegisterBidder("late", 20 * S, "carol"))
    assert [type(x) for x in events] == [BidderRegistered]


@pytest.mark.parametrize(
    "coefficient",
    [Decimal("-0.01"), Decimal("100.01"), Decimal("NaN"), Decimal("Infinity"), 0.5],
    ids=["negative", "above-100", "nan", "infinite", "float"],
)
def test_coefficient_out_of_range_is_invalid_scoring_input(coefficient: Any) -> None:
    run = created()
    command = RegisterBidder("c", 2 * S, "carol", coefficient)
    rejection = assert_rejected(run, command, Reason.INVALID_SCORING_INPUT)
    assert rejection.detail == "coefficient out of range"


@pytest.mark.parametrize("coefficient", ["0", "100"])
def test_coefficient_bounds_are_inclusive(coefficient: str) -> None:
    run = created()
    events = run(RegisterBidder("c", 2 * S, "carol", Decimal(coefficient)))
    assert [type(x) for x in events] == [BidderRegistered]


@pytest.mark.parametrize(
    ("cost", "detail"),
    [("-1.00", "cost: amount_negative"), ("0.001", "cost: too_many_decimals")],
)
def test_bad_declared_cost_is_invalid_scoring_input(cost: str, detail: str) -> None:
    run = created()
    command = RegisterBidder("c", 2 * S, "carol", cost=Decimal(cost))
    rejection = assert_rejected(run, command, Reason.INVALID_SCORING_INPUT)
    assert rejection.detail == detail


def test_initial_bid_outside_a_multiround_auction_is_not_supported() -> None:
    run = created()
    command = RegisterBidder("c", 2 * S, "carol", initial_bid=Decimal("10.00"))
    rejection = assert_rejected(run, command, Reason.NOT_SUPPORTED)
    assert rejection.detail == "initial bids belong to multi-round auctions"


def test_initial_bid_that_is_not_an_amount_is_rejected_for_the_amount() -> None:
    run = created()
    command = RegisterBidder("c", 2 * S, "carol", initial_bid=Decimal("-10.00"))
    rejection = assert_rejected(run, command, Reason.AMOUNT_NEGATIVE)
    assert rejection.detail == "initial_bid: an amount must be positive, not negative"


# -- the start ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        PlaceBid("bid", 9 * S, "alice", Decimal("10.00"), "EUR"),
        SetProxy("proxy", 9 * S, "alice", Decimal("10.00"), "EUR"),
        AcceptPrice("accept", 9 * S, "alice"),
        WithdrawBid("withdraw", 9 * S, "alice"),
        PassTurn("pass", 9 * S, "alice"),
    ],
    ids=lambda command: type(command).__name__,
)
def test_bidding_before_the_start_is_auction_not_started(command: Command) -> None:
    run = created()
    assert_rejected(run, command, Reason.AUCTION_NOT_STARTED)


def test_one_microsecond_before_the_start_is_still_too_early() -> None:
    run = created()
    command = PlaceBid("bid", OPEN - 1, "alice", Decimal("10.00"), "EUR")
    rejected = assert_rejected(run, command, Reason.AUCTION_NOT_STARTED)
    # The detail names the opening as a reader would (UTC), not in microseconds.
    assert rejected.detail == "bidding opens at 1970-01-01T00:00:10Z"


def test_start_takes_effect_at_its_own_time_before_the_command_that_observed_it() -> None:
    run = created()
    events = run.bid("alice", "10.00", 15 * S)
    # Registered at seq 2 and 3; the start at 10 s is stamped 10 s, the bid 15 s.
    assert events == [
        AuctionStarted(4, OPEN, CLOSE),
        BidAccepted(5, 15 * S, "cmd-1", "alice", 1_000, 1_000, False),
    ]


def test_command_exactly_at_the_start_finds_the_auction_running() -> None:
    run = created()
    events = run.bid("alice", "10.00", OPEN)
    assert [(type(x), x.at) for x in events] == [(AuctionStarted, OPEN), (BidAccepted, OPEN)]


def test_late_command_applies_every_passed_deadline_in_order() -> None:
    run = created()
    events = run.bid("alice", "10.00", CLOSE + 5 * S)
    # Started at 10 s, closed at 100 s with no bids, and only then the late bid is refused.
    assert [(type(x), x.at) for x in events] == [
        (AuctionStarted, OPEN),
        (AuctionEnded, CLOSE),
        (CommandRejected, CLOSE + 5 * S),
    ]


# -- next_deadline in each phase ------------------------------------------------------------------


def test_next_deadline_in_every_phase() -> None:
    assert Auction().next_deadline() is None  # new
    rules = MultiRoundRules(
        currency="EUR",
        starts_at=OPEN,
        turn_us=30 * S,
        step=Step(amount=100),
        rounds=2,
        pause_us=60 * S,
    )
    run = CheckedRun()
    run(CreateAuction("create", 0, rules))
    for bidder, offer in (("alice", "10.00"), ("bob", "9.00")):
        run(RegisterBidder(bidder, 1 * S, bidder, initial_bid=Decimal(offer)))
    assert (run.auction.phase, run.auction.next_deadline()) == (Phase.SCHEDULED, OPEN)
    run.tick(OPEN)
    # alice's (worse) turn runs from 10 s to 40 s.
    assert (run.auction.phase, run.auction.next_deadline()) == (Phase.RUNNING, 40 * S)
    run.tick(70 * S)
    # Two turns of 30 s end round 1 at 70 s; round 2 resumes 60 s later, at 130 s.
    assert (run.auction.phase, run.auction.next_deadline()) == (Phase.PAUSED, 130 * S)
    run(CancelAuction("cancel", 80 * S))
    assert (run.auction.phase, run.auction.next_deadline()) == (Phase.ENDED, None)


# -- cancelling ---------------------------------------------------------------------------------


def test_cancel_before_the_start_ends_the_auction() -> None:
    run = created()
    events = run(CancelAuction("cancel", 5 * S, "budget withdrawn"))
    assert events == [
        AuctionEnded(4, 5 * S, Outcome.CANCELLED, (), None, None, (), "budget withdrawn")
    ]
    # The start time never comes.
    assert run.tick(OPEN) == []


def test_cancel_while_running_has_no_winner_and_never_opens_sealed_bids() -> None:
    run = opened()
    run.bid("alice", "10.00", 20 * S)
    events = run(CancelAuction("cancel", 30 * S))
    # Log: created, two registrations, started, the bid (seq 1-5). RULES is sealed: a
    # cancelled sealed auction is never opened, so the ranking stays empty.
    assert events == [AuctionEnded(6, 30 * S, Outcome.CANCELLED, (), None, None, (), "")]


@pytest.mark.parametrize(
    "command",
    [
        RegisterBidder("register", 40 * S, "carol"),
        DisqualifyBidder("disqualify", 40 * S, "alice"),
        CancelAuction("cancel-again", 40 * S),
        PlaceBid("bid", 40 * S, "alice", Decimal("10.00"), "EUR"),
        SetProxy("proxy", 40 * S, "alice", Decimal("10.00"), "EUR"),
        AcceptPrice("accept", 40 * S, "alice"),
        WithdrawBid("withdraw", 40 * S, "alice"),
        PassTurn("pass", 40 * S, "alice"),
    ],
    ids=lambda command: type(command).__name__,
)
def test_everything_after_the_end_is_auction_closed(command: Command) -> None:
    run = opened()
    run(CancelAuction("cancel", 30 * S))
    assert_rejected(run, command, Reason.AUCTION_CLOSED)


def test_tick_after_the_end_changes_nothing() -> None:
    run = opened()
    run(CancelAuction("cancel", 30 * S))
    assert run.tick(10_000 * S) == []


# -- disqualifying ------------------------------------------------------------------------------


def test_disqualify_removes_the_bidder_from_the_book() -> None:
    run = opened()
    run.bid("alice", "10.00", 20 * S)
    events = run(DisqualifyBidder("out", 30 * S, "alice", "collusion"))
    assert events == [BidderDisqualified(6, 30 * S, "alice", "collusion")]
    assert run.auction.bidders["alice"].disqualified
    assert len(run.auction.book) == 0


def test_disqualify_before_the_start_is_allowed() -> None:
    run = created()
    assert [type(x) for x in run(DisqualifyBidder("out", 5 * S, "alice"))] == [BidderDisqualified]


def test_disqualify_an_unknown_bidder_is_rejected() -> None:
    run = opened()
    assert_rejected(run, DisqualifyBidder("out", 20 * S, "mallory"), Reason.UNKNOWN_BIDDER)


def test_disqualify_twice_is_bidder_disqualified() -> None:
    run = opened()
    run(DisqualifyBidder("out", 20 * S, "alice"))
    assert_rejected(run, DisqualifyBidder("out-again", 21 * S, "alice"), Reason.BIDDER_DISQUALIFIED)


def test_bid_by_an_unknown_bidder_is_rejected() -> None:
    run = opened()
    command = PlaceBid("who", 20 * S, "mallory", Decimal("10.00"), "EUR")
    assert_rejected(run, command, Reason.UNKNOWN_BIDDER)


def test_bid_by_a_disqualified_bidder_is_rejected() -> None:
    run = opened()
    run(DisqualifyBidder("out", 20 * S, "alice"))
    command = PlaceBid("again", 21 * S, "alice", Decimal("10.00"), "EUR")
    assert_rejected(run, command, Reason.BIDDER_DISQUALIFIED)


# -- the award and views -------------------------------------------------------------------------


def test_award_names_the_leader_and_its_own_price() -> None:
    run = opened()
    run.bid("alice", "10.00", 20 * S)
    run.bid("bob", "12.50", 30 * S)
    events = run.tick(CLOSE)
    # Highest first: bob 1_250 cents, alice 1_000 cents.
    ranking = (Standing(1, "bob", 1_250, 1_250), Standing(2, "alice", 1_000, 1_000))
    assert events == [AuctionEnded(7, CLOSE, Outcome.AWARDED, ("bob",), 1_250, 1_250, ranking, "")]
    assert run.auction.ended == events[0]


def test_close_without_bids_is_no_bids() -> None:
    run = opened()
    events = run.tick(CLOSE)
    assert events == [AuctionEnded(5, CLOSE, Outcome.NO_BIDS, (), None, None, (), "")]


def test_replay_of_the_log_equals_the_live_auction() -> None:
    run = opened()
    run.bid("alice", "10.00", 20 * S)
    run.bid("bob", "9.00", 30 * S)
    run.tick(CLOSE)
    twin = replay(run.events)
    assert twin == run.auction
    assert twin.ended == run.auction.ended
    assert repr(twin) == "<Auction phase=ended seq=7 bids=2>"


def test_auction_is_unequal_to_other_things_and_unhashable() -> None:
    auction = Auction()
    assert auction != "an auction"
    with pytest.raises(TypeError):
        hash(auction)


def test_replay_of_nothing_is_a_new_auction() -> None:
    assert replay([]) == Auction()
    replay([])._check()


# -- amounts in bids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("10.001", Reason.TOO_MANY_DECIMALS),  # a tenth of a cent
        ("-10.00", Reason.AMOUNT_NEGATIVE),
        ("0.00", Reason.AMOUNT_ZERO),
        ("1000.01", Reason.AMOUNT_TOO_LARGE),  # 100_001 cents > max_amount 100_000
        ("sNaN", Reason.AMOUNT_INVALID),
    ],
)
def test_bid_amount_that_cannot_be_money_is_rejected(amount: str, reason: Reason) -> None:
    run = opened(replace(RULES, max_amount=100_000))
    assert_rejected(run, PlaceBid("bad", 20 * S, "alice", Decimal(amount), "EUR"), reason)


def test_bid_at_the_largest_amount_is_accepted() -> None:
    run = opened(replace(RULES, max_amount=100_000))
    # 1000.00 EUR = 100_000 cents = max_amount.
    assert isinstance(run.bid("alice", "1000.00", 20 * S)[0], BidAccepted)


def test_bid_in_another_currency_names_the_auction_currency() -> None:
    run = opened()
    command = PlaceBid("usd", 20 * S, "alice", Decimal("10.00"), "USD")
    rejection = assert_rejected(run, command, Reason.WRONG_CURRENCY)
    assert rejection.detail == "this auction is in EUR"


# -- apply ----------------------------------------------------------------------------------------


def test_apply_refuses_an_event_that_cannot_follow_and_changes_nothing() -> None:
    run = opened()  # created, alice and bob registered, started at 10 s (seq 1-4)
    auction = run.auction
    before = auction.state()
    bid = BidAccepted(5, 20 * S, "b", "alice", 1_000, 1_000, False)
    refused: list[tuple[Event, type[Exception]]] = [
        (AuctionCreated(5, 20 * S, RULES), IllegalTransition),  # no row while running
        (replace(bid, seq=6), CorruptLog),  # seq 5 is next, not 6
        (replace(bid, at=OPEN - 1), CorruptLog),  # before the start at 10 s
    ]
    for event, error in refused:
        with pytest.raises(error):
            auction.apply(event)
        assert auction.state() == before
    auction.apply(bid)
    assert auction.book.get("alice") == (-1_000, 5, "alice", 1_000)
