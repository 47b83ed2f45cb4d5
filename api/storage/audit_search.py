"""The auditor's search over finished auctions and tenders (issue 15), in PostgreSQL.

Two reads, each one round trip:

- :func:`finished_auctions`: every ended auction (``auctions.status = 'ended'``) with its
  ``AuctionEnded`` event (when it ended, its outcome and price) and its buyer, the
  officer recorded in ``auction_buyers`` (migration ``0008``) when it was created;
  filtered in SQL by id, buyer, format and the end's time; newest first, at most
  ``limit``.
- :func:`tender_records`: each tender's first event (``TenderCreated``: its creator, lots,
  title) and its decisions (``LotAwarded``, ``LotHandedOff``), for the caller to decode
  and keep the tenders whose every lot is decided.

:func:`record_buyer` writes an auction's buyer once (the create route calls it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import asyncpg

__all__ = [
    "FinishedAuction",
    "TenderRow",
    "finished_auctions",
    "like_pattern",
    "record_buyer",
    "tender_records",
]


@dataclass(frozen=True, slots=True)
class FinishedAuction:
    """One ended auction: ``ended`` is its ``AuctionEnded`` event's canonical bytes."""

    id: str
    format: str
    created_at: int
    ended_at: int
    rules: str
    buyer: str | None
    ended: bytes


@dataclass(frozen=True, slots=True)
class TenderRow:
    """One stored tender event the search reads (its first, or a lot's decision)."""

    tender_id: str
    seq: int
    type: str
    at: int
    payload: bytes


def like_pattern(text: str) -> str:
    """``text`` as a case-insensitive substring pattern for ``ILIKE`` (its ``%``, ``_``
    and ``\\`` escaped). O(len)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def record_buyer(pool: asyncpg.Pool, auction_id: str, officer: str, at: int) -> None:
    """Record ``officer`` as ``auction_id``'s buyer, unless one is recorded already."""
    await pool.execute(
        "INSERT INTO auction_buyers (auction_id, officer, recorded_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (auction_id) DO NOTHING",
        auction_id,
        officer,
        at,
    )


async def finished_auctions(
    pool: asyncpg.Pool,
    *,
    ids: Collection[str] | None,
    text: str | None,
    buyer: str | None,
    formats: Collection[str] | None,
    ended_from: int | None,
    ended_to: int | None,
    limit: int,
) -> list[FinishedAuction]:
    """Ended auctions matching every filter given (``ids``: only these; ``text``: in the
    id; ``buyer``: in the buyer's identity; ``formats``; the end in
    ``[ended_from, ended_to]``), newest end first, at most ``limit``."""
    rows = await pool.fetch(
        """
        SELECT a.id, a.format, a.created_at, a.rules::text AS rules, e.at, e.payload,
               b.officer
        FROM auctions a
        JOIN events e ON e.auction_id = a.id AND e.type = 'AuctionEnded'
        LEFT JOIN auction_buyers b ON b.auction_id = a.id
        WHERE a.status = 'ended'
          AND ($1::text[] IS NULL OR a.id = ANY($1::text[]))
          AND ($2::text IS NULL OR a.id ILIKE $2)
          AND ($3::text IS NULL OR b.officer ILIKE $3)
          AND ($4::text[] IS NULL OR a.format = ANY($4::text[]))
          AND ($5::bigint IS NULL OR e.at >= $5)
          AND ($6::bigint IS NULL OR e.at <= $6)
        ORDER BY e.at DESC, a.id
        LIMIT $7
        """,
        None if ids is None else list(ids),
        None if text is None else like_pattern(text),
        None if buyer is None else like_pattern(buyer),
        None if formats is None else list(formats),
        ended_from,
        ended_to,
        limit,
    )
    return [
        FinishedAuction(
            r["id"],
            r["format"],
            r["created_at"],
            r["at"],
            r["rules"],
            r["officer"],
            bytes(r["payload"]),
        )
        for r in rows
    ]


async def tender_records(pool: asyncpg.Pool, ids: Collection[str] | None) -> list[TenderRow]:
    """Each tender's ``TenderCreated`` (seq 1) and its lots' decisions, by tender and seq
    (``ids``: only these tenders)."""
    rows = await pool.fetch(
        """
        SELECT tender_id, seq, type, at, payload FROM tender_events
        WHERE (seq = 1 OR type IN ('LotAwarded', 'LotHandedOff'))
          AND ($1::text[] IS NULL OR tender_id = ANY($1::text[]))
        ORDER BY tender_id, seq
        """,
        None if ids is None else list(ids),
    )
    return [
        TenderRow(r["tender_id"], r["seq"], r["type"], r["at"], bytes(r["payload"])) for r in rows
    ]
