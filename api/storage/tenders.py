"""Storage of sealed tenders: the port (:class:`TenderStore`) and its PostgreSQL adapter.

Adapters: :class:`PostgresTenderStore` (migration ``0004_tenders.sql``) and
:class:`~api.storage.memory.MemoryTenderStore`; both pass the contract suite in
``tests/api/storage/test_tenders.py``.

Three tables: ``tender_events`` (the append-only log, canonical JSON bytes per
``(tender_id, seq)``), ``tender_envelopes`` (ciphertexts, keyed by the seq of their
``EnvelopeReceived`` event) and ``tender_shares`` (each officer's encrypted key share).
Everything a command causes goes in one transaction (:meth:`TenderStore.append`), so an
answer given after it returns (a receipt, say) is backed by committed rows.

An idempotent command's append also records, in the same transaction, which events it
committed in the ``idempotency_keys`` row of its reservation (a
:class:`~api.storage.ports.CommandMark`; the row's ``auction_id`` column then holds the
tender id), as the auction store does: a retry after a crash between that commit and the
stored answer is answered from those events instead of running the command again.

A seq already taken raises :class:`~api.storage.errors.SeqConflict`, as for auctions: the
caller reloads the tender and answers 503. Every method is one round trip or one
transaction; reads are O(rows returned).

A failed COMMIT (the connection or the server died after it was sent) raises
:class:`~api.storage.errors.CommitUncertain` with the transaction's id, as the auction
appenders do (:func:`~api.storage.postgres.commit_appends`): the append may be stored, or
may still be. :meth:`TenderStore.settled` says when it can no longer commit; the log read
after that tells whether it did. Any other error of :meth:`TenderStore.append` came before
COMMIT was sent: nothing was stored.

Fencing (issue 17): an append may carry its owner's lease ``epoch`` on the tender (kind
``"tender"`` in :mod:`api.storage.leases`); its transaction reads the lease row ``FOR
SHARE`` first and raises :class:`~api.storage.errors.LeaseLost`, storing nothing, when the
row is missing or at another epoch, as the auction appenders do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from api.storage.errors import CommitUncertain, LeaseLost, ReservationLost, SeqConflict
from api.storage.ports import CommandMark
from api.storage.postgres import (
    Connection,
    borrowed,
    held_reservations,
    lease_epochs,
    transaction_settled,
)

__all__ = ["EnvelopeBlob", "PostgresTenderStore", "StoredTenderEvent", "TenderStore"]

# The auction store's mark (api.storage.postgres), for one tender append; the append
# checks first that the reservation is still the mark's (held_reservations).
_MARK = """
UPDATE idempotency_keys
SET auction_id = $4, first_seq = $5, last_seq = $6
WHERE party_id = $1 AND key = $2 AND created_at = $3 AND status_code IS NULL
"""


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


class TenderStore(Protocol):
    """The storage port of tenders: each tender's event log, with the ciphertexts its
    ``EnvelopeReceived`` events record and the officers' encrypted key shares.

    Events are never changed or removed once stored, nor are envelopes or shares.
    """

    async def append(
        self,
        tender_id: str,
        events: Sequence[StoredTenderEvent],
        envelopes: Sequence[EnvelopeBlob] = (),
        shares: Sequence[tuple[str, str]] = (),
        mark: CommandMark | None = None,
        *,
        epoch: int | None = None,
    ) -> None:
        """Store ``events``, the ``envelopes`` they record and the ceremony's ``shares``
        (``(officer_id, share JSON)``), all or nothing, with ``mark`` (its seqs filled in
        by the caller) recorded in its idempotency reservation. Raises
        :class:`~api.storage.errors.SeqConflict` if a seq is taken,
        :class:`~api.storage.errors.ReservationLost` if the reservation is no longer the
        mark's and :class:`~api.storage.errors.LeaseLost` if ``epoch`` (the caller's
        lease epoch on the tender; ``None``: unfenced) is not the tender's; nothing was
        stored then. O(rows)."""
        ...

    async def settled(self, error: CommitUncertain) -> bool:
        """Whether the append that raised ``error`` can no longer commit (``False``
        while it may). Read the log only after it returned ``True``."""
        ...

    async def read(
        self, tender_id: str, after: int = 0, limit: int | None = None
    ) -> list[StoredTenderEvent]:
        """The events of ``tender_id`` with ``seq > after`` (at most ``limit``), in seq
        order; an unknown tender reads as empty. O(k + log n) for k returned."""
        ...

    async def event(self, tender_id: str, seq: int) -> StoredTenderEvent | None:
        """The event at ``seq``, if any. O(log n)."""
        ...

    async def ciphertexts(self, tender_id: str, seqs: Sequence[int]) -> dict[int, bytes]:
        """The ciphertexts stored with the events at ``seqs`` (those that have one)."""
        ...

    async def share(self, tender_id: str, officer_id: str) -> str | None:
        """The encrypted share (JSON text) the ceremony made for ``officer_id``."""
        ...


class PostgresTenderStore:
    """:class:`TenderStore` in the tender tables, over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def append(
        self,
        tender_id: str,
        events: Sequence[StoredTenderEvent],
        envelopes: Sequence[EnvelopeBlob] = (),
        shares: Sequence[tuple[str, str]] = (),
        mark: CommandMark | None = None,
        *,
        epoch: int | None = None,
    ) -> None:
        """Insert ``events``, the ``envelopes`` they record and the ceremony's ``shares``
        (``(officer_id, share JSON)``) in one transaction, with ``mark`` (its seqs filled
        in by the caller) recorded in its reservation's row. Raises
        :class:`LeaseLost`, storing nothing, if ``epoch`` is given and the tender's lease
        row is missing or at another epoch (the row stays locked ``FOR SHARE`` until the
        commit), :class:`ReservationLost`, storing nothing, if the reservation is no
        longer the mark's (taken over after its lease, finished), and
        :class:`CommitUncertain` if COMMIT failed (see :meth:`settled`); any other error
        means nothing was stored. O(rows)."""
        # borrowed: a connection whose reset fails after COMMIT (its server just died)
        # must not fail an append that is stored (api.storage.postgres).
        async with borrowed(self._pool) as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                # Its id first (assigned here: it is about to write), for settled().
                xid = int(await conn.fetchval("SELECT pg_current_xact_id()::text"))
                if epoch is not None:
                    current = (await lease_epochs(conn, "tender", [tender_id])).get(tender_id)
                    if current != epoch:
                        raise LeaseLost(tender_id, epoch, current, "tender")
                await self._insert(conn, tender_id, events, envelopes, shares, mark)
            except BaseException:
                # The connection may be gone already; the transaction then dies with it.
                with contextlib.suppress(Exception):
                    await transaction.rollback()
                raise
            try:
                await transaction.commit()
            except Exception as error:
                raise CommitUncertain(xid, repr(error)) from error

    async def settled(self, error: CommitUncertain) -> bool:
        """Whether the append that raised ``error`` can no longer commit
        (:func:`~api.storage.postgres.transaction_settled`): ``False`` while it is in
        progress. Raises the pool's errors while PostgreSQL cannot be asked. Read the log
        only after it returned ``True``. One statement (none when ``error.xid`` is None)."""
        return error.xid is None or await transaction_settled(self._pool, error.xid)

    @staticmethod
    async def _insert(
        conn: Connection,
        tender_id: str,
        events: Sequence[StoredTenderEvent],
        envelopes: Sequence[EnvelopeBlob],
        shares: Sequence[tuple[str, str]],
        mark: CommandMark | None,
    ) -> None:
        """The rows of one :meth:`append`, inside its transaction on ``conn``."""
        if mark is not None and not await held_reservations(conn, [[mark]]):
            # Taken over after its lease (or finished): the key's command must not
            # commit twice, so nothing of this append is stored.
            raise ReservationLost(tender_id, mark.party, mark.key)
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
        if mark is not None:
            await conn.execute(
                _MARK,
                mark.party,
                mark.key,
                mark.stamp,
                tender_id,
                mark.first_seq,
                mark.last_seq,
            )

    async def read(
        self, tender_id: str, after: int = 0, limit: int | None = None
    ) -> list[StoredTenderEvent]:
        """The events of ``tender_id`` with ``seq > after`` (at most ``limit``), in seq
        order, as :meth:`EventStore.read <api.storage.ports.EventStore.read>` reads an
        auction's."""
        rows = await self._pool.fetch(
            "SELECT seq, type, at, payload FROM tender_events"
            " WHERE tender_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            tender_id,
            after,
            limit,
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
