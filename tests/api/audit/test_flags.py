"""Red flags (:mod:`api.audit.flags`): every flag fires on a hand-made log and stays quiet on
its near miss; the logs are real (engine commands through :class:`engine.Auction`)."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.audit.bundle import save_bundle
from api.audit.cli import main
from api.audit.flags import (
    FLAGS,
    LATE_WINDOW_US,
    NOTE,
    Flag,
    identical_offers,
    late_bidding,
    loses_by_one_step,
    most_disqualified,
    price_near_reserve,
    red_flags,
    single_bidder,
)
from api.cli import main as gavel_main
from engine import (
    AcceptPrice,
    BidAccepted,
    CreateAuction,
    DisqualifyBidder,
    DutchRules,
    Event,
    MultiRoundRules,
    RegisterBidder,
    SealedRules,
    Side,
    SoftClose,
    Step,
    WithdrawBid,
)
from engine.rules import AuctionRules, Improvement
from tests.api.audit.test_bundle import bundle_of, english_log
from tests.engine.helpers import END, START, Run, S, english, reverse

CODES = {
    "single_bidder",
    "price_near_reserve",
    "identical_offers",
    "late_bidding",
    "loses_by_one_step",
    "most_disqualified",
}


def opened(
    rules: AuctionRules,
    bidders: tuple[str, ...] = ("ann", "bob", "cat"),
    initial: dict[str, str] | None = None,
) -> Run:
    """``rules`` created, ``bidders`` registered (with multi-round ``initial`` offers),
    bidding open."""
    run = Run()
    run(CreateAuction(run.next_id(), 0, rules))
    for name in bidders:
        offer = (initial or {}).get(name)
        run(
            RegisterBidder(
                run.next_id(), 0, name, initial_bid=None if offer is None else Decimal(offer)
            )
        )
    run.tick(rules.starts_at)
    return run


def bids(run: Run, *placed: tuple[str, str, int], close: int | None = END + 1) -> list[Event]:
    """Place ``(bidder, amount, at)`` bids, each accepted, then let the auction close."""
    for who, amount, at in placed:
        assert isinstance(run.bid(who, amount, at)[0], BidAccepted), (who, amount)
    if close is not None:
        run.tick(close)
    return run.events


def seqs_of(events: list[Event], bidder: str) -> tuple[int, ...]:
    return tuple(e.seq for e in events if isinstance(e, BidAccepted) and e.bidder == bidder)


def only(flags: tuple[Flag, ...]) -> Flag:
    assert len(flags) == 1, flags
    return flags[0]


# ----------------------------------------------------------------------- single_bidder


def test_single_bidder_fires_when_one_bidder_made_every_offer() -> None:
    events = bids(opened(english()), ("ann", "10.00", START + S), ("ann", "12.00", START + 2 * S))
    flag = only(single_bidder(events))
    assert flag.code == "single_bidder"
    assert flag.bidders == ("ann",)
    assert flag.seqs == seqs_of(events, "ann")
    assert dict(flag.figures) == {"bidders": 1, "bids": 2}


def test_single_bidder_is_quiet_with_two_bidders_or_none() -> None:
    events = bids(opened(english()), ("ann", "10.00", START + S), ("bob", "11.00", START + 2 * S))
    assert single_bidder(events) == ()
    assert single_bidder(bids(opened(english()))) == ()


def test_single_bidder_counts_a_disqualified_rival_out() -> None:
    run = opened(english())
    bids(run, ("ann", "10.00", START + S), ("bob", "11.00", START + 2 * S), close=None)
    run(DisqualifyBidder(run.next_id(), START + 3 * S, "bob"))
    assert only(single_bidder(bids(run))).bidders == ("ann",)


def dutch(**changes: object) -> DutchRules:
    rules = DutchRules(
        "EUR", START, start_price=10_000, step=100, interval_us=10 * S, limit_price=5000
    )
    return replace(rules, **changes)  # type: ignore[arg-type]


def test_single_bidder_in_a_dutch_auction_is_one_admitted_bidder() -> None:
    events = opened(dutch(), ("ann",)).events
    flag = only(single_bidder(events))
    assert flag.bidders == ("ann",) and "admitted" in flag.summary
    assert single_bidder(opened(dutch(), ("ann", "bob")).events) == ()


# ------------------------------------------------------------------ price_near_reserve


def test_price_near_reserve_fires_for_a_sale_just_above_its_reserve() -> None:
    rules = english(reserve_price=2000)
    events = bids(opened(rules), ("ann", "10.00", START + S), ("bob", "20.10", START + 2 * S))
    flag = only(price_near_reserve(events))
    assert flag.bidders == ("bob",)
    assert dict(flag.figures) == {
        "price": 2010,
        "reserve": 2000,
        "gap": 10,
        "gap_percent": Decimal("0.50"),
    }
    assert flag.seqs == (1, seqs_of(events, "bob")[-1], events[-1].seq)
    # Exactly 1 % is within; a hair more is not.
    edge = bids(opened(rules), ("bob", "20.20", START + S))
    assert only(price_near_reserve(edge)).figures[-1] == ("gap_percent", Decimal("1.00"))
    assert price_near_reserve(bids(opened(rules), ("bob", "20.21", START + S))) == ()
    # A command refused after the close is logged after it: the close still counts.
    late = opened(rules)
    bids(late, ("bob", "20.10", START + S))
    late.bid("ann", "30.00", END + 2 * S)
    assert type(late.events[-1]).__name__ == "CommandRejected"
    assert only(price_near_reserve(late.events)).figures[0] == ("price", 2010)


def test_price_near_reserve_is_quiet_far_from_it_without_one_or_without_award() -> None:
    far = bids(opened(english(reserve_price=2000)), ("bob", "25.00", START + S))
    assert price_near_reserve(far) == ()
    assert price_near_reserve(bids(opened(english()), ("bob", "10.00", START + S))) == ()
    below = bids(opened(english(reserve_price=2000)), ("bob", "19.90", START + S))
    assert price_near_reserve(below) == ()  # reserve not met: no award


def test_price_near_budget_fires_for_a_procurement_just_under_it() -> None:
    events = bids(opened(reverse()), ("ann", "99.50", START + S))
    flag = only(price_near_reserve(events))
    assert dict(flag.figures)["budget"] == 10_000 and dict(flag.figures)["gap"] == 50
    assert price_near_reserve(bids(opened(reverse()), ("ann", "98.00", START + S))) == ()


def test_price_near_the_limit_of_a_dutch_sale() -> None:
    run = opened(dutch(limit_price=9950), ("ann", "bob"))
    run(AcceptPrice(run.next_id(), START + S, "ann"))
    flag = only(price_near_reserve(run.events))
    assert dict(flag.figures)["gap"] == 50
    far = opened(dutch(), ("ann", "bob"))
    far(AcceptPrice(far.next_id(), START + S, "ann"))
    assert price_near_reserve(far.events) == ()


# -------------------------------------------------------------------- identical_offers


def sealed(**changes: object) -> SealedRules:
    return replace(SealedRules("EUR", START, END), **changes)  # type: ignore[arg-type]


def test_identical_offers_fire_for_the_same_sealed_price() -> None:
    events = bids(
        opened(sealed()),
        ("ann", "50.00", START + S),
        ("bob", "50.00", START + 2 * S),
        ("cat", "60.00", START + 3 * S),
    )
    flag = only(identical_offers(events))
    assert flag.bidders == ("ann", "bob")
    assert flag.seqs == seqs_of(events, "ann") + seqs_of(events, "bob")
    assert dict(flag.figures) == {"price": 5000, "bidders": 2}


def test_identical_offers_are_quiet_for_different_or_withdrawn_offers() -> None:
    apart = bids(opened(sealed()), ("ann", "50.00", START + S), ("bob", "50.01", START + 2 * S))
    assert identical_offers(apart) == ()
    run = opened(sealed())
    bids(run, ("ann", "50.00", START + S), ("bob", "50.00", START + 2 * S), close=None)
    run(WithdrawBid(run.next_id(), START + 3 * S, "bob"))
    assert identical_offers(bids(run)) == ()
    # Only final offers count: ann moved off the shared price.
    moved = bids(
        opened(sealed()),
        ("ann", "50.00", START + S),
        ("bob", "50.00", START + 2 * S),
        ("ann", "55.00", START + 3 * S),
    )
    assert identical_offers(moved) == ()


def test_identical_offers_in_a_reverse_auction_that_beats_own_bids() -> None:
    rules = reverse(improvement=Improvement.BEAT_OWN)
    events = bids(opened(rules), ("ann", "90.00", START + S), ("bob", "90.00", START + 2 * S))
    assert only(identical_offers(events)).bidders == ("ann", "bob")


def multiround(**changes: object) -> MultiRoundRules:
    rules = MultiRoundRules("EUR", START, turn_us=120 * S, step=Step(amount=100), rounds=1)
    return replace(rules, **changes)  # type: ignore[arg-type]


def test_identical_offers_count_multi_round_tender_offers() -> None:
    same = opened(multiround(), ("ann", "bob"), {"ann": "90.00", "bob": "90.00"})
    same.tick(START + 10 * 120 * S)
    assert only(identical_offers(same.events)).figures[0] == ("price", 9000)
    apart = opened(multiround(), ("ann", "bob"), {"ann": "90.00", "bob": "91.00"})
    apart.tick(START + 10 * 120 * S)
    assert identical_offers(apart.events) == ()
    # No race in a multi-round auction: those flags do not apply.
    assert late_bidding(same.events) == loses_by_one_step(same.events) == ()


# ------------------------------------------------------------------------ late_bidding


def test_late_bidding_fires_for_a_bidder_who_only_bids_at_the_end() -> None:
    events = bids(
        opened(english()),
        ("ann", "10.00", START + S),
        ("bob", "11.00", END - 10 * S),
        ("bob", "13.00", END - 5 * S),
    )
    flag = only(late_bidding(events))
    assert flag.bidders == ("bob",) and flag.seqs == seqs_of(events, "bob")
    assert dict(flag.figures) == {
        "window_us": LATE_WINDOW_US,
        "bids": 2,
        "earliest_left_us": 10 * S,
    }


def test_late_bidding_fires_once_when_every_bid_is_late() -> None:
    events = bids(opened(english()), ("ann", "10.00", END - 30 * S), ("bob", "11.00", END - 20 * S))
    flag = only(late_bidding(events))
    assert flag.bidders == ("ann", "bob") and flag.summary.startswith("all 2 bids")


def test_late_bidding_is_quiet_when_bids_come_early() -> None:
    events = bids(
        opened(english()),
        ("ann", "10.00", START + S),
        ("bob", "11.00", END - LATE_WINDOW_US - 1),
        ("ann", "12.00", END - 5 * S),
    )
    assert late_bidding(events) == ()


def test_late_bidding_uses_the_soft_close_window_and_the_end_in_force() -> None:
    rules = english(soft_close=SoftClose(window_us=10 * S, extension_us=30 * S))
    early = bids(opened(rules), ("ann", "10.00", START + S), ("bob", "11.00", END - 20 * S))
    assert late_bidding(early) == ()  # 20 s left is outside a 10 s window
    run = opened(rules)
    # bob's first bid extends the end to END + 25 s; his second is 5 s before that end.
    bids(run, ("ann", "10.00", START + S), ("bob", "11.00", END - 5 * S), close=END + 20 * S)
    events = bids(run, ("bob", "12.00", END + 20 * S), close=END + 60 * S)
    flag = only(late_bidding(events))
    assert flag.bidders == ("bob",) and dict(flag.figures)["window_us"] == 10 * S


def test_late_bidding_does_not_apply_to_sealed_bids() -> None:
    events = bids(opened(sealed()), ("ann", "50.00", END - S), ("bob", "51.00", END - S))
    assert late_bidding(events) == ()


# ------------------------------------------------------------------- loses_by_one_step

LADDER = (
    ("ann", "10.00", START + 1 * S),
    ("bob", "11.00", START + 2 * S),
    ("ann", "12.00", START + 3 * S),
    ("bob", "13.00", START + 4 * S),
    ("ann", "14.00", START + 5 * S),
)


def test_loses_by_one_step_fires_for_a_bidder_always_beaten_by_the_minimum() -> None:
    events = bids(opened(english()), *LADDER, ("bob", "15.00", START + 6 * S))
    flag = only(loses_by_one_step(events))
    assert flag.bidders == ("ann", "bob")
    assert flag.seqs == tuple(sorted(seqs_of(events, "ann") + seqs_of(events, "bob")))
    assert dict(flag.figures) == {"bids": 3}


def test_loses_by_one_step_is_quiet_for_a_bigger_jump_or_too_few_bids() -> None:
    jumped = bids(opened(english()), *LADDER, ("bob", "16.00", START + 6 * S))
    assert loses_by_one_step(jumped) == ()
    short = bids(opened(english()), *LADDER[:4])
    assert loses_by_one_step(short) == ()  # ann's two losses are not a pattern yet


def test_loses_by_one_step_counts_a_percentage_step_of_the_beaten_bid() -> None:
    rules = english(step=Step(percent=Decimal(10)))
    steps = (
        ("ann", "10.00", START + S),
        ("bob", "11.00", START + 2 * S),
        ("ann", "12.10", START + 3 * S),
        ("bob", "13.31", START + 4 * S),
        ("ann", "14.65", START + 5 * S),  # 14.641 rounded up to whole cents
        ("bob", "16.12", START + 6 * S),  # 16.115 rounded up
    )
    assert only(loses_by_one_step(bids(opened(rules), *steps))).bidders[0] == "ann"


def test_loses_by_one_step_in_a_procurement() -> None:
    ladder = (
        ("ann", "90.00", START + S),
        ("bob", "89.00", START + 2 * S),
        ("ann", "88.00", START + 3 * S),
        ("bob", "87.00", START + 4 * S),
        ("ann", "86.00", START + 5 * S),
        ("bob", "85.00", START + 6 * S),
    )
    assert only(loses_by_one_step(bids(opened(reverse()), *ladder))).bidders == ("ann", "bob")
    assert loses_by_one_step(bids(opened(reverse()), *ladder[:5], ("bob", "80.00", END - S))) == ()


# ------------------------------------------------------------------- most_disqualified


def disqualified(*names: str, bidders: tuple[str, ...] = ("ann", "bob", "cat")) -> list[Event]:
    run = opened(english(), bidders)
    for name in names:
        run(DisqualifyBidder(run.next_id(), START + S, name))
    return bids(run)


def test_most_disqualified_fires_above_half() -> None:
    events = disqualified("ann", "bob")
    flag = only(most_disqualified(events))
    assert flag.bidders == ("ann", "bob")
    assert dict(flag.figures) == {"registered": 3, "disqualified": 2}
    assert all(type(events[seq - 1]).__name__ == "BidderDisqualified" for seq in flag.seqs)


def test_most_disqualified_is_quiet_at_half_or_less() -> None:
    assert most_disqualified(disqualified("ann")) == ()
    assert most_disqualified(disqualified("ann", "bob", bidders=("ann", "bob", "cat", "dan"))) == ()


# ------------------------------------------------------------------------- properties


def test_the_flags_are_listed_with_their_note() -> None:
    assert NOTE == "prompts for review, not findings"
    assert {check.__name__ for check in FLAGS} == CODES
    assert red_flags([]) == ()


@settings(max_examples=25, deadline=None)
@given(
    bidders=st.integers(min_value=0, max_value=5),
    kind=st.sampled_from(["english", "reverse", "sealed", "multiround", "dutch"]),
)
def test_no_flag_without_offers(bidders: int, kind: str) -> None:
    """An auction nobody bid in raises nothing (a Dutch one with one admitted bidder
    raises only single_bidder)."""
    rules: AuctionRules = {
        "english": english(),
        "reverse": reverse(),
        "sealed": sealed(side=Side.PROCUREMENT, start_price=10_000),
        "multiround": multiround(start_price=10_000),
        "dutch": dutch(),
    }[kind]
    names = tuple(f"b{i}" for i in range(bidders))
    run = opened(rules, names)
    run.tick(START + 1000 * S)
    raised = {flag.code for flag in red_flags(run.events)}
    assert raised <= ({"single_bidder"} if kind == "dutch" and bidders == 1 else set())


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["english", "reverse", "sealed"]),
    placed=st.lists(
        st.tuples(
            st.sampled_from(["ann", "bob", "cat"]),
            st.integers(min_value=1, max_value=200),
            st.integers(min_value=1, max_value=99),
        ),
        max_size=12,
    ),
)
def test_every_flag_names_real_events_and_bidders(
    kind: str, placed: list[tuple[str, int, int]]
) -> None:
    """Whatever the bidding, each flag names events of the log and registered bidders,
    its figures are integers or Decimals (never floats) and it serialises to JSON."""
    rules: AuctionRules = {"english": english(), "reverse": reverse(), "sealed": sealed()}[kind]
    run = opened(rules)
    at = START
    for who, amount, gap in placed:
        at += gap * S // 10
        if at < END:
            run.bid(who, f"{amount // 2}.{amount % 2 * 50:02d}", at)
    run.tick(END + 1000 * S)
    seqs = {event.seq for event in run.events}
    for flag in red_flags(run.events):
        assert flag.code in CODES and flag.summary
        assert set(flag.seqs) <= seqs and list(flag.seqs) == sorted(set(flag.seqs))
        assert set(flag.bidders) <= {"ann", "bob", "cat"}
        assert all(isinstance(value, int | Decimal) for _, value in flag.figures)
        json.dumps(flag.to_json())
    assert red_flags(run.events) == red_flags(list(run.events))  # pure: same answer again


# ------------------------------------------------------------------ gavel audit flags


def test_the_cli_prints_the_flags_of_a_verified_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = bids(opened(english()), ("ann", "10.00", START + S), ("ann", "12.00", START + 2 * S))
    path = tmp_path / "bundle.json"
    save_bundle(bundle_of(events), path)
    out = io.StringIO()
    assert main(["flags", str(path)], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"1 red flags in auction A-1 ({NOTE})"
    ann = ", ".join(map(str, seqs_of(events, "ann")))
    assert lines[1] == f"   single_bidder: only ann made offers (2) (events {ann})"
    out = io.StringIO()
    assert main(["flags", str(path), "--json"], out=out) == 0
    body = json.loads(out.getvalue())
    assert body["auction_id"] == "A-1" and body["note"] == NOTE
    assert [flag["code"] for flag in body["flags"]] == ["single_bidder"]
    assert gavel_main(["audit", "flags", str(path)]) == 0
    assert "single_bidder" in capsys.readouterr().out


def test_the_cli_prints_no_flag_for_a_clean_log_and_nothing_for_a_tampered_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bundle.json"
    save_bundle(bundle_of(english_log()), path)
    out = io.StringIO()
    assert main(["flags", str(path)], out=out) == 0
    assert out.getvalue() == f"0 red flags in auction A-1 ({NOTE})\n"
    bundle = json.loads(path.read_text())
    bundle["events"].pop(-2)
    path.write_text(json.dumps(bundle))
    out = io.StringIO()
    assert main(["flags", str(path)], out=out) == 1
    assert out.getvalue() == ""
    assert "gavel audit: event 9: has seq 10 where 9 is due" in capsys.readouterr().err
