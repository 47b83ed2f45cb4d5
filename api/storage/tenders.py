"""PostgreSQL storage of sealed tenders (migration ``0004_tenders.sql``).

Three tables: ``tender_events`` (the append-only log, canonical JSON bytes per
``(tender_id, seq)``), ``tender_envelopes`` (ciphertexts, keyed by the seq of their
``EnvelopeReceived`` event) and ``tender_shares`` (each officer's encrypted key share).
Everything a command causes goes in one transaction (:meth:`TenderStore.append`), so an
answer given after it returns (a receipt, say) is backed by committed rows.

A seq already taken raises :class:`~api.storage.errors.SeqConflict`, as for auctions: the
caller reloads the tender and answers 503. Every method is one round trip or one
transaction; reads are O(rows returned).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]

from api.storage.errors import SeqConflict

__all__ = ["EnvelopeBlob", "StoredTenderEvent", "TenderStore"]


@dataclass(frozen=True, slots=True)
class StoredTenderEvent:
    """One tender event as stored."""

    seq: int
    type: str
    at: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class EnvelopeBlob:
    """A ciphertext to store with the event (``seq``) that records its arrival."""

    seq: int
    lot_id: str
    kind: str
    bidder_id: str
    commitment: str
    ciphertext: bytes


class TenderStore:
    """The tender tables, over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def append(
        self,
        tender_id: str,
        events: Sequence[StoredTenderEvent],
        envelopes: Sequence[EnvelopeBlob] = (),
        shares: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Insert ``events``, the ``envelopes`` they record and the ceremony's ``shares``
        (``(officer_id, share JSON)``) in one transaction. O(rows)."""
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                await conn.executemany(
                    "INSERT INTO tender_events (tender_id, seq, type, at, payload) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    [(tender_id, e.seq, e.type, e.at, e.payload) for e in events],
                )
            except asyncpg.UniqueViolationError:
                raise SeqConflict(tender_id, None, events[0].seq) from None
            if envelopes:
                await conn.executemany(
                    "INSERT INTO tender_envelopes "
                    "(tender_id, seq, lot_id, kind, bidder_id, commitment, ciphertext) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    [
                        (
                            tender_id,
                            b.seq,
                            b.lot_id,
                            b.kind,
                            b.bidder_id,
                            b.commitment,
                            b.ciphertext,
                        )
                        for b in envelopes
                    ],
                )
            if shares:
                await conn.executemany(
                    "INSERT INTO tender_shares (tender_id, officer_id, share) VALUES ($1, $2, $3)",
                    [(tender_id, officer, share) for officer, share in shares],
                )

    async def read(self, tender_id: str) -> list[StoredTenderEvent]:
        """Every event of ``tender_id``, in seq order."""
        rows = await self._pool.fetch(
            "SELECT seq, type, at, payload FROM tender_events WHERE tender_id = $1 ORDER BY seq",
            tender_id,
        )
        return [StoredTenderEvent(r["seq"], r["type"], r["at"], bytes(r["payload"])) for r in rows]

    async def event(self, tender_id: str, seq: int) -> StoredTenderEvent | None:
        """The event at ``seq``, if any."""
        row = await self._pool.fetchrow(
            "SELECT seq, type, at, payload FROM tender_events WHERE tender_id = $1 AND seq = $2",
            tender_id,
            seq,
        )
        if row is None:
            return None
        return StoredTenderEvent(row["seq"], row["type"], row["at"], bytes(row["payload"]))

    async def ciphertexts(self, tender_id: str, seqs: Sequence[int]) -> dict[int, bytes]:
        """The ciphertexts stored with the events at ``seqs``."""
        rows = await self._pool.fetch(
            "SELECT seq, ciphertext FROM tender_envelopes WHERE tender_id = $1 AND seq = ANY($2)",
            tender_id,
            list(seqs),
        )
        return {r["seq"]: bytes(r["ciphertext"]) for r in rows}

    async def share(self, tender_id: str, officer_id: str) -> str | None:
        """The encrypted share (JSON text) the ceremony made for ``officer_id``."""
        value: str | None = await self._pool.fetchval(
            "SELECT share FROM tender_shares WHERE tender_id = $1 AND officer_id = $2",
            tender_id,
            officer_id,
        )
        return value

    async def tender_ids(self) -> list[str]:
        """Every tender, oldest first."""
        rows = await self._pool.fetch(
            "SELECT tender_id FROM tender_events WHERE seq = 1 ORDER BY at, tender_id"
        )
        return [r["tender_id"] for r in rows]
