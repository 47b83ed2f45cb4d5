"""A node follows the auctions other nodes own: two real nodes in this process (one
PostgreSQL, one NATS), so the follower's feed can be cut where NATS would lose a message.

A commit the follower never hears of is found by the node's reconciliation with the log
(:meth:`api.node.Node._reconcile_forever`) when no later commit comes to show the gap: an
auction's last event, its close say, must not stay missing on the watchers' screens."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from api.auctions.service import Remote, UnknownAuction
from api.auctions.views import Audience
from api.live.hub import Subscriber
from api.node import Node
from engine import BidAccepted, CommandRejected, Event, PlaceBid, Reason
from tests.api.cluster.inprocess import reverse_auction, until


async def test_a_follower_that_missed_the_last_commit_catches_up_from_the_log(
    two_nodes: tuple[Node, Node],
) -> None:
    owner, follower = two_nodes
    watcher = Subscriber(Audience("officer", "o1"))
    try:
        starts_at = await reverse_auction(owner, "x", ("ann",))
        assert isinstance(await follower.svc.runner("x"), Remote)
        channel = follower.hub.channel("x")
        channel.subscribers.add(watcher)
        assert channel.head == 2

        # NATS loses the next commit on its way to the follower.
        assert follower.follower is not None
        lost: list[list[Event]] = []
        feed = follower.follower.fed
        follower.follower.fed = lambda auction_id, events: lost.append(events)  # type: ignore[method-assign]
        await until(starts_at)
        events = await owner.svc.submit(
            "x", lambda at: PlaceBid("bid-1", at, "ann", Decimal("9999.99"), "EUR")
        )
        assert isinstance(events[-1], BidAccepted)
        deadline = time.monotonic() + 5
        heard = lambda: any(batch[-1].seq == events[-1].seq for batch in lost)  # noqa: E731
        while not heard() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert heard(), "the commit never reached the follower"
        follower.follower.fed = feed  # type: ignore[method-assign]
        assert channel.head == 2  # missed (the start's tick too), no later commit shows the gap

        # Reconciled with the log within two rounds (2 s each), not by another commit.
        deadline = time.monotonic() + 10
        while channel.head < events[-1].seq and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert channel.head == events[-1].seq
        assert channel.committed.seq == owner.hub.channel("x").committed.seq

        # A command given to the follower runs at the owner (forwarded over NATS) and
        # is answered with the owner's events, already in the follower's channel.
        forwarded = await follower.svc.submit(
            "x", lambda at: PlaceBid("bid-2", at, "ann", Decimal("9999.98"), "EUR")
        )
        assert isinstance(forwarded[-1], BidAccepted) and forwarded[-1].price == 999_998
        assert channel.head == forwarded[-1].seq
        refused = await follower.svc.submit(
            "x", lambda at: PlaceBid("bid-3", at, "ann", Decimal("9999.99"), "EUR")
        )
        assert isinstance(refused[-1], CommandRejected)
        assert refused[-1].reason is Reason.INSUFFICIENT_IMPROVEMENT
        assert [e.seq for e in await owner.svc.history("x", 0)] == list(
            range(1, refused[-1].seq + 1)
        )
        with pytest.raises(UnknownAuction):
            await follower.svc.submit(
                "nowhere", lambda at: PlaceBid("bid-4", at, "ann", Decimal("1"), "EUR")
            )
        assert follower.ownership is not None and follower.ownership.stats.forwarded >= 2
        assert owner.ownership is not None and owner.ownership.stats.served >= 2
    finally:
        follower.hub.channel("x").subscribers.discard(watcher)
