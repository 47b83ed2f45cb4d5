"""``gavel bench engine``: throughput, latency and memory of the pure engine, per format.

Workload
--------
For each format a seeded workload (``random.Random(seed)``) writes realistic command
streams for auctions of ``bidders`` bidders (default 1,000) until at least ``commands``
commands (default 1,000,000) have been handled. Every command counts, registrations and
ticks included; an auction in progress is always played to its end.

- ``english`` / ``reverse``: one auction. All bidders register, then the bid stream runs
  for about an hour of auction time: about 56 % bids one to three steps past the live
  best price (accepted), 30 % bids that lost the race (at or a step or two short of the
  best: ``insufficient_improvement``), and a few each of three decimals, the wrong
  currency, an unknown bidder, a zero or negative amount, an absurd amount, and proxies
  (ten of the bidders set a secret limit 5 to 50 steps ahead, so proxies answer bids).
  Soft close is on (60 s window, 60 s extension) and the last few percent of the bids
  fall inside it. The English price rises from 1,000.00 EUR by steps of 1.00; the
  reverse price falls from 10,000,000.00 UAH by steps of 1.00, ranked by price.
- ``dutch``: auctions one after another. All bidders register; the clock falls from
  10,000.00 EUR by 50.00 every 5 s; after 5 to 60 prices (or never, 1 auction in 20:
  the clock runs to its floor) one bidder takes the price, and 10 % to 50 % of the
  room clicks a moment later (``auction_closed``). On the way, a few bidders accept a
  price that just moved (``stale_price``) or send an ordinary bid (``not_supported``).
- ``sealed_first`` / ``sealed_second``: auctions one after another, a sale with a
  minimum and a reserve. Every bidder seals a bid; 40 % of the room replaces one,
  5 % withdraw (some with nothing to withdraw), and a few each are under the minimum,
  have three decimals, the wrong currency or an unknown bidder; 3 % arrive after the
  close. The close ranks all bids.
- ``multiround``: auctions one after another, 3 rounds, every bidder registered with an
  initial offer (1 % over the ceiling: rejected). Each turn: 10 % of the time another
  bidder bids out of turn; then the bidder passes (15 %), lets the turn run out (10 %),
  or bids an improvement (75 %, a tenth of them after a bid that improves too little)
  and then passes or lets the turn run out.

Ticks are sent as the runner sends them: before every command, a ``Tick`` at each
deadline ``next_deadline()`` reports at or before the command's time, and after the
stream, ticks until the auction has ended. The stream reads the live state (the best
price, whose turn it is), so it is generated against an auction too (see below).

What is timed
-------------
The identical command stream (same seed, same engine) is handled by three separate sets
of auctions, because each instrument distorts the others; the measured auctions are
checked to end in the same state as the shadow that wrote the stream.

1. Throughput. A *shadow* auction writes the stream (untimed: choosing and building
   each command, the shadow's own ``handle()``, counting rejections) in batches of
   10,000 commands. Each batch is then handled by the measured auctions inside one
   ``process_time_ns()`` pair: the timed loop is ``handle(command)`` per command, plus
   ``Auction()`` where a new auction begins. ``commands_per_s`` is commands divided by
   that CPU time: commands per second *per core*, as issue 2 states its target. The
   process is single-threaded, so on an idle machine this equals wall-clock time; on the
   shared development machines wall-clock time would mostly measure the neighbours.
   Python's cyclic GC runs as it would in a server, and its time counts.
2. Latency. After the throughput loop, the same batch goes to a second, separate set
   of auctions with ``perf_counter_ns()`` read around each ``handle()`` call (so the
   timer never runs inside the throughput loop); ``p50_us`` and ``p99_us`` are
   nearest-rank percentiles over every command.
3. Memory. A run of its own with ``tracemalloc`` on; the stream is written against the
   measured auction itself
   (no shadow, no batch: one command exists at a time), and finished auctions, which are
   reference cycles, are collected before the next starts. ``peak_memory_bytes`` is the
   traced peak: one live auction at its largest, plus a command and its events in flight.

``bytes_per_resting_bid``: an auction of the format with ``resting`` bidders registered
(default 100,000, fewer for short runs); ``tracemalloc`` starts, each bidder places one
bid that rests in the book (English: ascending, reverse: descending, sealed: random
amounts), and the traced memory still held after ``gc.collect()`` is divided by the
number of bids: the memory after the bids minus the memory of the same auction with
the bidders registered and no bids. Each bid names its bidder with a fresh string, as a
command decoded from the network does, so whatever the book keeps of the command
counts. ``None`` for ``dutch`` (at most one bid ever rests) and ``multiround`` (offers
enter the book with registration).

``accepted`` counts commands that were not refused (ticks and registrations included),
``rejected`` those answered with ``CommandRejected``.

Call order: :func:`main` for the CLI (``gavel bench engine …``, its flags in
:func:`build_parser`), :func:`run` with the flags parsed, or :func:`measure` for one
format, which returns a :class:`Result` (``as_dict()`` gives the JSON object).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import tracemalloc
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from random import Random
from time import perf_counter_ns, process_time_ns
from typing import Any, TextIO

from engine import (
    AcceptPrice,
    Auction,
    CommandRejected,
    CreateAuction,
    DutchRules,
    EnglishRules,
    MultiRoundRules,
    PassTurn,
    Phase,
    PlaceBid,
    Pricing,
    RegisterBidder,
    ReverseRules,
    SealedRules,
    SetProxy,
    Side,
    SoftClose,
    Step,
    Tick,
    WithdrawBid,
)
from engine.commands import Command
from engine.formats.multiround import MultiRound
from loadtests.arguments import positive

__all__ = [
    "DEFAULT_BIDDERS",
    "DEFAULT_COMMANDS",
    "DEFAULT_RESTING",
    "FORMATS",
    "KEYS",
    "Result",
    "build_parser",
    "main",
    "measure",
    "render_table",
    "run",
]

FORMATS: tuple[str, ...] = (
    "english",
    "reverse",
    "dutch",
    "sealed_first",
    "sealed_second",
    "multiround",
)
DEFAULT_COMMANDS = 1_000_000
DEFAULT_BIDDERS = 1_000
DEFAULT_RESTING = 100_000

#: The keys of each JSON object, in order.
KEYS: tuple[str, ...] = (
    "format",
    "commands",
    "accepted",
    "rejected",
    "commands_per_s",
    "p50_us",
    "p99_us",
    "peak_memory_bytes",
    "bytes_per_resting_bid",
    "python",
    "machine",
)

#: Issue 2's targets, printed under the table.
TARGET_COMMANDS_PER_S = 150_000
TARGET_BYTES_PER_RESTING_BID = 200

_BATCH = 10_000
_T0 = 1_767_225_600_000_000  # 2026-01-01 00:00:00 UTC, in microseconds
_SECOND = 1_000_000


@dataclass(frozen=True, slots=True)
class Result:
    """One format's figures; see the module docstring for how each is measured."""

    format: str
    commands: int
    accepted: int
    rejected: int
    commands_per_s: float
    p50_us: float
    p99_us: float
    peak_memory_bytes: int
    bytes_per_resting_bid: float | None
    python: str
    machine: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON object, keys in :data:`KEYS` order."""
        return {key: getattr(self, key) for key in KEYS}


# ------------------------------------------------------------------------- workloads


def _decimal(minor: int) -> Decimal:
    """``minor`` hundredths as the decimal a client sends: 123456 -> Decimal('1234.56')."""
    return Decimal(minor).scaleb(-2)


class _Workload:
    """Writes the command stream of one auction at a time for one format.

    ``auction(view, budget)`` yields one auction's commands, ``CreateAuction`` first. It
    reads ``view`` between commands, so the caller must have ``view`` handle each command
    before asking for the next. ``budget`` is how many commands are still wanted; a
    workload whose auctions have a natural size ignores it.
    """

    def __init__(self, seed: int, bidders: int) -> None:
        self.rng = Random(seed)
        # Built before any measurement starts, so tracemalloc does not count them.
        self.ids = [f"bidder-{i:05d}" for i in range(bidders)]
        self._next_id = 0

    def command_id(self) -> str:
        """A fresh command id (unique within the whole run, so within each auction)."""
        self._next_id += 1
        return f"c{self._next_id}"

    def auction(self, view: Auction, budget: int) -> Iterator[Command]:  # pragma: no cover
        raise NotImplementedError

    def _register_all(self, at: int) -> Iterator[Command]:
        for index, bidder in enumerate(self.ids):
            yield RegisterBidder(self.command_id(), at + index, bidder)


class _Open(_Workload):
    """English (``sale=True``) or reverse open: one long auction near the live best."""

    _GAP = 3_600  # mean µs between bids: 1,000,000 bids take about an hour
    _STEP = 100
    _PROXY_USERS = 10

    def __init__(self, seed: int, bidders: int, sale: bool) -> None:
        super().__init__(seed, bidders)
        self.sale = sale
        self.currency = "EUR" if sale else "UAH"
        self.start_price = 1_000_00 if sale else 10_000_000_00

    def auction(self, view: Auction, budget: int) -> Iterator[Command]:
        rng, ids, step, currency = self.rng, self.ids, self._STEP, self.currency
        bids = max(budget - len(ids) - 1, 0)
        starts = _T0 + 60 * _SECOND
        # The last ~3 % of the stream falls after the scheduled end, which soft close keeps
        # moving while accepted bids arrive inside the window.
        ends = starts + max(bids * self._GAP * 97 // 100, _SECOND)
        soft = SoftClose(60 * _SECOND, 60 * _SECOND)
        rules: EnglishRules | ReverseRules
        if self.sale:
            rules = EnglishRules(
                currency, starts, ends, self.start_price, Step(amount=step), soft_close=soft
            )
        else:
            rules = ReverseRules(
                currency, starts, ends, self.start_price, Step(amount=step), soft_close=soft
            )
        yield CreateAuction(self.command_id(), _T0, rules)
        yield from self._register_all(_T0 + 1)
        # +1 for a better price, -1 for a worse one, in minor units per step.
        better = step if self.sale else -step
        count = len(ids)
        at = starts
        for _ in range(bids):
            at += rng.randint(1, 2 * self._GAP)
            best = view.book.best()
            reference = self.start_price - better if best is None else best[3]
            bidder = ids[rng.randrange(count)]
            roll = rng.random()
            amount: Decimal
            if roll < 0.30:
                # Lost the race: priced against a best that has moved on.
                amount = _decimal(reference - better * rng.randint(0, 2))
            elif roll < 0.34:
                amount = Decimal(reference * 10 + better * 10 + 5).scaleb(-3)
            elif roll < 0.37:
                yield PlaceBid(self.command_id(), at, bidder, _decimal(reference), "USD")
                continue
            elif roll < 0.40:
                yield PlaceBid(self.command_id(), at, "stranger", _decimal(reference), currency)
                continue
            elif roll < 0.42:
                amount = Decimal(0) if roll < 0.41 else _decimal(-reference)
            elif roll < 0.43:
                amount = Decimal("1E+30")
            elif roll < 0.435:
                limit = reference + better * rng.randint(5, 50)
                proxy = ids[rng.randrange(self._PROXY_USERS)]
                yield SetProxy(self.command_id(), at, proxy, _decimal(limit), currency)
                continue
            else:
                amount = _decimal(reference + better * rng.randint(1, 3))
            yield PlaceBid(self.command_id(), at, bidder, amount, currency)


class _Dutch(_Workload):
    """Dutch sales one after another: the room waits, one takes the price, many are late."""

    _INTERVAL = 5 * _SECOND

    def auction(self, view: Auction, budget: int) -> Iterator[Command]:
        rng, ids = self.rng, self.ids
        starts = _T0 + 60 * _SECOND
        rules = DutchRules("EUR", starts, 10_000_00, 50_00, self._INTERVAL, 1_000_00)
        yield CreateAuction(self.command_id(), _T0, rules)
        yield from self._register_all(_T0 + 1)

        def price(index: int) -> int:
            return rules.start_price - index * rules.step

        count = len(ids)
        # One auction in twenty finds no taker: the clock runs down to its floor.
        last = (rules.start_price - rules.limit_price) // rules.step
        wait = last + 1 if rng.random() < 0.05 else rng.randint(5, 60)
        for index in range(1, min(wait, last + 1)):
            at = starts + index * self._INTERVAL + rng.randint(1, self._INTERVAL // 10)
            for _ in range(rng.randint(0, 2)):
                # Saw the previous price a moment too late.
                at += rng.randint(100, 10_000)
                bidder = ids[rng.randrange(count)]
                expected = _decimal(price(index - 1))
                yield AcceptPrice(self.command_id(), at, bidder, expected, "EUR")
            if rng.random() < 0.05:
                bidder = ids[rng.randrange(count)]
                yield PlaceBid(self.command_id(), at + 1, bidder, _decimal(price(index)), "EUR")
        if wait > last:
            return
        at = starts + wait * self._INTERVAL + rng.randint(self._INTERVAL // 10, self._INTERVAL // 2)
        expected = _decimal(price(wait))
        yield AcceptPrice(self.command_id(), at, ids[rng.randrange(count)], expected, "EUR")
        for _ in range(rng.randint(count // 10, count // 2)):
            at += rng.randint(100, 5_000)
            bidder = ids[rng.randrange(count)]
            yield AcceptPrice(self.command_id(), at, bidder, expected, "EUR")


class _Sealed(_Workload):
    """Sealed sales one after another: every bidder bids, some replace or withdraw."""

    def __init__(self, seed: int, bidders: int, pricing: Pricing) -> None:
        super().__init__(seed, bidders)
        self.pricing = pricing

    def auction(self, view: Auction, budget: int) -> Iterator[Command]:
        rng, ids = self.rng, self.ids
        count = len(ids)
        starts = _T0 + 60 * _SECOND
        ends = starts + 3_600 * _SECOND
        rules = SealedRules(
            "EUR",
            starts,
            ends,
            pricing=self.pricing,
            side=Side.SALE,
            start_price=1_000_00,
            reserve_price=1_500_00,
        )
        yield CreateAuction(self.command_id(), _T0, rules)
        yield from self._register_all(_T0 + 1)
        # First bids from every bidder in turn, the other actions interleaved at random,
        # so nothing but the live command is held in memory (see peak_memory_bytes).
        others = count * 65 // 100  # 40 % replace, 5 % withdraw, 20 % mistakes
        total = count + others
        gap = (ends - starts) // (total + 1)
        at = starts
        first = 0
        for remaining in range(total, 0, -1):
            at += rng.randint(1, 2 * gap - 1)
            if first < count and rng.randrange(remaining) < count - first:
                bidder = ids[first]
                first += 1
                yield PlaceBid(self.command_id(), at, bidder, self._amount(), "EUR")
                continue
            bidder = ids[rng.randrange(count)]
            roll = rng.randrange(65)
            if roll < 40:
                yield PlaceBid(self.command_id(), at, bidder, self._amount(), "EUR")
            elif roll < 45:
                yield WithdrawBid(self.command_id(), at, bidder)
            elif roll < 52:
                low = _decimal(rng.randint(1_00, 999_99))
                yield PlaceBid(self.command_id(), at, bidder, low, "EUR")
            elif roll < 57:
                odd = Decimal(rng.randint(1_000_000, 9_999_999)).scaleb(-3)
                yield PlaceBid(self.command_id(), at, bidder, odd, "EUR")
            elif roll < 61:
                yield PlaceBid(self.command_id(), at, bidder, self._amount(), "GBP")
            else:
                yield PlaceBid(self.command_id(), at, "stranger", self._amount(), "EUR")
        at = max(at, ends)
        for _ in range(count * 3 // 100):
            at += rng.randint(1, 30 * _SECOND)
            bidder = ids[rng.randrange(count)]
            yield PlaceBid(self.command_id(), at, bidder, self._amount(), "EUR")

    def _amount(self) -> Decimal:
        return _decimal(self.rng.randint(1_000_00, 5_000_00))


class _MultiRound(_Workload):
    """Multi-round procurements one after another, every bidder in every round."""

    _TURN = 120 * _SECOND

    def auction(self, view: Auction, budget: int) -> Iterator[Command]:
        rng, ids = self.rng, self.ids
        count = len(ids)
        starts = _T0 + 3_600 * _SECOND
        ceiling = 100_000_00
        rules = MultiRoundRules(
            "UAH",
            starts,
            self._TURN,
            Step(percent=Decimal("0.5")),
            rounds=3,
            pause_us=60 * _SECOND,
            start_price=ceiling,
        )
        yield CreateAuction(self.command_id(), _T0, rules)
        for index, bidder in enumerate(ids):
            offer = rng.randint(ceiling * 85 // 100, ceiling)
            if rng.random() < 0.01:
                offer = ceiling + rng.randint(1, 1_000_00)
            yield RegisterBidder(
                self.command_id(), _T0 + 1 + index, bidder, initial_bid=_decimal(offer)
            )
        yield Tick(self.command_id(), starts)
        fmt = view.fmt
        if not isinstance(fmt, MultiRound):  # pragma: no cover - the engine changed
            raise TypeError("a multi-round auction without its MultiRound logic")
        while view.phase is not Phase.ENDED:
            if view.phase is Phase.PAUSED:
                resumes = view.next_deadline()
                assert resumes is not None
                yield Tick(self.command_id(), resumes)
                continue
            bidder = fmt.order[fmt.turn]
            ends = fmt.turn_ends_at
            assert ends is not None
            at = ends - self._TURN
            if rng.random() < 0.10:
                at += rng.randint(1, 5 * _SECOND)
                other = ids[rng.randrange(count)]
                yield PlaceBid(self.command_id(), at, other, _decimal(ceiling // 2), "UAH")
            roll = rng.random()
            if roll < 0.15:
                yield PassTurn(self.command_id(), at + rng.randint(1, 10 * _SECOND), bidder)
                continue
            if roll < 0.25:
                yield Tick(self.command_id(), ends)
                continue
            own = view.book.get(bidder)
            assert own is not None
            price = own[3]
            if roll < 0.325:
                at += rng.randint(1, 10 * _SECOND)
                yield PlaceBid(self.command_id(), at, bidder, _decimal(price - 1), "UAH")
            # At least half a percent better, as the step demands.
            better = price - math.ceil(price * 5 / 1000) - rng.randint(0, price // 50)
            at += rng.randint(1, 30 * _SECOND)
            yield PlaceBid(self.command_id(), at, bidder, _decimal(better), "UAH")
            if rng.random() < 0.5:
                yield PassTurn(self.command_id(), at + rng.randint(1, 10 * _SECOND), bidder)
            else:
                yield Tick(self.command_id(), ends)


def _workload(fmt: str, seed: int, bidders: int) -> _Workload:
    if fmt == "english":
        return _Open(seed, bidders, sale=True)
    if fmt == "reverse":
        return _Open(seed, bidders, sale=False)
    if fmt == "dutch":
        return _Dutch(seed, bidders)
    if fmt == "sealed_first":
        return _Sealed(seed, bidders, Pricing.FIRST_PRICE)
    if fmt == "sealed_second":
        return _Sealed(seed, bidders, Pricing.SECOND_PRICE)
    if fmt == "multiround":
        return _MultiRound(seed, bidders)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


# ------------------------------------------------------------------------------ feed


class _Feed:
    """A workload's commands in the order a runner delivers them, ticks included.

    Iterating yields ``None`` where a new auction begins, then that auction's commands,
    each one already handled by the feed's own ``view`` auction (which is how the workload
    can read live state). The counts cover every command yielded.
    """

    def __init__(self, workload: _Workload, target: int) -> None:
        self.workload = workload
        self.target = target
        self.commands = 0
        self.rejected = 0
        self.auctions = 0
        self.view = Auction()

    def __iter__(self) -> Iterator[Command | None]:
        workload = self.workload
        while self.commands < self.target:
            view = self.view = Auction()
            yield None
            for command in workload.auction(view, self.target - self.commands):
                if type(command) is not Tick:
                    due = view.next_deadline()
                    while due is not None and due <= command.at:
                        yield self._handled(view, Tick(workload.command_id(), due))
                        due = view.next_deadline()
                yield self._handled(view, command)
            due = view.next_deadline()
            while due is not None:
                yield self._handled(view, Tick(workload.command_id(), due))
                due = view.next_deadline()
            self.auctions += 1

    def _handled(self, view: Auction, command: Command) -> Command:
        events = view.handle(command)
        self.commands += 1
        # A refused command's last event is its CommandRejected (deadline events may precede).
        if events and type(events[-1]) is CommandRejected:
            self.rejected += 1
        return command


# -------------------------------------------------------------------------- measures


def _timed(fmt: str, commands: int, bidders: int, seed: int) -> tuple[int, array[int], _Feed]:
    """Time the stream twice: in bulk (throughput) and per ``handle()`` call (latency).

    Each batch the shadow wrote is handled first by the throughput auctions, inside one
    ``process_time_ns()`` pair, then by a second, separate set of auctions with
    ``perf_counter_ns()`` read around every call. Returns the bulk CPU nanoseconds, the
    per-call wall nanoseconds in stream order, and the feed with its counts.
    """
    feed = _Feed(_workload(fmt, seed, bidders), commands)
    stream = iter(feed)
    clock = perf_counter_ns
    cpu_clock = process_time_ns
    bulk = Auction()
    bulk_handle = bulk.handle
    sampled = Auction()
    sampled_handle = sampled.handle
    elapsed = 0
    samples: array[int] = array("q")
    while batch := list(islice(stream, _BATCH)):
        started = cpu_clock()
        for command in batch:
            if command is None:
                bulk = Auction()
                bulk_handle = bulk.handle
            else:
                bulk_handle(command)
        elapsed += cpu_clock() - started
        for command in batch:
            if command is None:
                sampled = Auction()
                sampled_handle = sampled.handle
                continue
            started = clock()
            sampled_handle(command)
            samples.append(clock() - started)
    _same(bulk, feed.view, fmt)
    _same(sampled, feed.view, fmt)
    return elapsed, samples, feed


def _same(measured: Auction, shadow: Auction, fmt: str) -> None:
    # The engine is deterministic, so the measured run must end where the shadow did;
    # anything else means the figures are for some other stream.
    if measured != shadow:  # pragma: no cover - an engine determinism bug
        raise RuntimeError(f"{fmt}: the measured auction diverged from the generated stream")


def _peak_memory(fmt: str, commands: int, bidders: int, seed: int) -> int:
    """Traced peak bytes while the stream runs against the measured auctions themselves."""
    feed = _Feed(_workload(fmt, seed, bidders), commands)
    gc.collect()
    tracemalloc.start()
    try:
        for command in feed:
            if command is None:
                # A finished auction is a reference cycle (auction <-> format logic): free
                # it now, as the runner's process would soon, so one auction is live.
                gc.collect()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _bytes_per_resting_bid(fmt: str, resting: int, seed: int) -> float | None:
    """Traced bytes one resting bid costs in a book of ``resting`` bids; see the docstring."""
    if fmt in ("dutch", "multiround"):
        return None
    rng = Random(seed)
    ids = [f"bidder-{i:06d}" for i in range(resting)]
    starts = _T0 + 60 * _SECOND
    ends = starts + 3_600 * _SECOND
    rules: EnglishRules | ReverseRules | SealedRules
    if fmt == "english":
        rules = EnglishRules("EUR", starts, ends, 1_000_00, Step(amount=100))
    elif fmt == "reverse":
        rules = ReverseRules("EUR", starts, ends, 10_000_000_00, Step(amount=100))
    else:
        pricing = Pricing.FIRST_PRICE if fmt == "sealed_first" else Pricing.SECOND_PRICE
        rules = SealedRules("EUR", starts, ends, pricing=pricing, start_price=1_000_00)
    auction = Auction()
    auction.handle(CreateAuction("create", _T0, rules))
    for index, bidder in enumerate(ids):
        auction.handle(RegisterBidder(f"r{index}", _T0 + 1, bidder))
    auction.handle(Tick("start", starts))

    def price(index: int) -> int:
        if fmt == "english":
            return 1_000_00 + index * 100
        if fmt == "reverse":
            return 10_000_000_00 - index * 100
        return rng.randint(1_000_00, 5_000_00)

    gc.collect()
    tracemalloc.start()
    try:
        for index in range(resting):
            # A fresh bidder string, equal to the registered one, as a command decoded
            # from the network carries: whatever the book keeps of it counts.
            bidder = f"bidder-{index:06d}"
            at = starts + 1 + index
            auction.handle(PlaceBid(f"b{index}", at, bidder, _decimal(price(index)), "EUR"))
        gc.collect()
        used = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    if len(auction.book) != resting:  # pragma: no cover - the workload is wrong
        raise RuntimeError(f"{fmt}: {len(auction.book)} of {resting} bids rest")
    return used / resting


def _percentile(ordered: list[int], fraction: float) -> int:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def python_version() -> str:
    """The interpreter, e.g. ``CPython 3.11.7``."""
    return f"{platform.python_implementation()} {platform.python_version()}"


def machine() -> str:
    """CPU model, CPU count, OS and architecture, e.g. ``AMD EPYC, 2 CPUs, Linux x86_64``."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    model = model or platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}"


def measure(fmt: str, commands: int, bidders: int, seed: int, resting: int) -> Result:
    """Run the three measured passes and the resting-bid measure for ``fmt``.

    ``commands``: at least this many commands; ``bidders``: per auction (>= 2);
    ``resting``: bids in the book for ``bytes_per_resting_bid``.
    """
    elapsed, latencies, feed = _timed(fmt, commands, bidders, seed)
    samples = sorted(latencies)
    del latencies
    peak = _peak_memory(fmt, commands, bidders, seed)
    per_bid = _bytes_per_resting_bid(fmt, resting, seed)
    return Result(
        format=fmt,
        commands=feed.commands,
        accepted=feed.commands - feed.rejected,
        rejected=feed.rejected,
        commands_per_s=round(feed.commands * 1e9 / max(elapsed, 1)),
        p50_us=round(_percentile(samples, 0.50) / 1000, 2),
        p99_us=round(_percentile(samples, 0.99) / 1000, 2),
        peak_memory_bytes=peak,
        bytes_per_resting_bid=None if per_bid is None else round(per_bid, 1),
        python=python_version(),
        machine=machine(),
    )


# ---------------------------------------------------------------------------- output


_COLUMNS = (
    ("format", "format", 13, "<"),
    ("commands", "commands", 10, ">"),
    ("accepted", "accepted", 10, ">"),
    ("rejected", "rejected", 9, ">"),
    ("commands_per_s", "commands/s", 11, ">"),
    ("p50_us", "p50 µs", 8, ">"),
    ("p99_us", "p99 µs", 8, ">"),
    ("peak_memory_bytes", "peak memory", 12, ">"),
    ("bytes_per_resting_bid", "B/resting bid", 14, ">"),
)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if key == "peak_memory_bytes":
        return f"{value / 2**20:,.1f} MiB"
    if key in ("p50_us", "p99_us", "bytes_per_resting_bid"):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_row(result: Result) -> str:
    """One table row."""
    data = result.as_dict()
    return "  ".join(
        f"{_cell(key, data[key]):{align}{width}}" for key, _, width, align in _COLUMNS
    ).rstrip()


def render_header() -> str:
    """The table's heading line."""
    return "  ".join(f"{title:{align}{width}}" for _, title, width, align in _COLUMNS).rstrip()


def render_table(results: list[Result]) -> str:
    """The readable table: heading, one row per format, then the machine and targets."""
    lines = [render_header(), *map(render_row, results)]
    lines.extend(_footer(results))
    return "\n".join(lines)


def _footer(results: list[Result]) -> list[str]:
    lines = [
        "",
        f"{python_version()} on {machine()}; one process, one core.",
        f"targets (issue 2): >= {TARGET_COMMANDS_PER_S:,} commands/s for english and reverse, "
        f"< {TARGET_BYTES_PER_RESTING_BID} bytes per resting bid",
    ]
    for result in results:
        checks = []
        if result.format in ("english", "reverse"):
            met = result.commands_per_s >= TARGET_COMMANDS_PER_S
            checks.append(f"throughput {'met' if met else 'MISSED'}")
        if result.bytes_per_resting_bid is not None:
            met = result.bytes_per_resting_bid < TARGET_BYTES_PER_RESTING_BID
            checks.append(f"memory per bid {'met' if met else 'MISSED'}")
        if checks:
            lines.append(f"  {result.format}: {', '.join(checks)}")
    return lines


def run(
    formats: tuple[str, ...],
    commands: int,
    bidders: int,
    seed: int,
    resting: int | None,
    as_json: bool,
    out: TextIO,
) -> int:
    """Measure each of ``formats`` and print the results; return the exit status.

    With ``as_json``, one JSON object per format per line, each printed as soon as it is
    measured; otherwise a table, row by row. ``resting=None`` picks the default: 100,000,
    or ``commands // 10`` when that is smaller, but at least 1,000.
    """
    if resting is None:
        resting = max(1_000, min(DEFAULT_RESTING, commands // 10))
    results = []
    if not as_json:
        out.write(render_header() + "\n")
        out.flush()
    for fmt in formats:
        result = measure(fmt, commands, bidders, seed, resting)
        results.append(result)
        if as_json:
            out.write(json.dumps(result.as_dict()) + "\n")
        else:
            out.write(render_row(result) + "\n")
        out.flush()
    if not as_json:
        out.write("\n".join(_footer(results)) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """``gavel bench engine [--json] [--commands N] [--bidders N] [--format NAME …]
    [--resting N] [--seed S]``."""
    parser = argparse.ArgumentParser(
        prog="gavel bench engine",
        description="Drive the engine with seeded bid streams, one run per format, and "
        "report throughput, p50/p99 latency, peak memory and bytes per resting bid.",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per format per line"
    )
    parser.add_argument(
        "--commands",
        type=positive,
        default=DEFAULT_COMMANDS,
        metavar="N",
        help="commands per format, at least (default: %(default)s)",
    )
    parser.add_argument(
        "--bidders",
        type=_at_least_two,
        default=DEFAULT_BIDDERS,
        metavar="N",
        help="bidders per auction (default: %(default)s)",
    )
    parser.add_argument(
        "--format",
        dest="formats",
        action="extend",
        nargs="+",
        choices=FORMATS,
        metavar="NAME",
        help=f"formats to run, any of {', '.join(FORMATS)} (default: all)",
    )
    parser.add_argument(
        "--resting",
        type=positive,
        default=None,
        metavar="N",
        help="resting bids for the bytes-per-resting-bid measure "
        "(default: 100000, or commands / 10 when that is smaller, at least 1000)",
    )
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="random seed")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Parse ``argv`` (see :func:`build_parser`), :func:`run` it, print to ``out``
    (default: ``sys.stdout``) and return the exit status."""
    args = build_parser().parse_args(argv)
    return run(
        formats=tuple(args.formats or FORMATS),
        commands=args.commands,
        bidders=args.bidders,
        seed=args.seed,
        resting=args.resting,
        as_json=args.json,
        out=out or sys.stdout,
    )


def _at_least_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError("must be at least 2")
    return value
