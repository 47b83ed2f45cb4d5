"""In-memory event store: the reference adapter of the storage port, for tests and demos.

It keeps nothing across restarts. It enforces exactly the stream invariant and raises
exactly the errors the PostgreSQL adapter does; the shared contract suite checks that.
All methods complete without awaiting anything, so under asyncio each call is atomic.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from api.storage.errors import SeqConflict, SeqGap, SnapshotAhead
from api.storage.ports import (
    AuctionRecord,
    AuctionStatus,
    CommandMark,
    Snapshot,
    StoredEvent,
    check_append,
    check_read,
)

__all__ = ["MemoryEventStore"]


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
