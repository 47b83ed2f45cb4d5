"""Exceptions raised by the storage layer.

Every error that ``api.storage`` raises on purpose derives from :class:`StorageError`.
Errors that mean "the caller misused the API" also subclass ``AssertionError``, as in
the engine: a correct runner never triggers them. asyncpg's own errors (a lost
connection, a server restart) are *not* wrapped: they mean "try again later", not
"your data is wrong", and the caller already knows how to treat them.

The whole tree::

    StorageError
    ├── SeqError                          the events do not continue the stored stream
    │   ├── SeqConflict                   an event with that (auction_id, seq) is stored
    │   └── SeqGap                        the first seq skips past last_seq + 1
    ├── StorageMisuse (also AssertionError)  the caller broke the calling contract
    │   ├── InvalidEvents                 an append that is empty, mixes auctions, or
    │   │                                 whose seqs are not consecutive
    │   ├── SnapshotAhead                 a snapshot at a seq that is not stored yet
    │   └── IdempotencyMisuse             an idempotency key, answer or setting that
    │                                     breaks the calling contract
    ├── KeyRefused                        an idempotency key cannot serve this request
    │   ├── KeyReused                     the party used the key for another request
    │   └── KeyInProgress                 the key's first request still runs after
    │                                     the bounded wait
    ├── ReservationLost                   an idempotent append whose key was taken over
    ├── LeaseLost                         a fenced append whose epoch is no longer the
    │                                     stream's lease epoch: nothing of it stored
    ├── CommitUncertain                   the connection failed during COMMIT: the append
    │                                     may be stored or not (``xid`` tells, later)
    ├── WriterClosed                      an append after the writer began closing
    ├── MigrationError                    migration files or the recorded schema are
    │                                     not something this code can apply
    └── EmbeddedPostgresError             the embedded server could not be started
"""

from __future__ import annotations

__all__ = [
    "CommitUncertain",
    "EmbeddedPostgresError",
    "IdempotencyMisuse",
    "InvalidEvents",
    "KeyInProgress",
    "KeyRefused",
    "KeyReused",
    "LeaseLost",
    "MigrationError",
    "SeqConflict",
    "SeqError",
    "SeqGap",
    "SnapshotAhead",
    "ReservationLost",
    "StorageError",
    "StorageMisuse",
    "WriterClosed",
]


class StorageError(Exception):
    """Root of every exception the storage layer raises on purpose."""


class SeqError(StorageError):
    """The appended events do not continue the auction's stored stream; nothing was stored.

    ``auction_id`` names the stream, ``expected`` is the seq the stream needed next
    (``last_seq + 1`` as the store saw it, or ``None`` when a unique violation was the
    only evidence) and ``got`` the first seq of the rejected append.
    """

    def __init__(self, auction_id: str, expected: int | None, got: int) -> None:
        wanted = "?" if expected is None else str(expected)
        super().__init__(f"auction {auction_id!r}: expected seq {wanted}, got {got}")
        self.auction_id = auction_id
        self.expected = expected
        self.got = got


class SeqConflict(SeqError):
    """An event with the same ``(auction_id, seq)`` is already stored.

    Another writer got there first (or this append is a retry of one that was in fact
    committed). The runner must reload the stream before deciding anything again.
    """


class SeqGap(SeqError):
    """The first seq is beyond ``last_seq + 1``: storing it would leave a hole."""


class StorageMisuse(StorageError, AssertionError):
    """The caller broke the storage calling contract; nothing was changed."""


class InvalidEvents(StorageMisuse):
    """An append that is empty, holds another auction's events, or skips a seq inside."""


class SnapshotAhead(StorageMisuse):
    """A snapshot claims to fold events that are not stored (its seq is past last_seq)."""


class IdempotencyMisuse(StorageMisuse):
    """An idempotency key used against the calling contract: an empty party or key, a
    fingerprint that is not 32 bytes, an answer that is not a valid stored response,
    finishing or releasing a replayed slot, or settings that cannot hold together."""


class KeyRefused(StorageError):
    """An idempotency key cannot serve this request; nothing was reserved."""


class KeyReused(KeyRefused):
    """The party used the key for a request with another fingerprint."""


class KeyInProgress(KeyRefused):
    """The key's first request still runs after the bounded wait: retry later."""


class ReservationLost(StorageError):
    """An idempotent append's reservation is no longer its own (its lease ran out and a
    retry took the key over, or the key was finished or purged): nothing of the append
    was stored, so one key never commits its command twice."""

    def __init__(self, auction_id: str, party: str, key: str) -> None:
        super().__init__(
            f"auction {auction_id!r}: the reservation of key {key!r} ({party}) was taken over"
        )
        self.auction_id = auction_id
        self.party = party
        self.key = key


class LeaseLost(StorageError):
    """A fenced append (one carrying its owner's lease ``epoch``) found the stream's lease
    row at another epoch (``current``), or no lease row at all (``current`` is ``None``):
    another node took the stream over, or it was never leased. Nothing of the append was
    stored; the node must stop writing to the stream (and drop its runner).

    ``kind`` is ``"auction"`` or ``"tender"`` (:mod:`api.storage.leases`).
    """

    def __init__(
        self, stream_id: str, epoch: int, current: int | None, kind: str = "auction"
    ) -> None:
        held = "no lease" if current is None else f"lease epoch {current}"
        super().__init__(f"{kind} {stream_id!r}: append at epoch {epoch}, but {held}")
        self.kind = kind
        self.stream_id = stream_id
        self.epoch = epoch
        self.current = current


class CommitUncertain(StorageError):
    """An append's COMMIT was sent and no answer came back (the connection or the server
    died): the transaction may have committed, may still commit, or may be lost.

    ``xid`` is its PostgreSQL transaction id (``pg_current_xact_id()``), or ``None``
    when it is unknown; ``settled(error)`` of the appender that raised it says when the
    transaction can no longer commit, and the log then says whether it did. The
    database error is the ``__cause__``.
    """

    def __init__(self, xid: int | None, detail: str) -> None:
        super().__init__(f"commit outcome unknown (transaction {xid}): {detail}")
        self.xid = xid


class WriterClosed(StorageError):
    """The group commit writer is closing or closed and takes no new appends."""


class MigrationError(StorageError):
    """The migration files are malformed, or the database is at a version we do not know."""


class EmbeddedPostgresError(StorageError):
    """The embedded PostgreSQL server could not be initialised or started."""
