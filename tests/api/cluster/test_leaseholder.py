"""The lease holder's two loops (:mod:`api.cluster.leaseholder`): the beat renews on time
and on its own store, whatever the round is doing."""

from __future__ import annotations

import asyncio
from typing import Any

from api.cluster.leaseholder import LeaseHolder
from api.storage.leases import MemoryLeaseStore

TTL_S, RENEW_S = 0.6, 0.15


class Serving:
    async def stop(self) -> None:
        return None


class Bus:
    """Just enough of :class:`api.cluster.bus.Bus` to start a holder's loops."""

    async def serve(self, kind: str, node: str, handler: Any) -> Serving:
        return Serving()


class SlowRound(LeaseHolder):
    """A holder whose round takes far longer than a lease lives (restoring many taken
    auctions on a busy node, say)."""

    rounds = 0

    async def round(self) -> None:
        self.rounds += 1
        await asyncio.sleep(TTL_S * 4)


class Saturated(MemoryLeaseStore):
    """A store every statement of which waits, as a pool whose connections are all taken
    by look-ups and claims."""

    async def renew(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(TTL_S * 4)
        return await super().renew(*args, **kwargs)


def holder(cls: type[LeaseHolder], leases: MemoryLeaseStore, **extra: Any) -> LeaseHolder:
    return cls(
        leases,
        Bus(),  # type: ignore[arg-type]
        kind="auction",
        bus_kind="n",
        node_id="a",
        ttl_s=TTL_S,
        renew_s=RENEW_S,
        **extra,
    )


async def test_a_long_round_does_not_delay_the_renewal() -> None:
    leases = MemoryLeaseStore()
    a = holder(SlowRound, leases)
    assert await a.claim("x") == 1
    await a.serve(lambda payload: asyncio.sleep(0, b""), "test")
    try:
        await asyncio.sleep(TTL_S * 3)  # the first round is still running
        assert isinstance(a, SlowRound) and a.rounds == 1
        assert a.holding("x") == 1 and a.stats.lost == 0
        assert await leases.acquire("auction", "x", "b", TTL_S) is None  # still a's
    finally:
        await a.stop()


async def test_the_beat_renews_on_its_own_store() -> None:
    shared = Saturated()
    # Another connection to the same table, which no look-up or claim is holding.
    beat_store = MemoryLeaseStore()
    beat_store._rows = shared._rows  # noqa: SLF001
    a = holder(LeaseHolder, shared)  # one store for everything: renewals wait
    c = holder(LeaseHolder, shared, beat_leases=beat_store)
    c.node_id = "c"
    assert await a.claim("x") == 1 and await c.claim("y") == 1
    await a.serve(lambda payload: asyncio.sleep(0, b""), "a")
    await c.serve(lambda payload: asyncio.sleep(0, b""), "c")
    try:
        await asyncio.sleep(TTL_S * 2)
        # a's renewal waited past its lease; c's went through on its own store.
        assert await beat_store.acquire("auction", "x", "b", TTL_S) is not None
        assert await beat_store.acquire("auction", "y", "b", TTL_S) is None
        assert c.holding("y") == 1
    finally:
        await a.stop()
        await c.stop()
