"""A rejection that names an amount says it twice and the same: in words, in major units
with the currency (``"at least 1150.00 EUR"``), and in its ``bound``, integer minor units
with a kind. The bound is the real edge: a bid of exactly the bound is then accepted.

Property tests over open auctions (English and reverse, absolute and percentage steps)
in currencies of 0, 2 and 3 decimals, with random bids; one check of a Dutch clock.
"""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    AcceptPrice,
    BidAccepted,
    CommandRejected,
    CreateAuction,
    DutchRules,
    Reason,
    RegisterBidder,
    Tick,
)
from engine.events import Bound, BoundKind
from engine.money import CURRENCIES, format_minor
from engine.rules import Step
from tests.engine.helpers import START, Run, S, english, reverse, started

#: How many minor units a major unit has, per currency tried (0, 2 and 3 decimals).
CURRENCY = st.sampled_from(["JPY", "EUR", "KWD"])


def _major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-CURRENCIES[currency])


def _agree(rejected: CommandRejected) -> Bound:
    """The bound and the words agree; the words carry no other number."""
    bound = rejected.bound
    assert bound is not None, rejected
    amount = f"{format_minor(bound.amount, bound.currency)} {bound.currency}"
    words = {BoundKind.MIN: "at least", BoundKind.MAX: "at most", BoundKind.PRICE: "the price is"}
    assert rejected.detail.startswith(f"{words[bound.kind]} {amount}"), rejected
    # Read back from the words alone, the amount is the bound's minor units.
    [(major, code)] = re.findall(r"(-?[0-9]+(?:\.[0-9]+)?) ([A-Z]{3})", rejected.detail)
    assert code == bound.currency
    assert Decimal(major).scaleb(CURRENCIES[code]) == bound.amount
    return bound


@settings(max_examples=60, deadline=None)
@given(
    currency=CURRENCY,
    sale=st.booleans(),
    start=st.integers(1, 10**6),
    step=st.one_of(
        st.builds(lambda n: Step(amount=n), st.integers(1, 5_000)),
        st.builds(lambda p: Step(percent=Decimal(p) / 10), st.integers(1, 200)),
    ),
    bids=st.lists(st.tuples(st.sampled_from(["ann", "bob", "cat"]), st.integers(1, 2 * 10**6))),
)
def test_an_open_auctions_bound_is_in_words_and_minor_units_and_is_the_edge(
    currency: str, sale: bool, start: int, step: Step, bids: list[tuple[str, int]]
) -> None:
    rules = (english if sale else reverse)(currency=currency, start_price=start, step=step)
    run = started(rules)
    at = START
    leads = False  # has a bid been accepted?
    for bidder, price in bids[:12]:
        at += S
        [*_, last] = run.bid(bidder, str(_major(price, currency)), at, currency)
        if not isinstance(last, CommandRejected):
            leads = True
            continue
        assert last.reason in (
            Reason.BELOW_START_PRICE,
            Reason.ABOVE_START_PRICE,
            Reason.INSUFFICIENT_IMPROVEMENT,
        ), last
        bound = _agree(last)
        assert bound.currency == currency
        assert bound.kind is (BoundKind.MIN if sale else BoundKind.MAX)
        if sale:
            assert price < bound.amount
        else:
            assert price > bound.amount
        if bound.amount <= 0:
            continue  # nothing positive improves (a reverse price already at the step)
        if last.reason is Reason.ABOVE_START_PRICE and leads:
            continue  # the start price is this rule's edge; beating the best is the next
        # Exactly the bound is accepted: it is the edge, not an approximation of it.
        at += S
        accepted = run.bid(bidder, str(_major(bound.amount, currency)), at, currency)
        assert isinstance(accepted[0], BidAccepted), accepted
        assert accepted[0].price == bound.amount
        leads = True
    run.check()


@settings(max_examples=30, deadline=None)
@given(currency=CURRENCY, start=st.integers(10_000, 10**6), wrong=st.integers(1, 10**6))
def test_a_stale_dutch_price_names_the_clocks_price(currency: str, start: int, wrong: int) -> None:
    run = Run()
    rules = DutchRules(
        currency=currency,
        starts_at=START,
        start_price=start,
        step=start // 10,
        interval_us=60 * S,
        limit_price=start // 2,
    )
    run(CreateAuction(run.next_id(), 0, rules))
    run(RegisterBidder(run.next_id(), 0, "ann"))
    run(Tick(run.next_id(), START))
    if wrong == start:
        wrong += 1
    expected = _major(wrong, currency)
    [rejected] = run(AcceptPrice(run.next_id(), START + S, "ann", expected, currency))
    assert isinstance(rejected, CommandRejected)
    assert rejected.reason is Reason.STALE_PRICE
    assert _agree(rejected) == Bound(BoundKind.PRICE, start, currency)
    accepted = run(AcceptPrice(run.next_id(), START + S, "ann", _major(start, currency), currency))
    assert isinstance(accepted[0], BidAccepted)
