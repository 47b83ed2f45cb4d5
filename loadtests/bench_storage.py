"""Storage micro-benchmark: the group commit writer against one commit per append.

A function, not a ``gavel bench`` target: call :func:`bench_writer` (tests, a notebook)
to put storage figures next to the service's. Each runner plays one auction's runner: it
appends one ~100-byte event and appends the next as soon as the previous is acknowledged,
for ``seconds``. The run gets a database of its own, created on the server and dropped
afterwards, because the events table refuses deletes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import asyncpg

from api.storage.migrate import migrate
from api.storage.ports import StoredEvent
from api.storage.postgres import create_pool, dsn_with_database
from api.storage.writer import GroupCommitWriter, Mode

__all__ = ["WriterBench", "bench_writer"]

_PAYLOAD = b'{"type":"bid_accepted","bidder":"b-0001","price":123456,"at":1700000000000000}'


@dataclass(frozen=True, slots=True)
class WriterBench:
    """What one :func:`bench_writer` run measured. Latencies are per append, in ms."""

    mode: Mode
    runners: int
    window_us: int
    seconds: float
    appends: int
    commits: int
    appends_per_s: float
    mean_events_per_commit: float
    p50_ms: float
    p99_ms: float


async def bench_writer(
    server_dsn: str,
    *,
    mode: Mode = "group",
    runners: int = 100,
    seconds: float = 2.0,
    window_us: int = 500,
    pool_size: int = 10,
) -> WriterBench:
    """Run ``runners`` appenders through one writer for ``seconds``; see the module doc.

    ``server_dsn`` needs the right to create databases. In single mode ``pool_size``
    bounds the concurrent transactions; group mode uses one connection.
    """
    name = f"gavel_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        pool = await create_pool(
            dsn_with_database(server_dsn, name), min_size=pool_size, max_size=pool_size
        )
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
            return await _run(pool, mode, runners, seconds, window_us)
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _run(
    pool: asyncpg.Pool, mode: Mode, runners: int, seconds: float, window_us: int
) -> WriterBench:
    latencies: list[float] = []
    async with GroupCommitWriter(pool, mode=mode, window_us=window_us) as writer:
        stop = time.perf_counter() + seconds

        async def runner(auction_id: str) -> None:
            seq = 1
            while time.perf_counter() < stop:
                started = time.perf_counter()
                event = StoredEvent(auction_id, seq, "bid_accepted", seq, _PAYLOAD)
                await writer.append(auction_id, [event])
                latencies.append(time.perf_counter() - started)
                seq += 1

        began = time.perf_counter()
        await asyncio.gather(*(runner(f"auction-{i}") for i in range(runners)))
        elapsed = time.perf_counter() - began
    stats = writer.stats
    latencies.sort()
    count = len(latencies)
    return WriterBench(
        mode=mode,
        runners=runners,
        window_us=window_us,
        seconds=elapsed,
        appends=stats.appends_committed,
        commits=stats.batches_committed,
        appends_per_s=stats.appends_committed / elapsed,
        mean_events_per_commit=stats.events_committed / max(1, stats.batches_committed),
        p50_ms=latencies[count // 2] * 1000 if count else 0.0,
        p99_ms=latencies[min(count - 1, count * 99 // 100)] * 1000 if count else 0.0,
    )
