"""``gavel sim``'s plan: one seed draws everything; strategies fit their auctions' formats."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bidders_sim.plan import PlanError, default_strategies, make_plan, strategy_for
from bidders_sim.strategies import FORMATS
from engine.rules import DutchRules, MultiRoundRules


def test_the_same_seed_gives_the_same_plan() -> None:
    first = make_plan(42, auctions=6, bidders=4)
    assert first == make_plan(42, auctions=6, bidders=4)
    assert first != make_plan(43, auctions=6, bidders=4)
    assert first.seed == 42 and len(first.auctions) == 6
    assert all(len(auction.bidders) == 4 for auction in first.auctions)


def test_every_bidder_plays_a_strategy_of_its_auctions_format() -> None:
    plan = make_plan(6, auctions=30, bidders=5, strategies=("sniper", "shader", "min_step"))
    formats = {auction.format for auction in plan.auctions}
    assert formats == {"english", "reverse", "dutch", "sealed", "multi_round"}
    for auction in plan.auctions:
        for bidder in auction.bidders:
            assert auction.format in FORMATS[bidder.strategy]
            assert bidder.party.startswith("b") and bidder.value > 0
        # Asked-for strategies where they fit; the default mix elsewhere.
        names = {bidder.strategy for bidder in auction.bidders}
        if auction.format == "sealed":
            assert names == {"shader"}
        elif auction.format == "dutch":
            assert names <= set(default_strategies("dutch")) and "ring" not in names


def test_rules_within_the_duration_and_valid() -> None:
    plan = make_plan(9, auctions=10, bidders=3, format="mixed", duration_s=Decimal(5))
    for auction in plan.auctions:
        rules = auction.rules_at(1_800_000_000_000_000)
        assert rules.problem() is None, (auction.format, rules)
        assert rules.starts_at == 1_800_000_000_000_000
        assert 0 < auction.latest_end() <= 10_000_000 + 1_000_000
        if isinstance(auction.rules, MultiRoundRules):
            for bidder in auction.bidders:
                assert bidder.initial_bid is not None
                assert bidder.initial_bid <= (auction.rules.start_price or 0)
        if isinstance(auction.rules, DutchRules):
            assert auction.rules.interval_us * 20 == 5_000_000


def test_one_format_for_all() -> None:
    plan = make_plan(1, auctions=3, bidders=2, format="multi_round")
    assert {auction.format for auction in plan.auctions} == {"multi_round"}


def test_a_ring_shares_one_plan_per_auction() -> None:
    plan = make_plan(3, auctions=3, bidders=3, format="english", strategies=("ring",))
    designates = set()
    for auction in plan.auctions:
        strategies = [strategy_for(auction, bidder) for bidder in auction.bidders]
        rings = {strategy.ring for strategy in strategies}  # type: ignore[attr-defined]
        assert len(rings) == 1
        designates.add(rings.pop().designate)
    assert len(designates) == 3  # the wins rotate over the auctions


def test_strategies_are_seeded_by_the_plan() -> None:
    plan = make_plan(11, auctions=1, bidders=4, format="english", strategies=("jump",))
    auction = plan.auctions[0]
    one = [strategy_for(auction, bidder) for bidder in auction.bidders]
    two = [strategy_for(auction, bidder) for bidder in auction.bidders]
    assert [type(s).name for s in one] == ["jump"] * 4
    assert [vars(s) if hasattr(s, "__dict__") else None for s in one] == [
        vars(s) if hasattr(s, "__dict__") else None for s in two
    ]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"auctions": 0, "bidders": 2}, "at least one"),
        ({"auctions": 1, "bidders": 2, "format": "vickrey"}, "format must be"),
        ({"auctions": 1, "bidders": 2, "strategies": ("psychic",)}, "unknown strategy"),
        ({"auctions": 1, "bidders": 2, "duration_s": Decimal("0.5")}, "at least 1 second"),
    ],
)
def test_no_plan_from_bad_arguments(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(PlanError, match=words):
        make_plan(1, **kwargs)  # type: ignore[arg-type]
