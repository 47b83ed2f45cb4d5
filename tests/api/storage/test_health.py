"""api.storage.health: whether the database answers, asked of a real PostgreSQL."""

from __future__ import annotations

import asyncpg

from api.storage import create_pool
from api.storage.health import database_answers


async def test_a_database_that_is_up_answers(pg_pool: asyncpg.Pool) -> None:
    assert await database_answers(pg_pool) is True


async def test_a_closed_pool_does_not_answer(pg_dsn: str) -> None:
    pool = await create_pool(pg_dsn, min_size=1, max_size=1)
    await pool.close()
    assert await database_answers(pool) is False


async def test_a_server_that_is_not_there_does_not_answer() -> None:
    # Port 1: nothing listens; min_size 0, so the pool connects only when asked.
    pool = await create_pool("postgresql://postgres@127.0.0.1:1/none", min_size=0, max_size=1)
    try:
        assert await database_answers(pool) is False
    finally:
        pool.terminate()
