"""Whether the database answers now: the one question ``/readyz`` asks of storage.

Kept here, beside the other SQL, so that no statement is written outside
:mod:`api.storage` (``tests/api/test_sql_in_storage.py`` checks it).
"""

from __future__ import annotations

import asyncpg

__all__ = ["database_answers"]


async def database_answers(pool: asyncpg.Pool) -> bool:
    """``True`` if one trivial statement on ``pool`` succeeds now, ``False`` if it fails
    in any way (the pool closed, the server gone or refusing, no connection to be had).
    One round trip, waiting as long as the pool does for a connection; a cancellation
    propagates."""
    try:
        await pool.fetchval("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "does not answer"
        return False
    return True
