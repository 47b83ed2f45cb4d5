"""What every format shares (engine/formats/base.py): the step rule, the defaults a format
inherits, and the book helpers; and ``format_for`` picking the logic for each rules class."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import (
    CreateAuction,
    DutchRules,
    MultiRoundRules,
    PlaceBid,
    Reason,
    RegisterBidder,
    SealedRules,
    Side,
    Step,
)
from engine import events as e
from engine.bidder import Bidder
from engine.book import OrderBook
from engine.errors import IllegalTransition
from engine.formats import Format, FormatView, OwnView, Secrecy, format_for
from engine.formats.base import StepRule
from engine.formats.dutch import Dutch
from engine.formats.multiround import MultiRound
from engine.formats.open_cry import OpenCry
from engine.formats.sealed import Sealed
from engine.phases import Phase
from engine.rules import AuctionRules, Scoring
from tests.engine.helpers import START, Run, S, assert_rejected, english, reverse

# -- the step rule ------------------------------------------------------------------------


def test_an_absolute_step_is_the_same_for_every_reference() -> None:
    rule = StepRule(Step(amount=250))
    assert rule.of_price(1) == rule.of_price(10**12) == 250
    assert rule.of(Fraction(7, 3)) == rule.of(9) == 250


def test_a_percentage_step_rounds_prices_up_and_keeps_fractions_exact() -> None:
    rule = StepRule(Step(percent=Decimal("2.5")))
    assert rule.of_price(1_000) == 25
    assert rule.of_price(1_001) == 26  # 25.025 minor units round up
    assert rule.of(1_001) == 26
    assert rule.of(Fraction(1_001, 3)) == Fraction(1_001, 3) * Fraction(1, 40)


@given(st.integers(1, 10**15), st.decimals("0.01", "100", places=2))
def test_a_percentage_step_is_never_zero_and_at_most_one_unit_above_the_exact(
    price: int, percent: Decimal
) -> None:
    step = StepRule(Step(percent=percent)).of_price(price)
    exact = Fraction(price) * Fraction(percent) / 100
    assert step >= 1 and exact <= step < exact + 1


# -- format_for ---------------------------------------------------------------------------

RULES: list[tuple[AuctionRules, type[Format]]] = [
    (english(), OpenCry),
    (reverse(), OpenCry),
    (DutchRules("EUR", START, 1_000, 100, 10 * S, 500), Dutch),
    (SealedRules("EUR", START, 2 * START), Sealed),
    (MultiRoundRules("EUR", START, 30 * S, Step(amount=100)), MultiRound),
]


@pytest.mark.parametrize(("rules", "kind"), RULES, ids=lambda v: type(v).__name__)
def test_format_for_picks_the_logic_of_each_rules_class(
    rules: AuctionRules, kind: type[Format]
) -> None:
    run = Run()
    run(CreateAuction(run.next_id(), 0, rules))
    fmt = format_for(run.auction, rules)
    assert type(fmt) is kind and fmt.auction is run.auction
    assert type(run.auction.fmt) is kind


# -- the defaults a format inherits -------------------------------------------------------------


def _sealed(**changes: object) -> Run:
    run = Run()
    run(CreateAuction(run.next_id(), 0, dataclasses.replace(RULES[3][0], **changes)))
    return run


def test_initial_bids_belong_to_multiround_auctions_only() -> None:
    run = _sealed()
    command = RegisterBidder(run.next_id(), 1, "ann", initial_bid=Decimal("5.00"))
    rejected = assert_rejected(run, command, Reason.NOT_SUPPORTED)
    assert rejected.detail == "initial bids belong to multi-round auctions"


def test_a_format_refuses_events_it_does_not_fold() -> None:
    run = _sealed()
    fmt = run.auction.fmt
    assert fmt is not None
    fmt.evolve(e.BidderRegistered(2, 1, "ann", "Bidder 1", Decimal(0), 0, None))  # no-op
    with pytest.raises(IllegalTransition, match="PriceChanged in a Sealed"):
        fmt.evolve(e.PriceChanged(2, 1, 100, 2))


def test_a_stateless_format_snapshots_nothing_and_restores_only_nothing() -> None:
    fmt = _sealed().auction.fmt
    assert fmt is not None
    assert fmt.state() == () and fmt.snapshot() == {}
    fmt.restore({})
    with pytest.raises(ValueError, match="unexpected format state"):
        fmt.restore({"index": 1})


class _Host:
    """A stand-in auction that records what a format asks of it (``Host`` is a protocol)."""

    def __init__(self) -> None:
        self.phase = Phase.RUNNING
        self.seq = 0
        self.bidders: dict[str, Bidder] = {}
        self.book = OrderBook()
        self.rejected: list[tuple[object, Reason, str]] = []

    def emit(self, event: object) -> None:
        raise AssertionError(f"unexpected {event}")

    def reject(self, command: object, reason: Reason, detail: str = "") -> None:
        self.rejected.append((command, reason, detail))

    def finish(self, at: int, outcome: e.Outcome, note: str = "") -> None:
        raise AssertionError("unexpected finish")

    def eligible(self, command: object) -> Bidder | None:
        return None

    def money(self, command: object, amount: Decimal, currency: str | None) -> int | None:
        return None


def test_the_bare_format_has_no_end_no_deadline_no_view_and_refuses_every_command() -> None:
    host = _Host()
    bare = Format(host, Side.SALE, Scoring.NONE)
    assert bare.scheduled_end() is None and bare.deadline() is None
    assert bare.view() == FormatView() and bare.own_view("ann") == OwnView()
    assert bare.secrecy == Secrecy() and bare.state() == () and bare.snapshot() == {}
    bare.check()
    bare.on_start(START)  # nothing happens when bidding opens
    command = PlaceBid("bid", START, "ann", Decimal("5.00"), "EUR")
    bare.decide(command)
    assert [(c, reason) for c, reason, _ in host.rejected] == [(command, Reason.NOT_SUPPORTED)]
    assert bare.ranking() == ()


# -- scores, keys, ranking, clearing -------------------------------------------------------------


def test_keys_rank_sales_by_price_and_procurements_by_score() -> None:
    sale = _sealed().auction.fmt
    buy = _sealed(side=Side.PROCUREMENT, scoring=Scoring.MEAT).auction.fmt
    assert sale is not None and buy is not None
    assert sale.key(900, 900) == -900
    assert buy.key(900, Fraction(900, 11)) == Fraction(900, 11)


def test_score_is_the_price_without_scoring_and_exact_with_it() -> None:
    run = _sealed(side=Side.PROCUREMENT, scoring=Scoring.MEAT)
    run(RegisterBidder(run.next_id(), 1, "ann", coefficient=Decimal("0.1")))
    fmt = run.auction.fmt
    assert fmt is not None
    assert fmt.score(run.auction.bidders["ann"], 1_100) == 1_000
    plain = _sealed()
    plain(RegisterBidder(plain.next_id(), 1, "ann"))
    assert plain.auction.fmt is not None
    assert plain.auction.fmt.score(plain.auction.bidders["ann"], 1_100) == 1_100


def test_the_ranking_is_the_book_best_first_and_the_default_clearing_is_the_winners_bid() -> None:
    run = _sealed()
    for name in ("ann", "bob", "cat"):
        run(RegisterBidder(run.next_id(), 1, name))
    run.tick(START)
    run.bid("ann", "5.00", START + 1)
    run.bid("bob", "7.00", START + 2)
    run.bid("cat", "7.00", START + 3)  # ties go to the earlier bid
    fmt = run.auction.fmt
    assert fmt is not None
    ranking = fmt.ranking()
    assert ranking == (
        e.Standing(1, "bob", 700, 700),
        e.Standing(2, "cat", 700, 700),
        e.Standing(3, "ann", 500, 500),
    )
    assert fmt.clearing(ranking) == (700, 700)  # first price
    assert Format.clearing(fmt, ranking) == (700, 700)
