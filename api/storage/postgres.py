"""PostgreSQL adapter of the storage port, on an asyncpg pool.

Durability: every connection of a pool made by :func:`create_pool` has
``synchronous_commit`` set to ``on`` in its startup packet, which outranks the
server's, the database's and the role's defaults and survives the pool's
``RESET ALL``. So a returned ``append`` means the commit record is flushed to disk.

Fencing (issue 17, :mod:`api.storage.leases`): an append may carry its owner's lease
epoch. The transaction then reads the lease rows of those auctions ``FOR SHARE``, in one
statement, before it inserts anything, and refuses alone with
:class:`~api.storage.errors.LeaseLost` each fenced append whose row is missing or at
another epoch; a takeover (an update of the row) waits for the commit. Appends without
an epoch (one node without NATS) are not fenced and cost nothing more.

Appends: one transaction reads each touched stream's last seq (one index probe per
auction), rejects the appends that would not continue their stream, and inserts the
rest with binary ``COPY``. Measured on the embedded server (PostgreSQL 18, 2 cores,
small rows of ~100 bytes), ``copy_records_to_table`` beat a one-statement ``INSERT …
SELECT FROM unnest($1::text[], …)`` by 1.3x at 100 rows and 1.4-1.8x at 1,000 rows
(about 150,000 vs 100,000 rows/s), and ``executemany`` by 2-3x. The primary key
``(auction_id, seq)`` still guards against a writer the pre-check could not see (an
other process appending at the same moment): its unique violation, SQLSTATE 23505,
becomes :class:`~api.storage.errors.SeqConflict`.

A failed COMMIT: when the connection or the server dies after COMMIT was sent, the
append may be stored or not, and the transaction may even still be committing on a
backend that has not noticed its client is gone. :func:`commit_appends` learns the
transaction's id first (``pg_current_xact_id()``, in the statement that probes the
streams' last seqs: no extra round trip) and raises
:class:`~api.storage.errors.CommitUncertain` with it; :func:`transaction_settled`
then says when that transaction can no longer commit, and only then may a log without
its events be taken to mean "not stored". Any other error
of :func:`commit_appends` came before COMMIT was sent: nothing was stored. And an error
*after* COMMIT returned says nothing of the commit: returning the connection to the pool
(its reset) fails when the server died just after committing, so appenders take their
connections with :func:`borrowed`, whose release never raises.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from typing import Any, TypeAlias
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from api.storage.errors import (
    CommitUncertain,
    LeaseLost,
    ReservationLost,
    SeqConflict,
    SeqGap,
    SnapshotAhead,
    StorageError,
)
from api.storage.ports import (
    AuctionRecord,
    AuctionStatus,
    CommandMark,
    Snapshot,
    StoredEvent,
    check_append,
    check_read,
)

__all__ = [
    "EVENT_COLUMNS",
    "PostgresEventStore",
    "append_batch",
    "borrowed",
    "commit_appends",
    "create_pool",
    "dsn_with_database",
    "fetch_last_seqs",
    "held_reservations",
    "lease_epochs",
    "transaction_settled",
]

#: A connection of ours: a plain one, or one lent by a pool (asyncpg types them apart).
Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy

log = logging.getLogger("gavel.storage")

#: The columns of ``events``, in the order :class:`StoredEvent` holds them.
EVENT_COLUMNS = ("auction_id", "seq", "type", "at", "payload")

#: One append: an auction id and its events, as :func:`append_batch` takes them.
_Append = tuple[str, Sequence[StoredEvent]]

# Name PostgreSQL gives the primary key constraint of `events` (see 0001_core.sql).
_EVENTS_PKEY = "events_pkey"

# `Key (auction_id, seq)=(a-1, 7) already exists.`: greedy, so ids with ", " still parse.
_DUPLICATE_KEY = re.compile(r"Key \(auction_id, seq\)=\((?P<auction_id>.*), (?P<seq>\d+)\)")

# Records which events each idempotent command committed (api.storage.idempotency); a row whose
# reservation was taken over or finished is left alone.
_MARK = """
UPDATE idempotency_keys AS k
SET auction_id = m.auction_id, first_seq = m.first_seq, last_seq = m.last_seq
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[])
    AS m(party_id, key, stamp, auction_id, first_seq, last_seq)
WHERE k.party_id = m.party_id AND k.key = m.key AND k.created_at = m.stamp
  AND k.status_code IS NULL
"""

# The reservations an append's marks name that are still held by it (same stamp, not
# finished), locked for the transaction: a retry taking a key over (api.storage.idempotency)
# waits for this commit, then finds the command's events marked and answers from them.
_HELD = """
SELECT k.party_id, k.key
FROM idempotency_keys AS k
JOIN unnest($1::text[], $2::text[], $3::bigint[]) AS m(party_id, key, stamp)
  ON k.party_id = m.party_id AND k.key = m.key AND k.created_at = m.stamp
WHERE k.status_code IS NULL
FOR UPDATE OF k
"""

# The lease epochs of the fenced appends' streams, locked FOR SHARE until the transaction
# ends (in key order, as api.storage.leases locks them): a takeover waits for the commit.
_LEASE_EPOCHS = """
SELECT stream_id, epoch FROM leases
WHERE kind = $1 AND stream_id = ANY($2::text[])
ORDER BY stream_id
FOR SHARE
"""

# One backward index probe per auction id (an index-only `max` each), whatever the
# planner would make of `GROUP BY` over `= ANY(...)`.
_LAST_SEQS = """
SELECT ids.id, coalesce((SELECT max(seq) FROM events WHERE auction_id = ids.id), 0)
FROM unnest($1::text[]) AS ids(id)
"""


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any
) -> asyncpg.Pool:
    """An asyncpg pool whose every connection commits with ``synchronous_commit`` on.

    Extra ``kwargs`` go to :func:`asyncpg.create_pool`; a ``server_settings`` among them
    is merged, but ``synchronous_commit`` is always forced to ``on``: an acknowledged
    bid must survive a crash, and that is not a knob.
    """
    settings = {"application_name": "gavel", **kwargs.pop("server_settings", {})}
    settings["synchronous_commit"] = "on"
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, server_settings=settings, **kwargs
    )


def dsn_with_database(dsn: str, database: str) -> str:
    """``dsn`` (a ``postgresql://`` URL) pointing at ``database`` instead of its own.

    Host, port, user and query (``?host=/socket/dir`` included) are kept.

    >>> dsn_with_database("postgresql://postgres@127.0.0.1:5432/test", "gavel")
    'postgresql://postgres@127.0.0.1:5432/gavel'
    >>> dsn_with_database("postgresql://postgres:@/postgres?host=/tmp/pg", "t1")
    'postgresql://postgres:@/t1?host=/tmp/pg'
    """
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


def _conflict(error: asyncpg.UniqueViolationError, appends: Sequence[_Append]) -> SeqConflict:
    # The duplicate's key is in the error detail; fall back to the first append when
    # the detail is missing or localised.
    match = _DUPLICATE_KEY.search(getattr(error, "detail", None) or "")
    if match is not None:
        return SeqConflict(match["auction_id"], None, int(match["seq"]))
    auction_id, events = appends[0]
    return SeqConflict(auction_id, None, events[0].seq)


# _LAST_SEQS, and the id of the transaction (assigned here: it is about to write).
_LAST_SEQS_AND_XID = """
SELECT ids.id, coalesce((SELECT max(seq) FROM events WHERE auction_id = ids.id), 0),
       pg_current_xact_id()::text
FROM unnest($1::text[]) AS ids(id)
"""


async def fetch_last_seqs(conn: Connection, auction_ids: Collection[str]) -> dict[str, int]:
    """The last stored seq of each of ``auction_ids`` (0 for none). O(k log n)."""
    rows = await conn.fetch(_LAST_SEQS, list(auction_ids))
    return {str(row[0]): int(row[1]) for row in rows}


async def append_batch(
    conn: Connection,
    appends: Sequence[_Append],
    marks: Sequence[Sequence[CommandMark]] | None = None,
    *,
    last_seqs: Mapping[str, int] | None = None,
    epochs: Sequence[int | None] | None = None,
) -> list[StorageError | None]:
    """Insert many appends, possibly of many auctions, inside the caller's transaction.

    Call order: open a transaction on ``conn``, call this, commit. Each append must
    already satisfy :func:`~api.storage.ports.check_append`. They are taken in order:
    an append continues its stream as stored plus the appends accepted before it in
    this batch. Returns, per append, ``None`` if it was inserted or the
    :class:`LeaseLost` / :class:`SeqConflict` / :class:`SeqGap` /
    :class:`ReservationLost` that rejected it (nothing of it inserted): an append whose
    marks name a reservation that is no longer its own (taken over after its lease,
    finished, purged) is refused, so a key's command never commits twice. ``epochs``,
    if given, holds each append's lease epoch (``None``: not fenced); a fenced append
    whose auction's lease row is missing or at another epoch is refused with
    :class:`LeaseLost` (one more statement, :func:`lease_epochs`, when any is fenced).

    Raises :class:`SeqConflict` if the insert itself hit a duplicate key, which only a
    concurrent writer on another connection can cause; the transaction is then
    aborted, and the caller must roll back and retry each append on its own to learn
    which one lost. Two round trips plus the COPY's: O(k log n + e log n) for k
    auctions and e events. ``marks``, if given, holds each append's
    :class:`CommandMark` list; those of the inserted appends are recorded (one more
    statement when there are any). ``last_seqs``: the streams' last seqs, read in this
    transaction already (:func:`commit_appends` does), saves the probe.
    """
    if last_seqs is None:
        last_seqs = await fetch_last_seqs(conn, {a for a, _ in appends})
    expected = {auction_id: last + 1 for auction_id, last in last_seqs.items()}
    fenced = (
        {a for (a, _), e in zip(appends, epochs, strict=True) if e is not None} if epochs else ()
    )
    current = await lease_epochs(conn, "auction", fenced)
    held = await held_reservations(conn, marks)
    outcome: list[StorageError | None] = []
    records: list[tuple[str, int, str, int, bytes]] = []
    marked: list[tuple[str, CommandMark]] = []
    for index, (auction_id, events) in enumerate(appends):
        due, first = expected[auction_id], events[0].seq
        lost = [m for m in (marks[index] if marks else ()) if (m.party, m.key) not in held]
        epoch = epochs[index] if epochs else None
        if epoch is not None and current.get(auction_id) != epoch:
            outcome.append(LeaseLost(auction_id, epoch, current.get(auction_id)))
        elif lost:
            outcome.append(ReservationLost(auction_id, lost[0].party, lost[0].key))
        elif first < due:
            outcome.append(SeqConflict(auction_id, due, first))
        elif first > due:
            outcome.append(SeqGap(auction_id, due, first))
        else:
            outcome.append(None)
            if marks is not None:
                marked.extend((auction_id, mark) for mark in marks[index])
            expected[auction_id] = events[-1].seq + 1
            records.extend((e.auction_id, e.seq, e.type, e.at, e.payload) for e in events)
    if records:
        try:
            await conn.copy_records_to_table("events", records=records, columns=EVENT_COLUMNS)
        except asyncpg.UniqueViolationError as error:
            if getattr(error, "constraint_name", None) != _EVENTS_PKEY:
                raise
            raise _conflict(error, appends) from error
    if marked:
        await conn.execute(
            _MARK,
            [m.party for _, m in marked],
            [m.key for _, m in marked],
            [m.stamp for _, m in marked],
            [auction_id for auction_id, _ in marked],
            [m.first_seq for _, m in marked],
            [m.last_seq for _, m in marked],
        )
    return outcome


async def lease_epochs(conn: Connection, kind: str, stream_ids: Collection[str]) -> dict[str, int]:
    """The lease epoch of each of ``stream_ids`` (of ``kind``) that has a lease row, the
    rows locked ``FOR SHARE`` until the caller's transaction ends: call inside it, before
    storing a fenced append. One statement (none without ids)."""
    if not stream_ids:
        return {}
    rows = await conn.fetch(_LEASE_EPOCHS, kind, sorted(stream_ids))
    return {str(row[0]): int(row[1]) for row in rows}


async def held_reservations(
    conn: Connection, marks: Sequence[Sequence[CommandMark]] | None
) -> set[tuple[str, str]]:
    """``(party, key)`` of the marks' reservations still held by them (same stamp, not
    finished), locked until the caller's transaction ends. Call inside it, before
    storing what the marks record: one statement (none without marks)."""
    every = [mark for append in marks or () for mark in append]
    if not every:
        return set()
    rows = await conn.fetch(
        _HELD, [m.party for m in every], [m.key for m in every], [m.stamp for m in every]
    )
    return {(row[0], row[1]) for row in rows}


@contextlib.asynccontextmanager
async def borrowed(pool: asyncpg.Pool) -> AsyncIterator[Connection]:
    """A connection of ``pool`` for the ``async with`` block, released without raising.

    A failed release (the reset of a connection whose server just died: the pool then
    terminates it) is logged, never raised over the block's own outcome: a committed
    append must not be reported as failed because its connection broke afterwards.
    """
    conn = await pool.acquire()
    try:
        yield conn
    finally:
        try:
            await pool.release(conn)
        except Exception as error:  # noqa: BLE001 - the pool has dropped the connection
            log.warning("connection not reset after use", extra={"error": repr(error)})


async def commit_appends(
    conn: Connection,
    appends: Sequence[_Append],
    marks: Sequence[Sequence[CommandMark]] | None = None,
    *,
    committing: Callable[[int], None] | None = None,
    epochs: Sequence[int | None] | None = None,
) -> list[StorageError | None]:
    """:func:`append_batch` in a transaction of its own on ``conn``, committed.

    Returns what :func:`append_batch` returns. Raises
    :class:`~api.storage.errors.CommitUncertain` (with the transaction's id, the
    database error as its ``__cause__``) if COMMIT failed: the appends may be stored.
    Any other error came before COMMIT was sent, and the transaction is rolled back
    (or dies with its connection): nothing was stored. ``epochs``: each append's lease
    epoch, as :func:`append_batch` takes them. ``committing(xid)`` is called
    just before COMMIT is sent: a caller cancelled after that knows the appends may be
    stored. The round trips of :func:`append_batch`, plus BEGIN and COMMIT.
    """
    transaction = conn.transaction()
    await transaction.start()
    try:
        rows = await conn.fetch(_LAST_SEQS_AND_XID, list({a for a, _ in appends}))
        xid = int(rows[0][2])
        last_seqs = {str(row[0]): int(row[1]) for row in rows}
        outcome = await append_batch(conn, appends, marks, last_seqs=last_seqs, epochs=epochs)
    except BaseException:
        # The connection may be gone already; the transaction then dies with it.
        with contextlib.suppress(Exception):
            await transaction.rollback()
        raise
    if committing is not None:
        committing(xid)
    try:
        await transaction.commit()
    except Exception as error:
        raise CommitUncertain(xid, repr(error)) from error
    return outcome


# pg_xact_status() says "in progress", "committed" or "aborted" (NULL: older than the
# commit log kept, long settled). An id past the server's next one raises 22023: it was
# handed out before a crash that lost it, so that transaction died in the crash.
_XACT_STATUS = "SELECT pg_xact_status($1::text::xid8)"


async def transaction_settled(pool: asyncpg.Pool, xid: int) -> bool:
    """Whether transaction ``xid`` can no longer commit: ``False`` while it is in
    progress. Raises the pool's errors while PostgreSQL cannot be asked. One statement.

    A crash may hand ``xid`` out again after the restart, to another transaction: this
    may then say "in progress" (the caller waits longer) or "committed" for that other
    one, which is still right, since the transaction that first had ``xid`` died in the
    crash. So the answer is never "may still commit" wrongly taken as "cannot"; what
    it committed is for the log's rows to tell, read *after* this returned ``True``.
    """
    try:
        status: str | None = await pool.fetchval(_XACT_STATUS, str(xid))
    except asyncpg.InvalidParameterValueError:
        return True  # "in the future": lost in a crash (see above)
    return status != "in progress"


def _event(row: asyncpg.Record) -> StoredEvent:
    return StoredEvent(row[0], row[1], row[2], row[3], bytes(row[4]))


def _auction(row: asyncpg.Record) -> AuctionRecord:
    return AuctionRecord(row[0], row[1], AuctionStatus(row[2]), row[3], row[4])


class PostgresEventStore:
    """An :class:`~api.storage.ports.EventStore` on an asyncpg pool.

    Use a pool from :func:`create_pool` on a database migrated by
    :func:`api.storage.migrate.migrate`. Each call takes one pooled connection for its
    duration. For many concurrent appenders, put a
    :class:`~api.storage.writer.GroupCommitWriter` in front: this class commits once per
    ``append``.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def append(
        self,
        auction_id: str,
        events: Sequence[StoredEvent],
        marks: Sequence[CommandMark] = (),
        *,
        epoch: int | None = None,
    ) -> None:
        """See :meth:`EventAppender.append`: one transaction, O(e log n). Also raises
        :class:`~api.storage.errors.CommitUncertain` (see :meth:`settled`); any other
        database error means nothing was stored."""
        check_append(auction_id, events)
        async with borrowed(self._pool) as conn:
            (rejected,) = await commit_appends(
                conn, [(auction_id, events)], [marks], epochs=[epoch]
            )
        if rejected is not None:
            raise rejected

    async def settled(self, error: CommitUncertain) -> bool:
        """Whether the append that raised ``error`` can no longer commit
        (:func:`transaction_settled`); raises while PostgreSQL cannot be asked."""
        return error.xid is None or await transaction_settled(self._pool, error.xid)

    async def read(
        self, auction_id: str, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """See :meth:`EventStore.read`: one index range scan, O(k + log n)."""
        check_read(after, limit)
        rows = await self._pool.fetch(
            "SELECT auction_id, seq, type, at, payload FROM events"
            " WHERE auction_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            auction_id,
            after,
            limit,
        )
        return [_event(row) for row in rows]

    async def last_seq(self, auction_id: str) -> int:
        """See :meth:`EventStore.last_seq`: one backward index probe."""
        last: int = await self._pool.fetchval(
            "SELECT coalesce(max(seq), 0) FROM events WHERE auction_id = $1", auction_id
        )
        return last

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """See :meth:`EventStore.save_snapshot`: one statement, which checks the event."""
        status: str = await self._pool.execute(
            """
            INSERT INTO snapshots (auction_id, seq, payload)
            SELECT $1, $2, $3
            WHERE EXISTS (SELECT FROM events WHERE auction_id = $1 AND seq = $2)
            ON CONFLICT (auction_id, seq) DO UPDATE SET payload = EXCLUDED.payload
            """,
            snapshot.auction_id,
            snapshot.seq,
            snapshot.payload,
        )
        if status.split()[-1] == "0":
            raise SnapshotAhead(
                f"auction {snapshot.auction_id!r}: snapshot at seq {snapshot.seq} "
                "is not backed by stored events"
            )

    async def load_snapshot(self, auction_id: str) -> Snapshot | None:
        """See :meth:`EventStore.load_snapshot`: one backward index probe."""
        row = await self._pool.fetchrow(
            "SELECT auction_id, seq, payload FROM snapshots"
            " WHERE auction_id = $1 ORDER BY seq DESC LIMIT 1",
            auction_id,
        )
        return None if row is None else Snapshot(row[0], row[1], bytes(row[2]))

    async def upsert_auction(self, auction: AuctionRecord) -> None:
        """See :meth:`EventStore.upsert_auction`: one ``INSERT … ON CONFLICT``."""
        await self._pool.execute(
            """
            INSERT INTO auctions (id, format, status, created_at, rules)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (id) DO UPDATE SET
                format = EXCLUDED.format, status = EXCLUDED.status,
                created_at = EXCLUDED.created_at, rules = EXCLUDED.rules
            """,
            auction.id,
            auction.format,
            auction.status.value,
            auction.created_at,
            auction.rules,
        )

    async def get_auction(self, auction_id: str) -> AuctionRecord | None:
        """See :meth:`EventStore.get_auction`: one primary key probe."""
        row = await self._pool.fetchrow(
            "SELECT id, format, status, created_at, rules FROM auctions WHERE id = $1",
            auction_id,
        )
        return None if row is None else _auction(row)

    async def list_auctions(
        self, statuses: Collection[AuctionStatus] | None = None
    ) -> list[AuctionRecord]:
        """See :meth:`EventStore.list_auctions`."""
        wanted = [s.value for s in (AuctionStatus if statuses is None else statuses)]
        rows = await self._pool.fetch(
            "SELECT id, format, status, created_at, rules FROM auctions"
            " WHERE status = ANY($1::text[]) ORDER BY created_at, id",
            wanted,
        )
        return [_auction(row) for row in rows]
