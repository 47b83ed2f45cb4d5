"""The registry (bidders_sim/strategies/__init__.py): names, formats, build; across every
strategy a property (random views: nothing illegal, nothing past value) and folds against
the real engine (each strategy in each format it plays ends with a winner, no rejects)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidders_sim.strategies import FORMATS, STRATEGIES, Ring, build, draw_value
from bidders_sim.strategies.limits import is_legal
from bidders_sim.strategy import Strategy, View
from engine import (
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
from engine.rules import AuctionRules
from tests.bidders_sim.strategies.room import fold
from tests.bidders_sim.strategies.views import SECOND, START

NAMES = (
    "min_step",
    "jump",
    "sniper",
    "proxy",
    "truthful",
    "shader",
    "dutch_waiter",
    "round_passer",
    "ring",
)
PARTIES = ("ann", "ben", "cid")


def test_names_and_formats() -> None:
    assert tuple(STRATEGIES) == NAMES
    assert set(FORMATS) == set(NAMES)
    every = {"english", "reverse", "dutch", "sealed", "multi_round"}
    assert set().union(*FORMATS.values()) == every
    assert FORMATS["dutch_waiter"] == ("dutch",)
    assert FORMATS["shader"] == ("sealed",)
    assert FORMATS["round_passer"] == ("multi_round",)
    for name, cls in STRATEGIES.items():
        assert cls.name == name
        assert cls.__doc__ is not None and "arameters" in cls.__doc__  # stated, with defaults


def test_build_checks_its_arguments() -> None:
    rng = random.Random(1)
    assert build("jump", party="p", value=10, rng=rng, steps=2).steps == 2  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        build("nope", party="p", value=10, rng=rng)
    with pytest.raises(ValueError, match="positive"):
        build("min_step", party="p", value=0, rng=rng)
    with pytest.raises(TypeError):
        build("min_step", party="p", value=10, rng=rng, steps=2)
    with pytest.raises(TypeError):
        build("ring", party="p", value=10, rng=rng)


def _make(name: str, party: str, value: int, seed: int, index: int = 0) -> Strategy:
    extra: dict[str, Any] = {"ring": Ring(PARTIES, index)} if name == "ring" else {}
    return build(name, party=party, value=value, rng=random.Random(seed), **extra)


@st.composite
def views(draw: st.DrawFn) -> View:
    fmt = draw(st.sampled_from(["english", "reverse", "dutch", "sealed", "multi_round"]))
    better = {"english": "higher", "reverse": "lower", "multi_round": "lower"}.get(fmt)
    better = better or draw(st.sampled_from(["higher", "lower"]))
    amount = st.integers(1, 10**7)
    maybe = st.none() | amount
    now = START + draw(st.integers(-100 * SECOND, 1000 * SECOND))
    return View(
        format=fmt,  # type: ignore[arg-type]
        better=better,  # type: ignore[arg-type]
        currency="EUR",
        now=now,
        phase=draw(st.sampled_from(["scheduled", "running", "ended"])),
        starts_at=START,
        ends_at=draw(st.none() | st.integers(START, START + 1000 * SECOND)),
        start_price=draw(maybe),
        best=draw(maybe),
        leading=draw(st.booleans()),
        next_valid=draw(maybe),
        my_best=draw(maybe),
        bids_seen=draw(st.integers(0, 5)),
        dutch_price=draw(maybe),
        my_turn=draw(st.booleans()),
        my_proxy=draw(maybe),
        bidders=draw(st.none() | st.integers(1, 20)),
        pricing=draw(st.sampled_from([None, "first_price", "second_price"])),
        dutch_step=draw(st.none() | st.integers(1, 10**5)),
        dutch_interval_us=draw(st.none() | st.integers(1, 60 * SECOND)),
    )


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    party=st.sampled_from(PARTIES),
    value=st.integers(1, 10**7),
    seed=st.integers(0, 2**32),
    index=st.integers(0, 5),
    view=views(),
)
def test_any_view_any_strategy_legal_within_value(
    name: str, party: str, value: int, seed: int, index: int, view: View
) -> None:
    strategy = _make(name, party, value, seed, index)
    action = strategy.decide(view)
    assert action is None or is_legal(view, action, value), action
    if view.format not in FORMATS[name]:
        assert action is None
    wake = strategy.wake_at(view)
    assert wake is None or wake > view.now
    # Same seed, same mind.
    assert _make(name, party, value, seed, index).decide(view) == action


def _rules(fmt: str, side: str = "sale") -> AuctionRules:
    if fmt == "english":
        close = SoftClose(30 * SECOND, 30 * SECOND, hard_close_at=START + 600 * SECOND)
        return EnglishRules("EUR", START, START + 300 * SECOND, 1000_00, Step(50_00), None, close)
    if fmt == "reverse":
        return ReverseRules("UAH", START, START + 300 * SECOND, 100_000_00, Step(0, Decimal(1)))
    if fmt == "dutch":
        if side == "sale":
            return DutchRules("EUR", START, 10_000_00, 250_00, 10 * SECOND, 4_000_00)
        return DutchRules("EUR", START, 1_000_00, 25_00, 10 * SECOND, 1_600_00, Side.PROCUREMENT)
    if fmt == "sealed":
        if side == "sale":
            return SealedRules("EUR", START, START + 60 * SECOND, start_price=20_000_00)
        return SealedRules(
            "EUR",
            START,
            START + 60 * SECOND,
            Pricing.SECOND_PRICE,
            Side.PROCUREMENT,
            start_price=60_000_00,
        )
    percent = Step(0, Decimal(1))
    return MultiRoundRules("UAH", START, 60 * SECOND, percent, 3, 30 * SECOND, 55_000_00)


CASES = [
    (name, fmt, side)
    for name in NAMES
    for fmt in FORMATS[name]
    for side in (("sale", "procurement") if fmt in ("dutch", "sealed") else ("-",))
]


@pytest.mark.parametrize(("name", "fmt", "side"), CASES)
def test_fold_against_the_engine(name: str, fmt: str, side: str) -> None:
    rules = _rules(fmt, side)
    better = "higher" if side == "sale" or fmt == "english" else "lower"
    start = rules.start_price
    assert start is not None
    rng = random.Random(f"{name}/{fmt}/{side}")
    values = {p: draw_value(rng, start, better, format=fmt) for p in PARTIES}
    if fmt == "dutch":  # every value inside the clock's range: someone takes it
        values = {p: v if better == "higher" else min(v, 1_500_00) for p, v in values.items()}
    bidders = {p: (_make(name, p, values[p], i), values[p]) for i, p in enumerate(PARTIES)}
    initial = None
    if fmt == "multi_round":
        initial = {"ann": 50_000_00, "ben": 48_000_00, "cid": 52_000_00}
        values = {p: min(v, initial[p]) for p, v in values.items()}
        bidders = {p: (_make(name, p, values[p], i), values[p]) for i, p in enumerate(PARTIES)}
    out = fold(rules, bidders, initial=initial)
    assert out.rejected == []
    assert out.winner is not None, (values, out.auction.ended)
    ended = out.auction.ended
    assert ended is not None
    price = ended.price
    assert price is not None
    if fmt != "sealed" or side == "sale":  # a Vickrey winner is paid the runner-up's price
        won = values[out.winner]
        assert price <= won if better == "higher" else price >= won
    if name == "ring" and fmt != "multi_round":  # there the rivals' initial offers stand
        assert out.winner == Ring(PARTIES, 0).designate


def test_the_ring_rotates_wins_over_auctions() -> None:
    winners = []
    for index in range(3):
        members = {p: (_make("ring", p, 1500_00, 0, index), 1500_00) for p in PARTIES}
        winners.append(fold(_rules("english"), members).winner)
    assert winners == list(PARTIES)


def test_a_mixed_room_is_reproducible() -> None:
    def once(seed: int) -> list[Any]:
        rng = random.Random(seed)
        room = {}
        for name in ("min_step", "jump", "sniper", "proxy", "truthful"):
            value = draw_value(rng, 1000_00, "higher")
            room[name] = (build(name, party=name, value=value, rng=rng), value)
        out = fold(_rules("english"), room)
        assert out.rejected == [] and out.winner is not None
        return out.actions

    assert once(11) == once(11)
    assert any(once(11) != once(seed) for seed in range(12, 16))


def test_the_docstring_examples_hold() -> None:
    import doctest

    from bidders_sim import values
    from bidders_sim.strategies import proxy, shader

    for module in (values, proxy, shader):
        assert doctest.testmod(module).failed == 0, module.__name__
