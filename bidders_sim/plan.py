"""``gavel sim``'s plan: every auction's rules and every bidder's strategy and private
value, drawn from one seed.

:func:`make_plan` is pure: one ``random.Random(seed)`` draws, in a fixed order, each
auction's format (for ``mixed``) and rules, then each of its bidders' strategy and value
(:func:`bidders_sim.values.draw_value`) and the seed of the strategy's own
``random.Random``. So the same arguments give an equal :class:`Plan`, and the same
bidders deciding on the same views send the same commands.

Times in a plan are relative: each auction's rules start at 0 (microseconds); a runner
shifts them to the server's clock with :meth:`AuctionPlan.rules_at`. Call order:
``make_plan(...)`` → for each auction ``rules_at(origin)``, and for each bidder
``strategy_for(auction, bidder)``. Every function is O(auctions x bidders).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bidders_sim.strategies import FORMATS, Ring, build
from bidders_sim.strategy import Format, Strategy
from bidders_sim.tracker import view_format
from bidders_sim.values import draw_value
from engine.rules import (
    AuctionRules,
    DutchRules,
    EnglishRules,
    MultiRoundRules,
    Pricing,
    ReverseRules,
    SealedRules,
    Side,
    SoftClose,
    Step,
)

__all__ = [
    "FORMAT_CHOICES",
    "AuctionPlan",
    "BidderPlan",
    "Plan",
    "PlanError",
    "default_strategies",
    "make_plan",
    "strategy_for",
]

#: What ``--format`` takes: a format's wire name, or ``mixed`` (a seeded draw for each).
FORMAT_CHOICES = ("english", "reverse", "dutch", "sealed", "multi_round", "mixed")

#: The formats ``mixed`` draws from, as :class:`~bidders_sim.strategy.View` names them.
_FORMATS: tuple[Format, ...] = ("english", "reverse", "dutch", "sealed", "multi_round")

#: Strategies a default mix leaves out: the ring is asked for by name only.
_ASKED_ONLY = frozenset({"ring"})

_SECOND = 1_000_000


class PlanError(ValueError):
    """The arguments cannot make a plan (no bidders, an unknown strategy, …)."""


@dataclass(frozen=True, slots=True)
class BidderPlan:
    """One bidder of one auction: its party id, strategy, private value (minor units),
    the seed of its strategy's ``random.Random`` and, in a multi-round auction, its
    initial offer (minor units)."""

    party: str
    strategy: str
    value: int
    seed: int
    initial_bid: int | None = None


@dataclass(frozen=True, slots=True)
class AuctionPlan:
    """One auction: its format, rules starting at time 0 and its bidders."""

    index: int
    format: Format
    rules: AuctionRules
    bidders: tuple[BidderPlan, ...]

    def rules_at(self, origin: int) -> AuctionRules:
        """The rules with every time moved by ``origin`` (server microseconds)."""
        rules = self.rules
        moved: dict[str, Any] = {"starts_at": rules.starts_at + origin}
        ends_at = getattr(rules, "ends_at", None)
        if ends_at is not None:
            moved["ends_at"] = ends_at + origin
        soft = getattr(rules, "soft_close", None)
        if soft is not None and soft.hard_close_at is not None:
            moved["soft_close"] = dataclasses.replace(
                soft, hard_close_at=soft.hard_close_at + origin
            )
        return dataclasses.replace(rules, **moved)

    def latest_end(self) -> int:
        """The latest time (relative, microseconds) the auction can end by its rules."""
        rules = self.rules
        if isinstance(rules, EnglishRules | ReverseRules):
            soft = rules.soft_close
            if soft is not None and soft.hard_close_at is not None:
                return soft.hard_close_at
            return rules.ends_at
        if isinstance(rules, SealedRules):
            return rules.ends_at
        if isinstance(rules, DutchRules):
            moves = abs(rules.start_price - rules.limit_price) // rules.step + 1
            return rules.starts_at + moves * rules.interval_us
        turns = len(self.bidders) * rules.turn_us + rules.pause_us
        return rules.starts_at + rules.rounds * turns


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything ``gavel sim`` will create, drawn from ``seed``."""

    seed: int
    currency: str
    auctions: tuple[AuctionPlan, ...]


def default_strategies(fmt: Format) -> tuple[str, ...]:
    """The strategies a bidder of a ``fmt`` auction gets when none are asked for: every
    one that plays it, but the ring, in name order."""
    return tuple(
        name
        for name, formats in sorted(FORMATS.items())
        if fmt in formats and name not in _ASKED_ONLY
    )


def make_plan(
    seed: int,
    *,
    auctions: int,
    bidders: int,
    format: str = "mixed",
    strategies: tuple[str, ...] = (),
    duration_s: Decimal = Decimal(6),
    currency: str = "EUR",
) -> Plan:
    """The plan of ``auctions`` auctions of ``format`` (a name of
    :data:`FORMAT_CHOICES`), each of ``bidders`` bidders and about ``duration_s``
    seconds; ``strategies`` (names of :data:`bidders_sim.strategies.FORMATS`, empty: a
    default mix) are dealt round-robin from a seeded offset, each auction keeping those
    that play its format (the default mix where none does). :class:`PlanError` on
    arguments that make no plan."""
    if auctions < 1 or bidders < 1:
        raise PlanError("at least one auction and one bidder")
    if format not in FORMAT_CHOICES:
        raise PlanError(f"format must be one of {', '.join(FORMAT_CHOICES)}")
    unknown = [name for name in strategies if name not in FORMATS]
    if unknown:
        raise PlanError(f"unknown strategy {unknown[0]!r}; known: {', '.join(sorted(FORMATS))}")
    duration = int(duration_s * _SECOND)
    if duration < _SECOND:
        raise PlanError("an auction lasts at least 1 second")
    rng = random.Random(seed)
    plans = []
    for index in range(auctions):
        fmt: Format = rng.choice(_FORMATS) if format == "mixed" else _wire_format(format)
        rules = _rules(rng, fmt, duration, bidders, currency)
        playing = tuple(name for name in strategies if fmt in FORMATS[name])
        deck = playing or default_strategies(fmt)
        offset = rng.randrange(len(deck))
        start = getattr(rules, "start_price", None)
        assert start is not None  # every planned auction has one
        better = view_format(rules)[1]
        people = []
        for number in range(bidders):
            strategy = deck[(offset + number) % len(deck)]
            value = draw_value(rng, start, better, format=fmt)
            initial = None
            if fmt == "multi_round":
                # A tender-stage offer between the value and the ceiling.
                initial = start - rng.randrange(max(1, (start - min(value, start)) // 2 + 1))
            people.append(
                BidderPlan(
                    party=f"b{number + 1}-{strategy}",
                    strategy=strategy,
                    value=value,
                    seed=rng.getrandbits(64),
                    initial_bid=initial,
                )
            )
        plans.append(AuctionPlan(index, fmt, rules, tuple(people)))
    return Plan(seed, currency, tuple(plans))


def strategy_for(auction: AuctionPlan, bidder: BidderPlan) -> Strategy:
    """A new strategy object for ``bidder`` of ``auction``, seeded by its plan; ring
    members share a :class:`~bidders_sim.strategies.Ring` of the auction's ring
    members, rotating with the auction's index."""
    params: dict[str, Any] = {}
    if bidder.strategy == "ring":
        members = tuple(b.party for b in auction.bidders if b.strategy == "ring")
        params["ring"] = Ring(members, auction.index)
    return build(
        bidder.strategy,
        party=bidder.party,
        value=bidder.value,
        rng=random.Random(bidder.seed),
        **params,
    )


def _wire_format(name: str) -> Format:
    for fmt in _FORMATS:
        if fmt == name:
            return fmt
    raise PlanError(f"no format {name!r}")  # pragma: no cover - checked by make_plan


def _rules(
    rng: random.Random, fmt: Format, duration: int, bidders: int, currency: str
) -> AuctionRules:
    """Seeded rules of ``fmt`` lasting about ``duration`` µs, starting at 0."""
    # A start price of 1,000.00 .. 99,000.00 in whole thousands (minor units: cents).
    start = rng.randrange(1, 100) * 100_000
    step = Step(amount=start // 100) if rng.random() < 0.5 else Step(percent=Decimal("1"))
    soft = SoftClose(
        window_us=duration // 5, extension_us=duration // 10, hard_close_at=2 * duration
    )
    if fmt == "english":
        reserve = start * 6 // 5 if rng.random() < 0.3 else None
        return EnglishRules(
            currency=currency,
            starts_at=0,
            ends_at=duration,
            start_price=start,
            step=step,
            reserve_price=reserve,
            soft_close=soft,
        )
    if fmt == "reverse":
        return ReverseRules(
            currency=currency,
            starts_at=0,
            ends_at=duration,
            start_price=start,
            step=step,
            soft_close=soft,
        )
    if fmt == "sealed":
        side = rng.choice((Side.SALE, Side.PROCUREMENT))
        pricing = rng.choice((Pricing.FIRST_PRICE, Pricing.SECOND_PRICE))
        return SealedRules(
            currency=currency,
            starts_at=0,
            ends_at=duration,
            pricing=pricing,
            side=side,
            start_price=start,
        )
    if fmt == "dutch":
        # The clock moves 20 times over the duration, from the start price to 40 % below
        # (a sale) or 60 % above it (a reverse Dutch), past every drawn value.
        side = rng.choice((Side.SALE, Side.PROCUREMENT))
        moves = 20
        limit = start * 2 // 5 if side is Side.SALE else start * 8 // 5
        return DutchRules(
            currency=currency,
            starts_at=0,
            start_price=start,
            step=abs(start - limit) // moves,
            interval_us=duration // moves,
            limit_price=limit,
            side=side,
        )
    rounds = 2
    return MultiRoundRules(
        currency=currency,
        starts_at=0,
        turn_us=max(_SECOND // 2, duration // (rounds * bidders)),
        step=step,
        rounds=rounds,
        start_price=start,
    )
