"""The auction's commands (engine/commands.py): frozen, slotted, never subclassed records
with ``command_id`` and ``at`` first, every one accepted by ``Auction.handle`` and carried
through the canonical codec."""

from __future__ import annotations

import dataclasses
import typing
from decimal import Decimal
from typing import Any

import pytest

import engine.commands
from engine import Auction, Event
from engine.codec import decode_command, encode_command
from engine.commands import (
    AcceptPrice,
    CancelAuction,
    Command,
    CreateAuction,
    DisqualifyBidder,
    PassTurn,
    PlaceBid,
    RegisterBidder,
    SetProxy,
    Tick,
    WithdrawBid,
)
from tests.engine.helpers import english

SAMPLES: list[Any] = [
    CreateAuction("c", 1, english()),
    RegisterBidder("r", 2, "ann", Decimal("0.5"), Decimal("12.00"), Decimal("90.00")),
    DisqualifyBidder("d", 3, "ann", "late papers"),
    PlaceBid("b", 4, "ann", Decimal("10.00"), "EUR"),
    SetProxy("p", 5, "ann", Decimal("20.00"), "EUR"),
    AcceptPrice("a", 6, "ann", Decimal("9.00"), "EUR"),
    WithdrawBid("w", 7, "ann"),
    PassTurn("t", 8, "ann"),
    CancelAuction("x", 9, "storm"),
    Tick("k", 10),
]


def test_the_union_is_every_command_and_every_command_has_a_sample() -> None:
    assert set(typing.get_args(Command)) == {type(sample) for sample in SAMPLES}
    assert set(engine.commands.__all__) == {t.__name__ for t in typing.get_args(Command)} | {
        "Command"
    }


@pytest.mark.parametrize("command", SAMPLES, ids=lambda c: type(c).__name__)
def test_a_command_is_frozen_slotted_and_starts_with_its_id_and_time(command: Any) -> None:
    assert not hasattr(command, "__dict__")
    assert [f.name for f in dataclasses.fields(command)][:2] == ["command_id", "at"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.at = 0
    assert type(command).__subclasses__() == []


@pytest.mark.parametrize("command", SAMPLES, ids=lambda c: type(c).__name__)
def test_a_command_survives_the_codec(command: Any) -> None:
    data = encode_command(command)
    assert decode_command(data) == command
    assert encode_command(decode_command(data)) == data


def test_defaults_are_those_of_a_plain_bidder_and_an_unconditional_accept() -> None:
    assert RegisterBidder("r", 1, "ann") == RegisterBidder(
        "r", 1, "ann", Decimal(0), Decimal(0), None
    )
    assert AcceptPrice("a", 1, "ann") == AcceptPrice("a", 1, "ann", None, None)
    assert DisqualifyBidder("d", 1, "ann").note == CancelAuction("x", 1).note == ""


def test_every_command_but_a_tick_with_nothing_due_is_answered_with_events() -> None:
    auction = Auction()
    for command in SAMPLES:
        events: list[Event] = auction.handle(command)
        # Accepted or rejected, never silent; a tick before any deadline changes nothing.
        assert bool(events) is (type(command) is not Tick), command
