"""``gavel sim``'s summary, on hand-made results: counts, latency, savings, winners."""

from __future__ import annotations

import json
from decimal import Decimal

from bidders_sim.plan import AuctionPlan, BidderPlan, Plan
from bidders_sim.runner import BidderOutcome
from bidders_sim.sim import AuctionRecord, SimResult
from bidders_sim.summary import percentile, render, summarize
from engine.rules import EnglishRules, ReverseRules, SealedRules, Side, Step


def _outcome(
    party: str,
    strategy: str,
    *,
    sent: int = 0,
    acks: int = 0,
    rejects: dict[str, int] | None = None,
    latencies: tuple[int, ...] = (),
    unanswered: int = 0,
    error: str | None = None,
) -> BidderOutcome:
    return BidderOutcome(
        party=party,
        strategy=strategy,
        label=None,
        sent=sent,
        acks=acks,
        rejects=rejects or {},
        unanswered=unanswered,
        latencies_us=latencies,
        commands=(),
        ended=None,
        error=error,
    )


def _result() -> SimResult:
    english = AuctionPlan(
        0,
        "english",
        EnglishRules("EUR", 0, 5, start_price=100_000, step=Step(amount=1000)),
        (BidderPlan("b1-jump", "jump", 150_000, 1), BidderPlan("b2-sniper", "sniper", 140_000, 2)),
    )
    reverse = AuctionPlan(
        1,
        "reverse",
        ReverseRules("EUR", 0, 5, start_price=200_000, step=Step(amount=1000)),
        (BidderPlan("b1-jump", "jump", 150_000, 3), BidderPlan("b2-min_step", "min_step", 1, 4)),
    )
    sealed = AuctionPlan(
        2,
        "sealed",
        SealedRules("EUR", 0, 5, side=Side.PROCUREMENT, start_price=50_000),
        (BidderPlan("b1-shader", "shader", 40_000, 5),),
    )
    plan = Plan(7, "EUR", (english, reverse, sealed))
    records = (
        AuctionRecord(
            english,
            "sim-7-x-1",
            {"outcome": "awarded", "winners": ["b1-jump"], "price": 125_000},
            (
                _outcome("b1-jump", "jump", sent=3, acks=3, latencies=(1000, 2000, 3000)),
                _outcome(
                    "b2-sniper",
                    "sniper",
                    sent=2,
                    acks=1,
                    rejects={"insufficient_improvement": 1},
                    latencies=(4000, 100_000),
                ),
            ),
        ),
        AuctionRecord(
            reverse,
            "sim-7-x-2",
            {"outcome": "awarded", "winners": ["b2-min_step"], "price": 150_000},
            (
                _outcome("b1-jump", "jump", sent=1, acks=1, latencies=(5000,)),
                _outcome(
                    "b2-min_step", "min_step", sent=2, acks=1, unanswered=1, latencies=(6000,)
                ),
            ),
        ),
        AuctionRecord(
            sealed,
            "sim-7-x-3",
            {"outcome": "no_bids", "winners": [], "price": None},
            (_outcome("b1-shader", "shader", error="strategy failed"),),
        ),
    )
    return SimResult(plan, records, 12.345)


def test_counts_latency_savings_and_winners() -> None:
    summary = summarize(_result())
    assert summary["seed"] == 7 and summary["wall_time_s"] == 12.35
    assert summary["auctions"] == {
        "total": 3,
        "by_format": {"english": 1, "reverse": 1, "sealed": 1},
        "by_outcome": {"awarded": 2, "no_bids": 1},
    }
    assert (summary["bids_sent"], summary["acks"], summary["unanswered"], summary["errors"]) == (
        8,
        6,
        1,
        1,
    )
    assert summary["rejects"] == {"insufficient_improvement": 1}
    # 7 latencies: 1, 2, 3, 4, 5, 6, 100 ms; nearest rank.
    assert summary["ack_latency_ms"] == {
        "count": 7,
        "p50": 4.0,
        "p90": 100.0,
        "p99": 100.0,
        "max": 100.0,
    }
    assert summary["savings"] == {
        "EUR": {
            "procurement": {
                "auctions": 1,
                "start_total": "2000.00",
                "final_total": "1500.00",
                "saved": "500.00",
                "percent": "25.00",
            },
            "sale": {
                "auctions": 1,
                "start_total": "1000.00",
                "final_total": "1250.00",
                "uplift": "250.00",
                "percent": "25.00",
            },
        }
    }
    assert summary["winners"] == {
        "jump": {"bidders": 2, "wins": 1, "share": "50.00"},
        "min_step": {"bidders": 1, "wins": 1, "share": "50.00"},
        "shader": {"bidders": 1, "wins": 0, "share": "0.00"},
        "sniper": {"bidders": 1, "wins": 0, "share": "0.00"},
    }
    first = summary["per_auction"][0]
    assert first == {
        "id": "sim-7-x-1",
        "format": "english",
        "side": "sale",
        "outcome": "awarded",
        "winners": [{"party": "b1-jump", "strategy": "jump"}],
        "currency": "EUR",
        "start_price": "1000.00",
        "price": "1250.00",
    }
    assert summary["per_auction"][2]["side"] == "procurement"
    json.dumps(summary)  # JSON all through


def test_the_text() -> None:
    text = render(summarize(_result()))
    assert text.startswith("gavel sim (seed 7): 3 auctions in 12.35 s\n")
    assert "sent 8, acks 6, rejects 1, unanswered 1, bidders stopped by errors 1" in text
    assert "rejects:   insufficient_improvement 1" in text
    assert "p50 4.0 ms, p90 100.0 ms, p99 100.0 ms, max 100.0 ms (7 answers)" in text
    procurement = "procurement: 1 awarded, start 2000.00 -> final 1500.00 EUR: saved 500.00"
    assert f"{procurement} (25.00 %)" in text
    assert "sale: 1 awarded, start 1000.00 -> final 1250.00 EUR: uplift 250.00 (25.00 %)" in text
    assert "    jump             1 wins of   2 bidders  (50.00 % of awards)" in text


def test_an_empty_run() -> None:
    plan = Plan(1, "EUR", ())
    summary = summarize(SimResult(plan, (), 0.0))
    assert summary["ack_latency_ms"]["p50"] is None and summary["savings"] == {}
    assert "latency" not in render(summary)


def test_percentile_nearest_rank() -> None:
    assert percentile([], Decimal("0.5")) is None
    assert percentile([10], Decimal("0.99")) == 10
    assert percentile(list(range(1, 101)), Decimal("0.9")) == 90
    assert percentile(list(range(1, 101)), Decimal("0.99")) == 99
