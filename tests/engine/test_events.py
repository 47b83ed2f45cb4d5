"""The auction's events (engine/events.py): frozen, slotted, never subclassed records with
``seq`` and ``at`` first; their fast ``__init__`` behaves as the dataclass one; all carried
through the canonical codec."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

import engine.events
from engine.codec import decode_event, encode_event
from engine.errors import MalformedRecord
from engine.events import (
    AuctionCreated,
    AuctionEnded,
    AuctionStarted,
    BidAccepted,
    BidderDisqualified,
    BidderRegistered,
    BidWithdrawn,
    Bound,
    BoundKind,
    CommandRejected,
    EndExtended,
    Event,
    Outcome,
    PriceChanged,
    ProxySet,
    RoundEnded,
    RoundStarted,
    Standing,
    TurnEnded,
    TurnStarted,
)
from engine.reasons import Reason
from tests.engine.helpers import english

RANKING = (Standing(1, "ann", 900, Fraction(900, 11)), Standing(2, "bob", 950, 950))
SAMPLES: list[Any] = [
    AuctionCreated(1, 0, english()),
    AuctionStarted(2, 10, 100),
    BidderRegistered(3, 1, "ann", "Bidder 1", Decimal("0.1"), 500, 90_000),
    BidderDisqualified(4, 11, "bob", "late papers"),
    BidAccepted(5, 12, "c-1", "ann", 900, Fraction(900, 11), True),
    BidWithdrawn(6, 13, "c-2", "ann"),
    ProxySet(7, 14, "c-3", "ann", 2_000),
    EndExtended(8, 15, 130),
    PriceChanged(9, 16, 800, 26),
    RoundStarted(10, 17, 1, ("bob", "ann")),
    TurnStarted(11, 17, 1, "bob", 47),
    TurnEnded(12, 20, 1, "bob", None, None, True),
    RoundEnded(13, 21, 1, None),
    AuctionEnded(14, 100, Outcome.AWARDED, ("ann",), 900, Fraction(900, 11), RANKING, ""),
    CommandRejected(15, 101, "c-4", "PlaceBid", None, Reason.AUCTION_CLOSED, "closed"),
]
#: A rejection naming an amount: its bound rides along (and through the codec).
BOUNDED = CommandRejected(
    16,
    102,
    "c-5",
    "PlaceBid",
    "ann",
    Reason.INSUFFICIENT_IMPROVEMENT,
    "at least 1150.00 EUR",
    Bound(BoundKind.MIN, 115_000, "EUR"),
)


def test_the_union_is_every_event_and_every_event_has_a_sample() -> None:
    kinds = set(typing.get_args(Event))
    assert kinds == {type(sample) for sample in SAMPLES}
    exported = {name for name in engine.events.__all__ if name not in ("Event", "Outcome")}
    parts = {"Standing", "Bound", "BoundKind", "refused_amount"}
    assert exported == {kind.__name__ for kind in kinds} | parts


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_an_event_is_frozen_slotted_and_starts_with_its_seq_and_time(event: Any) -> None:
    assert not hasattr(event, "__dict__")
    assert [f.name for f in dataclasses.fields(event)][:2] == ["seq", "at"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.seq = 0
    assert type(event).__subclasses__() == []


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_the_fast_init_takes_the_fields_by_position_or_by_name(event: Any) -> None:
    kind = type(event)
    names = [f.name for f in dataclasses.fields(kind)]
    assert list(inspect.signature(kind.__init__).parameters)[1:] == names
    values = {name: getattr(event, name) for name in names}
    assert kind(**values) == event == kind(*values.values())
    # Only a field added after logs were written has a default (None, omitted when None).
    required = [f for f in dataclasses.fields(kind) if f.default is dataclasses.MISSING]
    optional = [f for f in dataclasses.fields(kind) if f.default is not dataclasses.MISSING]
    assert all(f.default is None and f.metadata["omit_none"] for f in optional)
    assert [f.name for f in optional] == (["bound"] if kind is CommandRejected else [])
    with pytest.raises(TypeError):
        kind(*list(values.values())[: len(required) - 1])


def test_a_bound_takes_its_default_in_the_fast_init_and_is_kept_when_given() -> None:
    plain = SAMPLES[-1]
    assert plain.bound is None
    fields = [getattr(BOUNDED, f.name) for f in dataclasses.fields(CommandRejected)]
    assert CommandRejected(*fields) == BOUNDED
    assert CommandRejected(*fields[:-1]).bound is None


def test_a_rejection_logged_before_bounds_existed_decodes_to_the_same_bytes() -> None:
    """Stored rejections have no ``bound`` member: they stay canonical (replay reads them),
    a ``null`` one is not canonical, and a bound is written as an object."""
    old = (
        b'{"at":101,"bidder":null,"command":"PlaceBid","command_id":"c-4",'
        b'"detail":"at least 110000","reason":"insufficient_improvement","seq":15,'
        b'"type":"CommandRejected"}'
    )
    event = decode_event(old)
    assert isinstance(event, CommandRejected)
    assert (event.detail, event.bound) == ("at least 110000", None)
    assert encode_event(event) == old
    with pytest.raises(MalformedRecord):
        decode_event(old.replace(b'"bidder"', b'"bound":null,"bidder"'))
    data = encode_event(BOUNDED)
    assert b'"bound":{"amount":115000,"currency":"EUR","kind":"min","type":"Bound"}' in data
    assert decode_event(data) == BOUNDED
    with pytest.raises(MalformedRecord):  # another record's missing field is still refused
        decode_event(encode_event(SAMPLES[0]).replace(b'"seq":1,', b""))


@pytest.mark.parametrize("event", [*SAMPLES, BOUNDED], ids=lambda e: type(e).__name__)
def test_an_event_survives_the_codec(event: Any) -> None:
    data = encode_event(event)
    assert decode_event(data) == event
    assert encode_event(decode_event(data)) == data


def test_outcomes_are_stable_wire_names() -> None:
    assert [o.value for o in Outcome] == [
        "awarded",
        "no_bids",
        "reserve_not_met",
        "limit_reached",
        "cancelled",
    ]
