"""Leases and fencing (:mod:`api.storage.leases`): the port's contract over both adapters,
the fenced appends of the auction and tender stores, the group commit writer's, a
takeover waiting for an append in flight, and a stateful property test of the memory one.

:class:`LeaseContract` states the behaviour once; each adapter subclasses it and
provides ``env``: a lease store, the auction and tender stores fenced against it, and
``pass_time``, which makes time pass for every lease and node (the memory adapter's
clock moves; in PostgreSQL, whose clock cannot be moved, every stored time moves back).

The PostgreSQL tests share one database for the module, each in a fresh schema of its own
(``lease_pool``): a schema and the migrations cost far less than a database each.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from api.storage.errors import LeaseLost, StorageMisuse
from api.storage.leases import Lease, LeaseStore, MemoryLeaseStore, NodeInfo, PostgresLeaseStore
from api.storage.memory import MemoryEventStore, MemoryTenderStore
from api.storage.migrate import migrate
from api.storage.ports import AuctionRecord, AuctionStatus, EventStore, StoredEvent
from api.storage.postgres import (
    PostgresEventStore,
    append_batch,
    create_pool,
    dsn_with_database,
    lease_epochs,
)
from api.storage.tenders import PostgresTenderStore, StoredTenderEvent, TenderStore
from api.storage.writer import GroupCommitWriter

T = TypeVar("T")

SECOND = 1_000_000
T0 = 1_700_000_000 * SECOND


def events(auction_id: str, first: int, count: int = 1) -> list[StoredEvent]:
    return [
        StoredEvent(auction_id, seq, "Bid", seq * 10, f"{auction_id}:{seq}".encode())
        for seq in range(first, first + count)
    ]


def tender_event(seq: int) -> StoredTenderEvent:
    return StoredTenderEvent(seq, "EnvelopeReceived", seq * 10, b'{"seq":%d}' % seq)


class FakeClock:
    """Microseconds since the Unix epoch, moved by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def in_thread(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to its end on a loop of its own (a test's loop may be running)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, make()).result()


@pytest.fixture(scope="module")
def lease_database(pg_server_dsn: str) -> Iterator[str]:
    """The DSN of a database for this module's PostgreSQL tests; dropped at its end."""
    name = f"gavel_test_leases_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(pg_server_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    in_thread(lambda: admin(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    try:
        yield dsn_with_database(pg_server_dsn, name)
    finally:
        in_thread(lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def lease_pool(lease_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool whose connections use a fresh schema, every migration applied in it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(lease_database)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    pool = await create_pool(lease_database, server_settings={"search_path": schema})
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        yield pool
    finally:
        await pool.close()
        conn = await asyncpg.connect(lease_database)
        try:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await conn.close()


@dataclass
class Env:
    leases: LeaseStore
    auctions: EventStore
    tenders: TenderStore
    #: Make ``seconds`` pass for every lease and node.
    pass_time: Callable[[float], Awaitable[None]]
    #: The lease store's clock now, in microseconds.
    now_us: Callable[[], Awaitable[int]]


class LeaseContract:
    """Every adapter of the lease port, and the stores fenced against it, pass these."""

    @pytest.fixture
    def env(self) -> Env:
        raise NotImplementedError

    # -- acquire, holder -------------------------------------------------------------

    async def test_a_fresh_lease_has_epoch_one(self, env: Env) -> None:
        before = await env.now_us()
        lease = await env.leases.acquire("auction", "a1", "n1", 3)
        after = await env.now_us()
        assert lease is not None
        assert (lease.kind, lease.stream_id, lease.owner, lease.epoch) == ("auction", "a1", "n1", 1)
        assert lease.ownerless_us is None
        assert before + 3 * SECOND <= lease.expires_at_us <= after + 3 * SECOND
        assert await env.leases.holder("auction", "a1") == Lease(
            "auction", "a1", "n1", 1, lease.expires_at_us, None
        )

    async def test_a_live_lease_is_not_taken_but_its_owner_renews_it(self, env: Env) -> None:
        first = await env.leases.acquire("auction", "a1", "n1", 3)
        assert first is not None
        assert await env.leases.acquire("auction", "a1", "n2", 3) is None
        await env.pass_time(1)
        again = await env.leases.acquire("auction", "a1", "n1", 3)
        assert again is not None
        assert again.epoch == 1 and again.ownerless_us is None
        assert again.expires_at_us > first.expires_at_us
        holder = await env.leases.holder("auction", "a1")
        assert holder is not None and holder.owner == "n1"

    async def test_kinds_are_apart(self, env: Env) -> None:
        assert await env.leases.acquire("auction", "x", "n1", 3) is not None
        tender = await env.leases.acquire("tender", "x", "n2", 3)
        assert tender is not None and (tender.owner, tender.epoch) == ("n2", 1)
        assert await env.leases.holder("tender", "x") == tender
        assert await env.leases.holder("auction", "nope") is None

    async def test_an_expired_lease_is_taken_over_with_the_next_epoch(self, env: Env) -> None:
        assert await env.leases.acquire("auction", "a1", "n1", 1) is not None
        await env.pass_time(5)
        assert await env.leases.holder("auction", "a1") is None
        taken = await env.leases.acquire("auction", "a1", "n2", 3)
        assert taken is not None
        assert (taken.owner, taken.epoch) == ("n2", 2)
        # From n1's last renewal to the takeover: the 5 s that passed (and the few µs
        # the statements took in PostgreSQL).
        assert taken.ownerless_us is not None
        assert 5 * SECOND <= taken.ownerless_us < 6 * SECOND
        holder = await env.leases.holder("auction", "a1")
        assert holder is not None and (holder.owner, holder.epoch) == ("n2", 2)
        assert await env.leases.acquire("auction", "a1", "n1", 3) is None

    async def test_an_owner_retaking_its_own_expired_lease_gets_a_new_epoch(self, env: Env) -> None:
        assert await env.leases.acquire("auction", "a1", "n1", 1) is not None
        await env.pass_time(2)
        lease = await env.leases.acquire("auction", "a1", "n1", 1)
        assert lease is not None and lease.epoch == 2 and lease.ownerless_us is not None

    # -- renew -------------------------------------------------------------------------

    async def test_the_owner_renews(self, env: Env) -> None:
        a1 = await env.leases.acquire("auction", "a1", "n1", 2)
        t1 = await env.leases.acquire("tender", "t1", "n1", 2)
        assert a1 is not None and t1 is not None
        await env.pass_time(1)
        held = {("auction", "a1"): 1, ("tender", "t1"): 1}
        assert await env.leases.renew("n1", held, 10) == set(held)
        await env.pass_time(5)  # past the first TTL, within the renewed one
        holder = await env.leases.holder("auction", "a1")
        assert holder is not None and holder.epoch == 1
        assert holder.expires_at_us > a1.expires_at_us
        assert await env.leases.renew("n1", {}, 10) == set()

    async def test_an_owner_renews_its_expired_lease_nobody_took(self, env: Env) -> None:
        assert await env.leases.acquire("auction", "a1", "n1", 1) is not None
        await env.pass_time(3)
        assert await env.leases.holder("auction", "a1") is None
        assert await env.leases.renew("n1", {("auction", "a1"): 1}, 3) == {("auction", "a1")}
        holder = await env.leases.holder("auction", "a1")
        assert holder is not None and (holder.owner, holder.epoch) == ("n1", 1)

    async def test_the_old_owner_cannot_renew_after_a_takeover(self, env: Env) -> None:
        assert await env.leases.acquire("auction", "a1", "n1", 1) is not None
        assert await env.leases.acquire("auction", "a2", "n1", 1) is not None
        await env.pass_time(2)
        assert await env.leases.acquire("auction", "a1", "n2", 3) is not None
        held = {("auction", "a1"): 1, ("auction", "a2"): 1, ("auction", "a3"): 1}
        assert await env.leases.renew("n1", held, 3) == {("auction", "a2")}
        holder = await env.leases.holder("auction", "a1")
        assert holder is not None and (holder.owner, holder.epoch) == ("n2", 2)
        # The new owner's epoch is what counts, not its name.
        assert await env.leases.renew("n2", {("auction", "a1"): 1}, 3) == set()
        assert await env.leases.renew("n2", {("auction", "a1"): 2}, 3) == {("auction", "a1")}

    # -- release -----------------------------------------------------------------------

    async def test_a_released_lease_is_taken_at_once(self, env: Env) -> None:
        assert await env.leases.acquire("auction", "a1", "n1", 30) is not None
        assert await env.leases.acquire("auction", "a2", "n1", 30) is not None
        await env.leases.release("n1", {("auction", "a1"): 1})
        assert await env.leases.holder("auction", "a1") is None
        assert await env.leases.holder("auction", "a2") is not None
        # The released lease can no longer be renewed by its former owner.
        assert await env.leases.renew("n1", {("auction", "a1"): 1}, 30) == set()
        taken = await env.leases.acquire("auction", "a1", "n2", 30)
        assert taken is not None
        assert (taken.owner, taken.epoch, taken.ownerless_us) == ("n2", 2, None)

    async def test_release_then_reacquire_by_the_same_node_is_a_new_epoch(self, env: Env) -> None:
        assert await env.leases.acquire("auction", "a1", "n1", 30) is not None
        await env.leases.release("n1", {("auction", "a1"): 1})
        lease = await env.leases.acquire("auction", "a1", "n1", 30)
        assert lease is not None and (lease.epoch, lease.ownerless_us) == (2, None)

    async def test_release_of_what_is_not_held_changes_nothing(self, env: Env) -> None:
        assert await env.leases.acquire("auction", "a1", "n1", 30) is not None
        await env.leases.release("n2", {("auction", "a1"): 1})  # not the owner
        await env.leases.release("n1", {("auction", "a1"): 7})  # not the epoch
        await env.leases.release("n1", {("auction", "nope"): 1})
        await env.leases.release("n1", {})
        holder = await env.leases.holder("auction", "a1")
        assert holder is not None and (holder.owner, holder.epoch) == ("n1", 1)

    # -- orphans and counts ----------------------------------------------------------

    async def test_orphaned_auctions_are_the_not_ended_without_a_live_lease(self, env: Env) -> None:
        statuses = {
            "live": AuctionStatus.RUNNING,
            "expired": AuctionStatus.RUNNING,
            "released": AuctionStatus.SCHEDULED,
            "free": AuctionStatus.SCHEDULED,
            "ended": AuctionStatus.ENDED,
        }
        for created, (auction_id, status) in enumerate(statuses.items()):
            await env.auctions.upsert_auction(
                AuctionRecord(auction_id, "english", status, created, "{}")
            )
        assert await env.leases.acquire("auction", "expired", "n1", 1) is not None
        await env.pass_time(2)
        assert await env.leases.acquire("auction", "live", "n1", 30) is not None
        assert await env.leases.acquire("auction", "released", "n1", 30) is not None
        await env.leases.release("n1", {("auction", "released"): 1})
        # A tender's lease does not cover the auction of the same id.
        assert await env.leases.acquire("tender", "free", "n1", 30) is not None
        assert await env.leases.orphaned_auctions(10) == ["expired", "released", "free"]
        assert await env.leases.orphaned_auctions(2) == ["expired", "released"]
        assert await env.leases.orphaned_auctions(0) == []
        with pytest.raises(StorageMisuse):
            await env.leases.orphaned_auctions(-1)

    async def test_owned_counts_count_live_auction_leases(self, env: Env) -> None:
        assert await env.leases.owned_counts() == {}
        for stream_id, owner, ttl in [("a1", "n1", 30), ("a2", "n1", 30), ("a3", "n2", 30)]:
            assert await env.leases.acquire("auction", stream_id, owner, ttl) is not None
        assert await env.leases.acquire("tender", "t1", "n2", 30) is not None
        assert await env.leases.acquire("auction", "a4", "n3", 30) is not None
        await env.leases.release("n3", {("auction", "a4"): 1})
        assert await env.leases.owned_counts() == {"n1": 2, "n2": 1}
        await env.pass_time(60)
        assert await env.leases.owned_counts() == {}

    # -- nodes -----------------------------------------------------------------------

    async def test_heartbeat_live_nodes_and_forget(self, env: Env) -> None:
        assert await env.leases.live_nodes() == []
        before = await env.now_us()
        await env.leases.heartbeat("n2", "http://127.0.0.1:8002", 10)
        await env.leases.heartbeat("n1", "http://127.0.0.1:8001", 1, draining=True)
        nodes = await env.leases.live_nodes()
        assert [(n.node_id, n.url, n.draining) for n in nodes] == [
            ("n1", "http://127.0.0.1:8001", True),
            ("n2", "http://127.0.0.1:8002", False),
        ]
        assert all(n.heartbeat_at_us >= before for n in nodes)
        await env.pass_time(2)  # n1's heartbeat ran out
        assert [n.node_id for n in await env.leases.live_nodes()] == ["n2"]
        await env.leases.heartbeat("n1", "http://127.0.0.1:9001", 10)
        nodes = await env.leases.live_nodes()
        assert nodes[0] == NodeInfo("n1", "http://127.0.0.1:9001", False, nodes[0].heartbeat_at_us)
        assert nodes[0].heartbeat_at_us > nodes[1].heartbeat_at_us
        await env.leases.forget_node("n1")
        await env.leases.forget_node("nope")
        assert [n.node_id for n in await env.leases.live_nodes()] == ["n2"]

    async def test_misuse_is_refused(self, env: Env) -> None:
        with pytest.raises(StorageMisuse):
            await env.leases.acquire("lot", "a1", "n1", 3)
        with pytest.raises(StorageMisuse):
            await env.leases.acquire("auction", "a1", "n1", 0)
        with pytest.raises(StorageMisuse):
            await env.leases.acquire("auction", "a1", "n1", float("nan"))
        with pytest.raises(StorageMisuse):
            await env.leases.acquire("auction", "", "n1", 3)
        with pytest.raises(StorageMisuse):
            await env.leases.renew("n1", {("lot", "a1"): 1}, 3)
        with pytest.raises(StorageMisuse):
            await env.leases.renew("n1", {}, -1)
        with pytest.raises(StorageMisuse):
            await env.leases.heartbeat("n1", "http://x", 0)

    # -- fencing ---------------------------------------------------------------------

    async def test_an_append_at_the_current_epoch_is_stored(self, env: Env) -> None:
        assert await env.leases.acquire("auction", "a1", "n1", 30) is not None
        await env.auctions.append("a1", events("a1", 1, 2), epoch=1)
        assert await env.auctions.read("a1") == events("a1", 1, 2)

    async def test_an_append_at_an_old_epoch_is_refused_after_a_takeover(self, env: Env) -> None:
        assert await env.leases.acquire("auction", "a1", "n1", 1) is not None
        await env.auctions.append("a1", events("a1", 1), epoch=1)
        await env.pass_time(2)
        assert await env.leases.acquire("auction", "a1", "n2", 30) is not None
        with pytest.raises(LeaseLost) as lost:
            await env.auctions.append("a1", events("a1", 2), epoch=1)
        assert (lost.value.kind, lost.value.stream_id) == ("auction", "a1")
        assert (lost.value.epoch, lost.value.current) == (1, 2)
        assert await env.auctions.read("a1") == events("a1", 1)
        await env.auctions.append("a1", events("a1", 2), epoch=2)
        assert await env.auctions.last_seq("a1") == 2

    async def test_an_append_after_release_and_retake_is_refused(self, env: Env) -> None:
        assert await env.leases.acquire("auction", "a1", "n1", 30) is not None
        await env.leases.release("n1", {("auction", "a1"): 1})
        assert await env.leases.acquire("auction", "a1", "n2", 30) is not None
        with pytest.raises(LeaseLost):
            await env.auctions.append("a1", events("a1", 1), epoch=1)
        assert await env.auctions.read("a1") == []

    async def test_an_append_with_an_epoch_and_no_lease_row_is_refused(self, env: Env) -> None:
        with pytest.raises(LeaseLost) as lost:
            await env.auctions.append("a1", events("a1", 1), epoch=1)
        assert (lost.value.epoch, lost.value.current) == (1, None)
        # A tender's lease is no auction's.
        assert await env.leases.acquire("tender", "a1", "n1", 30) is not None
        with pytest.raises(LeaseLost):
            await env.auctions.append("a1", events("a1", 1), epoch=1)
        assert await env.auctions.read("a1") == []

    async def test_an_append_without_an_epoch_is_not_fenced(self, env: Env) -> None:
        await env.auctions.append("a1", events("a1", 1))
        assert await env.leases.acquire("auction", "a1", "n2", 30) is not None
        await env.auctions.append("a1", events("a1", 2), epoch=None)
        assert await env.auctions.last_seq("a1") == 2

    async def test_a_tender_append_is_fenced_by_the_tender_lease(self, env: Env) -> None:
        assert await env.leases.acquire("tender", "t1", "n1", 1) is not None
        await env.tenders.append("t1", [tender_event(1)], epoch=1)
        await env.pass_time(2)
        assert await env.leases.acquire("tender", "t1", "n2", 30) is not None
        with pytest.raises(LeaseLost) as lost:
            await env.tenders.append("t1", [tender_event(2)], epoch=1)
        assert (lost.value.kind, lost.value.epoch, lost.value.current) == ("tender", 1, 2)
        assert await env.tenders.read("t1") == [tender_event(1)]
        with pytest.raises(LeaseLost):
            await env.tenders.append("t9", [tender_event(1)], epoch=1)
        await env.tenders.append("t1", [tender_event(2)], epoch=2)
        await env.tenders.append("t1", [tender_event(3)])  # unfenced
        assert [e.seq for e in await env.tenders.read("t1")] == [1, 2, 3]


class TestMemoryLeases(LeaseContract):
    @pytest.fixture
    def env(self) -> Env:
        clock = FakeClock()
        leases = MemoryLeaseStore(clock=clock)

        async def pass_time(seconds: float) -> None:
            clock.now += round(seconds * SECOND)

        async def now_us() -> int:
            return clock.now

        return Env(
            leases,
            MemoryEventStore(leases=leases),
            MemoryTenderStore(leases=leases),
            pass_time,
            now_us,
        )

    def test_the_event_store_becomes_the_auction_list(self) -> None:
        leases = MemoryLeaseStore()
        store = MemoryEventStore(leases=leases)
        assert leases.auctions is store
        MemoryEventStore(leases=leases)
        assert leases.auctions is store

    async def test_without_a_lease_store_every_fenced_append_is_refused(self) -> None:
        with pytest.raises(LeaseLost):
            await MemoryEventStore().append("a1", events("a1", 1), epoch=1)
        with pytest.raises(LeaseLost):
            await MemoryTenderStore().append("t1", [tender_event(1)], epoch=1)
        assert await MemoryLeaseStore().orphaned_auctions(5) == []

    def test_the_default_clock_never_goes_back(self) -> None:
        clock = MemoryLeaseStore().clock
        readings = [clock() for _ in range(1000)]
        assert readings == sorted(readings)


# Every stored time moved back: as if `seconds` had passed on PostgreSQL's clock.
_PASS_LEASES = """
UPDATE leases SET renewed_at = renewed_at - make_interval(secs => $1::float8),
                  expires_at = expires_at - make_interval(secs => $1::float8)
"""
_PASS_NODES = """
UPDATE cluster_nodes SET started_at = started_at - make_interval(secs => $1::float8),
                         heartbeat_at = heartbeat_at - make_interval(secs => $1::float8),
                         expires_at = expires_at - make_interval(secs => $1::float8)
"""
_NOW_US = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint"


def postgres_env(pool: asyncpg.Pool) -> Env:
    async def pass_time(seconds: float) -> None:
        await pool.execute(_PASS_LEASES, seconds)
        await pool.execute(_PASS_NODES, seconds)

    async def now_us() -> int:
        value: int = await pool.fetchval(_NOW_US)
        return value

    return Env(
        PostgresLeaseStore(pool),
        PostgresEventStore(pool),
        PostgresTenderStore(pool),
        pass_time,
        now_us,
    )


class TestPostgresLeases(LeaseContract):
    @pytest.fixture
    def env(self, lease_pool: asyncpg.Pool) -> Env:
        return postgres_env(lease_pool)


# -- PostgreSQL: batches, the writer, a takeover waiting for an append --------------------


async def take_over(env: Env, auction_id: str) -> None:
    """``auction_id`` leased by n1 at epoch 1, then taken over by n2 at epoch 2."""
    assert await env.leases.acquire("auction", auction_id, "n1", 1) is not None
    await env.pass_time(2)
    lease = await env.leases.acquire("auction", auction_id, "n2", 30)
    assert lease is not None and lease.epoch == 2


async def test_a_batch_refuses_only_the_stale_append(lease_pool: asyncpg.Pool) -> None:
    env = postgres_env(lease_pool)
    await take_over(env, "a1")
    assert await env.leases.acquire("auction", "a2", "n1", 30) is not None
    async with lease_pool.acquire() as conn, conn.transaction():
        outcome = await append_batch(
            conn,
            [("a1", events("a1", 1)), ("a2", events("a2", 1)), ("a3", events("a3", 1))],
            epochs=[1, 1, None],
        )
    assert isinstance(outcome[0], LeaseLost) and outcome[0].current == 2
    assert outcome[1:] == [None, None]
    assert await env.auctions.read("a1") == []
    assert await env.auctions.read("a2") == events("a2", 1)
    assert await env.auctions.read("a3") == events("a3", 1)


@pytest.mark.parametrize("mode", ["group", "single"])
async def test_the_writer_fences_each_append_alone(lease_pool: asyncpg.Pool, mode: str) -> None:
    env = postgres_env(lease_pool)
    await take_over(env, "a1")
    assert await env.leases.acquire("auction", "a2", "n1", 30) is not None
    # A long window, so that both appends of the group writer go in one batch.
    async with GroupCommitWriter(lease_pool, mode=mode, window_us=200_000) as writer:  # type: ignore[arg-type]
        stale, fresh = await asyncio.gather(
            writer.append("a1", events("a1", 1), epoch=1),
            writer.append("a2", events("a2", 1), epoch=1),
            return_exceptions=True,
        )
        assert isinstance(stale, LeaseLost) and (stale.epoch, stale.current) == (1, 2)
        assert fresh is None
        assert writer.stats.appends_rejected == 1
        assert writer.stats.appends_committed == 1
        if mode == "group":
            assert writer.stats.batches_committed == 1
        await writer.append("a1", events("a1", 1), epoch=2)
        await writer.append("a1", events("a1", 2))  # unfenced
    assert await env.auctions.read("a1") == events("a1", 1, 2)
    assert await env.auctions.read("a2") == events("a2", 1)


async def wait_for_lock_wait(pool: asyncpg.Pool) -> None:
    """Return once some session of this database waits on a lock."""
    for _ in range(1000):
        waiting = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no session ever waited on a lock")


async def test_a_takeover_waits_for_the_fenced_append_in_flight(lease_pool: asyncpg.Pool) -> None:
    """The old owner checked its epoch and holds the lease row FOR SHARE; its lease has
    expired meanwhile (a pause). The takeover cannot slip between the check and the
    commit: it waits, and the old owner's next append is refused."""
    env = postgres_env(lease_pool)
    assert await env.leases.acquire("auction", "a1", "n1", 1) is not None
    await env.pass_time(2)  # the lease ran out (n1 paused), but nobody took it yet
    async with lease_pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        outcome = await append_batch(conn, [("a1", events("a1", 1))], epochs=[1])
        assert outcome == [None]
        takeover = asyncio.create_task(env.leases.acquire("auction", "a1", "n2", 30))
        await wait_for_lock_wait(lease_pool)
        assert not takeover.done()
        await transaction.commit()
    lease = await takeover
    assert lease is not None and (lease.owner, lease.epoch) == ("n2", 2)
    assert await env.auctions.read("a1") == events("a1", 1)
    with pytest.raises(LeaseLost):
        await env.auctions.append("a1", events("a1", 2), epoch=1)
    await env.auctions.append("a1", events("a1", 2), epoch=2)


async def test_a_renewal_and_an_append_of_many_streams_do_not_deadlock(
    lease_pool: asyncpg.Pool,
) -> None:
    """Both lock the rows in key order: the renewal waits for the append's commit."""
    env = postgres_env(lease_pool)
    ids = [f"a{i}" for i in range(5)]
    for auction_id in ids:
        assert await env.leases.acquire("auction", auction_id, "n1", 30) is not None
    async with lease_pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        assert await lease_epochs(conn, "auction", ids[::-1]) == dict.fromkeys(ids, 1)
        renewal = asyncio.create_task(
            env.leases.renew("n1", {("auction", i): 1 for i in reversed(ids)}, 30)
        )
        await wait_for_lock_wait(lease_pool)
        await transaction.commit()
    assert await renewal == {("auction", i) for i in ids}


async def test_lease_epochs_of_nothing_asks_nothing(lease_pool: asyncpg.Pool) -> None:
    async with lease_pool.acquire() as conn:
        assert await lease_epochs(conn, "auction", []) == {}


# -- a stateful property test of the memory adapter ---------------------------------------


def now(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (every memory adapter's) to its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise AssertionError("the coroutine suspended")


NODES = ("n1", "n2", "n3")
STREAMS = (("auction", "a1"), ("auction", "a2"), ("tender", "a1"))


class Leasing(RuleBasedStateMachine):
    """Nodes acquire, renew, release and append while time passes. Whatever they do:
    one epoch is only ever handed to one owner, epochs only grow, and a stream's stored
    events were written at epochs that never go down (an old owner never writes after
    a newer one did)."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.leases = MemoryLeaseStore(clock=self.clock)
        self.store = MemoryEventStore(leases=self.leases)
        self.tenders = MemoryTenderStore(leases=self.leases)
        #: What each node believes it holds: (kind, stream_id) -> epoch.
        self.held: dict[str, dict[tuple[str, str], int]] = {node: {} for node in NODES}
        #: Who each (stream, epoch) was handed to.
        self.owners: dict[tuple[tuple[str, str], int], str] = {}
        self.last_epoch: dict[tuple[str, str], int] = {}
        #: The epochs of each stream's successful fenced appends, in order.
        self.written: dict[tuple[str, str], list[int]] = {s: [] for s in STREAMS}

    @rule(node=st.sampled_from(NODES), stream=st.sampled_from(STREAMS), ttl=st.integers(1, 5))
    def acquire(self, node: str, stream: tuple[str, str], ttl: int) -> None:
        lease = now(self.leases.acquire(*stream, node, ttl))
        if lease is None:
            holder = now(self.leases.holder(*stream))
            assert holder is not None and holder.owner != node
            self.held[node].pop(stream, None)
            return
        assert lease.owner == node
        assert self.owners.setdefault((stream, lease.epoch), node) == node
        assert lease.epoch >= self.last_epoch.get(stream, 0)
        self.last_epoch[stream] = lease.epoch
        self.held[node][stream] = lease.epoch

    @rule(node=st.sampled_from(NODES), ttl=st.integers(1, 5))
    def renew(self, node: str, ttl: int) -> None:
        renewed = now(self.leases.renew(node, self.held[node], ttl))
        self.held[node] = {s: e for s, e in self.held[node].items() if s in renewed}

    @rule(node=st.sampled_from(NODES), data=st.data())
    def release(self, node: str, data: st.DataObject) -> None:
        if not self.held[node]:
            return
        stream = data.draw(st.sampled_from(sorted(self.held[node])))
        now(self.leases.release(node, {stream: self.held[node].pop(stream)}))

    @rule(seconds=st.integers(0, 4))
    def pass_time(self, seconds: int) -> None:
        self.clock.now += seconds * SECOND + 1

    @rule(node=st.sampled_from(NODES), stream=st.sampled_from(STREAMS))
    def append(self, node: str, stream: tuple[str, str]) -> None:
        epoch = self.held[node].get(stream, self.last_epoch.get(stream, 1))
        kind, stream_id = stream
        try:
            if kind == "auction":
                seq = now(self.store.last_seq(stream_id)) + 1
                now(self.store.append(stream_id, events(stream_id, seq), epoch=epoch))
            else:
                seq = len(now(self.tenders.read(stream_id))) + 1
                now(self.tenders.append(stream_id, [tender_event(seq)], epoch=epoch))
        except LeaseLost as lost:
            assert lost.current != epoch
            return
        assert self.leases.current_epoch(kind, stream_id) == epoch
        self.written[stream].append(epoch)

    @invariant()
    def consistent(self) -> None:
        self.leases._check()
        for stream, epochs in self.written.items():
            assert epochs == sorted(epochs), (stream, epochs)
        live = now(self.leases.owned_counts())
        assert sum(live.values()) <= sum(1 for kind, _ in STREAMS if kind == "auction")


Leasing.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestLeasing = Leasing.TestCase
