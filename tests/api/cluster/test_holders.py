"""The forwarding node's cache of lease holders (:mod:`api.cluster.holders`): one read
per stream however many commands ask at once, "nobody" kept briefly, a holder kept for
the renewal period, a cancelled or failed read handled for every caller."""

from __future__ import annotations

import asyncio

import pytest

from api.cluster.holders import VACANT_S, Holders
from api.storage.leases import Lease


class Store:
    """A lease store that answers ``holder`` only, once its gate opens, counting reads."""

    def __init__(self) -> None:
        self.owner: str | None = None
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def holder(self, kind: str, stream_id: str) -> Lease | None:
        self.reads += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        if self.owner is None:
            return None
        return Lease(kind, stream_id, self.owner, 1, 0, None)


def holders(store: Store, me: str = "me", max_age_s: float = 1.0) -> Holders:
    return Holders(store, "auction", me, max_age_s)  # type: ignore[arg-type]


async def test_many_lookups_at_once_make_one_read() -> None:
    store = Store()
    store.owner = "n2"
    store.gate.clear()
    cache = holders(store)
    lookups = [asyncio.create_task(cache.holder("a")) for _ in range(50)]
    await asyncio.sleep(0.01)
    store.gate.set()
    assert await asyncio.gather(*lookups) == ["n2"] * 50
    assert store.reads == 1
    assert await cache.holder("a") == "n2" and store.reads == 1  # fresh: kept
    await cache.holder("b")
    assert store.reads == 2  # another stream: its own read


async def test_nobody_is_kept_briefly_a_holder_for_the_renewal_period() -> None:
    store = Store()
    cache = holders(store, max_age_s=1.0)
    assert await cache.holder("a") is None
    assert await cache.holder("a") is None and store.reads == 1
    store.owner = "n2"
    await asyncio.sleep(VACANT_S + 0.05)
    assert await cache.holder("a") == "n2" and store.reads == 2
    store.owner = "n3"
    await asyncio.sleep(VACANT_S + 0.05)
    assert await cache.holder("a") == "n2" and store.reads == 2  # within max_age_s
    cache.forget("a")
    assert await cache.holder("a") == "n3" and store.reads == 3
    store.owner = "me"  # this node holds it: nobody to forward to
    cache.forget("a")
    assert await cache.holder("a") is None


async def test_a_cancelled_reader_leaves_the_others_their_answer() -> None:
    store = Store()
    store.owner = "n2"
    store.gate.clear()
    cache = holders(store)
    first = asyncio.create_task(cache.holder("a"))
    await asyncio.sleep(0.01)
    others = [asyncio.create_task(cache.holder("a")) for _ in range(3)]
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0.01)
    store.gate.set()
    assert await asyncio.gather(*others) == ["n2"] * 3
    with pytest.raises(asyncio.CancelledError):
        await first
    assert store.reads == 2  # the cancelled read, then one more for the three


async def test_a_failed_read_reaches_every_caller_and_is_not_kept() -> None:
    store = Store()
    store.gate.clear()
    store.fail = ConnectionError("PostgreSQL is gone")
    cache = holders(store)
    lookups = [asyncio.create_task(cache.holder("a")) for _ in range(3)]
    await asyncio.sleep(0.01)
    store.gate.set()
    results = await asyncio.gather(*lookups, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results) and store.reads == 1
    store.fail, store.owner = None, "n2"
    assert await cache.holder("a") == "n2" and store.reads == 2
