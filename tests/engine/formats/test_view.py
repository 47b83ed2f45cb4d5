"""What a format lets be shown (engine/formats/view.py): the one secrecy rule, each
format's secrets, and the read-only views of real auctions as they move.

No I/O: auctions are driven through ``handle`` and the views read after each command.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from engine import (
    AcceptPrice,
    CancelAuction,
    CreateAuction,
    DutchRules,
    MultiRoundRules,
    PassTurn,
    Pricing,
    RegisterBidder,
    SealedRules,
    Side,
    SoftClose,
    Step,
)
from engine.formats import FormatView, Moment, OwnView, Reveal, Secrecy, secrecy_for
from engine.formats.view import Clock, Close, ProxyView, Rounds, Turn, TurnView
from engine.rules import AuctionRules
from tests.engine.helpers import END, START, Run, S, english, reverse, started

AT_ONCE, AT_START, AT_CLOSE = Reveal

# -- Moment.hides: the one rule -----------------------------------------------------------

MOMENTS = [Moment(False, False), Moment(True, False), Moment(True, True), Moment(False, True)]


@pytest.mark.parametrize("moment", MOMENTS, ids=repr)
@pytest.mark.parametrize("privileged", [False, True], ids=["room", "officer"])
def test_hides_at_once_never_at_start_from_the_room_before_bidding_at_close_until_opened(
    moment: Moment, privileged: bool
) -> None:
    assert not moment.hides(AT_ONCE, privileged)
    assert moment.hides(AT_START, privileged) is (not moment.started and not privileged)
    # Secrets kept until the close are kept from officers too, and for ever if cancelled.
    assert moment.hides(AT_CLOSE, privileged) is (not moment.opened)


def test_views_are_frozen_and_slotted() -> None:
    for value in (
        Moment(True, False),
        Secrecy(),
        FormatView(),
        OwnView(),
        Close(1),
        Clock(None),
        Rounds(0, None),
        Turn("ann", 1),
        ProxyView(None),
        TurnView(False, None),
    ):
        assert not hasattr(value, "__dict__")
        field = dataclasses.fields(value)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)


def test_by_default_only_proxies_are_secret_and_only_until_the_close() -> None:
    assert Secrecy() == Secrecy(AT_ONCE, AT_ONCE, AT_ONCE, AT_CLOSE)


# -- each format's secrets ----------------------------------------------------------------

SEALED = SealedRules("EUR", START, END)
DUTCH = DutchRules("EUR", START, 1_000, 100, 10 * S, 500)
MULTIROUND = MultiRoundRules("EUR", START, 30 * S, Step(amount=100), rounds=1)
ALL_RULES: dict[str, AuctionRules] = {
    "english": english(),
    "reverse": reverse(),
    "dutch": DUTCH,
    "sealed first": SEALED,
    "sealed second": dataclasses.replace(SEALED, pricing=Pricing.SECOND_PRICE),
    "sealed procurement": dataclasses.replace(SEALED, side=Side.PROCUREMENT),
    "multiround": MULTIROUND,
}
SECRECY = {
    "english": Secrecy(),
    "reverse": Secrecy(),
    "dutch": Secrecy(),
    "sealed first": Secrecy(bids=AT_CLOSE, book=AT_CLOSE),
    "sealed second": Secrecy(bids=AT_CLOSE, book=AT_CLOSE),
    "sealed procurement": Secrecy(bids=AT_CLOSE, book=AT_CLOSE),
    "multiround": Secrecy(bids=AT_CLOSE, book=AT_START, offers=AT_START),
}


@pytest.mark.parametrize("name", list(ALL_RULES))
def test_each_format_states_its_secrets_and_the_rules_alone_say_the_same(name: str) -> None:
    rules = ALL_RULES[name]
    run = Run()
    run(CreateAuction(run.next_id(), 0, rules))
    assert run.auction.fmt is not None
    assert run.auction.fmt.secrecy == secrecy_for(rules) == SECRECY[name]


# -- the read-only views of real auctions ------------------------------------------------------


def test_open_cry_shows_its_moving_end_and_each_bidder_its_own_proxy() -> None:
    soft = english(soft_close=SoftClose(10 * S, 30 * S))
    run = started(soft)
    fmt = run.auction.fmt
    assert fmt is not None
    assert fmt.view() == FormatView(close=Close(END))
    run.proxy("ann", "20.00", START + S)
    run.bid("bob", "15.00", END - 5 * S)  # in the window: the end moves by 30 s
    assert fmt.view() == FormatView(close=Close(END + 30 * S))
    assert fmt.own_view("ann") == OwnView(proxy=ProxyView(2_000))
    assert fmt.own_view("bob") == OwnView(proxy=ProxyView(None))
    assert fmt.own_view("nobody") == OwnView(proxy=ProxyView(None))


def test_dutch_shows_its_clock_from_the_start() -> None:
    run = Run()
    run(CreateAuction(run.next_id(), 0, DUTCH))
    run(RegisterBidder(run.next_id(), 1, "ann"))
    fmt = run.auction.fmt
    assert fmt is not None
    assert fmt.view() == FormatView(clock=Clock(None))
    run.tick(START)
    assert fmt.view() == FormatView(clock=Clock(1_000))
    run.tick(START + 10 * S)
    assert fmt.view() == FormatView(clock=Clock(900))
    assert fmt.own_view("ann") == OwnView()
    run(AcceptPrice(run.next_id(), START + 11 * S, "ann"))
    assert run.auction.ended is not None and fmt.view() == FormatView(clock=Clock(900))


def test_multiround_shows_the_round_and_turn_and_each_bidder_its_own_turn() -> None:
    run = Run()
    run(CreateAuction(run.next_id(), 0, MULTIROUND))
    for name, offer in (("ann", "10.00"), ("bob", "9.00")):
        run(RegisterBidder(run.next_id(), 1, name, initial_bid=Decimal(offer)))
    fmt = run.auction.fmt
    assert fmt is not None
    assert fmt.view() == FormatView(rounds=Rounds(0, None))
    assert fmt.own_view("ann") == OwnView(turn=TurnView(False, None))
    run.tick(START)  # round 1: the worst offer (ann) bids first
    assert fmt.view() == FormatView(rounds=Rounds(1, Turn("ann", START + 30 * S)))
    run.bid("ann", "8.00", START + S)
    assert fmt.own_view("ann") == OwnView(turn=TurnView(True, 800))
    # Not bob's turn: it sees no pending price, not even its own (it has none).
    assert fmt.own_view("bob") == OwnView(turn=TurnView(False, None))
    run(PassTurn(run.next_id(), START + 2 * S, "ann"))
    assert fmt.view() == FormatView(rounds=Rounds(1, Turn("bob", START + 32 * S)))
    assert fmt.own_view("ann") == OwnView(turn=TurnView(False, None))
    assert fmt.own_view("bob") == OwnView(turn=TurnView(True, None))


def test_sealed_shows_nothing_of_itself() -> None:
    run = Run()
    run(CreateAuction(run.next_id(), 0, SEALED))
    run(RegisterBidder(run.next_id(), 1, "ann"))
    run.tick(START)
    run.bid("ann", "5.00", START + S)
    fmt = run.auction.fmt
    assert fmt is not None
    assert (fmt.view(), fmt.own_view("ann")) == (FormatView(), OwnView())


# -- the engine reads the same secrecy ---------------------------------------------------------


@pytest.mark.parametrize("name", list(ALL_RULES))
def test_a_cancel_publishes_no_ranking_when_the_book_is_secret_until_the_close(name: str) -> None:
    rules = ALL_RULES[name]
    run = Run()
    run(CreateAuction(run.next_id(), 0, rules))
    offers = {"ann": "10.00", "bob": "9.00"} if name == "multiround" else {}
    for bidder in ("ann", "bob"):
        initial = offers.get(bidder)
        run(RegisterBidder(run.next_id(), 1, bidder, initial_bid=initial and Decimal(initial)))
    if name not in ("dutch", "multiround"):
        run.tick(START)
        run.bid("ann", "10.00" if "reverse" not in name else "90.00", START + S)
    run(CancelAuction(run.next_id(), START + 2 * S))
    ended = run.auction.ended
    assert ended is not None and not ended.winners
    secret = secrecy_for(rules).book is AT_CLOSE
    assert (ended.ranking == ()) is (secret or len(run.auction.book) == 0), ended
    run.check()
