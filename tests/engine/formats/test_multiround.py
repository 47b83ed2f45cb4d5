"""Worked examples of the multi-round procurement auction (engine/formats/multiround.py).

Unless a test says otherwise: EUR (amounts in cents), ceiling 1000.00, step 10.00, three
rounds, bidding opens at 10 s, a turn lasts 30 s, rounds are 60 s apart. The three
bidders register at 0 s (seq 2, 3, 4) with initial offers alice 950.00, bob 900.00 and
carol 980.00, so at the opening the offers rank bob 90_000 < alice 95_000 < carol 98_000
and the first round's turns go carol, alice, bob (worst first, the leader last).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from engine import (
    AcceptPrice,
    AuctionEnded,
    AuctionStarted,
    BidAccepted,
    BidderDisqualified,
    Command,
    CommandRejected,
    CreateAuction,
    DisqualifyBidder,
    Event,
    IllegalTransition,
    MultiRoundRules,
    Outcome,
    PassTurn,
    Phase,
    PlaceBid,
    PriceChanged,
    Reason,
    RegisterBidder,
    RoundEnded,
    RoundStarted,
    Scoring,
    SetProxy,
    Standing,
    Step,
    Tick,
    TurnEnded,
    TurnStarted,
    WithdrawBid,
)
from engine.events import Bound, BoundKind
from engine.formats.multiround import MultiRound
from tests.engine.helpers import Run, S, assert_rejected

OPEN = 10 * S
TURN = 30 * S
PAUSE = 60 * S
OFFERS = {"alice": "950.00", "bob": "900.00", "carol": "980.00"}


def multiround(**changes: Any) -> MultiRoundRules:
    """The default rules of this module, with ``changes``."""
    rules = MultiRoundRules(
        currency="EUR",
        starts_at=OPEN,
        turn_us=TURN,
        step=Step(amount=1_000),
        rounds=3,
        pause_us=PAUSE,
        start_price=100_000,
    )
    return replace(rules, **changes)


class RoundsRun(Run):
    """A recorded multi-round auction that checks replay and invariants after every command."""

    def __call__(self, command: Command) -> list[Event]:
        events = super().__call__(command)
        self.check()
        return events

    @property
    def rounds(self) -> MultiRound:
        fmt = self.auction.fmt
        assert isinstance(fmt, MultiRound)
        return fmt

    def passes(self, bidder: str, at: int) -> list[Event]:
        return self(PassTurn(self.next_id(), at, bidder))

    def offers(self) -> dict[str, int]:
        """Each bidder's public offer (the book), in minor units."""
        return {bidder: price for _, _, bidder, price in self.auction.book}


def registered(
    rules: MultiRoundRules | None = None,
    offers: dict[str, str] = OFFERS,
    coefficients: dict[str, str] | None = None,
) -> RoundsRun:
    """``rules`` created at 0 s and bidders registered at 0 s with ``offers`` (euros)."""
    coefficients = coefficients or {}
    run = RoundsRun()
    run(CreateAuction("create", 0, rules or multiround()))
    for bidder, offer in offers.items():
        coefficient = Decimal(coefficients.get(bidder, "0"))
        run(
            RegisterBidder(f"register-{bidder}", 0, bidder, coefficient, initial_bid=Decimal(offer))
        )
    return run


def opened(
    rules: MultiRoundRules | None = None,
    offers: dict[str, str] = OFFERS,
    coefficients: dict[str, str] | None = None,
) -> RoundsRun:
    """As :func:`registered`, then opened at ``OPEN``."""
    run = registered(rules, offers, coefficients)
    run.tick(OPEN)
    return run


def turns(events: list[Event]) -> list[tuple[int, str, int]]:
    """``(at, bidder, ends_at)`` of every ``TurnStarted`` in ``events``."""
    return [(x.at, x.bidder, x.ends_at) for x in events if isinstance(x, TurnStarted)]


def orders(events: list[Event]) -> list[tuple[int, tuple[str, ...]]]:
    """``(round, order)`` of every ``RoundStarted`` in ``events``."""
    return [(x.round, x.order) for x in events if isinstance(x, RoundStarted)]


# -- registration --------------------------------------------------------------------


def test_registration_carries_the_initial_offer_into_the_book() -> None:
    run = registered()
    # 950.00, 900.00 and 980.00 EUR in cents.
    assert run.offers() == {"bob": 90_000, "alice": 95_000, "carol": 98_000}
    assert run.auction.bidders["carol"].initial_bid == 98_000


def test_registration_without_an_initial_bid_is_rejected() -> None:
    run = registered()
    rejection = assert_rejected(run, RegisterBidder("late", 1 * S, "dave"), Reason.AMOUNT_INVALID)
    assert rejection.detail == "an initial_bid is required"


def test_initial_bid_above_the_ceiling_is_rejected() -> None:
    run = registered()
    command = RegisterBidder("dave", 1 * S, "dave", initial_bid=Decimal("1000.01"))
    rejection = assert_rejected(run, command, Reason.ABOVE_START_PRICE)
    # The ceiling is 100_000; exactly the ceiling is fine.
    assert (rejection.detail, rejection.bound) == (
        "at most 1000.00 EUR",
        Bound(BoundKind.MAX, 100000, "EUR"),
    )
    run(RegisterBidder("dave-2", 2 * S, "dave", initial_bid=Decimal("1000.00")))
    assert run.offers()["dave"] == 100_000


def test_initial_bid_with_too_many_decimals_is_rejected() -> None:
    run = registered()
    command = RegisterBidder("dave", 1 * S, "dave", initial_bid=Decimal("999.999"))
    assert_rejected(run, command, Reason.TOO_MANY_DECIMALS)


def test_without_a_ceiling_any_initial_bid_is_accepted() -> None:
    run = registered(multiround(start_price=None), offers={"alice": "123456.78"})
    assert run.offers() == {"alice": 12_345_678}


def test_registration_after_the_opening_is_closed() -> None:
    run = opened()
    command = RegisterBidder("late", 20 * S, "dave", initial_bid=Decimal("800.00"))
    assert_rejected(run, command, Reason.REGISTRATION_CLOSED)


def test_registration_during_a_pause_is_closed() -> None:
    run = opened(multiround(rounds=2))
    run.tick(OPEN + 3 * TURN)  # three turns of 30 s: round 1 ends at 100 s
    assert run.auction.phase is Phase.PAUSED
    command = RegisterBidder("late", 110 * S, "dave", initial_bid=Decimal("800.00"))
    assert_rejected(run, command, Reason.REGISTRATION_CLOSED)


# -- the opening -----------------------------------------------------------------------


def test_no_bidders_cancels_the_auction_at_the_opening() -> None:
    run = registered(offers={})
    events = run.tick(OPEN)
    assert events == [
        AuctionStarted(2, OPEN, None),
        AuctionEnded(3, OPEN, Outcome.CANCELLED, (), None, None, (), "no bids"),
    ]


def test_single_bidder_is_awarded_at_once_at_its_initial_offer() -> None:
    run = registered(offers={"alice": "950.00"})
    events = run.tick(OPEN)
    # No rounds: alice is awarded her 95_000 at the opening.
    ranking = (Standing(1, "alice", 95_000, 95_000),)
    assert events == [
        AuctionStarted(3, OPEN, None),
        AuctionEnded(
            4, OPEN, Outcome.AWARDED, ("alice",), 95_000, 95_000, ranking, "single bidder"
        ),
    ]


def test_single_bidder_left_after_a_disqualification_is_awarded_at_once() -> None:
    run = registered(offers={"alice": "950.00", "bob": "900.00"})
    run(DisqualifyBidder("out", 5 * S, "bob"))
    events = run.tick(OPEN)
    assert isinstance(events[-1], AuctionEnded)
    assert (events[-1].winners, events[-1].price) == (("alice",), 95_000)


def test_opening_starts_round_one_with_the_worst_offer_first() -> None:
    run = registered()
    events = run.tick(OPEN)
    # carol 98_000 is worst, then alice 95_000, then the leader bob 90_000.
    assert events == [
        AuctionStarted(5, OPEN, None),
        RoundStarted(6, OPEN, 1, ("carol", "alice", "bob")),
        TurnStarted(7, OPEN, 1, "carol", OPEN + TURN),
    ]
    assert run.auction.next_deadline() == 40 * S


def test_equal_offers_put_the_later_registration_first() -> None:
    run = opened(offers={"alice": "900.00", "bob": "900.00"})
    # Both 90_000: bob registered after alice, so alice (earlier) leads and bids last.
    assert run.rounds.order == ("bob", "alice")


# -- a whole auction ---------------------------------------------------------------------


def test_three_rounds_reorder_worst_first_every_round_and_award_the_best() -> None:
    run = opened()
    # Round 1 (carol, alice, bob): carol bids 890.00 and times out at 40 s; alice passes at
    # 50 s; bob bids 880.00 and times out at 50 + 30 = 80 s. Pause until 80 + 60 = 140 s.
    run.bid("carol", "890.00", 20 * S)
    run.passes("alice", 50 * S)
    run.bid("bob", "880.00", 60 * S)
    events = run.tick(80 * S)
    assert events[-1] == RoundEnded(15, 80 * S, 1, 140 * S)
    assert run.offers() == {"bob": 88_000, "carol": 89_000, "alice": 95_000}

    # Round 2 at 140 s: offers bob 88_000 < carol 89_000 < alice 95_000, so alice goes
    # first. alice bids 870.00 (times out at 170 s), carol lets her turn run out (200 s),
    # bob bids 860.00 and passes at 215 s. Pause until 215 + 60 = 275 s.
    assert orders(run.tick(140 * S)) == [(2, ("alice", "carol", "bob"))]
    run.bid("alice", "870.00", 150 * S)
    run.tick(200 * S)
    run.bid("bob", "860.00", 210 * S)
    assert run.passes("bob", 215 * S)[-1] == RoundEnded(25, 215 * S, 2, 275 * S)

    # Round 3 at 275 s: bob 86_000 < alice 87_000 < carol 89_000, so carol goes first.
    # carol bids 850.00 and passes at 285 s, alice times out at 315 s, bob bids 845.00
    # and times out at 345 s: the last round ends and the best offer wins.
    assert orders(run.tick(275 * S)) == [(3, ("carol", "alice", "bob"))]
    run.bid("carol", "850.00", 280 * S)
    run.passes("carol", 285 * S)
    run.bid("bob", "845.00", 330 * S)
    events = run.tick(345 * S)
    ranking = (
        Standing(1, "bob", 84_500, 84_500),
        Standing(2, "carol", 85_000, 85_000),
        Standing(3, "alice", 87_000, 87_000),
    )
    assert events[-2:] == [
        RoundEnded(35, 345 * S, 3, None),
        AuctionEnded(36, 345 * S, Outcome.AWARDED, ("bob",), 84_500, 84_500, ranking, ""),
    ]
    assert run.auction.next_deadline() is None


def test_one_round_ends_the_auction_with_the_round() -> None:
    run = opened(multiround(rounds=1))
    events = run.tick(OPEN + 3 * TURN)
    # Nobody bids: three 30 s turns end at 40, 70 and 100 s; bob's 90_000 wins.
    assert [(type(x), x.at) for x in events[-2:]] == [
        (RoundEnded, 100 * S),
        (AuctionEnded, 100 * S),
    ]
    assert run.auction.ended is not None
    assert (run.auction.ended.winners, run.auction.ended.price) == (("bob",), 90_000)


# -- turns -------------------------------------------------------------------------------


def test_turn_ends_at_its_deadline_and_the_next_turn_starts_then() -> None:
    run = opened()
    assert run.tick(40 * S - 1) == []
    events = run.tick(40 * S)
    # carol's turn ran 10 s to 40 s; alice's runs 40 s to 70 s.
    assert events == [
        TurnEnded(8, 40 * S, 1, "carol", 98_000, 98_000, False),
        TurnStarted(9, 40 * S, 1, "alice", 70 * S),
    ]
    assert run.auction.next_deadline() == 70 * S


def test_late_tick_ends_each_missed_turn_at_its_own_time() -> None:
    run = opened()
    events = run.tick(105 * S)
    # Turns of 30 s from 10 s: carol to 40 s, alice to 70 s, bob to 100 s; then the pause
    # runs to 100 + 60 = 160 s.
    assert turns(events) == [(40 * S, "alice", 70 * S), (70 * S, "bob", 100 * S)]
    assert [(x.at, x.bidder) for x in events if isinstance(x, TurnEnded)] == [
        (40 * S, "carol"),
        (70 * S, "alice"),
        (100 * S, "bob"),
    ]
    assert events[-1] == RoundEnded(13, 100 * S, 1, 160 * S)


def test_pass_ends_the_turn_at_once_and_the_next_turn_starts_then() -> None:
    run = opened()
    events = run.passes("carol", 15 * S)
    # carol keeps 98_000; alice's turn runs from 15 s to 15 + 30 = 45 s.
    assert events == [
        TurnEnded(8, 15 * S, 1, "carol", 98_000, 98_000, True),
        TurnStarted(9, 15 * S, 1, "alice", 45 * S),
    ]


def test_pause_between_rounds_then_the_next_round_starts() -> None:
    run = opened()
    for bidder, at in (("carol", 11 * S), ("alice", 12 * S), ("bob", 13 * S)):
        run.passes(bidder, at)
    # All three passed by 13 s: the next round starts at 13 + 60 = 73 s.
    assert run.auction.phase is Phase.PAUSED
    assert run.auction.next_deadline() == 73 * S
    assert run.tick(73 * S - 1) == []
    events = run.tick(73 * S)
    assert events == [
        RoundStarted(14, 73 * S, 2, ("carol", "alice", "bob")),
        TurnStarted(15, 73 * S, 2, "carol", 103 * S),
    ]
    assert run.auction.phase is Phase.RUNNING


def test_no_pause_starts_the_next_round_when_the_last_turn_ends() -> None:
    run = opened(multiround(pause_us=0))
    events = run.tick(100 * S)
    # Round 1 ends at 10 + 3 × 30 = 100 s and round 2 starts at the same instant.
    assert [(type(x), x.at) for x in events[-3:]] == [
        (RoundEnded, 100 * S),
        (RoundStarted, 100 * S),
        (TurnStarted, 100 * S),
    ]


# -- bids ----------------------------------------------------------------------------------


def test_bid_must_improve_own_offer_by_the_absolute_step() -> None:
    run = opened()
    # carol's offer is 98_000; with a 1_000 step she may bid at most 97_000.
    command = PlaceBid("high", 20 * S, "carol", Decimal("970.01"), "EUR")
    rejection = assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    assert (rejection.detail, rejection.bound) == (
        "at most 970.00 EUR",
        Bound(BoundKind.MAX, 97000, "EUR"),
    )
    assert run.bid("carol", "970.00", 21 * S) == [
        BidAccepted(9, 21 * S, "cmd-2", "carol", 97_000, 97_000, False)
    ]


def test_bid_must_improve_own_offer_by_the_percentage_step_rounded_up() -> None:
    rules = multiround(step=Step(percent=Decimal("2.5")))
    run = opened(rules, offers={"alice": "950.00", "carol": "980.01"})
    # carol's offer is 98_001; 2.5 % of it is 2_450.025, rounded up to 2_451, so she may
    # bid at most 98_001 - 2_451 = 95_550.
    command = PlaceBid("high", 20 * S, "carol", Decimal("955.51"), "EUR")
    rejection = assert_rejected(run, command, Reason.INSUFFICIENT_IMPROVEMENT)
    assert (rejection.detail, rejection.bound) == (
        "at most 955.50 EUR",
        Bound(BoundKind.MAX, 95550, "EUR"),
    )
    run.bid("carol", "955.50", 21 * S)
    assert run.rounds.pending is not None
    assert run.rounds.pending[0] == 95_550


def test_bid_stays_private_until_its_turn_ends() -> None:
    run = opened()
    run.bid("carol", "890.00", 20 * S)
    # The bid is pending; the book (the public offers) still shows carol's 98_000.
    assert run.rounds.pending == (89_000, 89_000, 8)
    assert run.offers()["carol"] == 98_000
    events = run.tick(40 * S)
    assert events[0] == TurnEnded(9, 40 * S, 1, "carol", 89_000, 89_000, False)
    assert run.rounds.pending is None
    assert run.offers()["carol"] == 89_000


def test_later_bid_in_a_turn_replaces_the_earlier_and_is_measured_from_before_the_turn() -> None:
    run = opened()
    run.bid("carol", "890.00", 20 * S)
    # Measured against 98_000 (her offer before the turn), 960.00 <= 97_000 is allowed
    # even though it is worse than her pending 89_000; it replaces that bid.
    run.bid("carol", "960.00", 25 * S)
    run.passes("carol", 30 * S)
    assert run.offers()["carol"] == 96_000


def test_bid_out_of_turn_is_rejected() -> None:
    run = opened()
    # It is carol's turn (10 s to 40 s).
    command = PlaceBid("early", 20 * S, "bob", Decimal("850.00"), "EUR")
    assert_rejected(run, command, Reason.OUT_OF_TURN)
    assert_rejected(run, PassTurn("early-pass", 21 * S, "alice"), Reason.OUT_OF_TURN)


def test_bid_at_the_end_of_the_turn_is_out_of_turn() -> None:
    run = opened()
    # carol's turn ends at 40 s; at that instant the turn is already alice's.
    command = PlaceBid("too-late", 40 * S, "carol", Decimal("850.00"), "EUR")
    events = run(command)
    assert [type(x) for x in events] == [TurnEnded, TurnStarted, CommandRejected]
    assert isinstance(events[-1], CommandRejected)
    assert events[-1].reason is Reason.OUT_OF_TURN
    assert run.offers()["carol"] == 98_000


def test_bid_between_rounds_is_out_of_turn() -> None:
    run = opened()
    run.tick(100 * S)  # round 1 is over; round 2 starts at 160 s
    command = PlaceBid("paused", 110 * S, "bob", Decimal("850.00"), "EUR")
    assert_rejected(run, command, Reason.OUT_OF_TURN)
    assert_rejected(run, PassTurn("paused-pass", 111 * S, "bob"), Reason.OUT_OF_TURN)


def test_bid_by_an_unknown_bidder_is_rejected() -> None:
    run = opened()
    command = PlaceBid("who", 20 * S, "mallory", Decimal("850.00"), "EUR")
    assert_rejected(run, command, Reason.UNKNOWN_BIDDER)


def test_bid_in_another_currency_is_rejected() -> None:
    run = opened()
    command = PlaceBid("usd", 20 * S, "carol", Decimal("850.00"), "USD")
    assert_rejected(run, command, Reason.WRONG_CURRENCY)


@pytest.mark.parametrize(
    "command",
    [
        SetProxy("proxy", 20 * S, "carol", Decimal("800.00"), "EUR"),
        AcceptPrice("accept", 20 * S, "carol"),
        WithdrawBid("withdraw", 20 * S, "carol"),
    ],
    ids=lambda command: type(command).__name__,
)
def test_commands_of_other_formats_are_not_supported(command: Command) -> None:
    run = opened()
    assert_rejected(run, command, Reason.NOT_SUPPORTED)


# -- disqualification --------------------------------------------------------------------


def test_disqualifying_the_bidder_on_turn_ends_its_turn_and_removes_its_offer() -> None:
    run = opened()
    run.bid("carol", "890.00", 20 * S)
    events = run(DisqualifyBidder("out", 25 * S, "carol", "forged papers"))
    # The pending 89_000 is dropped with the 98_000 offer; alice's turn starts at 25 s.
    assert events == [
        BidderDisqualified(9, 25 * S, "carol", "forged papers"),
        TurnEnded(10, 25 * S, 1, "carol", None, None, False),
        TurnStarted(11, 25 * S, 1, "alice", 55 * S),
    ]
    assert run.rounds.pending is None
    assert run.offers() == {"bob": 90_000, "alice": 95_000}


def test_disqualified_bidder_later_in_the_round_loses_its_turn() -> None:
    run = opened()
    run(DisqualifyBidder("out", 20 * S, "alice"))
    events = run.passes("carol", 30 * S)
    # alice's turn is skipped: bob's runs from 30 s to 60 s.
    assert turns(events) == [(30 * S, "bob", 60 * S)]


def test_disqualified_bidder_leaves_the_next_round_order() -> None:
    run = opened()
    run.tick(100 * S)  # round 1 over, round 2 at 160 s
    run(DisqualifyBidder("out", 110 * S, "alice"))
    assert orders(run.tick(160 * S)) == [(2, ("carol", "bob"))]


def test_disqualified_bidder_cannot_pass() -> None:
    run = opened()
    run(DisqualifyBidder("out", 20 * S, "alice"))
    assert_rejected(run, PassTurn("pass", 21 * S, "alice"), Reason.BIDDER_DISQUALIFIED)


# -- scoring -------------------------------------------------------------------------------

MEAT_OFFERS = {"alice": "960.00", "bob": "900.00", "carol": "935.00"}
MEAT_COEFFICIENTS = {"alice": "0.2", "bob": "0", "carol": "0.1"}


def test_meat_scoring_orders_the_turns_by_score_not_price() -> None:
    run = opened(multiround(scoring=Scoring.MEAT), MEAT_OFFERS, MEAT_COEFFICIENTS)
    # Scores price / (1 + coefficient): alice 96_000 / 1.2 = 80_000,
    # bob 90_000 / 1 = 90_000, carol 93_500 / 1.1 = 85_000. Worst first: bob, carol, alice.
    assert run.rounds.order == ("bob", "carol", "alice")


def test_meat_scoring_awards_the_best_score_with_both_price_and_score() -> None:
    run = opened(multiround(scoring=Scoring.MEAT, rounds=1), MEAT_OFFERS, MEAT_COEFFICIENTS)
    # bob improves by the 1_000 step on his price: 89_000, score 89_000 / 1 = 89_000.
    # carol bids 920.00: 92_000 / 1.1 = 920_000/11 ≈ 83_636.36, still behind alice's 80_000.
    run.bid("bob", "890.00", 20 * S)
    run.passes("bob", 21 * S)
    run.bid("carol", "920.00", 30 * S)
    events = run.tick(120 * S)
    ended = events[-1]
    assert isinstance(ended, AuctionEnded)
    assert ended.ranking == (
        Standing(1, "alice", 96_000, Fraction(80_000)),
        Standing(2, "carol", 92_000, Fraction(920_000, 11)),
        Standing(3, "bob", 89_000, Fraction(89_000)),
    )
    # alice wins at her own (highest) price of 96_000 because her score is best.
    assert (ended.winners, ended.price, ended.score) == (("alice",), 96_000, 80_000)


def test_meat_bid_is_scored_when_accepted() -> None:
    run = opened(multiround(scoring=Scoring.MEAT), MEAT_OFFERS, MEAT_COEFFICIENTS)
    events = run.bid("bob", "850.00", 20 * S)
    # bob's coefficient is 0: 85_000 / 1 = 85_000.
    assert events == [BidAccepted(8, 20 * S, "cmd-2", "bob", 85_000, Fraction(85_000), False)]


def test_tick_before_any_deadline_changes_nothing() -> None:
    run = opened()
    assert run(Tick("nothing", 39 * S)) == []
    assert run.rounds.turn_ends_at == 40 * S


def test_event_of_another_format_in_the_log_is_an_illegal_transition() -> None:
    run = opened()
    before = run.auction.state()
    # A Dutch clock event passes the phase table (RUNNING) but no multi-round folds it.
    with pytest.raises(IllegalTransition):
        run.auction.apply(PriceChanged(run.auction.seq + 1, 20 * S, 90_000, 50 * S))
    assert run.auction.state() == before
