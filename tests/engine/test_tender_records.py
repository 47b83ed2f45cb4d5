"""The tender's records (engine/tender_records.py): value checks, the spec's problems, and
the canonical codec of every command and event.

The state machine that uses them is tested in test_tender.py; here each record and helper
is tested on its own.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.codec import dumps, encode, to_data
from engine.errors import MalformedRecord
from engine.events import CommandRejected
from engine.reasons import Reason
from engine.tender_records import (
    MAX_FEATURES,
    MAX_OFFICERS,
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
    TenderCommand,
    TenderCreated,
    TenderEvent,
    TenderPublished,
    TenderSpec,
    Tick,
    WithdrawEnvelope,
    decode_tender_command,
    decode_tender_event,
    feature_value,
    is_commitment,
    schedule_problem,
)

FIN = EnvelopeKind.FINANCIAL
DIGEST = "ab" * 32
LOT = LotSpec("L1", "North", 100, 110, (EnvelopeKind.QUALIFICATION, FIN))
SPEC = TenderSpec(
    title="Road repairs",
    currency="EUR",
    officers=(Officer("o1", "k1"), Officer("o2", "k2")),
    threshold=2,
    lots=(LOT,),
    publication=Publication.PUBLIC,
    follow_up=FollowUp.AWARD,
    auction_rules="",
)
MEAT = replace(
    SPEC,
    criterion=Criterion.MEAT,
    features=(Feature("quality", Decimal("1.5"), Decimal("0.5")),),
)
RANKING = (Rank(1, "ann", 900, Fraction(900, 7)), Rank(2, "bob", 950, 950))
OPENING = Opening("ann", DIGEST, 900, "EUR", "", "", (OfferedFeature("quality", "0.5"),), 12)

COMMANDS: list[Any] = [
    CreateTender("c1", 1, "o1", MEAT),
    PublishTender("c2", 2, "o1", "pk", "ceremony"),
    ChangeSchedule("c3", 3, "o1", "L1", 100, 110),
    SubmitEnvelope("c4", 4, "ann", "L1", FIN, DIGEST, 1_072),
    WithdrawEnvelope("c5", 5, "ann", "L1", FIN),
    ReadBids("c6", 6, "o2", "L1"),
    SubmitShare("c7", 7, "o1", "L1", FIN, "forged_share"),
    DiscardShares("c8", 8, "L1", "restart"),
    RecordOpening("c9", 9, "L1", FIN, (OPENING,)),
    ExcludeBidder("c10", 10, "o1", "L1", "bob", "papers"),
    Award("c11", 11, "o2", "L1"),
    HandOff("c12", 12, "o2", "L1", "a-1"),
    Tick("c13", 13),
]
EVENTS: list[Any] = [
    TenderCreated(1, 1, "o1", MEAT),
    TenderPublished(2, 2, "o1", "pk", "ceremony"),
    ScheduleChanged(3, 3, "o1", "L1", 100, 110),
    EnvelopeReceived(4, 4, "ann", "L1", FIN, DIGEST, 1_072, None),
    EnvelopeWithdrawn(5, 5, "ann", "L1", FIN, DIGEST),
    LotClosed(6, 100, "L1", 2),
    BidsRead(7, 101, "o2", "L1"),
    ShareAccepted(8, 110, "o1", "L1", FIN, 1),
    SharesDiscarded(9, 111, "L1", FIN, "restart"),
    EnvelopeOpened(10, 112, "L1", FIN, "ann", DIGEST, 900, "", (OfferedFeature("q", "1"),), 3),
    EnvelopeInvalid(11, 112, "L1", FIN, "bob", DIGEST, "unreadable"),
    StageOpened(12, 112, "L1", FIN, 1, 1),
    BidderExcluded(13, 113, "o1", "L1", "bob", "papers"),
    LotOpened(14, 113, "L1"),
    LotAwarded(15, 114, "o2", "L1", "ann", 900, RANKING),
    LotHandedOff(16, 115, "o2", "L1", "a-1", RANKING),
    CommandRejected(17, 116, "c", "Award", "o2", Reason.LOT_DECIDED, "lot L1 is decided"),
]


# ------------------------------------------------------------------------- the records


def test_every_record_type_has_a_sample_and_is_frozen_and_slotted() -> None:
    assert {type(c) for c in COMMANDS} == set(typing.get_args(TenderCommand))
    assert {type(e) for e in EVENTS} == set(typing.get_args(TenderEvent))
    for record in (*COMMANDS, *EVENTS, SPEC, LOT, OPENING, RANKING[0], Officer("o", "k")):
        assert not hasattr(record, "__dict__"), type(record)
        first = dataclasses.fields(record)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, first, None)


def test_commands_carry_an_id_and_a_time_and_events_a_seq_and_a_time() -> None:
    for command in COMMANDS:
        assert [f.name for f in dataclasses.fields(command)][:2] == ["command_id", "at"]
    for event in EVENTS:
        assert [f.name for f in dataclasses.fields(event)][:2] == ["seq", "at"]


@pytest.mark.parametrize("record", COMMANDS, ids=lambda r: type(r).__name__)
def test_every_command_survives_the_codec(record: Any) -> None:
    assert decode_tender_command(encode(record)) == record


@pytest.mark.parametrize("record", EVENTS, ids=lambda r: type(r).__name__)
def test_every_event_survives_the_codec(record: Any) -> None:
    data = encode(record)
    assert decode_tender_event(data) == record
    assert encode(decode_tender_event(data)) == data


def test_the_codec_refuses_what_it_did_not_write() -> None:
    with pytest.raises(MalformedRecord):
        decode_tender_event(encode(COMMANDS[0]))  # a command is not an event
    with pytest.raises(MalformedRecord):
        decode_tender_command(encode(EVENTS[0]))
    loose = to_data(EVENTS[2])
    with pytest.raises(MalformedRecord, match="canonical"):
        decode_tender_event(dumps(loose).replace(b",", b", ", 1))
    # Criterion and features are always recorded: a spec without them is malformed.
    created = to_data(EVENTS[0])
    del created["spec"]["criterion"], created["spec"]["features"]
    with pytest.raises(MalformedRecord, match="criterion"):
        decode_tender_event(dumps(created))
    for junk in (b"", b"[]", b"{}", b'{"type": "TenderCreated"}', b"\xff"):
        with pytest.raises(MalformedRecord):
            decode_tender_event(junk)


# -------------------------------------------------------------------------- the helpers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", Decimal(0)),
        ("0.25", Decimal("0.25")),
        ("12", Decimal(12)),
        ("007.50", Decimal("7.5")),
        ("9" * 40, Decimal("9" * 40)),
    ],
)
def test_feature_values_are_plain_non_negative_decimals(text: str, value: Decimal) -> None:
    assert feature_value(text) == value


@pytest.mark.parametrize(
    "text",
    ["", "-1", "+1", "1e5", "1E+2", " 1", "1 ", ".5", "5.", "1.2.3", "NaN", "inf", "1,5", "9" * 41],
)
def test_anything_else_is_not_a_feature_value(text: str) -> None:
    assert feature_value(text) is None


@given(st.text(max_size=45))
def test_a_feature_value_is_a_finite_non_negative_decimal_or_nothing(text: str) -> None:
    value = feature_value(text)
    if value is not None:
        assert value.is_finite() and value >= 0 and set(text) <= set("0123456789.")


def test_commitments_are_lower_case_sha256_hex() -> None:
    assert is_commitment(DIGEST) and is_commitment("0" * 64)
    for value in ("AB" * 32, DIGEST[:-1], DIGEST + "0", "g" * 64, ""):
        assert not is_commitment(value)


def test_schedule_problems() -> None:
    assert schedule_problem(100, 100, 99) is None
    assert schedule_problem(100, 100, 100) == "deadline must be in the future"
    assert schedule_problem(100, 99, 50) == "opening_at must not be before the deadline"


# ------------------------------------------------------------------- the spec's problems


def test_a_good_spec_has_no_problem() -> None:
    assert SPEC.problem(0) is None and MEAT.problem(0) is None
    assert SPEC.criterion is Criterion.PRICE and SPEC.features == ()
    auction = replace(SPEC, follow_up=FollowUp.AUCTION, auction_rules='{"format": "multiround"}')
    assert auction.problem(0) is None


def _feature(**changes: Any) -> Feature:
    return replace(Feature("quality", Decimal(1), Decimal(1)), **changes)


PROBLEMS: list[tuple[dict[str, Any], str]] = [
    ({"currency": "XXX"}, "unknown currency 'XXX'"),
    ({"officers": ()}, f"officers must be distinct, 1 to {MAX_OFFICERS} of them"),
    ({"officers": (Officer("o1", "a"), Officer("o1", "b"))}, "officers must be distinct"),
    (
        {"officers": tuple(Officer(f"o{i}", "k") for i in range(MAX_OFFICERS + 1))},
        "officers must be distinct",
    ),
    ({"threshold": 0}, "threshold must be 1..2"),
    ({"threshold": 3}, "threshold must be 1..2"),
    ({"lots": ()}, "lots must be distinct and at least one"),
    ({"lots": (LOT, LOT)}, "lots must be distinct and at least one"),
    ({"lots": (replace(LOT, deadline=0),)}, "lot L1: deadline must be in the future"),
    ({"lots": (replace(LOT, opening_at=99),)}, "lot L1: opening_at must not be before"),
    ({"lots": (replace(LOT, kinds=()),)}, "lot L1: envelope kinds must be distinct"),
    ({"lots": (replace(LOT, kinds=(FIN, FIN)),)}, "lot L1: envelope kinds must be distinct"),
    ({"auction_rules": "{}"}, "auction_rules is needed by, and only by, follow_up auction"),
    ({"follow_up": FollowUp.AUCTION}, "auction_rules is needed by, and only by"),
    ({"features": (_feature(),)}, "features are for the meat criterion only, not price"),
    ({"criterion": Criterion.MEAT}, f"the meat criterion needs 1 to {MAX_FEATURES} declared"),
    (
        {
            "criterion": Criterion.MEAT,
            "features": tuple(_feature(name=f"f{i}") for i in range(MAX_FEATURES + 1)),
        },
        "the meat criterion needs",
    ),
    (
        {"criterion": Criterion.MEAT, "features": (_feature(), _feature())},
        "feature names must be distinct, 1 to 100 characters",
    ),
    ({"criterion": Criterion.MEAT, "features": (_feature(name=""),)}, "feature names must be"),
    (
        {"criterion": Criterion.MEAT, "features": (_feature(name="x" * 101),)},
        "feature names must be",
    ),
    (
        {"criterion": Criterion.MEAT, "features": (_feature(weight=Decimal(0)),)},
        "feature 'quality': weight must be a decimal in (0, 1000]",
    ),
    (
        {"criterion": Criterion.MEAT, "features": (_feature(maximum=Decimal(1001)),)},
        "feature 'quality': maximum must be a decimal in (0, 1000]",
    ),
    (
        {"criterion": Criterion.MEAT, "features": (_feature(weight=Decimal("NaN")),)},
        "feature 'quality': weight must be",
    ),
    (
        {"criterion": Criterion.LIFE_CYCLE_COST, "features": (_feature(),)},
        "features are for the meat criterion only, not life_cycle_cost",
    ),
]


@pytest.mark.parametrize(("changes", "problem"), PROBLEMS)
def test_each_problem_of_a_spec_is_named(changes: dict[str, Any], problem: str) -> None:
    found = replace(SPEC, **changes).problem(0)
    assert found is not None and found.startswith(problem), found
