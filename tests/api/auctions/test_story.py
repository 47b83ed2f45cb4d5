"""api.auctions.story renders every engine event, the standing and the result as plain text."""

from __future__ import annotations

import typing
from decimal import Decimal
from fractions import Fraction

import pytest

from api.auctions.story import (
    clock,
    describe,
    format_name,
    money,
    result,
    rules_text,
    score_text,
    standing,
)
from bidders_sim.scripted import play, scenarios
from engine import (
    AcceptPrice,
    Auction,
    AuctionCreated,
    AuctionEnded,
    AuctionRules,
    AuctionStarted,
    BidAccepted,
    BidderDisqualified,
    BidderRegistered,
    BidWithdrawn,
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
    Side,
    SoftClose,
    Step,
    Tick,
    TurnEnded,
    TurnStarted,
)
from engine.events import Bound, BoundKind

T0 = 1_000_000_000_000
S = 1_000_000

ENGLISH = EnglishRules(
    "EUR",
    T0,
    T0 + 300 * S,
    1000_00,
    Step(amount=50_00),
    reserve_price=1500_00,
    soft_close=SoftClose(60 * S, 60 * S),
)
REVERSE = ReverseRules(
    "UAH",
    T0,
    T0 + 300 * S,
    100_000_00,
    Step(percent=Decimal("1")),
    improvement=Improvement.BEAT_OWN,
    scoring=Scoring.MEAT,
)
DUTCH = DutchRules("EUR", T0, 10_000_00, 500_00, 20 * S, 6_000_00)
SEALED = SealedRules("EUR", T0, T0 + 600 * S, Pricing.FIRST_PRICE, Side.SALE, 20_000_00, 25_000_00)
VICKREY = SealedRules(
    "EUR",
    T0,
    T0 + 600 * S,
    Pricing.SECOND_PRICE,
    Side.PROCUREMENT,
    60_000_00,
    scoring=Scoring.LCC,
)
MULTI = MultiRoundRules("UAH", T0, 60 * S, Step(amount=500_00), start_price=55_000_00)


def created(rules: AuctionRules) -> Auction:
    """A fresh auction that has applied its ``AuctionCreated``."""
    auction = Auction()
    auction.handle(CreateAuction("create", T0 - 60 * S, rules))
    return auction


# One sample of every event type, with the text it must produce.
SAMPLES: list[tuple[AuctionRules, Event, str]] = [
    (ENGLISH, AuctionCreated(1, T0 - 60 * S, ENGLISH), "auction created: English ascending"),
    (ENGLISH, AuctionStarted(2, T0, T0 + 300 * S), "bidding opens; closes at +05:00.000000"),
    (DUTCH, AuctionStarted(2, T0, None), "bidding opens"),
    (ENGLISH, BidderRegistered(3, T0, "ann", "Bidder 1", Decimal(0), 0, None), "ann registers"),
    (
        REVERSE,
        BidderRegistered(3, T0, "bo", "Bidder 2", Decimal("0.10"), 0, None),
        "MEAT coefficient 0.10",
    ),
    (
        VICKREY,
        BidderRegistered(3, T0, "cy", "Bidder 3", Decimal(0), 500_000, None),
        "running cost 5000.00 EUR",
    ),
    (
        MULTI,
        BidderRegistered(3, T0, "di", "Bidder 4", Decimal(0), 0, 50_000_00),
        "initial offer 50000.00 UAH",
    ),
    (ENGLISH, BidderDisqualified(4, T0, "ann", "collusion"), "ann is disqualified: collusion"),
    (ENGLISH, BidderDisqualified(4, T0, "ann", ""), "ann is disqualified"),
    (ENGLISH, BidAccepted(5, T0, "c", "ann", 1000_00, 1000_00, False), "ann bids 1000.00 EUR"),
    (
        ENGLISH,
        BidAccepted(5, T0, "c", "ann", 1050_00, 1050_00, True),
        "ann's proxy bids 1050.00 EUR",
    ),
    (
        REVERSE,
        BidAccepted(5, T0, "c", "bo", 84_000_00, Fraction(84_000_000, 11), False),
        "bo bids 84000.00 UAH, score ≈76363.64",
    ),
    (DUTCH, BidAccepted(5, T0, "c", "ann", 8000_00, 8000_00, False), "ann takes the price"),
    (SEALED, BidAccepted(5, T0, "c", "ann", 26000_00, 26000_00, False), "hidden until the close"),
    (MULTI, BidAccepted(5, T0, "c", "di", 47000_00, 47000_00, False), "private until the turn"),
    (SEALED, BidWithdrawn(6, T0, "c", "ann"), "ann withdraws its sealed bid"),
    (ENGLISH, ProxySet(7, T0, "c", "ann", 1800_00), "secret maximum 1800.00 EUR"),
    (REVERSE, ProxySet(7, T0, "c", "bo", 90_000_00), "secret floor 90000.00 UAH"),
    (ENGLISH, EndExtended(8, T0, T0 + 360 * S), "soft close: the end moves to +06:00.000000"),
    (
        DUTCH,
        PriceChanged(9, T0, 9500_00, T0 + 20 * S),
        "clock price 9500.00 EUR until +00:20.000000",
    ),
    (MULTI, RoundStarted(10, T0, 1, ("a", "b")), "round 1 starts; turn order a → b"),
    (
        MULTI,
        TurnStarted(11, T0, 1, "a", T0 + 60 * S),
        "round 1: a's turn until +01:00.000000",
    ),
    (
        MULTI,
        TurnEnded(12, T0, 1, "a", 47000_00, 47000_00, False),
        "round 1: a's turn ends, offer 47000.00 UAH",
    ),
    (
        MULTI,
        TurnEnded(12, T0, 1, "a", 48000_00, 48000_00, True),
        "round 1: a passes, offer 48000.00 UAH",
    ),
    (MULTI, TurnEnded(12, T0, 1, "a", None, None, False), "round 1: a's turn ends, no offer"),
    (MULTI, RoundEnded(13, T0, 1, T0 + 90 * S), "round 1 ends; next round at +01:30.000000"),
    (MULTI, RoundEnded(13, T0, 3, None), "round 3 ends (the last)"),
    (
        ENGLISH,
        AuctionEnded(14, T0, Outcome.AWARDED, ("ann",), 1950_00, 1950_00, (), ""),
        "auction ends: awarded to ann at 1950.00 EUR",
    ),
    (
        ENGLISH,
        AuctionEnded(14, T0, Outcome.RESERVE_NOT_MET, (), None, None, (), ""),
        "no award: reserve price not met",
    ),
    (
        MULTI,
        AuctionEnded(14, T0, Outcome.CANCELLED, (), None, None, (), "no bids"),
        "auction ends: cancelled (no bids)",
    ),
    (
        ENGLISH,
        CommandRejected(
            15, T0, "c", "PlaceBid", "ann", Reason.INSUFFICIENT_IMPROVEMENT, "at least 110000"
        ),
        "✗ ann: PlaceBid rejected, insufficient_improvement (at least 1100.00 EUR)",
    ),
    (
        REVERSE,
        CommandRejected(
            15,
            T0,
            "c",
            "PlaceBid",
            "bo",
            Reason.INSUFFICIENT_IMPROVEMENT,
            "score at most 84000000/11",
        ),
        "(score at most ≈76363.64)",
    ),
    (
        ENGLISH,
        CommandRejected(15, T0, "c", "PlaceBid", "ann", Reason.WRONG_CURRENCY, "this is EUR"),
        "wrong_currency (this is EUR)",
    ),
    (  # the engine's words since it carries a bound: as recorded
        ENGLISH,
        CommandRejected(
            15,
            T0,
            "c",
            "PlaceBid",
            "ann",
            Reason.INSUFFICIENT_IMPROVEMENT,
            "at least 1100.00 EUR",
            Bound(BoundKind.MIN, 110000, "EUR"),
        ),
        "✗ ann: PlaceBid rejected, insufficient_improvement (at least 1100.00 EUR)",
    ),
    (  # a number that is no amount (a time) is never shown as money
        MULTI,
        CommandRejected(
            15, T0, "c", "PlaceBid", "ann", Reason.OUT_OF_TURN, "another bidder's, until 17000"
        ),
        "out_of_turn (another bidder's, until 17000)",
    ),
    (
        ENGLISH,
        CommandRejected(15, T0, "c", "CancelAuction", None, Reason.AUCTION_CLOSED, ""),
        "✗ officer: CancelAuction rejected, auction_closed",
    ),
]


@pytest.mark.parametrize(("rules", "event", "expected"), SAMPLES)
def test_describe(rules: AuctionRules, event: Event, expected: str) -> None:
    assert expected in describe(event, created(rules))


def test_every_event_type_has_a_sample() -> None:
    assert {type(event) for _, event, _ in SAMPLES} == set(typing.get_args(Event))


def test_describe_refuses_what_is_not_an_event() -> None:
    with pytest.raises(TypeError, match="not an engine event"):
        describe(Tick("t", T0), created(ENGLISH))  # type: ignore[arg-type]


def test_clock() -> None:
    assert clock(T0, T0) == "+00:00.000000"
    assert clock(T0 + 90_250_000, T0) == "+01:30.250000"
    assert clock(T0 - 1, T0) == "-00:00.000001"
    assert clock(T0 + 3_725 * S, T0) == "+62:05.000000"


def test_money_and_scores() -> None:
    assert money(195000, "EUR") == "1950.00 EUR"
    assert money(1500, "JPY") == "1500 JPY"
    assert score_text(7_520_000, "UAH") == "75200.00"
    assert score_text(Fraction(7_520_000), "UAH") == "75200.00"
    assert score_text(Fraction(84_000_000, 11), "UAH") == "≈76363.64"


@pytest.mark.parametrize(
    ("rules", "name", "parts"),
    [
        (
            ENGLISH,
            "English ascending",
            ["start 1000.00 EUR", "step 50.00", "reserve 1500.00 EUR", "last 60 s adds 60 s"],
        ),
        (REVERSE, "reverse open", ["ceiling 100000.00 UAH", "step 1 %", "own bid", "MEAT"]),
        (DUTCH, "Dutch", ["from 10000.00 EUR by 500.00 every 20 s to 6000.00 EUR"]),
        (
            DutchRules("EUR", T0, 100_00, 10_00, S, 200_00, Side.PROCUREMENT),
            "reverse Dutch",
            [],
        ),
        (SEALED, "sealed first-price sale", ["minimum 20000.00 EUR", "reserve 25000.00 EUR"]),
        (VICKREY, "sealed second-price procurement", ["ceiling 60000.00 EUR", "life-cycle"]),
        (MULTI, "multi-round procurement (3 rounds)", ["turns of 60 s", "step 500.00"]),
    ],
)
def test_rules_text(rules: AuctionRules, name: str, parts: list[str]) -> None:
    assert format_name(rules) == name
    text = rules_text(rules)
    assert text.startswith(name)
    for part in parts:
        assert part in text


def test_standing_follows_an_open_auction() -> None:
    auction = Auction()
    assert standing(auction) == ""
    auction = created(ENGLISH)
    assert standing(auction) == "0 bidders registered"
    auction.handle(RegisterBidder("r1", T0 - S, "ann"))
    assert standing(auction) == "1 bidder registered"
    auction.handle(Tick("t", T0))
    assert standing(auction) == "no bids yet · closes +05:00.000000"
    auction.handle(PlaceBid("b1", T0 + S, "ann", Decimal("1000.00"), "EUR"))
    assert standing(auction) == "leader ann 1000.00 EUR · closes +05:00.000000"
    auction.handle(CancelAuction("x", T0 + 2 * S))
    assert standing(auction) == "closed"


def test_standing_shows_a_procurement_score() -> None:
    auction = created(REVERSE)
    auction.handle(RegisterBidder("r1", T0 - S, "bo", coefficient=Decimal("0.10")))
    auction.handle(PlaceBid("b1", T0 + S, "bo", Decimal("84000.00"), "UAH"))
    assert standing(auction).startswith("leader bo 84000.00 UAH, score ≈76363.64")


def test_standing_keeps_sealed_bids_hidden() -> None:
    auction = created(SEALED)
    auction.handle(RegisterBidder("r1", T0 - S, "ann"))
    auction.handle(Tick("t", T0))
    assert standing(auction) == "0 sealed bids"
    auction.handle(PlaceBid("b1", T0 + S, "ann", Decimal("26000.00"), "EUR"))
    assert standing(auction) == "1 sealed bid"
    assert "26000" not in standing(auction)


def test_standing_of_a_dutch_clock() -> None:
    auction = created(DUTCH)
    auction.handle(RegisterBidder("r1", T0 - S, "ann"))
    auction.handle(Tick("t", T0 + 20 * S))
    assert standing(auction) == "clock 9500.00 EUR"
    auction.handle(AcceptPrice("a", T0 + 21 * S, "ann"))
    assert standing(auction) == "closed"


def test_standing_of_a_multiround_auction() -> None:
    auction = created(MultiRoundRules("UAH", T0, 60 * S, Step(amount=500_00), pause_us=30 * S))
    auction.handle(RegisterBidder("r1", T0 - S, "a", initial_bid=Decimal("50000.00")))
    auction.handle(RegisterBidder("r2", T0 - S, "b", initial_bid=Decimal("48000.00")))
    auction.handle(Tick("t", T0))
    assert standing(auction) == "round 1 · leader b 48000.00 UAH"
    auction.handle(DisqualifyBidder("d", T0 + S, "a"))
    auction.handle(Tick("t2", T0 + 61 * S))
    assert standing(auction).startswith("after round 1 · leader b")


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: s.name)
def test_describe_reads_every_scripted_event(scenario: object) -> None:
    from bidders_sim.scripted import Scenario

    assert isinstance(scenario, Scenario)
    auction = Auction()
    for _, events in play(scenario, auction):
        for event in events:
            text = describe(event, auction)
            assert text and "\n" not in text


def test_result_of_a_scored_award() -> None:
    by_name = {s.name: s for s in scenarios()}
    auction = Auction()
    for _ in play(by_name["reverse"], auction):
        pass
    lines = result(auction)
    assert lines[0] == "outcome  awarded"
    assert lines[1] == "winner   gamma (Bidder 3)"
    assert lines[2] == "price    94000.00 UAH"
    assert lines[3] == "score    75200.00"
    assert lines[4] == "ranking"
    assert "score    ≈76363.64" in lines[6]


def test_result_gives_an_inexact_score_exactly() -> None:
    auction = created(REVERSE)
    auction.handle(RegisterBidder("r1", T0 - S, "bo", coefficient=Decimal("0.10")))
    auction.handle(PlaceBid("b1", T0 + S, "bo", Decimal("84000.00"), "UAH"))
    auction.handle(Tick("end", T0 + 300 * S))
    lines = result(auction)
    assert "score    ≈76363.64 (exactly 84000000/11 minor units)" in lines


def test_result_of_a_sale_omits_the_score_and_of_no_award() -> None:
    auction = created(ENGLISH)
    assert result(auction) == []
    auction.handle(RegisterBidder("r1", T0 - S, "ann"))
    auction.handle(PlaceBid("b1", T0 + S, "ann", Decimal("1000.00"), "EUR"))
    auction.handle(Tick("end", T0 + 300 * S))
    lines = result(auction)
    assert lines[0] == "outcome  no award: reserve price not met"
    assert not any(line.startswith(("winner", "price", "score")) for line in lines)
    assert lines[-1].split() == ["1.", "ann", "1000.00", "EUR"]


def test_result_notes_why() -> None:
    auction = created(MULTI)
    auction.handle(Tick("start", T0))
    assert result(auction) == ["outcome  cancelled", "note     no bids"]
    ended = auction.ended
    assert ended is not None and ended.ranking == ()
