"""ring: the designated winner rotates with the auction index; the cover loses."""

from __future__ import annotations

import random

import pytest

from bidders_sim.strategies.ring import Ring, RingMember
from bidders_sim.strategy import Accept, Bid, Pass
from tests.bidders_sim.strategies.views import view

MEMBERS = ("ann", "ben", "cid")


def member(party: str, index: int, value: int = 30_000_00) -> RingMember:
    return RingMember(party=party, value=value, rng=random.Random(1), ring=Ring(MEMBERS, index))


def test_designate_rotates_over_auctions() -> None:
    assert [Ring(MEMBERS, i).designate for i in range(6)] == [*MEMBERS, *MEMBERS]
    assert [Ring(MEMBERS, i).cover for i in range(3)] == ["ben", "cid", "ann"]
    for index in range(3):
        designated = [p for p in MEMBERS if member(p, index).designated]
        assert designated == [MEMBERS[index]]
    assert Ring(("solo",), 4).cover is None


def test_open_cry_designate_bids_cover_opens_others_stay_out() -> None:
    assert member("ann", 0).decide(view()) == Bid(1250_00)
    assert member("ann", 0, value=1200_00).decide(view()) is None
    assert member("ben", 0).decide(view()) is None  # the book is not empty
    empty = view(best=None, next_valid=1000_00, bids_seen=0)
    assert member("ben", 0).decide(empty) == Bid(1000_00)
    assert member("cid", 0).decide(empty) is None


def test_sealed_cover_bids_the_bound_designate_beats_it() -> None:
    assert member("cid", 2).decide(view("sealed")) == Bid(25_000_00)  # halfway to 30000
    assert member("ann", 2).decide(view("sealed")) == Bid(20_000_00)  # the cover
    assert member("ben", 2).decide(view("sealed")) is None


def test_dutch_and_multi_round() -> None:
    assert member("ann", 0, value=9_500_00).decide(view("dutch")) == Accept(9_500_00)
    assert member("ben", 0, value=9_900_00).decide(view("dutch")) is None
    assert member("ben", 0).wake_at(view("dutch")) is None
    assert member("ann", 0, value=40_000_00).decide(view("multi_round")) == Bid(49_500_00)
    assert member("ben", 0, value=40_000_00).decide(view("multi_round")) == Pass()
    assert member("ben", 0).decide(view("multi_round", my_turn=False)) is None


def test_bad_rings() -> None:
    with pytest.raises(ValueError):
        Ring((), 0)
    with pytest.raises(ValueError):
        Ring(("a", "a"), 0)
    with pytest.raises(ValueError):
        member("zed", 0)
