"""``gavel sim``'s orchestration against a real server: the summary agrees with the
server's own record, and the same seed replays the same sealed and Dutch auctions."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

from bidders_sim.plan import make_plan
from bidders_sim.sim import Officer, SimResult, auction_events, simulate
from bidders_sim.summary import summarize
from tests.api.conftest import Live


def _url(server: Live) -> str:
    return f"http://127.0.0.1:{server.port}"


async def test_the_summary_agrees_with_the_servers_record(server: Live) -> None:
    plan = make_plan(21, auctions=4, bidders=3, format="mixed", duration_s=Decimal(4))
    heard: Counter[str] = Counter()
    result = await simulate(
        plan, _url(server), server.officer, listener=lambda kind: heard.update([kind])
    )
    summary = summarize(result)
    officer = Officer(_url(server), server.officer)
    assert (
        summary["auctions"]["total"] == 4 and "not_ended" not in summary["auctions"]["by_outcome"]
    )
    assert heard["ended"] == 4 and heard["sent"] == summary["bids_sent"] > 0
    assert heard["ack"] == summary["acks"] and heard["reject"] == sum(summary["rejects"].values())
    assert summary["unanswered"] == 0 and summary["errors"] == 0
    assert summary["ack_latency_ms"]["count"] == summary["bids_sent"]
    rejected = 0
    for row, record in zip(summary["per_auction"], result.auctions, strict=True):
        state = officer.request("GET", f"/api/v1/auctions/{row['id']}")
        assert state["phase"] == "ended"
        assert [w["party"] for w in row["winners"]] == state["result"]["winners"]
        assert row["outcome"] == state["result"]["outcome"]
        price = state["result"]["price"]
        assert row["price"] == (None if price is None else f"{Decimal(price) / 100:.2f}")
        # What each bidder saw at the end is the server's result, by label.
        labels = {b.label: b.party for b in record.bidders}
        for bidder in record.bidders:
            assert bidder.ended is not None
            assert [labels[w] for w in bidder.ended["winners"]] == state["result"]["winners"]
        events = await auction_events(_url(server), server.officer, row["id"])
        rejected += sum(1 for event in events if event["type"] == "CommandRejected")
        accepted = {
            event["command_id"]
            for event in events
            if (event["type"] == "BidAccepted" and not event["proxy"])
            or event["type"] == "ProxySet"
        }
        acks = sum(bidder.acks for bidder in record.bidders)
        assert acks >= len(accepted)  # passes are acknowledged too
    assert rejected == sum(summary["rejects"].values())


def _replay(result: SimResult) -> list[object]:
    return [
        (
            record.plan.format,
            record.result and (record.result["winners"], record.result["price"]),
            [(bidder.party, bidder.commands) for bidder in record.bidders],
        )
        for record in result.auctions
    ]


async def test_the_same_seed_replays_sealed_and_dutch_auctions(server: Live) -> None:
    sealed = make_plan(5, auctions=2, bidders=3, format="sealed", duration_s=Decimal(3))
    dutch = make_plan(5, auctions=2, bidders=3, format="dutch", duration_s=Decimal(6))
    runs = await asyncio.gather(
        *(
            simulate(plan, _url(server), server.officer, tag=f"{plan.auctions[0].format}-{tag}")
            for plan in (sealed, dutch)
            for tag in ("one", "two")
        )
    )
    assert _replay(runs[0]) == _replay(runs[1])
    assert _replay(runs[2]) == _replay(runs[3])
    for run in runs:
        assert all(record.result is not None for record in run.auctions)
        assert any(bidder.commands for record in run.auctions for bidder in record.bidders)
