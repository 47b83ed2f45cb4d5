"""Durable storage of the live service: the event log, snapshots and auction records.

The port (:mod:`api.storage.ports`) is engine-agnostic: events arrive as
:class:`StoredEvent` rows whose payload is canonical JSON bytes. Adapters: in memory
(:mod:`api.storage.memory`) and PostgreSQL through asyncpg (:mod:`api.storage.postgres`),
fronted by the group commit writer (:mod:`api.storage.writer`) for live bidding. The
schema comes from versioned SQL migrations (:mod:`api.storage.migrate`); without
``DATABASE_URL`` the server runs an embedded PostgreSQL (:mod:`api.storage.embedded`).
Errors: :mod:`api.storage.errors`, rooted at :class:`StorageError`.

Start-up order: ``start_embedded`` (if no ``DATABASE_URL``) → ``create_pool`` →
``migrate`` on one pooled connection → ``GroupCommitWriter.start`` → recovery reads
through ``PostgresEventStore`` → serve → ``GroupCommitWriter.close`` → ``pool.close``
→ ``EmbeddedPostgres.stop``.
"""

from __future__ import annotations

from api.storage.embedded import EmbeddedPostgres, start_embedded
from api.storage.errors import (
    EmbeddedPostgresError,
    InvalidEvents,
    MigrationError,
    ReservationLost,
    SeqConflict,
    SeqError,
    SeqGap,
    SnapshotAhead,
    StorageError,
    StorageMisuse,
    WriterClosed,
)
from api.storage.memory import MemoryEventStore
from api.storage.migrate import Migration, load_migrations, migrate, schema_version
from api.storage.ports import (
    AuctionRecord,
    AuctionStatus,
    CommandMark,
    EventAppender,
    EventStore,
    Snapshot,
    StoredEvent,
)
from api.storage.postgres import PostgresEventStore, create_pool, dsn_with_database
from api.storage.writer import GroupCommitWriter, Histogram, WriterStats

__all__ = [
    "AuctionRecord",
    "AuctionStatus",
    "CommandMark",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "EventAppender",
    "EventStore",
    "GroupCommitWriter",
    "Histogram",
    "InvalidEvents",
    "MemoryEventStore",
    "Migration",
    "MigrationError",
    "ReservationLost",
    "PostgresEventStore",
    "SeqConflict",
    "SeqError",
    "SeqGap",
    "Snapshot",
    "SnapshotAhead",
    "StorageError",
    "StorageMisuse",
    "StoredEvent",
    "WriterClosed",
    "WriterStats",
    "create_pool",
    "dsn_with_database",
    "load_migrations",
    "migrate",
    "schema_version",
    "start_embedded",
]
