"""Every rejection says why in words: one case per reason the engine refuses a command for.

Two tables, auctions (:class:`engine.auction.Auction`) and sealed tenders
(:class:`engine.tender.Tender`), one row per :class:`engine.reasons.Reason` each can give
(and a row per further place that raises it where the words differ), each building the
smallest auction or tender that gets that rejection and checking that its ``detail`` is
not empty. The websocket sends the detail as is (``reject.detail``) and HTTP puts it in
the problem's ``detail``, so an empty one left a client with a bare code.
``test_every_reason_has_a_case`` keeps the tables complete.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from engine import (
    AcceptPrice,
    CancelAuction,
    CommandRejected,
    CreateAuction,
    DisqualifyBidder,
    DutchRules,
    PassTurn,
    PlaceBid,
    Reason,
    RegisterBidder,
    SealedRules,
    SetProxy,
    WithdrawBid,
)
from engine.commands import Command
from engine.events import Bound, BoundKind
from engine.instant import iso_utc
from engine.money import format_minor
from engine.rules import MultiRoundRules, Step
from engine.tender_records import (
    Award,
    ChangeSchedule,
    CreateTender,
    DiscardShares,
    EnvelopeKind,
    ExcludeBidder,
    FollowUp,
    HandOff,
    LotSpec,
    PublishTender,
    ReadBids,
    RecordOpening,
    SubmitEnvelope,
    SubmitShare,
    WithdrawEnvelope,
)
from tests.engine.helpers import END, START, Run, S, english, reverse, started
from tests.engine.test_tender import DEADLINE, OPENING, digest, published, spec
from tests.engine.test_tender import Run as TenderRun

#: The reasons only the sealed-tender state machine (engine.tender) gives: every other one
#: is an auction's (a tender gives ``bidder_disqualified`` too).
TENDER_ONLY = frozenset(
    {
        Reason.TENDER_EXISTS,
        Reason.INVALID_TENDER,
        Reason.TENDER_NOT_PUBLISHED,
        Reason.TENDER_ALREADY_PUBLISHED,
        Reason.NOT_TENDER_OFFICER,
        Reason.UNKNOWN_LOT,
        Reason.INVALID_SCHEDULE,
        Reason.WRONG_ENVELOPE_KIND,
        Reason.INVALID_COMMITMENT,
        Reason.SUBMISSION_CLOSED,
        Reason.NO_ENVELOPE,
        Reason.BIDS_SEALED,
        Reason.OPENING_NOT_DUE,
        Reason.STAGE_NOT_CURRENT,
        Reason.DUPLICATE_SHARE,
        Reason.INVALID_SHARE,
        Reason.NOT_ENOUGH_SHARES,
        Reason.OPENING_MISMATCH,
        Reason.LOT_NOT_OPENED,
        Reason.WRONG_FOLLOW_UP,
        Reason.LOT_DECIDED,
    }
)

TURN = 30 * S


def _multiround() -> Run:
    """Three bidders with initial offers, opened at ``START``: ann's turn comes first
    (the worst offer), bob's last."""
    run = Run()
    rules = MultiRoundRules(
        currency="EUR",
        starts_at=START,
        turn_us=TURN,
        step=Step(amount=1_000),
        rounds=2,
        pause_us=60 * S,
        start_price=100_000,
    )
    run(CreateAuction(run.next_id(), 0, rules))
    for bidder, offer in (("ann", "990.00"), ("bob", "900.00"), ("cat", "950.00")):
        run(RegisterBidder(run.next_id(), 0, bidder, initial_bid=Decimal(offer)))
    run.tick(START)
    return run


def _dutch() -> Run:
    run = Run()
    rules = DutchRules(
        currency="EUR",
        starts_at=START,
        start_price=100_000,
        step=10_000,
        interval_us=60 * S,
        limit_price=70_000,
    )
    run(CreateAuction(run.next_id(), 0, rules))
    run(RegisterBidder(run.next_id(), 0, "ann"))
    run.tick(START)
    return run


def _sealed() -> Run:
    run = Run()
    run(CreateAuction(run.next_id(), 0, SealedRules(currency="EUR", starts_at=START, ends_at=END)))
    run(RegisterBidder(run.next_id(), 0, "ann"))
    run.tick(START)
    return run


def _created() -> Run:
    run = Run()
    run(CreateAuction(run.next_id(), 0, english()))
    run(RegisterBidder(run.next_id(), 0, "ann"))
    return run


def _ended() -> Run:
    run = started(english())
    run.tick(END)
    return run


def _paused() -> Run:
    run = _multiround()
    for bidder in ("ann", "cat", "bob"):
        run(PassTurn(run.next_id(), START, bidder))
    return run


def _bid(
    amount: str, bidder: str = "ann", currency: str = "EUR", at: int = START + S
) -> Callable[[Run], Command]:
    return lambda run: PlaceBid(run.next_id(), at, bidder, Decimal(amount), currency)


@dataclass(frozen=True, slots=True)
class Case:
    """One rejection: the auction to start from and the command it refuses."""

    reason: Reason
    where: str
    auction: Callable[[], Run]
    command: Callable[[Run], Command]


def _english() -> Run:
    return started(english())


CASES = [
    Case(
        Reason.AUCTION_EXISTS,
        "phases.REFUSALS",
        _english,
        lambda run: CreateAuction(run.next_id(), START + S, english()),
    ),
    Case(Reason.AUCTION_NOT_STARTED, "phases.REFUSALS", _created, _bid("10.00", at=START - S)),
    Case(
        Reason.AUCTION_CLOSED,
        "phases.REFUSALS",
        _ended,
        lambda run: PlaceBid(run.next_id(), END + S, "ann", Decimal("10.00"), "EUR"),
    ),
    Case(
        Reason.INVALID_RULES,
        "auction._create",
        Run,
        lambda run: CreateAuction(run.next_id(), 0, english(ends_at=START)),
    ),
    Case(
        Reason.NOT_SUPPORTED,
        "open_cry.decide",
        _english,
        lambda run: WithdrawBid(run.next_id(), START + S, "ann"),
    ),
    Case(
        Reason.NOT_SUPPORTED,
        "register: initial bid",
        _created,
        lambda run: RegisterBidder(run.next_id(), 0, "zed", initial_bid=Decimal(5)),
    ),
    Case(Reason.UNKNOWN_BIDDER, "auction.eligible", _english, _bid("10.00", "zed")),
    Case(
        Reason.UNKNOWN_BIDDER,
        "auction._disqualify",
        _english,
        lambda run: DisqualifyBidder(run.next_id(), START + S, "zed"),
    ),
    Case(
        Reason.BIDDER_DISQUALIFIED,
        "auction.eligible",
        lambda: _with(_english(), lambda run: DisqualifyBidder(run.next_id(), START, "ann")),
        _bid("10.00"),
    ),
    Case(
        Reason.BIDDER_ALREADY_REGISTERED,
        "auction._register",
        _english,
        lambda run: RegisterBidder(run.next_id(), START + S, "ann"),
    ),
    Case(
        Reason.REGISTRATION_CLOSED,
        "multiround.registration_problem",
        _multiround,
        lambda run: RegisterBidder(run.next_id(), START + S, "dan", initial_bid=Decimal(900)),
    ),
    Case(
        Reason.REGISTRATION_CLOSED,
        "phases.REFUSALS",
        _paused,
        lambda run: RegisterBidder(run.next_id(), START + S, "dan", initial_bid=Decimal(900)),
    ),
    Case(
        Reason.INVALID_SCORING_INPUT,
        "auction._register",
        _created,
        lambda run: RegisterBidder(run.next_id(), 0, "zed", coefficient=Decimal(-1)),
    ),
    Case(Reason.OUT_OF_TURN, "multiround.decide", _multiround, _bid("980.00", "bob")),
    Case(Reason.OUT_OF_TURN, "phases.REFUSALS", _paused, _bid("890.00", "bob")),
    Case(Reason.WRONG_CURRENCY, "auction.money", _english, _bid("10.00", currency="USD")),
    Case(
        Reason.WRONG_CURRENCY,
        "dutch.decide",
        _dutch,
        lambda run: AcceptPrice(run.next_id(), START + S, "ann", Decimal("1000.00"), "USD"),
    ),
    Case(Reason.TOO_MANY_DECIMALS, "auction.money", _english, _bid("10.001")),
    Case(
        Reason.TOO_MANY_DECIMALS,
        "dutch.decide",
        _dutch,
        lambda run: AcceptPrice(run.next_id(), START + S, "ann", Decimal("1000.001"), "EUR"),
    ),
    Case(
        Reason.TOO_MANY_DECIMALS,
        "open_cry: proxy",
        _english,
        lambda run: SetProxy(run.next_id(), START + S, "ann", Decimal("20.001"), "EUR"),
    ),
    Case(Reason.AMOUNT_INVALID, "auction.money", _english, _bid("NaN")),
    Case(
        Reason.AMOUNT_INVALID,
        "multiround.registration_problem",
        lambda: _created_multiround(),
        lambda run: RegisterBidder(run.next_id(), 0, "zed"),
    ),
    Case(Reason.AMOUNT_NEGATIVE, "auction.money", _english, _bid("-5")),
    Case(Reason.AMOUNT_ZERO, "auction.money", _english, _bid("0")),
    Case(Reason.AMOUNT_TOO_LARGE, "auction.money", _english, _bid("1" + "0" * 30)),
    Case(
        Reason.AMOUNT_TOO_LARGE,
        "auction._register: initial bid",
        lambda: _created_multiround(),
        lambda run: RegisterBidder(run.next_id(), 0, "zed", initial_bid=Decimal(10**30)),
    ),
    Case(Reason.BELOW_START_PRICE, "open_cry", _english, _bid("5.00")),
    Case(Reason.ABOVE_START_PRICE, "open_cry", lambda: started(reverse()), _bid("200.00")),
    Case(
        Reason.ABOVE_START_PRICE,
        "multiround.registration_problem",
        lambda: _created_multiround(),
        lambda run: RegisterBidder(run.next_id(), 0, "zed", initial_bid=Decimal(2000)),
    ),
    Case(
        Reason.INSUFFICIENT_IMPROVEMENT,
        "open_cry",
        lambda: _with(_english(), _bid("10.00")),
        _bid("10.50", "bob"),
    ),
    Case(
        Reason.PROXY_LIMIT_TOO_LOW,
        "open_cry",
        lambda: _with(_english(), _bid("20.00")),
        lambda run: SetProxy(run.next_id(), START + S, "bob", Decimal("15.00"), "EUR"),
    ),
    Case(
        Reason.STALE_PRICE,
        "dutch.decide",
        _dutch,
        lambda run: AcceptPrice(run.next_id(), START + S, "ann", Decimal("900.00"), "EUR"),
    ),
    Case(
        Reason.NO_BID_TO_WITHDRAW,
        "sealed.decide",
        _sealed,
        lambda run: WithdrawBid(run.next_id(), START + S, "ann"),
    ),
    Case(
        Reason.NOT_SUPPORTED,
        "sealed.decide",
        _sealed,
        lambda run: SetProxy(run.next_id(), START + S, "ann", Decimal("20.00"), "EUR"),
    ),
    Case(
        Reason.NOT_SUPPORTED,
        "dutch.decide",
        _dutch,
        lambda run: PlaceBid(run.next_id(), START + S, "ann", Decimal("900.00"), "EUR"),
    ),
    Case(
        Reason.NOT_SUPPORTED,
        "multiround.decide",
        _multiround,
        lambda run: WithdrawBid(run.next_id(), START + S, "ann"),
    ),
    Case(
        Reason.AUCTION_CLOSED,
        "phases.REFUSALS: cancel",
        _ended,
        lambda run: CancelAuction(run.next_id(), END + S),
    ),
]


def _created_multiround() -> Run:
    run = Run()
    rules = MultiRoundRules(
        currency="EUR",
        starts_at=START,
        turn_us=TURN,
        step=Step(amount=1_000),
        rounds=2,
        start_price=100_000,
    )
    run(CreateAuction(run.next_id(), 0, rules))
    return run


def _with(run: Run, command: Callable[[Run], Command]) -> Run:
    run(command(run))
    return run


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.reason.value}@{case.where}")
def test_every_rejection_says_why(case: Case) -> None:
    run = case.auction()
    command = case.command(run)
    events = run(command)
    rejected = [event for event in events if isinstance(event, CommandRejected)]
    assert len(rejected) == 1, events
    assert rejected[0].reason is case.reason, rejected
    assert rejected[0].detail.strip(), rejected[0]
    assert_amount_in_words(rejected[0])
    run.check()


#: The reasons whose detail names an amount (all but a score's ceiling, or no lead at all).
AMOUNT_REASONS = frozenset(
    {
        Reason.AMOUNT_TOO_LARGE,
        Reason.BELOW_START_PRICE,
        Reason.ABOVE_START_PRICE,
        Reason.INSUFFICIENT_IMPROVEMENT,
        Reason.PROXY_LIMIT_TOO_LOW,
        Reason.STALE_PRICE,
    }
)


def assert_amount_in_words(rejected: CommandRejected) -> None:
    """A detail names an amount only in major units with its currency, and then the
    rejection's ``bound`` holds the same amount in minor units; no bare minor units."""
    named = re.findall(r"(-?[0-9]+(?:\.[0-9]+)?) ([A-Z]{3})\b", rejected.detail)
    bound = rejected.bound
    if bound is None:
        assert not named, rejected
        if rejected.reason in AMOUNT_REASONS:  # no bare minor units; a score is no amount
            assert rejected.detail.startswith("score") or not re.search("[0-9]", rejected.detail)
        return
    assert rejected.reason in AMOUNT_REASONS, rejected
    assert named == [(format_minor(bound.amount, bound.currency), bound.currency)], rejected


FIN, TECH, QUAL = EnvelopeKind.FINANCIAL, EnvelopeKind.TECHNICAL, EnvelopeKind.QUALIFICATION


def _tender_created() -> TenderRun:
    run = TenderRun()
    run(CreateTender(run.id(), 1, "o1", spec()))
    return run


def _tender_due(**changes: object) -> TenderRun:
    """Published, ann's financial envelope in, at the opening time with no share yet."""
    run = published(**changes)
    run.submit("ann", 10 * S, "ann")
    return run


def _tender_shared() -> TenderRun:
    """As :func:`_tender_due`, with two shares in (k = 2): ready to open."""
    run = _tender_due()
    run.share("o1", OPENING)
    run.share("o2", OPENING)
    return run


def _tender_opened(**changes: object) -> TenderRun:
    run = published(**changes)
    run.submit("ann", 10 * S, "ann")
    run.share("o1", OPENING)
    run.share("o2", OPENING)
    run.opening(OPENING, FIN, {"ann": 700})
    return run


def _tender_excluded() -> TenderRun:
    run = published(lots=(LotSpec("L1", "North", DEADLINE, OPENING, (QUAL, FIN)),))
    run.submit("ann", 10 * S, "ann-q", QUAL)
    run.share("o1", OPENING, QUAL)
    run.share("o2", OPENING, QUAL)
    run.opening(OPENING, QUAL, {})
    run(ExcludeBidder(run.id(), OPENING + 1, "o1", "L1", "ann", "no licence"))
    return run


def _tender_decided() -> TenderRun:
    run = _tender_opened()
    run(Award(run.id(), OPENING, "o1", "L1"))
    return run


def _envelope(
    commitment: str, at: int = 3, kind: EnvelopeKind = FIN, lot: str = "L1"
) -> Callable[[TenderRun], SubmitEnvelope]:
    return lambda run: SubmitEnvelope(run.id(), at, "ann", lot, kind, commitment, 1072)


@dataclass(frozen=True, slots=True)
class TenderCase:
    """One rejection of a tender command."""

    reason: Reason
    where: str
    tender: Callable[[], TenderRun]
    command: Callable[[TenderRun], object]


TENDER_CASES = [
    TenderCase(
        Reason.TENDER_EXISTS,
        "tender_phases.TENDER_REFUSALS",
        published,
        lambda run: CreateTender(run.id(), 3, "o1", spec()),
    ),
    TenderCase(
        Reason.INVALID_TENDER,
        "tender._create",
        TenderRun,
        lambda run: CreateTender(run.id(), 1, "o1", spec(threshold=4)),
    ),
    TenderCase(
        Reason.TENDER_NOT_PUBLISHED,
        "tender_phases.TENDER_REFUSALS",
        _tender_created,
        _envelope(digest("x")),
    ),
    TenderCase(
        Reason.TENDER_ALREADY_PUBLISHED,
        "tender_phases.TENDER_REFUSALS",
        published,
        lambda run: PublishTender(run.id(), 3, "o1", "pk", "c"),
    ),
    TenderCase(
        Reason.NOT_TENDER_OFFICER,
        "tender._create",
        TenderRun,
        lambda run: CreateTender(run.id(), 1, "someone", spec()),
    ),
    TenderCase(
        Reason.NOT_TENDER_OFFICER,
        "tender._publish",
        _tender_created,
        lambda run: PublishTender(run.id(), 3, "ann", "pk", "c"),
    ),
    TenderCase(
        Reason.NOT_TENDER_OFFICER,
        "tender._change_schedule",
        published,
        lambda run: ChangeSchedule(run.id(), 3, "ann", "L1", DEADLINE, OPENING),
    ),
    TenderCase(
        Reason.NOT_TENDER_OFFICER,
        "tender._read_bids",
        _tender_due,
        lambda run: ReadBids(run.id(), DEADLINE + 1, "ann", "L1"),
    ),
    TenderCase(
        Reason.NOT_TENDER_OFFICER,
        "tender._share",
        _tender_due,
        lambda run: SubmitShare(run.id(), OPENING, "ann", "L1", FIN, ""),
    ),
    TenderCase(
        Reason.NOT_TENDER_OFFICER,
        "tender._exclude",
        _tender_opened,
        lambda run: ExcludeBidder(run.id(), OPENING, "ann", "L1", "ann", ""),
    ),
    TenderCase(
        Reason.NOT_TENDER_OFFICER,
        "tender._follows",
        _tender_opened,
        lambda run: Award(run.id(), OPENING, "ann", "L1"),
    ),
    TenderCase(Reason.UNKNOWN_LOT, "tender.handle", published, _envelope(digest("x"), lot="L9")),
    TenderCase(
        Reason.INVALID_SCHEDULE,
        "tender._change_schedule",
        published,
        lambda run: ChangeSchedule(run.id(), 7 * S, "o3", "L1", 7 * S, 210 * S),
    ),
    TenderCase(
        Reason.WRONG_ENVELOPE_KIND, "tender._submit", published, _envelope(digest("x"), kind=TECH)
    ),
    TenderCase(Reason.INVALID_COMMITMENT, "tender._submit", published, _envelope("ab" * 31)),
    TenderCase(
        Reason.SUBMISSION_CLOSED,
        "tender_phases.LOT_REFUSALS",
        published,
        _envelope(digest("x"), at=DEADLINE + 1),
    ),
    TenderCase(
        Reason.NO_ENVELOPE,
        "tender._withdraw",
        published,
        lambda run: WithdrawEnvelope(run.id(), 3, "ann", "L1", FIN),
    ),
    TenderCase(
        Reason.NO_ENVELOPE,
        "tender._exclude",
        _tender_opened,
        lambda run: ExcludeBidder(run.id(), OPENING, "o1", "L1", "zed", ""),
    ),
    TenderCase(
        Reason.BIDS_SEALED,
        "tender_phases.LOT_REFUSALS",
        _tender_due,
        lambda run: ReadBids(run.id(), DEADLINE, "o1", "L1"),
    ),
    TenderCase(
        Reason.OPENING_NOT_DUE,
        "tender._share",
        _tender_due,
        lambda run: SubmitShare(run.id(), DEADLINE + 1, "o1", "L1", FIN, ""),
    ),
    TenderCase(
        Reason.STAGE_NOT_CURRENT,
        "tender._share",
        _tender_due,
        lambda run: SubmitShare(run.id(), OPENING, "o1", "L1", TECH, ""),
    ),
    TenderCase(
        Reason.DUPLICATE_SHARE,
        "tender._share",
        _tender_shared,
        lambda run: SubmitShare(run.id(), OPENING, "o1", "L1", FIN, ""),
    ),
    TenderCase(
        Reason.INVALID_SHARE,
        "tender._share",
        _tender_due,
        lambda run: SubmitShare(run.id(), OPENING, "o1", "L1", FIN, "forged_share"),
    ),
    TenderCase(
        Reason.NOT_ENOUGH_SHARES,
        "tender._discard",
        _tender_due,
        lambda run: DiscardShares(run.id(), OPENING, "L1", "x"),
    ),
    TenderCase(
        Reason.OPENING_MISMATCH,
        "tender._open",
        _tender_shared,
        lambda run: RecordOpening(run.id(), OPENING, "L1", FIN, ()),
    ),
    TenderCase(
        Reason.LOT_NOT_OPENED,
        "tender_phases.LOT_REFUSALS",
        _tender_due,
        lambda run: Award(run.id(), 20 * S, "o1", "L1"),
    ),
    TenderCase(
        Reason.WRONG_FOLLOW_UP,
        "tender._follows",
        _tender_opened,
        lambda run: HandOff(run.id(), OPENING, "o1", "L1", "a-7"),
    ),
    TenderCase(
        Reason.LOT_DECIDED,
        "tender_phases.LOT_REFUSALS",
        _tender_decided,
        lambda run: Award(run.id(), OPENING, "o1", "L1"),
    ),
    TenderCase(
        Reason.BIDDER_DISQUALIFIED,
        "tender._exclude",
        _tender_excluded,
        lambda run: ExcludeBidder(run.id(), OPENING + 1, "o2", "L1", "ann", ""),
    ),
    TenderCase(
        Reason.INVALID_TENDER,
        "tender._hand_off",
        lambda: _tender_opened(follow_up=FollowUp.AUCTION, auction_rules="{}"),
        lambda run: HandOff(run.id(), OPENING, "o1", "L1", ""),
    ),
]


@pytest.mark.parametrize("case", TENDER_CASES, ids=lambda case: f"{case.reason.value}@{case.where}")
def test_every_tender_rejection_says_why(case: TenderCase) -> None:
    run = case.tender()
    events = run(case.command(run))
    rejected = [event for event in events if isinstance(event, CommandRejected)]
    assert len(rejected) == 1, events
    assert rejected[0].reason is case.reason, rejected
    assert rejected[0].detail.strip(), rejected[0]


def test_every_reason_has_a_case() -> None:
    auctions = {case.reason for case in CASES}
    tenders = {case.reason for case in TENDER_CASES}
    assert tenders - auctions == TENDER_ONLY  # the reasons only tenders give
    assert auctions | tenders == set(Reason), sorted(set(Reason) - auctions - tenders)


@pytest.mark.parametrize(
    ("reason", "amount", "detail"),
    [
        (Reason.TOO_MANY_DECIMALS, "10.001", "EUR amounts have at most 2 decimals"),
        (Reason.AMOUNT_NEGATIVE, "-5", "an amount must be positive, not negative"),
        (Reason.AMOUNT_TOO_LARGE, "1" + "0" * 30, "at most 10000000000000.00 EUR"),
    ],
)
def test_a_refused_amount_names_the_bound(reason: Reason, amount: str, detail: str) -> None:
    run = started(english(max_amount=10**15))
    [rejected] = run(_bid(amount)(run))
    assert isinstance(rejected, CommandRejected)
    assert (rejected.reason, rejected.detail) == (reason, detail)
    assert_amount_in_words(rejected)
    if reason is Reason.AMOUNT_TOO_LARGE:
        assert rejected.bound == Bound(BoundKind.MAX, 10**15, "EUR")


def test_out_of_turn_says_whose_turn_without_naming_the_bidder() -> None:
    run = _multiround()
    [rejected] = run(_bid("980.00", "bob")(run))
    assert isinstance(rejected, CommandRejected) and rejected.reason is Reason.OUT_OF_TURN
    assert (
        rejected.detail == f"turn 1 of round 1 is another bidder's, until {iso_utc(START + TURN)}"
    )
    assert "ann" not in rejected.detail
