"""The sealed-tender state machine: worked examples, every reject reason, and a Hypothesis
``RuleBasedStateMachine`` that checks invariants, replay and the codec after every step."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from engine.codec import encode
from engine.errors import (
    ClockWentBackwards,
    CorruptLog,
    EngineMisuse,
    IllegalTransition,
)
from engine.events import CommandRejected
from engine.reasons import Reason
from engine.tender import Tender, TenderNotCreated, replay_tender
from engine.tender_phases import LotPhase, TenderPhase
from engine.tender_records import (
    Award,
    BidderExcluded,
    BidsRead,
    ChangeSchedule,
    CreateTender,
    Criterion,
    DiscardShares,
    EnvelopeInvalid,
    EnvelopeKind,
    EnvelopeOpened,
    EnvelopeReceived,
    EnvelopeWithdrawn,
    ExcludeBidder,
    Feature,
    FollowUp,
    HandOff,
    LotAwarded,
    LotClosed,
    LotHandedOff,
    LotOpened,
    LotSpec,
    OfferedFeature,
    Officer,
    Opening,
    Publication,
    PublishTender,
    Rank,
    ReadBids,
    RecordOpening,
    ScheduleChanged,
    ShareAccepted,
    SharesDiscarded,
    StageOpened,
    SubmitEnvelope,
    SubmitShare,
    TenderEvent,
    TenderPublished,
    TenderSpec,
    Tick,
    WithdrawEnvelope,
    decode_tender_command,
    decode_tender_event,
)

S = 1_000_000
DEADLINE = 100 * S
OPENING = 110 * S
FIN = EnvelopeKind.FINANCIAL
TECH = EnvelopeKind.TECHNICAL
QUAL = EnvelopeKind.QUALIFICATION


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def spec(**changes: Any) -> TenderSpec:
    """Three officers, k = 2, one financial lot, award by lowest price, published offers."""
    base = TenderSpec(
        title="Road repairs",
        currency="EUR",
        officers=(Officer("o1", "k1"), Officer("o2", "k2"), Officer("o3", "k3")),
        threshold=2,
        lots=(LotSpec("L1", "North", DEADLINE, OPENING, (FIN,)),),
        publication=Publication.PUBLIC,
        follow_up=FollowUp.AWARD,
        auction_rules="",
    )
    return replace(base, **changes)


class Run:
    """A tender driven through ``handle``, every event kept."""

    def __init__(self) -> None:
        self.tender = Tender()
        self.events: list[TenderEvent] = []
        self._ids = itertools.count(1)

    def id(self) -> str:
        return f"c{next(self._ids)}"

    def __call__(self, command: Any) -> list[TenderEvent]:
        events = self.tender.handle(command)
        self.events.extend(events)
        self.check()
        return events

    def check(self) -> None:
        self.tender._check()
        assert replay_tender(self.events) == self.tender
        for event in self.events[-3:]:
            assert decode_tender_event(encode(event)) == event

    def submit(self, bidder: str, at: int, text: str, kind: EnvelopeKind = FIN, lot: str = "L1"):
        return self(SubmitEnvelope(self.id(), at, bidder, lot, kind, digest(text), 1072))

    def share(self, officer: str, at: int, kind: EnvelopeKind = FIN, verdict: str = ""):
        return self(SubmitShare(self.id(), at, officer, "L1", kind, verdict))

    def opening(self, at: int, kind: EnvelopeKind, prices: dict[str, int | None]):
        lot = self.tender.lots["L1"]
        results = tuple(
            Opening(bidder, envelope.commitment, prices.get(bidder), "EUR", f"doc {bidder}", "")
            for bidder, envelope in lot.live(kind)
        )
        return self(RecordOpening(self.id(), at, "L1", kind, results))


def published(**changes: Any) -> Run:
    run = Run()
    run(CreateTender(run.id(), 1, "o1", spec(**changes)))
    run(PublishTender(run.id(), 2, "o2", "opening-public", "ceremony-digest"))
    return run


def assert_rejected(run: Run, command: Any, reason: Reason) -> CommandRejected:
    """One ``CommandRejected`` for ``reason``, nothing changed but ``seq`` (and the lots a
    deadline closed first)."""
    run(Tick(run.id(), command.at))
    before = copy.deepcopy(run.tender.state())
    events = run(command)
    assert len(events) == 1, events
    rejected = events[0]
    assert isinstance(rejected, CommandRejected) and rejected.reason is reason, rejected
    assert rejected.command == type(command).__name__
    after = run.tender.state()
    assert after[:1] + after[2:] == before[:1] + before[2:]
    return rejected


# ------------------------------------------------------------------------ worked examples


def test_full_lifecycle_one_financial_lot_awarded_to_lowest_price() -> None:
    run = published()
    assert run.tender.phase is TenderPhase.PUBLISHED
    [received] = run.submit("ann", 10 * S, "ann-1")
    assert isinstance(received, EnvelopeReceived) and received.replaced is None
    [replaced] = run.submit("ann", 11 * S, "ann-2")
    assert isinstance(replaced, EnvelopeReceived) and replaced.replaced == digest("ann-1")
    run.submit("bob", 12 * S, "bob-1")
    run.submit("cat", 13 * S, "cat-1")
    assert run.tender.next_deadline() == DEADLINE + 1
    [withdrawn] = run(WithdrawEnvelope(run.id(), 14 * S, "cat", "L1", FIN))
    assert isinstance(withdrawn, EnvelopeWithdrawn)
    run.submit("cat", DEADLINE, "cat-2")  # exactly at the deadline: accepted
    closed, share = run.share("o1", OPENING)
    assert closed == LotClosed(closed.seq, DEADLINE, "L1", 3)
    assert isinstance(share, ShareAccepted) and share.count == 1
    assert run.tender.next_deadline() is None
    run.share("o3", OPENING + 1)
    events = run.opening(OPENING + 2, FIN, {"ann": 900_00, "bob": 800_00, "cat": 800_00})
    assert [type(e) for e in events] == [EnvelopeOpened] * 3 + [StageOpened, LotOpened]
    assert run.tender.lots["L1"].phase is LotPhase.OPENED
    [awarded] = run(Award(run.id(), OPENING + 3, "o2", "L1"))
    assert isinstance(awarded, LotAwarded)
    # Ties go to the earlier receipt: bob's envelope came before cat's second one.
    assert awarded.winner == "bob" and awarded.price == 800_00
    assert awarded.ranking == (
        Rank(1, "bob", 800_00, 800_00),
        Rank(2, "cat", 800_00, 800_00),
        Rank(3, "ann", 900_00, 900_00),
    )
    assert run.tender.lots["L1"].phase is LotPhase.DECIDED


def open_offers(
    run: Run, at: int, offers: dict[str, tuple[int, dict[str, str], int | None]]
) -> list[TenderEvent]:
    """Open the lot's financial stage: each bidder's price, stated features and cost."""
    lot = run.tender.lots["L1"]
    results = tuple(
        Opening(
            bidder,
            envelope.commitment,
            offers[bidder][0],
            "EUR",
            f"doc {bidder}",
            "",
            tuple(OfferedFeature(n, v) for n, v in sorted(offers[bidder][1].items())),
            offers[bidder][2],
        )
        for bidder, envelope in lot.live(FIN)
    )
    return run(RecordOpening(run.id(), at, "L1", FIN, results))


def opened_for_award(run: Run, offers: dict[str, tuple[int, dict[str, str], int | None]]) -> Any:
    for i, bidder in enumerate(offers):
        run.submit(bidder, (10 + i) * S, f"{bidder}-1")
    run.share("o1", OPENING)
    run.share("o2", OPENING + 1)
    return open_offers(run, OPENING + 2, offers)


def test_meat_award_ranks_by_price_over_one_plus_declared_coefficients() -> None:
    # quality: weight 1, at most 0.5; delivery: weight 0.5, at most 0.2.
    features = (
        Feature("delivery", Decimal("0.5"), Decimal("0.2")),
        Feature("quality", Decimal("1"), Decimal("0.5")),
    )
    run = published(criterion=Criterion.MEAT, features=features)
    events = opened_for_award(
        run,
        {
            # 1100.00 / (1 + 0.1) = 1000.00
            "ann": (1100_00, {"quality": "0.1"}, None),
            # 1050.00 / (1 + 0.05 + 0.5 * 0.1) = 105000 / 1.1 = 1050000/11 ≈ 954.55
            "bob": (1050_00, {"quality": "0.05", "delivery": "0.1"}, None),
            # 1000.00 / 1 = 1000.00: ties with ann, whose envelope came first. "prestige" is
            # not declared, so it counts for nothing (a bidder cannot invent coefficients).
            "cat": (1000_00, {"prestige": "9"}, 5),
            # quality 0.6 is above the declared 0.5: the offer is invalid, never ranked.
            "dan": (900_00, {"quality": "0.6"}, None),
        },
    )
    opened = {e.bidder: e for e in events if isinstance(e, EnvelopeOpened)}
    assert opened["bob"].features == (
        OfferedFeature("delivery", "0.1"),
        OfferedFeature("quality", "0.05"),
    )
    assert opened["cat"].features == () and opened["cat"].cost == 5
    [invalid] = [e for e in events if isinstance(e, EnvelopeInvalid)]
    assert invalid.bidder == "dan"
    assert invalid.reason.startswith("invalid_scoring_input: feature 'quality'")
    [awarded] = run(Award(run.id(), OPENING + 3, "o2", "L1"))
    assert isinstance(awarded, LotAwarded)
    assert (awarded.winner, awarded.price) == ("bob", 1050_00)
    assert awarded.ranking == (
        Rank(1, "bob", 1050_00, Fraction(1050000, 11)),
        Rank(2, "ann", 1100_00, Fraction(100000)),
        Rank(3, "cat", 1000_00, Fraction(100000)),
    )
    # The score is exact in the log: "n/d", as the engine's codec writes a Fraction.
    ranking = json.loads(encode(awarded))["ranking"]
    assert [(r["price"], r["score"]) for r in ranking] == [
        (105000, "1050000/11"),
        (110000, "100000/1"),
        (100000, "100000/1"),
    ]


def test_life_cycle_cost_award_ranks_by_price_plus_declared_cost() -> None:
    run = published(criterion=Criterion.LIFE_CYCLE_COST)
    events = opened_for_award(
        run,
        {
            "ann": (1000_00, {}, 300_00),  # 1000.00 + 300.00 = 1300.00
            "bob": (1200_00, {"quality": "1"}, 50_00),  # 1200.00 + 50.00 = 1250.00
            "cat": (1100_00, {}, None),  # no declared cost: invalid
            "dan": (1100_00, {}, 10**15 + 1),  # a cost beyond any amount: invalid
        },
    )
    invalid = {e.bidder: e.reason for e in events if isinstance(e, EnvelopeInvalid)}
    assert set(invalid) == {"cat", "dan"}
    assert all(reason.startswith("invalid_scoring_input") for reason in invalid.values())
    [awarded] = run(Award(run.id(), OPENING + 3, "o2", "L1"))
    assert isinstance(awarded, LotAwarded)
    assert (awarded.winner, awarded.price) == ("bob", 1200_00)
    assert awarded.ranking == (Rank(1, "bob", 1200_00, 1250_00), Rank(2, "ann", 1000_00, 1300_00))


def test_price_award_ignores_features_and_cost_and_scores_the_price() -> None:
    run = published()  # criterion price, the default
    opened_for_award(
        run,
        {"ann": (900_00, {"quality": "0.9"}, 500_00), "bob": (950_00, {}, 0)},
    )
    [awarded] = run(Award(run.id(), OPENING + 3, "o2", "L1"))
    assert isinstance(awarded, LotAwarded) and awarded.winner == "ann"
    assert awarded.ranking == (Rank(1, "ann", 900_00, 900_00), Rank(2, "bob", 950_00, 950_00))


def test_a_meat_hand_off_records_scores_and_keeps_the_prices() -> None:
    features = (Feature("quality", Decimal("1"), Decimal("1")),)
    run = published(
        criterion=Criterion.MEAT,
        features=features,
        follow_up=FollowUp.AUCTION,
        auction_rules="{}",
    )
    # 1200 / 1.5 = 800 beats 900 / 1 = 900.
    opened_for_award(run, {"ann": (900, {}, None), "bob": (1200, {"quality": "0.5"}, None)})
    [handed] = run(HandOff(run.id(), OPENING + 3, "o1", "L1", "a-7"))
    assert isinstance(handed, LotHandedOff)
    assert handed.ranking == (
        Rank(1, "bob", 1200, Fraction(800)),
        Rank(2, "ann", 900, Fraction(900)),
    )


def test_one_microsecond_after_the_deadline_is_refused() -> None:
    run = published()
    run.submit("ann", DEADLINE, "on time")
    rejected = assert_rejected(
        run,
        SubmitEnvelope(run.id(), DEADLINE + 1, "bob", "L1", FIN, digest("late"), 1072),
        Reason.SUBMISSION_CLOSED,
    )
    assert rejected.at == DEADLINE + 1 and rejected.bidder == "bob"
    closed = next(e for e in run.events if isinstance(e, LotClosed))
    assert closed.at == DEADLINE and closed.seq < rejected.seq


def test_stages_open_in_order_and_invalid_envelopes_are_recorded() -> None:
    run = published(lots=(LotSpec("L1", "North", DEADLINE, OPENING, (TECH, FIN)),))
    run.submit("ann", 10 * S, "ann-tech", TECH)
    run.submit("ann", 10 * S, "ann-fin", FIN)
    run.submit("bob", 10 * S, "bob-fin", FIN)
    assert_rejected(
        run, SubmitShare(run.id(), OPENING, "o1", "L1", FIN, ""), Reason.STAGE_NOT_CURRENT
    )
    run.share("o1", OPENING, TECH)
    run.share("o2", OPENING, TECH)
    events = run.opening(OPENING, TECH, {})
    assert [type(e) for e in events] == [EnvelopeOpened, StageOpened]
    assert run.tender.lots["L1"].phase is LotPhase.CLOSED
    assert run.tender.lots["L1"].shares == []  # a new stage needs a new quorum
    run.share("o2", OPENING + 1)
    run.share("o3", OPENING + 1)
    lot = run.tender.lots["L1"]
    results = (
        Opening("ann", lot.envelopes[("ann", FIN)].commitment, 500, "EUR", "", ""),
        Opening("bob", lot.envelopes[("bob", FIN)].commitment, None, "", "", "decrypt_failed"),
    )
    events = run(RecordOpening(run.id(), OPENING + 2, "L1", FIN, results))
    assert [type(e) for e in events] == [EnvelopeOpened, EnvelopeInvalid, StageOpened, LotOpened]
    assert events[1].reason == "decrypt_failed"  # type: ignore[union-attr]
    assert events[2] == StageOpened(events[2].seq, OPENING + 2, "L1", FIN, 1, 1)


def test_an_excluded_bidder_is_never_opened_again_nor_ranked() -> None:
    run = published(lots=(LotSpec("L1", "North", DEADLINE, OPENING, (QUAL, FIN)),))
    for bidder in ("ann", "bob"):
        run.submit(bidder, 10 * S, f"{bidder}-q", QUAL)
        run.submit(bidder, 10 * S, f"{bidder}-f", FIN)
    exclude = ExcludeBidder(run.id(), 20 * S, "o1", "L1", "bob", "no licence")
    assert_rejected(run, exclude, Reason.OPENING_NOT_DUE)  # nobody is judged before the deadline
    run.share("o1", OPENING, QUAL)
    run.share("o2", OPENING, QUAL)
    run.opening(OPENING, QUAL, {})
    later = OPENING + 1
    assert_rejected(
        run, ExcludeBidder(run.id(), later, "ann", "L1", "bob", ""), Reason.NOT_TENDER_OFFICER
    )
    assert_rejected(run, ExcludeBidder(run.id(), later, "o1", "L1", "zed", ""), Reason.NO_ENVELOPE)
    [excluded] = run(ExcludeBidder(run.id(), later, "o1", "L1", "bob", "no licence"))
    assert excluded == BidderExcluded(excluded.seq, later, "o1", "L1", "bob", "no licence")
    assert_rejected(
        run, ExcludeBidder(run.id(), later, "o2", "L1", "bob", ""), Reason.BIDDER_DISQUALIFIED
    )
    run.share("o1", later, FIN)
    run.share("o3", later, FIN)
    lot = run.tender.lots["L1"]
    everything = tuple(
        Opening(b, e.commitment, 100, "EUR", "", "")
        for (b, k), e in lot.envelopes.items()
        if k is FIN
    )
    assert_rejected(
        run, RecordOpening(run.id(), later, "L1", FIN, everything), Reason.OPENING_MISMATCH
    )
    events = run.opening(later, FIN, {"ann": 900})
    assert [e.bidder for e in events if isinstance(e, EnvelopeOpened)] == ["ann"]
    assert ("bob", FIN) not in run.tender.lots["L1"].opened
    [awarded] = run(Award(run.id(), later, "o1", "L1"))
    assert isinstance(awarded, LotAwarded) and awarded.ranking == (Rank(1, "ann", 900, 900),)
    assert_rejected(run, ExcludeBidder(run.id(), later, "o1", "L1", "ann", ""), Reason.LOT_DECIDED)


@pytest.mark.parametrize(
    ("price", "currency", "problem"),
    [(500, "USD", "wrong_currency"), (None, "EUR", "amount_invalid"), (0, "EUR", "amount_invalid")],
)
def test_financial_offer_without_a_valid_price_is_invalid(
    price: int | None, currency: str, problem: str
) -> None:
    run = published(threshold=1)
    run.submit("ann", 10 * S, "ann")
    run.share("o1", OPENING)
    commitment = run.tender.lots["L1"].envelopes[("ann", FIN)].commitment
    events = run(
        RecordOpening(
            run.id(), OPENING, "L1", FIN, (Opening("ann", commitment, price, currency, "", ""),)
        )
    )
    assert isinstance(events[0], EnvelopeInvalid) and events[0].reason.startswith(problem)
    if problem == "amount_invalid":  # the bounds in major units, never minor units
        assert events[0].reason == "amount_invalid: price must be 0.01 to 10000000000000.00 EUR"
    [awarded] = run(Award(run.id(), OPENING, "o1", "L1"))
    assert awarded == LotAwarded(awarded.seq, OPENING, "o1", "L1", None, None, ())


def test_hand_off_to_an_auction_records_the_ranking() -> None:
    run = published(follow_up=FollowUp.AUCTION, auction_rules='{"format":"multiround"}')
    run.submit("ann", 10 * S, "ann")
    run.submit("bob", 10 * S, "bob")
    run.share("o1", OPENING)
    run.share("o2", OPENING)
    run.opening(OPENING, FIN, {"ann": 700, "bob": 600})
    assert_rejected(run, Award(run.id(), OPENING, "o1", "L1"), Reason.WRONG_FOLLOW_UP)
    assert_rejected(run, HandOff(run.id(), OPENING, "o1", "L1", ""), Reason.INVALID_TENDER)
    [handed] = run(HandOff(run.id(), OPENING, "o1", "L1", "a-7"))
    assert handed == LotHandedOff(
        handed.seq, OPENING, "o1", "L1", "a-7", (Rank(1, "bob", 600, 600), Rank(2, "ann", 700, 700))
    )
    assert_rejected(run, HandOff(run.id(), OPENING, "o1", "L1", "a-8"), Reason.LOT_DECIDED)
    assert_rejected(run, Award(run.id(), OPENING, "o1", "L1"), Reason.LOT_DECIDED)


def test_schedule_changes_by_officers_only_and_only_before_the_deadline() -> None:
    run = published()
    outsider = assert_rejected(
        run,
        ChangeSchedule(run.id(), 5 * S, "bidder-x", "L1", 200 * S, 210 * S),
        Reason.NOT_TENDER_OFFICER,
    )
    assert outsider.bidder == "bidder-x"
    [changed] = run(ChangeSchedule(run.id(), 6 * S, "o3", "L1", 200 * S, 210 * S))
    assert changed == ScheduleChanged(changed.seq, 6 * S, "o3", "L1", 200 * S, 210 * S)
    assert_rejected(
        run, ChangeSchedule(run.id(), 7 * S, "o3", "L1", 7 * S, 210 * S), Reason.INVALID_SCHEDULE
    )
    assert_rejected(
        run, ChangeSchedule(run.id(), 7 * S, "o3", "L1", 300 * S, 210 * S), Reason.INVALID_SCHEDULE
    )
    # The old deadline passes without closing the lot; the new one closes it.
    run.submit("ann", DEADLINE + 1, "ann")
    assert_rejected(
        run,
        ChangeSchedule(run.id(), 200 * S + 1, "o1", "L1", 400 * S, 410 * S),
        Reason.SUBMISSION_CLOSED,
    )


def test_reads_of_bids_refused_and_logged_before_the_deadline() -> None:
    run = published()
    run.submit("ann", 10 * S, "ann")
    refused = assert_rejected(run, ReadBids(run.id(), DEADLINE, "o1", "L1"), Reason.BIDS_SEALED)
    assert refused.bidder == "o1"
    assert_rejected(run, ReadBids(run.id(), DEADLINE + 1, "ann", "L1"), Reason.NOT_TENDER_OFFICER)
    [read] = run(ReadBids(run.id(), DEADLINE + 2, "o1", "L1"))
    assert read == BidsRead(read.seq, DEADLINE + 2, "o1", "L1")


def test_unpublished_tender_refuses_envelopes_and_can_be_rescheduled() -> None:
    run = Run()
    run(CreateTender(run.id(), 1, "o1", spec()))
    for command in (
        SubmitEnvelope(run.id(), 2, "ann", "L1", FIN, digest("x"), 10),
        WithdrawEnvelope(run.id(), 2, "ann", "L1", FIN),
        ReadBids(run.id(), 2, "o1", "L1"),
        SubmitShare(run.id(), 2, "o1", "L1", FIN, ""),
        DiscardShares(run.id(), 2, "L1", ""),
        RecordOpening(run.id(), 2, "L1", FIN, ()),
        Award(run.id(), 2, "o1", "L1"),
        HandOff(run.id(), 2, "o1", "L1", "a"),
    ):
        assert_rejected(run, command, Reason.TENDER_NOT_PUBLISHED)
    assert_rejected(run, CreateTender(run.id(), 3, "o1", spec()), Reason.TENDER_EXISTS)
    assert_rejected(run, PublishTender(run.id(), 3, "ann", "pk", "c"), Reason.NOT_TENDER_OFFICER)
    assert_rejected(run, PublishTender(run.id(), 3, "o1", "", "c"), Reason.INVALID_TENDER)
    # Deadlines do not close the lots of an unpublished tender, but it cannot be published late.
    assert_rejected(
        run, PublishTender(run.id(), DEADLINE, "o1", "pk", "c"), Reason.INVALID_SCHEDULE
    )
    run(ChangeSchedule(run.id(), DEADLINE, "o1", "L1", 2 * DEADLINE, 2 * DEADLINE))
    [published_event] = run(PublishTender(run.id(), DEADLINE, "o1", "pk", "c"))
    assert isinstance(published_event, TenderPublished)
    assert_rejected(
        run, PublishTender(run.id(), DEADLINE, "o1", "pk", "c"), Reason.TENDER_ALREADY_PUBLISHED
    )


@pytest.mark.parametrize(
    ("changes", "by", "reason"),
    [
        ({"currency": "XXX"}, "o1", Reason.INVALID_TENDER),
        ({"officers": ()}, "o1", Reason.INVALID_TENDER),
        ({"officers": (Officer("o1", "k"),) * 2}, "o1", Reason.INVALID_TENDER),
        (
            {"officers": tuple(Officer(f"o{i}", "k") for i in range(1, 257))},
            "o1",
            Reason.INVALID_TENDER,
        ),
        ({"threshold": 4}, "o1", Reason.INVALID_TENDER),
        ({"lots": ()}, "o1", Reason.INVALID_TENDER),
        ({"lots": (LotSpec("L1", "x", 0, 0, (FIN,)),)}, "o1", Reason.INVALID_TENDER),
        ({"lots": (LotSpec("L1", "x", 5, 6, ()),)}, "o1", Reason.INVALID_TENDER),
        ({"lots": (LotSpec("L1", "x", 5, 4, (FIN,)),)}, "o1", Reason.INVALID_TENDER),
        ({"follow_up": FollowUp.AUCTION}, "o1", Reason.INVALID_TENDER),
        ({"features": (Feature("q", Decimal(1), Decimal(1)),)}, "o1", Reason.INVALID_TENDER),
        ({"criterion": Criterion.MEAT}, "o1", Reason.INVALID_TENDER),
        (
            {"criterion": Criterion.MEAT, "features": (Feature("q", Decimal(1), Decimal(1)),) * 2},
            "o1",
            Reason.INVALID_TENDER,
        ),
        (
            {"criterion": Criterion.MEAT, "features": (Feature("", Decimal(1), Decimal(1)),)},
            "o1",
            Reason.INVALID_TENDER,
        ),
        (
            {"criterion": Criterion.MEAT, "features": (Feature("q", Decimal(0), Decimal(1)),)},
            "o1",
            Reason.INVALID_TENDER,
        ),
        (
            {"criterion": Criterion.MEAT, "features": (Feature("q", Decimal(1), Decimal(1001)),)},
            "o1",
            Reason.INVALID_TENDER,
        ),
        (
            {
                "criterion": Criterion.MEAT,
                "features": (Feature("q", Decimal("NaN"), Decimal(1)),),
            },
            "o1",
            Reason.INVALID_TENDER,
        ),
        (
            {
                "criterion": Criterion.LIFE_CYCLE_COST,
                "features": (Feature("q", Decimal(1), Decimal(1)),),
            },
            "o1",
            Reason.INVALID_TENDER,
        ),
        ({}, "someone", Reason.NOT_TENDER_OFFICER),
    ],
)
def test_invalid_tender_is_refused(changes: dict[str, Any], by: str, reason: Reason) -> None:
    tender = Tender()
    [rejected] = tender.handle(CreateTender("c1", 1, by, spec(**changes)))
    assert isinstance(rejected, CommandRejected) and rejected.reason is reason
    assert tender.phase is TenderPhase.NEW and replay_tender([rejected]) == tender


def test_envelope_rejections() -> None:
    run = published()
    assert_rejected(
        run, SubmitEnvelope(run.id(), 3, "ann", "L9", FIN, digest("x"), 10), Reason.UNKNOWN_LOT
    )
    assert_rejected(
        run,
        SubmitEnvelope(run.id(), 3, "ann", "L1", TECH, digest("x"), 10),
        Reason.WRONG_ENVELOPE_KIND,
    )
    for commitment, size in (("ab" * 31, 10), ("AB" * 32, 10), (digest("x"), 0)):
        assert_rejected(
            run,
            SubmitEnvelope(run.id(), 3, "ann", "L1", FIN, commitment, size),
            Reason.INVALID_COMMITMENT,
        )
    assert_rejected(run, WithdrawEnvelope(run.id(), 3, "ann", "L1", FIN), Reason.NO_ENVELOPE)
    run.submit("ann", 4, "ann")
    assert_rejected(
        run, WithdrawEnvelope(run.id(), DEADLINE + 1, "ann", "L1", FIN), Reason.SUBMISSION_CLOSED
    )


def test_share_and_opening_rejections() -> None:
    run = published()
    run.submit("ann", 10 * S, "ann")
    assert_rejected(run, SubmitShare(run.id(), 20 * S, "o1", "L1", FIN, ""), Reason.OPENING_NOT_DUE)
    assert_rejected(run, Award(run.id(), 20 * S, "o1", "L1"), Reason.LOT_NOT_OPENED)
    # Past the deadline but before the opening time: still not due.
    assert_rejected(
        run, SubmitShare(run.id(), DEADLINE + 1, "o1", "L1", FIN, ""), Reason.OPENING_NOT_DUE
    )
    assert_rejected(run, Award(run.id(), DEADLINE + 1, "o1", "L1"), Reason.LOT_NOT_OPENED)
    assert_rejected(
        run, SubmitShare(run.id(), OPENING, "ann", "L1", FIN, ""), Reason.NOT_TENDER_OFFICER
    )
    forged = assert_rejected(
        run, SubmitShare(run.id(), OPENING, "o1", "L1", FIN, "forged_share"), Reason.INVALID_SHARE
    )
    assert forged.detail == "forged_share"
    assert_rejected(run, DiscardShares(run.id(), OPENING, "L1", "x"), Reason.NOT_ENOUGH_SHARES)
    run.share("o1", OPENING)
    assert_rejected(
        run, SubmitShare(run.id(), OPENING, "o1", "L1", FIN, ""), Reason.DUPLICATE_SHARE
    )
    commitment = run.tender.lots["L1"].envelopes[("ann", FIN)].commitment
    good = (Opening("ann", commitment, 100, "EUR", "", ""),)
    # k - 1 shares open nothing.
    assert_rejected(
        run, RecordOpening(run.id(), OPENING, "L1", FIN, good), Reason.NOT_ENOUGH_SHARES
    )
    [discarded] = run(DiscardShares(run.id(), OPENING, "L1", "combine failed: forged_share"))
    assert isinstance(discarded, SharesDiscarded) and run.tender.lots["L1"].shares == []
    run.share("o1", OPENING)
    run.share("o2", OPENING)
    assert_rejected(
        run, RecordOpening(run.id(), OPENING, "L1", TECH, good), Reason.STAGE_NOT_CURRENT
    )
    for results in ((), good + good, (Opening("ann", digest("other"), 1, "EUR", "", ""),)):
        assert_rejected(
            run, RecordOpening(run.id(), OPENING, "L1", FIN, results), Reason.OPENING_MISMATCH
        )
    run(RecordOpening(run.id(), OPENING, "L1", FIN, good))
    for command in (
        SubmitShare(run.id(), OPENING, "o3", "L1", FIN, ""),
        DiscardShares(run.id(), OPENING, "L1", ""),
        RecordOpening(run.id(), OPENING, "L1", FIN, good),
    ):
        assert_rejected(run, command, Reason.STAGE_NOT_CURRENT)
    assert_rejected(
        run,
        SubmitEnvelope(run.id(), OPENING, "bob", "L1", FIN, digest("b"), 1),
        Reason.SUBMISSION_CLOSED,
    )
    assert_rejected(run, Award(run.id(), OPENING, "bob", "L1"), Reason.NOT_TENDER_OFFICER)
    assert_rejected(run, HandOff(run.id(), OPENING, "o1", "L1", "a-1"), Reason.WRONG_FOLLOW_UP)
    run(Award(run.id(), OPENING, "o1", "L1"))
    for command in (
        SubmitShare(run.id(), OPENING, "o3", "L1", FIN, ""),
        SubmitEnvelope(run.id(), OPENING, "bob", "L1", FIN, digest("b"), 1),
    ):
        expected = Reason.SUBMISSION_CLOSED
        if isinstance(command, SubmitShare):
            expected = Reason.STAGE_NOT_CURRENT
        assert_rejected(run, command, expected)
    [read] = run(ReadBids(run.id(), OPENING, "o2", "L1"))
    assert isinstance(read, BidsRead)


def test_lots_close_in_deadline_order_on_one_command() -> None:
    lots = (
        LotSpec("B", "later", 2 * DEADLINE, 2 * DEADLINE, (FIN,)),
        LotSpec("A", "sooner", DEADLINE, DEADLINE, (FIN,)),
    )
    run = published(lots=lots)
    events = run(Tick(run.id(), 3 * DEADLINE))
    assert [(type(e), e.at) for e in events] == [(LotClosed, DEADLINE), (LotClosed, 2 * DEADLINE)]
    assert run.tender.next_deadline() is None


def test_misuse_raises_and_changes_nothing() -> None:
    tender = Tender()
    tender._check()
    with pytest.raises(TenderNotCreated):
        tender.handle(Tick("c", 1))
    with pytest.raises(EngineMisuse):
        tender.handle("not a command")  # type: ignore[arg-type]
    tender.handle(CreateTender("c1", 10, "o1", spec()))
    with pytest.raises(ClockWentBackwards):
        tender.handle(Tick("c2", 9))
    assert tender.seq == 1 and tender.now == 10 and tender.next_deadline() is None
    assert "Tender" in repr(tender) and tender != object()


def test_corrupt_logs_are_refused() -> None:
    run = published()
    run.submit("ann", 10 * S, "ann")
    events = run.events
    with pytest.raises(IllegalTransition):
        replay_tender(events[1:])
    with pytest.raises(CorruptLog):
        replay_tender([events[0], replace(events[1], seq=5)])
    with pytest.raises(CorruptLog):
        replay_tender([*events[:2], replace(events[2], at=0)])
    with pytest.raises(CorruptLog):
        replay_tender([*events[:2], replace(events[2], lot="nope")])  # type: ignore[arg-type]
    with pytest.raises(IllegalTransition):
        replay_tender([*events, StageOpened(4, 10 * S, "L1", FIN, 0, 0)])


def test_commands_survive_the_codec() -> None:
    commands = [
        CreateTender("c", 1, "o1", spec()),
        CreateTender(
            "c",
            1,
            "o1",
            spec(
                criterion=Criterion.MEAT,
                features=(Feature("q", Decimal("0.50"), Decimal("2")),),
            ),
        ),
        RecordOpening("c", 1, "L1", FIN, (Opening("a", digest("a"), None, "", "doc", "bad"),)),
        RecordOpening(
            "c",
            1,
            "L1",
            FIN,
            (Opening("a", digest("a"), 5, "EUR", "doc", "", (OfferedFeature("q", "1.5"),), 7),),
        ),
        ChangeSchedule("c", 1, "o1", "L1", 2, 3),
    ]
    for command in commands:
        assert decode_tender_command(encode(command)) == command


# ------------------------------------------------------------------------ stateful


class TenderMachine(RuleBasedStateMachine):
    """Random commands against one tender with two lots; checks after every step."""

    @initialize(
        threshold=st.integers(1, 3),
        auction=st.booleans(),
        publish=st.sampled_from([True, True, True, False]),
    )
    def create(self, threshold: int, auction: bool, publish: bool) -> None:
        self.run = Run()
        self.now = 1
        lots = (
            LotSpec("L1", "one", 30, 35, (FIN,)),
            LotSpec("L2", "two", 50, 50, (QUAL, FIN)),
        )
        follow = FollowUp.AUCTION if auction else FollowUp.AWARD
        rules = "{}" if auction else ""
        self.run(
            CreateTender(
                "c0",
                1,
                "o1",
                spec(threshold=threshold, lots=lots, follow_up=follow, auction_rules=rules),
            )
        )
        if publish:
            self.run(PublishTender("c00", 1, "o2", "pk", "cer"))

    def _kind(self, lot: str, kind: EnvelopeKind, current: bool) -> EnvelopeKind:
        """Mostly the lot's current stage, so that openings happen."""
        state = self.run.tender.lots.get(lot)
        if current and state is not None and state.current_kind is not None:
            return state.current_kind
        return kind

    def _at(self, step: int) -> int:
        self.now += step
        return self.now

    steps = st.sampled_from([0, 0, 0, 1, 1, 3, 10])
    lots = st.sampled_from(["L1", "L1", "L2", "L2", "L3"])
    kinds = st.sampled_from(list(EnvelopeKind))
    parties = st.sampled_from(["o1", "o2", "o3", "o1", "o2", "o3", "ann"])
    mostly = st.sampled_from([True, True, True, False])

    def _send(self, command: Any) -> None:
        before = copy.deepcopy(self.run.tender)
        events = self.run(command)
        assert events or isinstance(command, Tick), command
        for event in events:
            assert event.at <= command.at
        if events and isinstance(events[-1], CommandRejected):
            ticked = copy.deepcopy(before)
            ticked.handle(Tick("t", command.at))
            assert ticked.state()[2:] == self.run.tender.state()[2:]

    @precondition(lambda self: self.run.tender.phase is TenderPhase.CREATED)
    @rule(step=steps, party=parties)
    def publish(self, step: int, party: str) -> None:
        self._send(PublishTender(self.run.id(), self._at(step), party, "pk", "cer"))

    @rule(step=steps, party=parties, lot=lots, delay=st.integers(-5, 40), gap=st.integers(-2, 20))
    def reschedule(self, step: int, party: str, lot: str, delay: int, gap: int) -> None:
        at = self._at(step)
        self._send(ChangeSchedule(self.run.id(), at, party, lot, at + delay, at + delay + gap))

    @rule(
        step=steps,
        bidder=st.sampled_from(["ann", "bob", "cat"]),
        lot=lots,
        kind=kinds,
        text=st.text(max_size=3),
        fitting=mostly,
    )
    def submit(
        self, step: int, bidder: str, lot: str, kind: EnvelopeKind, text: str, fitting: bool
    ) -> None:
        state = self.run.tender.lots.get(lot)
        if fitting and state is not None:
            kind = state.spec.kinds[-1] if kind is EnvelopeKind.FINANCIAL else state.spec.kinds[0]
        self._send(
            SubmitEnvelope(self.run.id(), self._at(step), bidder, lot, kind, digest(text), 1)
        )

    @rule(step=steps, bidder=st.sampled_from(["ann", "bob"]), lot=lots, kind=kinds)
    def withdraw(self, step: int, bidder: str, lot: str, kind: EnvelopeKind) -> None:
        self._send(WithdrawEnvelope(self.run.id(), self._at(step), bidder, lot, kind))

    @rule(step=steps, party=parties, lot=lots)
    def read(self, step: int, party: str, lot: str) -> None:
        self._send(ReadBids(self.run.id(), self._at(step), party, lot))

    @rule(step=steps, party=parties, lot=lots, kind=kinds, current=mostly, valid=mostly)
    def share(
        self, step: int, party: str, lot: str, kind: EnvelopeKind, current: bool, valid: bool
    ) -> None:
        verdict = "" if valid else "forged_share"
        kind = self._kind(lot, kind, current)
        self._send(SubmitShare(self.run.id(), self._at(step), party, lot, kind, verdict))

    @rule(lot=st.sampled_from(["L1", "L2"]), price=st.sampled_from([3, 5, None]))
    def quorum(self, lot: str, price: int | None) -> None:
        """The committee hands in its shares for the lot's stage, then the service opens it."""
        state = self.run.tender.lots[lot]
        at = self._at(0)
        kind = state.current_kind or FIN
        for officer in ("o1", "o2", "o3"):
            self._send(SubmitShare(self.run.id(), at, officer, lot, kind, ""))
        results = tuple(Opening(b, e.commitment, price, "EUR", "", "") for b, e in state.live(kind))
        self._send(RecordOpening(self.run.id(), at, lot, kind, results))

    @rule(step=steps, party=parties, lot=lots, bidder=st.sampled_from(["ann", "bob", "cat"]))
    def exclude(self, step: int, party: str, lot: str, bidder: str) -> None:
        self._send(ExcludeBidder(self.run.id(), self._at(step), party, lot, bidder, "x"))

    @rule(step=steps, lot=lots)
    def discard(self, step: int, lot: str) -> None:
        self._send(DiscardShares(self.run.id(), self._at(step), lot, "again"))

    @rule(
        step=steps,
        lot=lots,
        kind=kinds,
        price=st.sampled_from([None, 0, 1, 5, 5, 7, 10**16]),
        honest=mostly,
        current=mostly,
    )
    def open(
        self,
        step: int,
        lot: str,
        kind: EnvelopeKind,
        price: int | None,
        honest: bool,
        current: bool,
    ) -> None:
        kind = self._kind(lot, kind, current)
        state = self.run.tender.lots.get(lot)
        results: tuple[Opening, ...] = ()
        if state is not None:
            results = tuple(
                Opening(b, e.commitment, price, "EUR", "", "" if honest else "decrypt_failed")
                for b, e in state.live(kind)
            )
        self._send(RecordOpening(self.run.id(), self._at(step), lot, kind, results))

    @rule(step=steps, party=parties, lot=lots, hand_off=st.booleans())
    def decide(self, step: int, party: str, lot: str, hand_off: bool) -> None:
        at = self._at(step)
        if hand_off:
            self._send(HandOff(self.run.id(), at, party, lot, "a-1"))
        else:
            self._send(Award(self.run.id(), at, party, lot))

    @rule(step=st.sampled_from([1, 10, 20]))
    def tick(self, step: int) -> None:
        self._send(Tick(self.run.id(), self._at(step)))

    @invariant()
    def deadlines_are_ahead(self) -> None:
        due = self.run.tender.next_deadline()
        assert due is None or due > self.run.tender.now
        for lot in self.run.tender.lots.values():
            if self.run.tender.phase is TenderPhase.PUBLISHED and lot.phase is LotPhase.OPEN:
                assert lot.deadline >= self.run.tender.now


TenderMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_tender_machine = TenderMachine.TestCase
