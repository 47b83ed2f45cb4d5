"""The scripted demo auctions end as worked out by hand in their docstrings."""

from __future__ import annotations

from fractions import Fraction

import pytest

from bidders_sim.scripted import START, Scenario, play, scenarios
from engine import (
    Auction,
    AuctionEnded,
    BidAccepted,
    CommandRejected,
    CreateAuction,
    EndExtended,
    Outcome,
    Phase,
    PriceChanged,
    Reason,
    RoundStarted,
    Tick,
    replay,
)
from engine.codec import encode_event
from engine.commands import Command
from engine.events import Event

#: name -> (winner, clearing price, clearing score, ranking best first), by hand.
EXPECTED: dict[str, tuple[str, int, int | Fraction, tuple[str, ...]]] = {
    "english": ("alice", 1950_00, 1950_00, ("alice", "carol", "bob")),
    "reverse": ("gamma", 94000_00, Fraction(75200_00), ("gamma", "alpha", "beta")),
    "dutch": ("dana", 8000_00, 8000_00, ("dana",)),
    "sealed_first": ("hana", 29000_00, 29000_00, ("hana", "jun", "kai", "ivan")),
    "sealed_second": ("lima", 40000_00, 45000_00, ("lima", "mike", "nora")),
    "multiround": ("vega", 44300_00, 44300_00, ("vega", "polaris", "orion")),
}


def _played(scenario: Scenario) -> tuple[Auction, list[tuple[Command, list[Event]]]]:
    auction = Auction()
    steps = list(play(scenario, auction))
    return auction, steps


def _by_name() -> dict[str, Scenario]:
    return {scenario.name: scenario for scenario in scenarios()}


def test_every_format_has_one_scenario() -> None:
    assert list(_by_name()) == list(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_scenario_ends_with_the_expected_award(name: str) -> None:
    winner, price, score, ranking = EXPECTED[name]
    auction, _ = _played(_by_name()[name])
    ended = auction.ended
    assert ended is not None
    assert ended.outcome is Outcome.AWARDED
    assert ended.winners == (winner,)
    assert ended.price == price
    assert ended.score == score
    assert tuple(standing.bidder for standing in ended.ranking) == ranking


@pytest.mark.parametrize("name", list(EXPECTED))
def test_play_ticks_like_a_runner_and_ends(name: str) -> None:
    scenario = _by_name()[name]
    auction, steps = _played(scenario)
    assert auction.phase is Phase.ENDED
    assert auction.next_deadline() is None
    times = [command.at for command, _ in steps]
    assert times == sorted(times)
    ids = [command.command_id for command, _ in steps]
    assert len(set(ids)) == len(ids)
    scripted = [command for command, _ in steps if type(command) is not Tick]
    assert tuple(scripted) == scenario.commands
    # Every event of a tick takes effect at a deadline the auction announced.
    for command, events in steps:
        if type(command) is Tick:
            assert events
            assert all(event.at == command.at for event in events)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_scenario_replays_and_is_deterministic(name: str) -> None:
    scenario = _by_name()[name]
    auction, steps = _played(scenario)
    events = [event for _, batch in steps for event in batch]
    assert replay(events) == auction
    _, again = _played(scenario)
    assert [encode_event(e) for _, batch in again for e in batch] == [
        encode_event(e) for e in events
    ]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_scenario_shows_a_rejection(name: str) -> None:
    _, steps = _played(_by_name()[name])
    assert any(type(e) is CommandRejected for _, batch in steps for e in batch)


def test_scenario_rules_are_its_create_command() -> None:
    for scenario in scenarios():
        first = scenario.commands[0]
        assert isinstance(first, CreateAuction)
        assert scenario.rules is first.rules
        assert scenario.rules.starts_at == START


def test_english_proxy_bid_extends_the_close() -> None:
    _, steps = _played(_by_name()["english"])
    # alice's SetProxy at 05:40: her proxy bid lands inside the last minute.
    proxy_steps = [batch for command, batch in steps if command.command_id == "en-12"]
    (batch,) = proxy_steps
    kinds = [type(event) for event in batch]
    bid_index = kinds.index(BidAccepted)
    accepted = batch[bid_index]
    assert isinstance(accepted, BidAccepted) and accepted.proxy
    assert type(batch[bid_index + 1]) is EndExtended


def test_dutch_clock_moves_once_per_interval() -> None:
    _, steps = _played(_by_name()["dutch"])
    prices = [e.price for _, batch in steps for e in batch if isinstance(e, PriceChanged)]
    assert prices == [10000_00, 9500_00, 9000_00, 8500_00, 8000_00]


def test_multiround_runs_three_rounds_worst_offer_first() -> None:
    _, steps = _played(_by_name()["multiround"])
    rounds = [e for _, batch in steps for e in batch if isinstance(e, RoundStarted)]
    assert [r.order for r in rounds] == [
        ("vega", "orion", "polaris"),
        ("polaris", "vega", "orion"),
        ("orion", "polaris", "vega"),
    ]
    reasons = {e.reason for _, batch in steps for e in batch if isinstance(e, CommandRejected)}
    assert reasons == {
        Reason.ABOVE_START_PRICE,
        Reason.OUT_OF_TURN,
        Reason.INSUFFICIENT_IMPROVEMENT,
    }


def test_last_event_is_the_award() -> None:
    for scenario in scenarios():
        auction, steps = _played(scenario)
        events = [e for _, batch in steps for e in batch if type(e) is not CommandRejected]
        assert isinstance(events[-1], AuctionEnded)
        assert events[-1] is auction.ended
