"""The tender's phase tables (engine/tender_phases.py) and how ``Tender.apply`` enforces them.

The tables must be consistent on their own, every row of the transition tables must be
reached by real tenders, every refusal row must be what a command in that phase gets, and
an event with no row in the phase of its tender or of its lot is refused with
``IllegalTransition`` and changes nothing. The model is tests/engine/test_phases.py.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine.errors import CorruptLog, IllegalTransition
from engine.events import CommandRejected
from engine.reasons import Reason
from engine.tender import Tender, replay_tender
from engine.tender_phases import (
    LOT_EVENTS,
    LOT_REFUSALS,
    LOT_TRANSITIONS,
    TENDER_REFUSALS,
    TENDER_TRANSITIONS,
    LotPhase,
    TenderPhase,
)
from engine.tender_records import (
    Award,
    BidderExcluded,
    BidsRead,
    ChangeSchedule,
    CreateTender,
    DiscardShares,
    EnvelopeInvalid,
    EnvelopeKind,
    EnvelopeOpened,
    EnvelopeReceived,
    EnvelopeWithdrawn,
    ExcludeBidder,
    FollowUp,
    HandOff,
    LotAwarded,
    LotClosed,
    LotHandedOff,
    LotOpened,
    LotSpec,
    Opening,
    PublishTender,
    ReadBids,
    RecordOpening,
    ScheduleChanged,
    ShareAccepted,
    SharesDiscarded,
    StageOpened,
    SubmitEnvelope,
    SubmitShare,
    TenderCommand,
    TenderCreated,
    TenderEvent,
    TenderPublished,
    Tick,
    WithdrawEnvelope,
)
from tests.engine.test_tender import DEADLINE, OPENING, Run, assert_rejected, digest, spec

S = 1_000_000
FIN = EnvelopeKind.FINANCIAL
QUAL = EnvelopeKind.QUALIFICATION
EVENT_TYPES = frozenset(typing.get_args(TenderEvent))
COMMAND_TYPES = frozenset(typing.get_args(TenderCommand))


# -- the tables on their own ------------------------------------------------------------


def test_every_phase_has_a_row_in_its_tables() -> None:
    assert set(TENDER_TRANSITIONS) == set(TENDER_REFUSALS) == set(TenderPhase)
    assert set(LOT_TRANSITIONS) == set(LOT_REFUSALS) == set(LotPhase)


def test_every_event_type_appears_in_the_tender_table() -> None:
    used = {kind for row in TENDER_TRANSITIONS.values() for kind in row}
    assert used == EVENT_TYPES


def test_the_lot_events_are_those_that_name_a_lot() -> None:
    named = {kind for kind in EVENT_TYPES if "lot" in kind.__dataclass_fields__}
    assert named == LOT_EVENTS
    assert {kind for row in LOT_TRANSITIONS.values() for kind in row} == LOT_EVENTS
    assert CommandRejected not in LOT_EVENTS and TenderCreated not in LOT_EVENTS


def test_a_rejection_never_changes_the_tender_phase() -> None:
    for phase, row in TENDER_TRANSITIONS.items():
        assert row[CommandRejected] is phase


def test_lot_events_keep_a_published_tender_published() -> None:
    row = TENDER_TRANSITIONS[TenderPhase.PUBLISHED]
    assert {kind for kind, phase in row.items() if phase is TenderPhase.PUBLISHED} == set(row)
    assert set(row) >= LOT_EVENTS


def test_a_lot_never_goes_back_and_a_decided_lot_only_takes_reads() -> None:
    order = list(LotPhase)
    for phase, row in LOT_TRANSITIONS.items():
        for following in row.values():
            assert order.index(following) in (order.index(phase), order.index(phase) + 1)
    assert LOT_TRANSITIONS[LotPhase.DECIDED] == {BidsRead: LotPhase.DECIDED}


def test_refusals_name_only_commands_and_never_refuse_a_tick() -> None:
    for table in (TENDER_REFUSALS, LOT_REFUSALS):
        for row in table.values():
            assert set(row) <= COMMAND_TYPES
            assert Tick not in row
    for lot_row in LOT_REFUSALS.values():
        assert CreateTender not in lot_row and PublishTender not in lot_row


def test_once_created_a_second_create_is_always_refused() -> None:
    for phase in TenderPhase:
        if phase is not TenderPhase.NEW:
            assert TENDER_REFUSALS[phase][CreateTender] is Reason.TENDER_EXISTS


# -- every row of the transition tables is reached ---------------------------------------


def _opening(run: Run, at: int, kind: EnvelopeKind, problems: dict[str, str]) -> None:
    """Open the current stage of L1: a price of 100.00 for each financial envelope, and
    ``problems`` making some envelopes invalid."""
    results = tuple(
        Opening(
            bidder,
            envelope.commitment,
            10_000 if kind is FIN else None,
            "EUR",
            f"doc {bidder}",
            problems.get(bidder, ""),
        )
        for bidder, envelope in run.tender.lots["L1"].live(kind)
    )
    run(RecordOpening(run.id(), at, "L1", kind, results))


def _awarded() -> list[TenderEvent]:
    """A two-stage lot (qualification, then financial) through every lot event, awarded."""
    run = Run()
    two_stages = (LotSpec("L1", "North", DEADLINE, OPENING, (QUAL, FIN)),)
    run(CreateTender(run.id(), 1, "o1", spec(threshold=0)))  # refused while NEW
    run(CreateTender(run.id(), 1, "o1", spec(lots=two_stages)))
    run(ChangeSchedule(run.id(), 2, "o1", "L1", DEADLINE, OPENING))  # while CREATED
    run(SubmitEnvelope(run.id(), 3, "ann", "L1", FIN, digest("a"), 9))  # refused: CREATED
    run(PublishTender(run.id(), 4, "o2", "opening-public", "ceremony-digest"))
    run(ChangeSchedule(run.id(), 5, "o1", "L1", DEADLINE, OPENING))  # lot OPEN
    for bidder in ("ann", "bob", "cat"):
        for kind in (QUAL, FIN):
            run.submit(bidder, 10 * S, f"{bidder}-{kind}", kind)
    run(WithdrawEnvelope(run.id(), 11 * S, "cat", "L1", FIN))
    run(ReadBids(run.id(), 12 * S, "o1", "L1"))  # refused: sealed (tender PUBLISHED)
    run(ReadBids(run.id(), DEADLINE + 1, "o1", "L1"))  # LotClosed first, then a read
    run.share("o1", OPENING, QUAL)
    run(DiscardShares(run.id(), OPENING + 1, "L1", "lost"))
    run.share("o1", OPENING + 2, QUAL)
    run.share("o2", OPENING + 3, QUAL)
    _opening(run, OPENING + 4, QUAL, {"cat": "unreadable"})
    run(ExcludeBidder(run.id(), OPENING + 5, "o1", "L1", "cat", "failed qualification"))
    run.share("o1", OPENING + 6, FIN)
    run.share("o3", OPENING + 7, FIN)
    _opening(run, OPENING + 8, FIN, {})
    run(ReadBids(run.id(), OPENING + 9, "o1", "L1"))  # lot OPENED
    run(ExcludeBidder(run.id(), OPENING + 10, "o1", "L1", "bob", "late papers"))
    run(Award(run.id(), OPENING + 11, "o2", "L1"))
    run(ReadBids(run.id(), OPENING + 12, "o3", "L1"))  # lot DECIDED
    return run.events


def _handed_off() -> list[TenderEvent]:
    """A financial lot handed off to a multi-round auction."""
    run = Run()
    rules = '{"format": "multiround"}'
    run(CreateTender(run.id(), 1, "o1", spec(follow_up=FollowUp.AUCTION, auction_rules=rules)))
    run(PublishTender(run.id(), 2, "o2", "opening-public", "ceremony-digest"))
    run.submit("ann", 10 * S, "ann-1")
    run.share("o1", OPENING)
    run.share("o2", OPENING + 1)
    _opening(run, OPENING + 2, FIN, {})
    run(HandOff(run.id(), OPENING + 3, "o1", "L1", "a-1"))
    return run.events


def _stories() -> Iterator[list[TenderEvent]]:
    yield _awarded()
    yield _handed_off()


def test_every_row_of_the_transition_tables_is_reached_by_real_tenders() -> None:
    reached_tender: set[tuple[TenderPhase, type[Any]]] = set()
    reached_lot: set[tuple[LotPhase, type[Any]]] = set()
    for log in _stories():
        tender = Tender()
        for event in log:
            before = tender.phase
            lot = tender.lots.get(getattr(event, "lot", ""))
            lot_before = lot.phase if lot is not None else None
            tender.apply(event)
            kind = type(event)
            reached_tender.add((before, kind))
            assert tender.phase is TENDER_TRANSITIONS[before][kind]
            if kind in LOT_EVENTS:
                assert lot is not None and lot_before is not None
                reached_lot.add((lot_before, kind))
                assert lot.phase is LOT_TRANSITIONS[lot_before][kind]
        assert tender == replay_tender(log)
    assert reached_tender == {(p, k) for p, row in TENDER_TRANSITIONS.items() for k in row}
    assert reached_lot == {(p, k) for p, row in LOT_TRANSITIONS.items() for k in row}


# -- every refusal row is what a command gets --------------------------------------------------


def _created() -> tuple[Run, int]:
    run = Run()
    run(CreateTender(run.id(), 1, "o1", spec()))
    return run, 5


def _lot_in(phase: LotPhase) -> tuple[Run, int]:
    """A published tender whose lot L1 is in ``phase``, and a time it is still in it."""
    run = Run()
    run(CreateTender(run.id(), 1, "o1", spec()))
    run(PublishTender(run.id(), 2, "o2", "opening-public", "ceremony-digest"))
    run.submit("ann", 10 * S, "ann-1")
    if phase is LotPhase.OPEN:
        return run, 20 * S
    if phase is LotPhase.CLOSED:
        run(Tick(run.id(), DEADLINE + 1))
        return run, DEADLINE + 5
    run.share("o1", OPENING)
    run.share("o2", OPENING + 1)
    _opening(run, OPENING + 2, FIN, {})
    if phase is LotPhase.DECIDED:
        run(Award(run.id(), OPENING + 3, "o1", "L1"))
    return run, OPENING + 10


_COMMANDS: dict[type[Any], Callable[[str, int], Any]] = {
    CreateTender: lambda cid, at: CreateTender(cid, at, "o1", spec()),
    PublishTender: lambda cid, at: PublishTender(cid, at, "o2", "key", "ceremony"),
    ChangeSchedule: lambda cid, at: ChangeSchedule(cid, at, "o1", "L1", at + 10 * S, at + 20 * S),
    SubmitEnvelope: lambda cid, at: SubmitEnvelope(cid, at, "bob", "L1", FIN, digest("b"), 9),
    WithdrawEnvelope: lambda cid, at: WithdrawEnvelope(cid, at, "ann", "L1", FIN),
    ReadBids: lambda cid, at: ReadBids(cid, at, "o1", "L1"),
    SubmitShare: lambda cid, at: SubmitShare(cid, at, "o3", "L1", FIN, ""),
    DiscardShares: lambda cid, at: DiscardShares(cid, at, "L1", "note"),
    RecordOpening: lambda cid, at: RecordOpening(cid, at, "L1", FIN, ()),
    ExcludeBidder: lambda cid, at: ExcludeBidder(cid, at, "o1", "L1", "ann", "note"),
    Award: lambda cid, at: Award(cid, at, "o1", "L1"),
    HandOff: lambda cid, at: HandOff(cid, at, "o1", "L1", "a-1"),
}


def test_every_command_but_tick_has_a_sample() -> None:
    assert set(_COMMANDS) == COMMAND_TYPES - {Tick}


@pytest.mark.parametrize(
    ("phase", "kind", "reason"),
    [(p, k, r) for p, row in TENDER_REFUSALS.items() for k, r in row.items()],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_every_tender_refusal_row_is_the_reason_a_command_gets(
    phase: TenderPhase, kind: type[Any], reason: Reason
) -> None:
    run, at = _created() if phase is TenderPhase.CREATED else _lot_in(LotPhase.OPEN)
    assert run.tender.phase is phase
    assert_rejected(run, _COMMANDS[kind](run.id(), at), reason)


@pytest.mark.parametrize(
    ("phase", "kind", "reason"),
    [(p, k, r) for p, row in LOT_REFUSALS.items() for k, r in row.items()],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_every_lot_refusal_row_is_the_reason_a_command_gets(
    phase: LotPhase, kind: type[Any], reason: Reason
) -> None:
    run, at = _lot_in(phase)
    assert run.tender.lots["L1"].phase is phase
    rejected = assert_rejected(run, _COMMANDS[kind](run.id(), at), reason)
    assert rejected.detail == f"lot L1 is {phase.value}"


def test_a_command_for_an_unknown_lot_is_refused_after_the_tender_table() -> None:
    run, at = _lot_in(LotPhase.OPEN)
    command = ReadBids(run.id(), at, "o1", "L9")
    assert_rejected(run, command, Reason.UNKNOWN_LOT)
    created, at = _created()
    refused = assert_rejected(
        created, ReadBids(created.id(), at, "o1", "L9"), Reason.TENDER_NOT_PUBLISHED
    )
    assert "L9" not in refused.detail  # the tender's table answered before any lot lookup


# -- apply refuses what does not follow --------------------------------------------------------


def _sample(kind: type[Any], seq: int, at: int) -> TenderEvent:
    """An event of ``kind`` about lot L1 and bidder ann, numbered to follow."""
    samples: dict[type[Any], TenderEvent] = {
        TenderCreated: TenderCreated(seq, at, "o1", spec()),
        TenderPublished: TenderPublished(seq, at, "o2", "key", "ceremony"),
        ScheduleChanged: ScheduleChanged(seq, at, "o1", "L1", DEADLINE, OPENING),
        EnvelopeReceived: EnvelopeReceived(seq, at, "ann", "L1", FIN, digest("a"), 9, None),
        EnvelopeWithdrawn: EnvelopeWithdrawn(seq, at, "ann", "L1", FIN, digest("a")),
        LotClosed: LotClosed(seq, at, "L1", 1),
        BidsRead: BidsRead(seq, at, "o1", "L1"),
        ShareAccepted: ShareAccepted(seq, at, "o1", "L1", FIN, 1),
        SharesDiscarded: SharesDiscarded(seq, at, "L1", FIN, "note"),
        EnvelopeOpened: EnvelopeOpened(seq, at, "L1", FIN, "ann", digest("a"), 100, "doc"),
        EnvelopeInvalid: EnvelopeInvalid(seq, at, "L1", FIN, "ann", digest("a"), "bad"),
        StageOpened: StageOpened(seq, at, "L1", FIN, 1, 0),
        BidderExcluded: BidderExcluded(seq, at, "o1", "L1", "ann", "note"),
        LotOpened: LotOpened(seq, at, "L1"),
        LotAwarded: LotAwarded(seq, at, "o1", "L1", None, None, ()),
        LotHandedOff: LotHandedOff(seq, at, "o1", "L1", "a-1", ()),
        CommandRejected: CommandRejected(seq, at, "c", "Tick", None, Reason.TENDER_EXISTS, ""),
    }
    assert set(samples) == EVENT_TYPES
    return samples[kind]


def _tender_in(phase: TenderPhase) -> Tender:
    if phase is TenderPhase.NEW:
        return Tender()
    if phase is TenderPhase.CREATED:
        return _created()[0].tender
    return _lot_in(LotPhase.OPEN)[0].tender


@pytest.mark.parametrize("phase", list(TenderPhase), ids=str)
def test_an_event_without_a_row_in_the_tender_phase_is_refused(phase: TenderPhase) -> None:
    missing = sorted(EVENT_TYPES - set(TENDER_TRANSITIONS[phase]), key=lambda k: k.__name__)
    assert missing  # every phase refuses something
    for kind in missing:
        tender = _tender_in(phase)
        before = copy.deepcopy(tender.state())
        with pytest.raises(IllegalTransition, match=f"{kind.__name__} in tender phase"):
            tender.apply(_sample(kind, tender.seq + 1, tender.now))
        assert tender.state() == before


@pytest.mark.parametrize("phase", list(LotPhase), ids=str)
def test_an_event_without_a_row_in_the_lot_phase_is_refused(phase: LotPhase) -> None:
    missing = sorted(LOT_EVENTS - set(LOT_TRANSITIONS[phase]), key=lambda k: k.__name__)
    assert missing
    for kind in missing:
        tender = _lot_in(phase)[0].tender
        before = copy.deepcopy(tender.state())
        with pytest.raises(IllegalTransition, match=f"{kind.__name__} in lot phase"):
            tender.apply(_sample(kind, tender.seq + 1, tender.now))
        assert tender.state() == before


def test_a_lot_event_for_an_unknown_lot_is_a_corrupt_log() -> None:
    tender = _lot_in(LotPhase.OPEN)[0].tender
    before = copy.deepcopy(tender.state())
    with pytest.raises(CorruptLog, match="unknown lot"):
        tender.apply(LotClosed(tender.seq + 1, tender.now, "L9", 0))
    assert tender.state() == before
