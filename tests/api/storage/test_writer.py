"""Group commit writer: ordering under concurrency, batching, isolation, shutdown."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.errors import (
    CommitUncertain,
    InvalidEvents,
    SeqConflict,
    SeqGap,
    StorageMisuse,
    WriterClosed,
)
from api.storage.ports import StoredEvent
from api.storage.postgres import PostgresEventStore
from api.storage.writer import GroupCommitWriter, Histogram, Mode
from tests.api.storage.test_postgres import AT_COMMIT


def events(auction_id: str, first: int, count: int = 1, type_: str = "bid") -> list[StoredEvent]:
    return [
        StoredEvent(auction_id, seq, type_, seq, f"{auction_id}:{seq}".encode())
        for seq in range(first, first + count)
    ]


async def wait_for_lock_wait(pool: asyncpg.Pool) -> None:
    """Return once some session of this database is waiting on a row lock."""
    for _ in range(500):
        waiting = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no session ever waited on a lock")


async def runner(writer: GroupCommitWriter, auction_id: str, appends: int, seed: int) -> int:
    """Append like one auction's runner: 1-3 events at a time, each after the last ack."""
    rng = random.Random(seed)
    seq = 1
    for _ in range(appends):
        count = rng.randint(1, 3)
        await writer.append(auction_id, events(auction_id, seq, count))
        seq += count
    return seq - 1


@pytest.mark.parametrize("mode", ["group", "single"])
async def test_concurrent_runners_store_everything_in_order(
    pg_pool: asyncpg.Pool, mode: Mode
) -> None:
    auctions, appends = 50, 20
    async with GroupCommitWriter(pg_pool, mode=mode) as writer:
        lasts = await asyncio.gather(
            *(runner(writer, f"auction-{i}", appends, seed=i) for i in range(auctions))
        )
    store = PostgresEventStore(pg_pool)
    for i, last in enumerate(lasts):
        auction_id = f"auction-{i}"
        assert await store.read(auction_id) == events(auction_id, 1, last)
    stats = writer.stats
    assert stats.appends_committed == auctions * appends
    assert stats.events_committed == sum(lasts)
    assert stats.batch_events.count == stats.batches_committed
    assert stats.commit_us.count == stats.batches_committed
    if mode == "group":
        # Batches really carried many auctions at once.
        assert stats.batches_committed < auctions * appends / 5
        assert stats.max_batch_auctions > 10
    else:
        assert stats.batches_committed == auctions * appends
        assert stats.max_batch_auctions == 1


async def test_conflict_found_by_the_probe_fails_only_its_append(pg_pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pg_pool)
    await store.append("taken", events("taken", 1))
    async with GroupCommitWriter(pg_pool, window_us=50_000) as writer:
        results = await asyncio.gather(
            writer.append("taken", events("taken", 1)),
            writer.append("gap", events("gap", 2)),
            writer.append("gap", events("gap", 1)),  # due, since the gap did not advance it
            *(writer.append(f"ok-{i}", events(f"ok-{i}", 1, 2)) for i in range(5)),
            return_exceptions=True,
        )
    assert isinstance(results[0], SeqConflict)
    assert isinstance(results[1], SeqGap)
    assert results[2:] == [None] * 6
    assert writer.stats.batches_committed == 1
    assert writer.stats.appends_rejected == 2
    assert await store.read("gap") == events("gap", 1)
    assert await store.read("taken") == events("taken", 1)


async def test_duplicate_key_in_a_batch_is_isolated(pg_pool: asyncpg.Pool) -> None:
    # Another session holds seq 1 of "raced" uncommitted: the batch's probe misses it,
    # its COPY waits on the key, then fails when the other side commits. The writer
    # must retry append by append, so that only the "raced" caller fails.
    store = PostgresEventStore(pg_pool)
    async with GroupCommitWriter(pg_pool, window_us=20_000) as writer, pg_pool.acquire() as other:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("INSERT INTO events VALUES ('raced', 1, 'x', 0, '\\x00'::bytea)")
        appends = asyncio.gather(
            writer.append("raced", events("raced", 1, 2)),
            *(writer.append(f"ok-{i}", events(f"ok-{i}", 1)) for i in range(4)),
            return_exceptions=True,
        )
        await wait_for_lock_wait(pg_pool)
        await transaction.commit()
        results = await appends
    assert isinstance(results[0], SeqConflict)
    assert results[1:] == [None] * 4
    assert writer.stats.isolations == 1
    assert [e.type for e in await store.read("raced")] == ["x"]
    for i in range(4):
        assert await store.last_seq(f"ok-{i}") == 1


async def test_close_flushes_pending_appends(pg_pool: asyncpg.Pool) -> None:
    writer = GroupCommitWriter(pg_pool, window_us=60_000_000)  # would wait a minute
    await writer.start()
    waiting = [asyncio.create_task(writer.append(f"a{i}", events(f"a{i}", 1))) for i in range(5)]
    await asyncio.sleep(0)
    assert writer.pending_events == 5
    await asyncio.wait_for(writer.close(), timeout=10)
    assert all(task.done() and task.exception() is None for task in waiting)
    assert writer.stats.batches_committed == 1
    with pytest.raises(WriterClosed):
        await writer.append("late", events("late", 1))
    await writer.close()  # idempotent
    assert await PostgresEventStore(pg_pool).last_seq("a4") == 1


async def test_full_batch_does_not_wait_for_the_window(pg_pool: asyncpg.Pool) -> None:
    async with GroupCommitWriter(pg_pool, max_batch_events=10, window_us=60_000_000) as writer:
        await asyncio.wait_for(
            asyncio.gather(*(writer.append(f"a{i}", events(f"a{i}", 1, 2)) for i in range(5))),
            timeout=10,
        )
        assert writer.stats.last_batch_events == 10
        # An append bigger than the limit goes out alone rather than never.
        await asyncio.wait_for(writer.append("big", events("big", 1, 25)), timeout=10)
        assert writer.stats.last_batch_events == 25


async def test_batches_respect_the_size_limit(pg_pool: asyncpg.Pool) -> None:
    async with GroupCommitWriter(pg_pool, max_batch_events=7, window_us=0) as writer:
        await asyncio.gather(*(writer.append(f"a{i}", events(f"a{i}", 1, 3)) for i in range(20)))
    histogram = dict(writer.stats.batch_events.cumulative())
    assert histogram[10] == writer.stats.batches_committed  # no batch above 7 events
    assert writer.stats.events_committed == 60


async def test_database_error_fails_the_batch_and_the_writer_goes_on(
    pg_pool: asyncpg.Pool,
) -> None:
    await pg_pool.execute("ALTER TABLE events ADD CONSTRAINT no_boom CHECK (type <> 'boom')")
    async with GroupCommitWriter(pg_pool) as writer:
        with pytest.raises(asyncpg.CheckViolationError):
            await writer.append("a", events("a", 1, type_="boom"))
        assert writer.stats.appends_failed == 1
        await writer.append("a", events("a", 1))
    assert await PostgresEventStore(pg_pool).last_seq("a") == 1


async def test_cancelled_caller_still_gets_its_events_committed(pg_pool: asyncpg.Pool) -> None:
    async with GroupCommitWriter(pg_pool, window_us=50_000) as writer:
        task = asyncio.create_task(writer.append("a", events("a", 1)))
        await asyncio.sleep(0)
        task.cancel()
        await writer.append("b", events("b", 1))  # same batch, committed together
    assert task.cancelled()
    assert await PostgresEventStore(pg_pool).last_seq("a") == 1


async def test_single_mode_reports_rejections(pg_pool: asyncpg.Pool) -> None:
    async with GroupCommitWriter(pg_pool, mode="single") as writer:
        await writer.append("a", events("a", 1))
        with pytest.raises(SeqConflict):
            await writer.append("a", events("a", 1))
    assert writer.stats.appends_rejected == 1
    assert writer.stats.batches_committed == 1


async def test_misuse(pg_pool: asyncpg.Pool) -> None:
    with pytest.raises(StorageMisuse):
        GroupCommitWriter(pg_pool, mode="batch")  # type: ignore[arg-type]
    with pytest.raises(StorageMisuse):
        GroupCommitWriter(pg_pool, max_batch_events=0)
    writer = GroupCommitWriter(pg_pool)
    with pytest.raises(StorageMisuse):
        await writer.append("a", events("a", 1))
    await writer.start()
    with pytest.raises(StorageMisuse):
        await writer.start()
    with pytest.raises(InvalidEvents):
        await writer.append("a", [])
    await writer.close()


async def test_refuses_a_pool_without_durable_commits(pg_dsn: str) -> None:
    pool = await asyncpg.create_pool(
        pg_dsn, min_size=1, max_size=1, server_settings={"synchronous_commit": "off"}
    )
    try:
        with pytest.raises(StorageMisuse, match="synchronous_commit"):
            await GroupCommitWriter(pool).start()
    finally:
        await pool.close()


def test_histogram_is_cumulative() -> None:
    histogram = Histogram((1, 10, 100))
    for value in (0, 1, 2, 10, 11, 1000):
        histogram.observe(value)
    assert histogram.cumulative() == [(1, 2), (10, 4), (100, 5), (float("inf"), 6)]
    assert (histogram.count, histogram.total) == (6, 1024)


async def test_torn_down_mid_commit_leaves_no_caller_waiting(pg_pool: asyncpg.Pool) -> None:
    # If the background task dies (cancelled at loop teardown, say) while a commit
    # blocks, the callers in that batch and those still queued hear WriterClosed.
    writer = GroupCommitWriter(pg_pool, window_us=0)
    await writer.start()
    async with pg_pool.acquire() as other:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("INSERT INTO events VALUES ('held', 1, 'x', 0, '\\x00'::bytea)")
        in_batch = asyncio.create_task(writer.append("held", events("held", 1)))
        await wait_for_lock_wait(pg_pool)
        queued = asyncio.create_task(writer.append("queued", events("queued", 1)))
        await asyncio.sleep(0)
        assert writer._task is not None
        writer._task.cancel()
        for task in (in_batch, queued):
            with pytest.raises(WriterClosed):
                await task
        await transaction.rollback()
    await writer.close()
    with pytest.raises(WriterClosed):
        await writer.append("late", events("late", 1))


@pytest.mark.parametrize("mode", ["group", "single"])
async def test_a_batch_failed_at_commit_is_uncertain_for_every_append(
    pg_pool: asyncpg.Pool, mode: Mode
) -> None:
    """Every append of a batch whose COMMIT failed hears CommitUncertain (not "nothing
    stored"): the writer's ``settled`` then says when the log may be believed."""
    await pg_pool.execute(AT_COMMIT)
    async with GroupCommitWriter(pg_pool, mode=mode, window_us=50_000) as writer:
        results = await asyncio.gather(
            writer.append("a", events("a", 1, type_="refused_at_commit")),
            writer.append("b", events("b", 1)),
            return_exceptions=True,
        )
        failed = [r for r in results if isinstance(r, CommitUncertain)]
        assert len(failed) == (2 if mode == "group" else 1), results
        assert all([await writer.settled(error) for error in failed])
        assert await writer.settled(CommitUncertain(None, "no transaction id"))
        await writer.append("a", events("a", 1))
    assert [row.seq for row in await PostgresEventStore(pg_pool).read("a")] == [1]


async def test_torn_down_at_commit_leaves_its_callers_uncertain(pg_pool: asyncpg.Pool) -> None:
    """Cancelled while COMMIT is on its way, a batch may be stored: its callers hear
    CommitUncertain with the transaction's id, never WriterClosed ("nothing stored")."""
    await pg_pool.execute(AT_COMMIT)
    writer = GroupCommitWriter(pg_pool, window_us=0)
    await writer.start()
    in_commit = asyncio.create_task(writer.append("slow", events("slow", 1, type_="slow_commit")))
    for _ in range(500):  # until the deferred trigger sleeps inside COMMIT
        sleeping = await pg_pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event = 'PgSleep'"
        )
        if sleeping:
            break
        await asyncio.sleep(0.01)
    assert writer._task is not None
    writer._task.cancel()
    with pytest.raises(CommitUncertain) as caught:
        await in_commit
    assert caught.value.xid is not None
    # asyncpg cancelled the statement on its way out: the transaction ends aborted.
    for _ in range(500):
        if await writer.settled(caught.value):
            break
        await asyncio.sleep(0.01)
    assert await writer.settled(caught.value)
    assert await PostgresEventStore(pg_pool).read("slow") == []
    await writer.close()


class BreaksOnRelease:
    """A pool whose connections fail their reset when they come back (their server died
    just after their last statement); the pool proper still takes them back."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    def __getattr__(self, name: str) -> object:
        return getattr(self.pool, name)

    def acquire(self) -> _Acquired:
        return _Acquired(self)

    async def release(self, conn: asyncpg.Connection) -> None:
        await self.pool.release(conn)
        raise asyncpg.InternalClientError("cannot switch to state 15")


class _Acquired:
    """``pool.acquire()`` of :class:`BreaksOnRelease`: awaited, or ``async with``."""

    def __init__(self, breaking: BreaksOnRelease) -> None:
        self.breaking = breaking
        self.conn: Any = None

    def __await__(self) -> Any:
        return self.breaking.pool.acquire().__await__()

    async def __aenter__(self) -> Any:
        self.conn = await self.breaking.pool.acquire()
        return self.conn

    async def __aexit__(self, *exc_info: object) -> None:
        await self.breaking.release(self.conn)


@pytest.mark.parametrize("mode", ["group", "single", "store"])
async def test_a_connection_that_breaks_after_its_commit_does_not_fail_the_commit(
    pg_pool: asyncpg.Pool, mode: str
) -> None:
    """Regression (found by killing PostgreSQL under a storm): the server died right
    after COMMIT returned, the pool's reset of the connection failed, and that error
    reached the runner as the batch's, which refused bids that were in the log."""
    breaking: Any = BreaksOnRelease(pg_pool)
    if mode == "store":
        await PostgresEventStore(breaking).append("a", events("a", 1))
    else:
        async with GroupCommitWriter(breaking, mode=mode) as writer:  # type: ignore[arg-type]
            await writer.append("a", events("a", 1))
    assert await PostgresEventStore(pg_pool).read("a") == events("a", 1)
