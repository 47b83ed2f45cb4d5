"""Which kind of log an id names: an auction's (``events``) or a tender's (``tender_events``).

A token's ``auction`` claim names an auction or a tender, so an id must name one thing
only: creating either kind refuses an id the other kind already has. Both tables are
keyed by the id first, so the question is one query on two primary-key prefixes.
"""

from __future__ import annotations

from typing import Literal

import asyncpg

__all__ = ["IdKind", "id_kind"]

#: What :func:`id_kind` answers for an id in use.
IdKind = Literal["auction", "tender"]

_ID_KIND = """
SELECT CASE
    WHEN EXISTS (SELECT 1 FROM events WHERE auction_id = $1) THEN 'auction'
    WHEN EXISTS (SELECT 1 FROM tender_events WHERE tender_id = $1) THEN 'tender'
END
"""


async def id_kind(pool: asyncpg.Pool, some_id: str) -> IdKind | None:
    """``"auction"`` or ``"tender"`` if ``some_id`` names one (an auction first), else
    ``None``. One statement, O(log n) on each table's primary key."""
    kind = await pool.fetchval(_ID_KIND, some_id)
    if kind == "auction":
        return "auction"
    if kind == "tender":
        return "tender"
    return None
