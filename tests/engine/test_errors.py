"""The engine's exception tree (engine/errors.py): the shape drawn in its docstring, and
which calls raise which branch."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

import engine.errors
from engine import Auction, CreateAuction, PlaceBid, Tick
from engine.codec import decode_event
from engine.errors import (
    AuctionNotCreated,
    ClockWentBackwards,
    CorruptLog,
    EngineError,
    EngineMisuse,
    IllegalTransition,
    MalformedRecord,
    UnknownCommand,
)
from engine.events import BidAccepted
from tests.engine.helpers import english

PARENTS: dict[type[Exception], type[Exception]] = {
    EngineMisuse: EngineError,
    ClockWentBackwards: EngineMisuse,
    AuctionNotCreated: EngineMisuse,
    UnknownCommand: EngineMisuse,
    CorruptLog: EngineError,
    IllegalTransition: CorruptLog,
    MalformedRecord: CorruptLog,
}


def test_the_tree_is_the_one_in_the_docstring() -> None:
    assert EngineError.__bases__ == (Exception,)
    for error, parent in PARENTS.items():
        assert error.__bases__[0] is parent, error
    assert set(engine.errors.__all__) == {c.__name__ for c in (EngineError, *PARENTS)}
    doc = engine.errors.__doc__ or ""
    drawn = set(re.findall(r"[├└]── (\w+)", doc)) | {"EngineError"}
    assert drawn == set(engine.errors.__all__)


def test_misuse_is_also_an_assertion_error_and_a_corrupt_log_is_not() -> None:
    for error in (EngineMisuse, ClockWentBackwards, AuctionNotCreated, UnknownCommand):
        assert issubclass(error, AssertionError)
    for error in (CorruptLog, IllegalTransition, MalformedRecord):
        assert not issubclass(error, AssertionError)


def test_each_misuse_is_raised_where_the_contract_is_broken() -> None:
    auction = Auction()
    with pytest.raises(AuctionNotCreated):
        auction.handle(Tick("t", 0))
    with pytest.raises(UnknownCommand):
        auction.handle("not a command")  # type: ignore[arg-type]  # the misuse under test
    auction.handle(CreateAuction("c", 10, english()))
    with pytest.raises(ClockWentBackwards):
        auction.handle(PlaceBid("b", 9, "ann", Decimal("10.00"), "EUR"))


def test_a_log_that_cannot_follow_is_a_corrupt_log() -> None:
    with pytest.raises(IllegalTransition):
        Auction().apply(BidAccepted(1, 0, "b", "ann", 100, 100, False))
    with pytest.raises(MalformedRecord):
        decode_event(b"{}")
