"""Small builders shared by the engine tests: rules, a recorded auction, the reject check.

Times are microseconds (``S`` is one second); amounts in rules are minor units, amounts in
commands are decimal strings in major units, as a bidder types them.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import replace
from decimal import Decimal
from typing import Any

from engine import (
    Auction,
    CommandRejected,
    CreateAuction,
    EnglishRules,
    Event,
    Reason,
    RegisterBidder,
    ReverseRules,
    SetProxy,
    Step,
    Tick,
    replay,
)
from engine.commands import Command, PlaceBid

#: One second in microseconds.
S = 1_000_000
#: Default opening and scheduled close of the auctions built here.
START = 100 * S
END = 200 * S


def english(**changes: Any) -> EnglishRules:
    """EUR sale from ``START`` to ``END``: start 10.00, step 1.00 unless ``changes`` say so."""
    rules = EnglishRules(
        currency="EUR", starts_at=START, ends_at=END, start_price=1000, step=Step(amount=100)
    )
    return replace(rules, **changes)


def reverse(**changes: Any) -> ReverseRules:
    """EUR procurement from ``START`` to ``END``: ceiling 100.00, step 1.00 unless changed."""
    rules = ReverseRules(
        currency="EUR", starts_at=START, ends_at=END, start_price=10_000, step=Step(amount=100)
    )
    return replace(rules, **changes)


class Run:
    """An auction driven through ``handle`` with every event it produced kept in order."""

    def __init__(self) -> None:
        self.auction = Auction()
        self.events: list[Event] = []
        self._ids = itertools.count(1)

    def next_id(self) -> str:
        """A fresh command id."""
        return f"cmd-{next(self._ids)}"

    def __call__(self, command: Command) -> list[Event]:
        events = self.auction.handle(command)
        self.events.extend(events)
        return events

    def bid(self, bidder: str, amount: str, at: int, currency: str = "EUR") -> list[Event]:
        """Place a manual bid of ``amount`` major units."""
        return self(PlaceBid(self.next_id(), at, bidder, Decimal(amount), currency))

    def proxy(self, bidder: str, limit: str, at: int, currency: str = "EUR") -> list[Event]:
        """Set a proxy limit of ``limit`` major units."""
        return self(SetProxy(self.next_id(), at, bidder, Decimal(limit), currency))

    def tick(self, at: int) -> list[Event]:
        """Let time pass to ``at``."""
        return self(Tick(self.next_id(), at))

    def check(self) -> None:
        """The invariants hold and the log replays to an equal auction."""
        self.auction._check()
        assert replay(self.events) == self.auction


def started(
    rules: EnglishRules | ReverseRules,
    bidders: tuple[str, ...] = ("ann", "bob", "cat"),
    **scoring: tuple[str, str],
) -> Run:
    """Create ``rules``, register ``bidders`` before the start, then open bidding.

    ``scoring`` maps a bidder to its ``(coefficient, cost)`` as decimal strings.
    """
    run = Run()
    run(CreateAuction(run.next_id(), 0, rules))
    for name in bidders:
        coefficient, cost = scoring.get(name, ("0", "0"))
        run(RegisterBidder(run.next_id(), 0, name, Decimal(coefficient), Decimal(cost)))
    run.tick(rules.starts_at)
    return run


def assert_rejected(run: Run, command: Command, reason: Reason) -> CommandRejected:
    """``command`` yields exactly one ``CommandRejected`` for ``reason`` and changes nothing
    but ``seq``; the log still replays to an equal auction."""
    seq = run.auction.seq
    before = copy.deepcopy(run.auction.state())
    events = run(command)
    assert len(events) == 1, events
    rejected = events[0]
    assert isinstance(rejected, CommandRejected), rejected
    assert rejected.reason is reason, rejected
    assert rejected.command_id == command.command_id
    # state() is (phase, seq, ...): everything but the position in the log must match.
    after = run.auction.state()
    assert run.auction.seq == rejected.seq == seq + 1
    assert after[:1] + after[2:] == before[:1] + before[2:]
    run.check()
    return rejected
