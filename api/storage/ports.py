"""The storage port: what the runner and the API need from an event store, engine-agnostic.

The store never sees engine types. An event reaches it as a :class:`StoredEvent` whose
``payload`` is the canonical JSON bytes the runner produced; the store keeps those
bytes exactly, so a replay hands the engine what it once wrote, byte for byte.

Adapters: :class:`~api.storage.memory.MemoryEventStore` (tests, demos) and
:class:`~api.storage.postgres.PostgresEventStore`. The group commit writer
(:class:`~api.storage.writer.GroupCommitWriter`) is an :class:`EventAppender` with the
same ``append`` contract, built for many concurrent runners. Every adapter passes the
one contract suite in ``tests/api/storage/test_ports.py``.

Stream invariant, enforced by every adapter: an auction's seqs are 1, 2, 3, … with no
gap and no duplicate, and events are never changed or removed once stored.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from api.storage.errors import InvalidEvents, StorageMisuse

__all__ = [
    "AuctionRecord",
    "AuctionStatus",
    "CommandMark",
    "EventAppender",
    "EventStore",
    "Snapshot",
    "StoredEvent",
    "check_append",
    "check_read",
]


class AuctionStatus(StrEnum):
    """Where an auction is in its life; the value is what the ``auctions.status`` column holds."""

    SCHEDULED = "scheduled"
    RUNNING = "running"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as stored: ``payload`` is the event's canonical JSON bytes.

    ``seq`` counts from 1 within ``auction_id``; ``at`` is the server time in
    microseconds at which the fact took effect; ``type`` is the event's wire name, kept
    in its own column so operators can query the log without decoding payloads.
    """

    auction_id: str
    seq: int
    type: str
    at: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class CommandMark:
    """Ties an idempotency reservation to the events its command caused.

    The runner fills ``first_seq``/``last_seq`` (the command's events, deadline facts
    before it included) and the appender records them in the ``idempotency_keys`` row
    of ``(party, key)`` reserved at ``stamp``, *in the transaction that commits those
    events*: so a retry after a crash finds either no events and no mark, or both.
    A mark whose reservation is gone (taken over, expired) changes nothing.
    """

    party: str
    key: str
    stamp: int
    first_seq: int = 0
    last_seq: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An auction's state folded over events ``1..seq``, serialised by the runner.

    Recovery loads the latest snapshot, then replays only the events after ``seq``.
    """

    auction_id: str
    seq: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class AuctionRecord:
    """The row the API lists and recovery scans: a projection of the event stream.

    ``rules`` is JSON text, stored verbatim (a ``json`` column, not ``jsonb``) so it
    reads back exactly as written. ``created_at`` is server time in microseconds.
    """

    id: str
    format: str
    status: AuctionStatus
    created_at: int
    rules: str


def check_append(auction_id: str, events: Sequence[StoredEvent]) -> None:
    """Raise :class:`InvalidEvents` unless ``events`` is a well-formed append for ``auction_id``.

    Well formed: not empty, every event belongs to ``auction_id``, the first seq is at
    least 1 and each next seq is one more than the previous. Whether the first seq
    continues the *stored* stream is the adapter's business (:class:`SeqConflict`,
    :class:`SeqGap`). O(len(events)).
    """
    if not events:
        raise InvalidEvents(f"auction {auction_id!r}: an append needs at least one event")
    first = events[0].seq
    if first < 1:
        raise InvalidEvents(f"auction {auction_id!r}: seqs start at 1, got {first}")
    for offset, event in enumerate(events):
        if event.auction_id != auction_id:
            raise InvalidEvents(
                f"append to auction {auction_id!r} holds an event of {event.auction_id!r}"
            )
        if event.seq != first + offset:
            raise InvalidEvents(
                f"auction {auction_id!r}: seq {event.seq} where {first + offset} was due"
            )


def check_read(after: int, limit: int | None) -> None:
    """Raise :class:`StorageMisuse` for a negative ``after`` or ``limit``. O(1)."""
    if after < 0:
        raise StorageMisuse(f"after must be >= 0, got {after}")
    if limit is not None and limit < 0:
        raise StorageMisuse(f"limit must be >= 0 or None, got {limit}")


class EventAppender(Protocol):
    """Anything that durably appends events to an auction's stream."""

    async def append(
        self,
        auction_id: str,
        events: Sequence[StoredEvent],
        marks: Sequence[CommandMark] = (),
        *,
        epoch: int | None = None,
    ) -> None:
        """Store ``events`` as the continuation of ``auction_id``'s stream, all or nothing.

        Returns only once the events are durable (for PostgreSQL: committed with
        ``synchronous_commit`` on), so the caller may then acknowledge them. ``marks``
        are recorded in the same transaction (see :class:`CommandMark`). ``epoch``: the
        appending node's lease epoch on the auction (:mod:`api.storage.leases`), checked
        in the same transaction against the lease row, which stays locked until the
        commit; ``None`` (one node without a cluster) appends unfenced.

        Raises :class:`InvalidEvents` if the append is malformed (see
        :func:`check_append`), :class:`LeaseLost` if ``epoch`` is given and the
        auction's lease row is missing or at another epoch, :class:`SeqConflict` if its
        first seq is already stored, :class:`SeqGap` if its first seq is beyond
        ``last_seq + 1``. On any of these, nothing was stored.
        """
        ...


class EventStore(EventAppender, Protocol):
    """The full storage port: the event log, snapshots and the auction list."""

    async def read(
        self, auction_id: str, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """Events of ``auction_id`` with ``seq > after``, in seq order, at most ``limit``.

        An unknown auction reads as an empty list. O(k + log n) for k events returned.
        """
        ...

    async def last_seq(self, auction_id: str) -> int:
        """The highest stored seq of ``auction_id``, 0 when it has no events. O(log n)."""
        ...

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store ``snapshot``; one at the same seq is replaced.

        Raises :class:`SnapshotAhead` if event ``snapshot.seq`` is not stored: a
        snapshot may only fold events that are durable.
        """
        ...

    async def load_snapshot(self, auction_id: str) -> Snapshot | None:
        """The snapshot of ``auction_id`` with the highest seq, or ``None``. O(log n)."""
        ...

    async def upsert_auction(self, auction: AuctionRecord) -> None:
        """Insert ``auction``, or overwrite every field of the record with the same id."""
        ...

    async def get_auction(self, auction_id: str) -> AuctionRecord | None:
        """The record of ``auction_id``, or ``None``. O(log n)."""
        ...

    async def list_auctions(
        self, statuses: Collection[AuctionStatus] | None = None
    ) -> list[AuctionRecord]:
        """Auctions whose status is in ``statuses`` (all when ``None``).

        Ordered by ``(created_at, id)``. Recovery calls it with
        ``{SCHEDULED, RUNNING}`` to find every auction it must rebuild.
        """
        ...
