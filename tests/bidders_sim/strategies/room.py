"""A tiny pure simulation: strategies bid against the real engine, no server, no clock.

:func:`fold` creates an :class:`engine.Auction`, registers the bidders, and then, at each
instant, asks every strategy ``decide`` on a :class:`View` built from the engine's own
state (as a runner would from the server's frames) until no one acts, checks each action
is legal (:func:`is_legal`), sends it as the engine command, and moves time on to the
earliest of the engine's deadline and the strategies' ``wake_at``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bidders_sim.strategies.limits import is_legal
from bidders_sim.strategy import Accept, Action, Bid, Pass, Proxy, Strategy, View
from engine import (
    AcceptPrice,
    Auction,
    AuctionRules,
    BidAccepted,
    CommandRejected,
    CreateAuction,
    DutchRules,
    EnglishRules,
    Event,
    MultiRoundRules,
    PassTurn,
    Phase,
    PlaceBid,
    RegisterBidder,
    ReverseRules,
    SealedRules,
    SetProxy,
    Side,
    Tick,
)
from engine.formats.base import StepRule
from tests.bidders_sim.strategies.views import SECOND

_FORMAT = {
    EnglishRules: "english",
    ReverseRules: "reverse",
    DutchRules: "dutch",
    SealedRules: "sealed",
    MultiRoundRules: "multi_round",
}


@dataclass
class Fold:
    """What a fold left: the auction, every event, and the rejected commands' reasons."""

    auction: Auction
    events: list[Event] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    actions: list[tuple[int, str, Action]] = field(default_factory=list)

    @property
    def winner(self) -> str | None:
        ended = self.auction.ended
        if ended is None or not ended.ranking:
            return None
        return ended.ranking[0].bidder if ended.outcome.value == "awarded" else None


def _better(rules: AuctionRules) -> str:
    if isinstance(rules, EnglishRules):
        return "higher"
    if isinstance(rules, DutchRules | SealedRules):
        return "higher" if rules.side is Side.SALE else "lower"
    return "lower"


def view_of(auction: Auction, name: str, now: int, bids_seen: int) -> View:
    """``name``'s view of ``auction`` at ``now``, worked out from the engine's state."""
    rules = auction.rules
    assert rules is not None and auction.fmt is not None
    fmt = _FORMAT[type(rules)]
    better = _better(rules)
    best = auction.book.best()
    own = auction.book.get(name)
    phase = {Phase.SCHEDULED: "scheduled", Phase.ENDED: "ended"}.get(auction.phase, "running")
    shown = auction.fmt.view()
    mine = auction.fmt.own_view(name)
    extra: dict[str, Any] = {}
    next_valid: int | None = None
    ends_at: int | None = None
    if isinstance(rules, EnglishRules | ReverseRules):
        step = StepRule(rules.step)
        if best is None:
            next_valid = rules.start_price
        elif better == "higher":
            next_valid = best[3] + step.of_price(best[3])
        else:
            next_valid = best[3] - step.of_price(best[3])
        ends_at = shown.close.ends_at if shown.close else rules.ends_at
        extra["my_proxy"] = mine.proxy.limit if mine.proxy else None
    elif isinstance(rules, SealedRules):
        ends_at = rules.ends_at
        if own is None:
            low = rules.start_price or 1
            next_valid = low if better == "higher" else (rules.start_price or rules.max_amount)
        extra["pricing"] = rules.pricing.value
        extra["bidders"] = len(auction.bidders)
    elif isinstance(rules, DutchRules):
        extra["dutch_price"] = shown.clock.price if shown.clock else None
        extra["dutch_step"] = rules.step
        extra["dutch_interval_us"] = rules.interval_us
    else:
        assert isinstance(rules, MultiRoundRules) and mine.turn is not None
        yours = mine.turn.yours
        extra["my_turn"] = yours
        extra["round"] = shown.rounds.round if shown.rounds else None
        if shown.rounds and shown.rounds.turn:
            extra["turn_ends_at"] = shown.rounds.turn.ends_at
        if yours and mine.turn.pending_price is None and own is not None:
            next_valid = own[3] - StepRule(rules.step).of_price(own[3])
    if phase != "running":
        next_valid = None
    return View(
        format=fmt,  # type: ignore[arg-type]
        better=better,  # type: ignore[arg-type]
        currency=rules.currency,
        now=now,
        phase=phase,  # type: ignore[arg-type]
        starts_at=rules.starts_at,
        ends_at=ends_at,
        start_price=rules.start_price,
        best=None if best is None or fmt == "sealed" else best[3],
        leading=best is not None and best[2] == name and fmt != "sealed",
        next_valid=next_valid,
        my_best=None if own is None else own[3],
        bids_seen=bids_seen,
        **extra,
    )


def _major(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-2)


def _command(action: Action, cid: str, at: int, name: str, currency: str) -> Any:
    if isinstance(action, Bid):
        return PlaceBid(cid, at, name, _major(action.amount), currency)
    if isinstance(action, Proxy):
        return SetProxy(cid, at, name, _major(action.limit), currency)
    if isinstance(action, Accept):
        return AcceptPrice(cid, at, name, _major(action.expected), currency)
    assert isinstance(action, Pass)
    return PassTurn(cid, at, name)


def fold(
    rules: AuctionRules,
    bidders: dict[str, tuple[Strategy, int]],
    *,
    initial: dict[str, int] | None = None,
    max_steps: int = 5_000,
) -> Fold:
    """Run ``bidders`` (name -> (strategy, value)) through an auction of ``rules`` to its
    end; every action must be legal for its view (asserted). ``initial``: multi-round
    initial offers in minor units."""
    auction = Auction()
    out = Fold(auction)
    created = rules.starts_at - 100 * SECOND
    out.events += auction.handle(CreateAuction("create", created, rules))
    for name in bidders:
        offer = None if initial is None else _major(initial[name])
        out.events += auction.handle(
            RegisterBidder(f"reg-{name}", created + 1, name, initial_bid=offer)
        )
    now = rules.starts_at
    out.events += auction.handle(Tick("start", now))
    sent = 0
    for _ in range(max_steps):
        acted = True
        while acted and auction.ended is None:
            acted = False
            for name, (strategy, value) in bidders.items():
                seen = sum(isinstance(event, BidAccepted) for event in out.events)
                view = view_of(auction, name, now, seen)
                action = strategy.decide(view)
                if action is None:
                    continue
                assert is_legal(view, action, value), (name, view, action)
                sent += 1
                assert sent < max_steps, "the strategies never stop"
                out.actions.append((now, name, action))
                events = auction.handle(_command(action, f"c{sent}", now, name, rules.currency))
                out.events += events
                for event in events:
                    if isinstance(event, CommandRejected):
                        out.rejected.append((name, event.reason.value))
                acted = True
        if auction.ended is not None:
            return out
        seen = sum(isinstance(event, BidAccepted) for event in out.events)
        wakes = [s.wake_at(view_of(auction, n, now, seen)) for n, (s, _) in bidders.items()]
        due = [t for t in (auction.next_deadline(), *wakes) if t is not None and t > now]
        assert due, "nothing left to wait for, yet the auction has not ended"
        now = min(due)
        out.events += auction.handle(Tick(f"tick-{now}", now))
    raise AssertionError("the auction did not end")
