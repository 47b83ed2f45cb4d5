"""round_passer: improves on its turn while within value, else passes."""

from __future__ import annotations

import random

from bidders_sim.strategies.round_passer import RoundPasser
from bidders_sim.strategy import Bid, Pass
from tests.bidders_sim.strategies.views import view


def make(value: int) -> RoundPasser:
    return RoundPasser(party="p", value=value, rng=random.Random(1))


def test_bids_on_its_turn_while_it_can_improve() -> None:
    assert make(45_000_00).decide(view("multi_round")) == Bid(49_500_00)
    assert make(49_500_00).decide(view("multi_round")) == Bid(49_500_00)


def test_passes_when_it_cannot() -> None:
    assert make(49_500_01).decide(view("multi_round")) == Pass()
    assert make(45_000_00).decide(view("multi_round", next_valid=None)) == Pass()


def test_silent_off_turn_and_elsewhere() -> None:
    assert make(45_000_00).decide(view("multi_round", my_turn=False)) is None
    assert make(45_000_00).decide(view("multi_round", phase="ended")) is None
    assert make(45_000_00).decide(view("reverse")) is None
    assert make(45_000_00).wake_at(view("multi_round")) is None
