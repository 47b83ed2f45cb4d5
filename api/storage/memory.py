"""In-memory adapters of the storage ports: the reference ones, for tests and demos.

:class:`MemoryEventStore` (:class:`~api.storage.ports.EventStore`),
:class:`MemoryIdempotencyKeys` (:class:`~api.storage.idempotency.IdempotencyKeys`) and
:class:`MemoryCheckpointStore` (:class:`~api.storage.checkpoints.CheckpointStore`).
They keep nothing across restarts. Each enforces exactly the invariants of its port and
raises exactly the errors the PostgreSQL adapter does; the port's contract suite checks
that. All methods complete without awaiting anything, so under asyncio each call is
atomic, as each PostgreSQL statement or transaction is.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from api.storage.checkpoints import KeptCheckpoint, check_checkpoint
from api.storage.errors import SeqConflict, SeqGap, SnapshotAhead
from api.storage.idempotency import Committed, KeyRecord, Reservation, StoredResponse
from api.storage.ports import (
    AuctionRecord,
    AuctionStatus,
    CommandMark,
    Snapshot,
    StoredEvent,
    check_append,
    check_read,
)

__all__ = ["MemoryCheckpointStore", "MemoryEventStore", "MemoryIdempotencyKeys"]


class MemoryEventStore:
    """An :class:`~api.storage.ports.EventStore` held in dictionaries.

    Each stream is a list in which event ``seq`` sits at index ``seq - 1``, so reads
    are slices and ``last_seq`` is a length.
    """

    def __init__(self) -> None:
        self._streams: dict[str, list[StoredEvent]] = {}
        self._snapshots: dict[str, dict[int, Snapshot]] = {}
        self._auctions: dict[str, AuctionRecord] = {}
        #: Every mark appended with its events, in order (there is no idempotency table).
        self.marks: list[tuple[str, CommandMark]] = []

    async def append(
        self, auction_id: str, events: Sequence[StoredEvent], marks: Sequence[CommandMark] = ()
    ) -> None:
        """See :meth:`EventAppender.append`. O(len(events))."""
        check_append(auction_id, events)
        stream = self._streams.setdefault(auction_id, [])
        expected = len(stream) + 1
        first = events[0].seq
        if first < expected:
            raise SeqConflict(auction_id, expected, first)
        if first > expected:
            raise SeqGap(auction_id, expected, first)
        stream.extend(events)
        self.marks.extend((auction_id, mark) for mark in marks)

    async def read(
        self, auction_id: str, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """See :meth:`EventStore.read`. O(k) for k events returned."""
        check_read(after, limit)
        stream = self._streams.get(auction_id, [])
        stop = None if limit is None else after + limit
        return stream[after:stop]

    async def last_seq(self, auction_id: str) -> int:
        """See :meth:`EventStore.last_seq`. O(1)."""
        return len(self._streams.get(auction_id, ()))

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """See :meth:`EventStore.save_snapshot`. O(1)."""
        if not 1 <= snapshot.seq <= await self.last_seq(snapshot.auction_id):
            raise SnapshotAhead(
                f"auction {snapshot.auction_id!r}: snapshot at seq {snapshot.seq} "
                "is not backed by stored events"
            )
        self._snapshots.setdefault(snapshot.auction_id, {})[snapshot.seq] = snapshot

    async def load_snapshot(self, auction_id: str) -> Snapshot | None:
        """See :meth:`EventStore.load_snapshot`. O(s) for s snapshots of the auction."""
        snapshots = self._snapshots.get(auction_id)
        if not snapshots:
            return None
        return snapshots[max(snapshots)]

    async def upsert_auction(self, auction: AuctionRecord) -> None:
        """See :meth:`EventStore.upsert_auction`. O(1)."""
        self._auctions[auction.id] = auction

    async def get_auction(self, auction_id: str) -> AuctionRecord | None:
        """See :meth:`EventStore.get_auction`. O(1)."""
        return self._auctions.get(auction_id)

    async def list_auctions(
        self, statuses: Collection[AuctionStatus] | None = None
    ) -> list[AuctionRecord]:
        """See :meth:`EventStore.list_auctions`. O(a log a) for a auctions."""
        wanted = set(AuctionStatus) if statuses is None else set(statuses)
        found = [a for a in self._auctions.values() if a.status in wanted]
        return sorted(found, key=lambda a: (a.created_at, a.id))


@dataclass(frozen=True, slots=True)
class _Key:
    """One key's row, as the ``idempotency_keys`` table holds it."""

    fingerprint: bytes
    stamp: int
    command_id: str
    answer: StoredResponse | None = None
    committed: Committed | None = None


class MemoryIdempotencyKeys:
    """An :class:`~api.storage.idempotency.IdempotencyKeys` held in a dictionary keyed
    by ``(party, key)``.

    An event store records a command's events with :meth:`mark`, as the PostgreSQL
    appenders record a :class:`~api.storage.ports.CommandMark` in their transaction.
    """

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], _Key] = {}

    async def reserve(
        self,
        party: str,
        key: str,
        fingerprint: bytes,
        *,
        now: int,
        expired_before: int,
        lease_before: int,
        command_id: str,
    ) -> Reservation | None:
        """See :meth:`IdempotencyKeys.reserve`. O(1)."""
        old = self._keys.get((party, key))
        if old is None or old.stamp < expired_before:
            row = _Key(fingerprint, now, command_id)
        elif old.answer is None and old.stamp < lease_before and old.fingerprint == fingerprint:
            row = replace(old, stamp=now, command_id=old.command_id or command_id)
        else:
            return None
        self._keys[party, key] = row
        return Reservation(row.stamp, row.command_id, row.committed)

    async def lookup(self, party: str, key: str) -> KeyRecord | None:
        """See :meth:`IdempotencyKeys.lookup`. O(1)."""
        row = self._keys.get((party, key))
        return None if row is None else KeyRecord(row.fingerprint, row.answer)

    def _held(self, party: str, key: str, stamp: int) -> _Key | None:
        row = self._keys.get((party, key))
        if row is None or row.stamp != stamp or row.answer is not None:
            return None
        return row

    async def finish(self, party: str, key: str, stamp: int, answer: StoredResponse) -> bool:
        """See :meth:`IdempotencyKeys.finish`. O(1)."""
        row = self._held(party, key, stamp)
        if row is None:
            return False
        self._keys[party, key] = replace(row, answer=answer)
        return True

    async def release(self, party: str, key: str, stamp: int, *, abandon_at: int) -> bool:
        """See :meth:`IdempotencyKeys.release`. O(1)."""
        row = self._held(party, key, stamp)
        if row is None:
            return False
        if row.committed is None:
            del self._keys[party, key]
        else:
            self._keys[party, key] = replace(row, stamp=abandon_at)
        return True

    async def purge(self, before: int, limit: int) -> int:
        """See :meth:`IdempotencyKeys.purge`. O(keys)."""
        old = [name for name, row in self._keys.items() if row.stamp < before][:limit]
        for name in old:
            del self._keys[name]
        return len(old)

    def mark(self, stream_id: str, mark: CommandMark) -> bool:
        """Record that ``mark``'s command committed seqs ``mark.first_seq..last_seq`` of
        ``stream_id``, if its reservation is still held (same stamp, in progress);
        whether it was. Call it where the events are stored, in the same step. O(1)."""
        row = self._held(mark.party, mark.key, mark.stamp)
        if row is None:
            return False
        committed = Committed(stream_id, mark.first_seq, mark.last_seq)
        self._keys[mark.party, mark.key] = replace(row, committed=committed)
        return True


class MemoryCheckpointStore:
    """A :class:`~api.storage.checkpoints.CheckpointStore` held in a dictionary: per
    stream, the kept checkpoints by size."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], dict[int, KeptCheckpoint]] = {}

    async def record(
        self,
        kind: str,
        stream_id: str,
        size: int,
        root: bytes,
        note: str,
        *,
        reason: str,
        issued_at: int,
    ) -> None:
        """See :meth:`CheckpointStore.record`. O(1)."""
        check_checkpoint(kind, size, root)
        self._kept.setdefault((kind, stream_id), {}).setdefault(
            size, KeptCheckpoint(size, reason, note)
        )

    async def notes(self, kind: str, stream_id: str) -> list[KeptCheckpoint]:
        """See :meth:`CheckpointStore.notes`. O(k log k) for k kept."""
        kept = self._kept.get((kind, stream_id), {})
        return [kept[size] for size in sorted(kept)]
