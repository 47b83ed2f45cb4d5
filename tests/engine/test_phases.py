"""The phase tables (engine/phases.py) and how ``Auction.apply`` enforces them.

``TRANSITIONS`` must be consistent on its own and every row of it must be reachable by
real auctions; ``REFUSALS`` rows must be what a command in that phase gets. A log that
does not follow the tables (an event in the wrong phase, a gap or a swap in ``seq``, time
going backwards) is refused with ``CorruptLog`` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any, get_args

import pytest

from engine import (
    AcceptPrice,
    Auction,
    AuctionEnded,
    BidAccepted,
    CancelAuction,
    Command,
    CommandRejected,
    CorruptLog,
    CreateAuction,
    DisqualifyBidder,
    DutchRules,
    EnglishRules,
    Event,
    IllegalTransition,
    MultiRoundRules,
    PassTurn,
    Phase,
    PlaceBid,
    Reason,
    RegisterBidder,
    SealedRules,
    SetProxy,
    SoftClose,
    Step,
    Tick,
    WithdrawBid,
    replay,
)
from engine.phases import REFUSALS, TRANSITIONS
from tests.engine.helpers import Run, S, assert_rejected

EVENT_TYPES = frozenset(get_args(Event))
COMMAND_TYPES = frozenset(get_args(Command))

SEALED = SealedRules(currency="EUR", starts_at=10 * S, ends_at=100 * S)
MULTIROUND = MultiRoundRules(
    currency="EUR",
    starts_at=10 * S,
    turn_us=30 * S,
    step=Step(amount=100),
    rounds=2,
    pause_us=60 * S,
)


# -- the tables on their own ------------------------------------------------------------


def test_every_phase_has_a_row_in_both_tables() -> None:
    assert set(TRANSITIONS) == set(Phase)
    assert set(REFUSALS) == set(Phase)


def test_every_event_type_appears_in_the_transition_table() -> None:
    used = {kind for row in TRANSITIONS.values() for kind in row}
    assert used == EVENT_TYPES


def test_ended_only_allows_rejections_and_stays_ended() -> None:
    assert TRANSITIONS[Phase.ENDED] == {CommandRejected: Phase.ENDED}


def test_a_rejection_never_changes_the_phase() -> None:
    for phase, row in TRANSITIONS.items():
        assert row[CommandRejected] is phase


def test_auction_ended_always_leads_to_ended_and_nothing_leads_back_to_new() -> None:
    for phase, row in TRANSITIONS.items():
        if AuctionEnded in row:
            assert row[AuctionEnded] is Phase.ENDED
        for kind, following in row.items():
            assert following is not Phase.NEW or (phase, kind) == (Phase.NEW, CommandRejected)


def test_refusals_name_only_commands_and_never_refuse_a_tick() -> None:
    for row in REFUSALS.values():
        assert set(row) <= COMMAND_TYPES
        assert Tick not in row


def test_once_created_a_second_create_is_always_refused() -> None:
    for phase in Phase:
        if phase is not Phase.NEW:
            assert REFUSALS[phase][CreateAuction] is Reason.AUCTION_EXISTS


# -- every row of TRANSITIONS is reachable ------------------------------------------------


def _story(rules: Any, *commands: Command) -> list[Event]:
    """The log of ``rules`` created at 0 s and then ``commands``, replay-checked."""
    run = Run()
    run(CreateAuction("create", 0, rules))
    for command in commands:
        run(command)
    run.check()
    return run.events


def _bid(name: str, at: int, bidder: str, amount: str) -> PlaceBid:
    return PlaceBid(name, at, bidder, Decimal(amount), "EUR")


def _stories() -> Iterator[list[Event]]:
    # Invalid rules first (rejected while NEW), then a sealed auction with late
    # registration, withdrawal, a disqualification and a refused bid.
    yield _story(
        SealedRules(currency="EUR", starts_at=10 * S, ends_at=10 * S),
        CreateAuction("again", 1 * S, SEALED),
        RegisterBidder("r-a", 2 * S, "alice"),
        RegisterBidder("r-b", 2 * S, "bob"),
        DisqualifyBidder("d-b", 3 * S, "bob"),
        _bid("early", 4 * S, "alice", "5.00"),
        RegisterBidder("r-c", 20 * S, "carol"),
        DisqualifyBidder("d-c", 21 * S, "carol"),
        _bid("b-1", 22 * S, "alice", "5.00"),
        WithdrawBid("w-1", 23 * S, "alice"),
        _bid("b-2", 24 * S, "alice", "6.00"),
        PlaceBid("usd", 25 * S, "alice", Decimal("7.00"), "USD"),
        Tick("close", 100 * S),
        _bid("late", 101 * S, "alice", "8.00"),
    )
    # Cancelled before the start.
    yield _story(SEALED, CancelAuction("cancel", 5 * S))
    # A Dutch clock that moves once and is taken.
    dutch = DutchRules("EUR", 10 * S, 1_000, 100, 60 * S, 500)
    yield _story(
        dutch,
        RegisterBidder("r-a", 1 * S, "alice"),
        Tick("move", 70 * S),
        AcceptPrice("take", 80 * S, "alice"),
    )
    # An English sale with a proxy and a soft close.
    english = EnglishRules(
        "EUR", 10 * S, 100 * S, 1_000, Step(amount=100), soft_close=SoftClose(10 * S, 10 * S)
    )
    yield _story(
        english,
        RegisterBidder("r-a", 1 * S, "alice"),
        RegisterBidder("r-b", 1 * S, "bob"),
        SetProxy("proxy", 20 * S, "alice", Decimal("20.00"), "EUR"),
        _bid("late", 95 * S, "bob", "12.00"),
        Tick("close", 200 * S),
    )
    # Multi-round: a disqualification and a refused bid during the pause, then the end
    # after the last round (RoundEnded moves to PAUSED, AuctionEnded follows).
    yield _story(
        MULTIROUND,
        RegisterBidder("r-a", 1 * S, "alice", initial_bid=Decimal("10.00")),
        RegisterBidder("r-b", 1 * S, "bob", initial_bid=Decimal("9.00")),
        RegisterBidder("r-c", 1 * S, "carol", initial_bid=Decimal("11.00")),
        Tick("round-1-over", 100 * S),
        DisqualifyBidder("d-c", 110 * S, "carol"),
        _bid("paused", 111 * S, "alice", "8.00"),
        Tick("all-over", 1_000 * S),
    )
    # Multi-round cancelled during the pause.
    yield _story(
        MULTIROUND,
        RegisterBidder("r-a", 1 * S, "alice", initial_bid=Decimal("10.00")),
        RegisterBidder("r-b", 1 * S, "bob", initial_bid=Decimal("9.00")),
        Tick("round-1-over", 70 * S),
        CancelAuction("cancel", 80 * S),
    )


def test_every_row_of_the_transition_table_is_reached_by_real_auctions() -> None:
    reached: set[tuple[Phase, type[Any]]] = set()
    for log in _stories():
        auction = Auction()
        for event in log:
            before = auction.phase
            auction.apply(event)
            reached.add((before, type(event)))
            assert auction.phase is TRANSITIONS[before][type(event)]
    rows = {(phase, kind) for phase, row in TRANSITIONS.items() for kind in row}
    assert reached == rows


# -- every row of REFUSALS is what a command gets ----------------------------------------------


def _in_phase(phase: Phase) -> tuple[Run, int]:
    """An auction in ``phase`` and a time at which it is still in it."""
    run = Run()
    rules: Any = MULTIROUND if phase is Phase.PAUSED else SEALED
    run(CreateAuction("create", 0, rules))
    for bidder, offer in (("alice", "10.00"), ("bob", "9.00")):
        initial = Decimal(offer) if phase is Phase.PAUSED else None
        run(RegisterBidder(f"r-{bidder}", 1 * S, bidder, initial_bid=initial))
    if phase is Phase.SCHEDULED:
        return run, 5 * S
    if phase is Phase.RUNNING:
        run.tick(10 * S)
        return run, 20 * S
    if phase is Phase.PAUSED:
        run.tick(70 * S)  # two 30 s turns from 10 s; round 2 resumes at 130 s
        return run, 80 * S
    run(CancelAuction("cancel", 5 * S))
    return run, 6 * S


_COMMANDS: dict[type[Any], Callable[[int], Command]] = {
    CreateAuction: lambda at: CreateAuction("create-again", at, SEALED),
    RegisterBidder: lambda at: RegisterBidder("register", at, "carol"),
    DisqualifyBidder: lambda at: DisqualifyBidder("disqualify", at, "alice"),
    CancelAuction: lambda at: CancelAuction("cancel-again", at),
    PlaceBid: lambda at: PlaceBid("bid", at, "alice", Decimal("5.00"), "EUR"),
    SetProxy: lambda at: SetProxy("proxy", at, "alice", Decimal("5.00"), "EUR"),
    AcceptPrice: lambda at: AcceptPrice("accept", at, "alice"),
    WithdrawBid: lambda at: WithdrawBid("withdraw", at, "alice"),
    PassTurn: lambda at: PassTurn("pass", at, "alice"),
}


@pytest.mark.parametrize(
    ("phase", "kind", "reason"),
    [(phase, kind, reason) for phase, row in REFUSALS.items() for kind, reason in row.items()],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_every_refusal_row_is_the_reason_a_command_gets(
    phase: Phase, kind: type[Any], reason: Reason
) -> None:
    run, at = _in_phase(phase)
    assert run.auction.phase is phase
    assert_rejected(run, _COMMANDS[kind](at), reason)


def test_every_command_but_tick_has_a_sample() -> None:
    assert set(_COMMANDS) == COMMAND_TYPES - {Tick}


# -- apply refuses what does not follow --------------------------------------------------------


def _log() -> list[Event]:
    """A short sealed auction: created, two bidders, started, two bids, closed (seq 1-7)."""
    return _story(
        SEALED,
        RegisterBidder("r-a", 1 * S, "alice"),
        RegisterBidder("r-b", 2 * S, "bob"),
        _bid("b-a", 20 * S, "alice", "5.00"),
        _bid("b-b", 30 * S, "bob", "6.00"),
        Tick("close", 100 * S),
    )


def test_event_not_allowed_in_the_phase_is_an_illegal_transition() -> None:
    log = _log()
    auction = replay(log[:3])  # scheduled: created and two registrations
    before = auction.state()
    bid = BidAccepted(4, 5 * S, "b", "alice", 500, 500, False)
    with pytest.raises(IllegalTransition):
        auction.apply(bid)
    assert auction.state() == before
    assert issubclass(IllegalTransition, CorruptLog)


def test_ended_auction_takes_nothing_but_rejections() -> None:
    log = _log()
    auction = replay(log)
    with pytest.raises(IllegalTransition):
        auction.apply(BidAccepted(8, 200 * S, "b", "bob", 900, 900, False))
    rejection = CommandRejected(8, 200 * S, "x", "PlaceBid", "bob", Reason.AUCTION_CLOSED, "")
    auction.apply(rejection)
    assert auction.seq == 8


def test_event_with_the_wrong_seq_is_a_corrupt_log() -> None:
    log = _log()
    auction = replay(log[:4])
    before = auction.state()
    for seq in (4, 6):  # a repeat of the last seq, and one that skips 5
        with pytest.raises(CorruptLog):
            auction.apply(replace(log[4], seq=seq))
    assert auction.state() == before


def test_event_before_the_last_one_in_time_is_a_corrupt_log() -> None:
    log = _log()
    auction = replay(log[:5])  # the last event is alice's bid at 20 s
    with pytest.raises(CorruptLog, match="before"):
        auction.apply(replace(log[5], at=19 * S))


def test_replay_without_an_event_is_a_corrupt_log() -> None:
    log = _log()
    for missing in range(len(log) - 1):  # dropping the last event leaves a valid prefix
        with pytest.raises(CorruptLog):
            replay(log[:missing] + log[missing + 1 :])


def test_replay_with_two_events_swapped_is_a_corrupt_log() -> None:
    log = _log()
    for first in range(len(log) - 1):
        swapped = log[:first] + [log[first + 1], log[first]] + log[first + 2 :]
        with pytest.raises(CorruptLog):
            replay(swapped)


def test_replay_with_two_events_swapped_and_renumbered_is_still_refused() -> None:
    log = _log()
    # The two bids (20 s and 30 s) swapped with their seqs fixed up: time goes backwards.
    swapped = log[:4] + [replace(log[5], seq=5), replace(log[4], seq=6)] + log[6:]
    with pytest.raises(CorruptLog, match="before"):
        replay(swapped)
    # The creation and the first registration swapped and renumbered: nothing but
    # AuctionCreated may come first.
    renumbered = [replace(log[1], seq=1), replace(log[0], seq=2)] + log[2:]
    with pytest.raises(IllegalTransition):
        replay(renumbered)
