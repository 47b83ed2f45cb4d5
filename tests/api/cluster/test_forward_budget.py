"""An owner too busy to run a forwarded command in time says so (``overloaded``, not run)
while the forwarding node still waits, instead of leaving it to time out into
``outcome_unknown``: two real nodes in this process, one PostgreSQL, one NATS.

The owner is made "too busy" the way an overloaded one is: its runner is stuck in a
commit (here PostgreSQL holds the events table locked, so the append waits), and the
forwarded command waits in the queue behind it."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.auctions.runner import RunnerOverloaded
from api.auctions.service import Remote
from api.cluster.ownership import QUEUE_SHARE
from api.node import Node
from engine import BidAccepted, PlaceBid
from tests.api.cluster.inprocess import reverse_auction, until


async def test_a_forwarded_command_queued_past_its_budget_is_refused_not_run(
    pg_dsn: str, two_nodes: tuple[Node, Node]
) -> None:
    owner, other = two_nodes
    locker = await asyncpg.connect(pg_dsn)
    try:
        starts_at = await reverse_auction(owner, "x", ("ann", "bob"))
        assert isinstance(await other.svc.runner("x"), Remote)
        await until(starts_at)
        assert other.ownership is not None
        other.ownership.forward_timeout_s = 6.0  # so the owner's budget is 3 s
        budget = other.ownership.forward_timeout_s * QUEUE_SHARE

        # The owner's runner gets stuck in a commit: the events table is locked.
        locked = locker.transaction()
        await locked.start()
        await locker.execute("LOCK TABLE events IN EXCLUSIVE MODE")
        stuck = asyncio.create_task(
            owner.svc.submit(
                "x", lambda at: PlaceBid("bid-1", at, "ann", Decimal("9999.99"), "EUR")
            )
        )
        runner = owner.svc.runners["x"]
        deadline = time.monotonic() + 10
        while not runner._busy and time.monotonic() < deadline:  # in its append
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert runner._busy and not stuck.done()
        began = time.monotonic()
        with pytest.raises(RunnerOverloaded, match="not run"):
            await other.svc.submit(
                "x", lambda at: PlaceBid("bid-2", at, "bob", Decimal("9999.98"), "EUR")
            )
        waited = time.monotonic() - began
        # Refused at the owner's budget, before the forwarding node gave up (4 s).
        assert budget <= waited < other.ownership.forward_timeout_s, waited
        assert not stuck.done()
        await asyncio.sleep(other.ownership.forward_timeout_s - waited + 0.5)
        await locked.rollback()  # the lock goes; the stuck commit goes through

        assert isinstance((await stuck)[-1], BidAccepted)
        logged = [getattr(e, "command_id", None) for e in await owner.svc.history("x", 0)]
        assert "bid-1" in logged and "bid-2" not in logged  # refused, so never run
        # The owner takes forwarded commands as before once it keeps up again.
        again = await other.svc.submit(
            "x", lambda at: PlaceBid("bid-3", at, "bob", Decimal("9999.97"), "EUR")
        )
        assert isinstance(again[-1], BidAccepted)
        assert other.ownership.stats.forward_failures == 0  # answered every time
    finally:
        await locker.close()
