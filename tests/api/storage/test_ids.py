"""api.storage.ids: which log an id names, asked of a real PostgreSQL."""

from __future__ import annotations

import asyncpg

from api.storage.ids import id_kind


async def _append(pool: asyncpg.Pool, table: str, key: str, some_id: str) -> None:
    await pool.execute(
        f"INSERT INTO {table} ({key}, seq, type, at, payload) VALUES ($1, 1, 'T', 0, '\\x7b7d')",
        some_id,
    )


async def test_an_unused_id_names_nothing(pg_pool: asyncpg.Pool) -> None:
    assert await id_kind(pg_pool, "nothing-here") is None


async def test_an_auction_and_a_tender_are_told_apart(pg_pool: asyncpg.Pool) -> None:
    await _append(pg_pool, "events", "auction_id", "a-1")
    await _append(pg_pool, "tender_events", "tender_id", "t-1")
    assert await id_kind(pg_pool, "a-1") == "auction"
    assert await id_kind(pg_pool, "t-1") == "tender"
    # Ids are compared whole: a prefix of one names nothing.
    assert await id_kind(pg_pool, "a-") is None


async def test_an_id_in_both_logs_is_an_auction_first(pg_pool: asyncpg.Pool) -> None:
    # The routes never let this happen; if it did, the auction's log is the one named.
    await _append(pg_pool, "events", "auction_id", "x-1")
    await _append(pg_pool, "tender_events", "tender_id", "x-1")
    assert await id_kind(pg_pool, "x-1") == "auction"
