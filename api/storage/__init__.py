"""Durable storage: every port, its PostgreSQL adapter and its in-memory one; all SQL lives here.

The ports, each a Protocol with one contract suite run against every adapter
(``tests/api/storage/test_<module>.py``; the event store's is ``test_ports.py``):

* :class:`EventStore` (:mod:`api.storage.ports`): :class:`PostgresEventStore`,
  :class:`MemoryEventStore`;
* :class:`TenderStore` (:mod:`api.storage.tenders`): :class:`PostgresTenderStore`,
  :class:`MemoryTenderStore`;
* :class:`TokenStore` (:mod:`api.storage.tokens`): :class:`PostgresTokenStore`,
  :class:`MemoryTokenStore`;
* :class:`IdempotencyKeys` (:mod:`api.storage.idempotency`):
  :class:`PostgresIdempotencyKeys`, :class:`MemoryIdempotencyKeys`;
* :class:`CheckpointStore` (:mod:`api.storage.checkpoints`):
  :class:`PostgresCheckpointStore`, :class:`MemoryCheckpointStore`;
* :class:`InvitationStore` (:mod:`api.storage.invitations`):
  :class:`PostgresInvitationStore`, :class:`MemoryInvitationStore`;
* :class:`LeaseStore` (:mod:`api.storage.leases`, which streams each node owns, with
  the epochs that fence appends): :class:`PostgresLeaseStore`, :class:`MemoryLeaseStore`.

The event port is engine-agnostic: events arrive as :class:`StoredEvent` rows whose
payload is canonical JSON bytes. The in-memory adapters are :mod:`api.storage.memory`;
the PostgreSQL event store (:mod:`api.storage.postgres`) is fronted by the group commit
writer (:mod:`api.storage.writer`) for live bidding. Nothing here imports an HTTP type.
The schema comes from versioned SQL migrations (:mod:`api.storage.migrate`); without
``DATABASE_URL`` the server runs an embedded PostgreSQL (:mod:`api.storage.embedded`).
Errors: :mod:`api.storage.errors`, rooted at :class:`StorageError`.

Start-up order: ``start_embedded`` (if no ``DATABASE_URL``) → ``create_pool`` →
``migrate`` on one pooled connection → ``GroupCommitWriter.start`` → recovery reads
through ``PostgresEventStore`` → serve → ``GroupCommitWriter.close`` → ``pool.close``
→ ``EmbeddedPostgres.stop``.
"""

from __future__ import annotations

from api.storage.checkpoints import CheckpointStore, KeptCheckpoint, PostgresCheckpointStore
from api.storage.embedded import EmbeddedPostgres, start_embedded
from api.storage.errors import (
    CommitUncertain,
    EmbeddedPostgresError,
    IdempotencyMisuse,
    InvalidEvents,
    KeyInProgress,
    KeyRefused,
    KeyReused,
    LeaseLost,
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
from api.storage.idempotency import IdempotencyKeys, IdempotentRunner, PostgresIdempotencyKeys
from api.storage.invitations import (
    Invitation,
    InvitationStore,
    PostgresInvitationStore,
    Redeemed,
    RedeemOutcome,
)
from api.storage.leases import (
    Lease,
    LeaseStore,
    MemoryLeaseStore,
    NodeInfo,
    PostgresLeaseStore,
)
from api.storage.memory import (
    MemoryCheckpointStore,
    MemoryEventStore,
    MemoryIdempotencyKeys,
    MemoryInvitationStore,
    MemoryTenderStore,
    MemoryTokenStore,
)
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
from api.storage.tenders import PostgresTenderStore, TenderStore
from api.storage.tokens import PostgresTokenStore, TokenStore
from api.storage.writer import GroupCommitWriter, Histogram, WriterStats

__all__ = [
    "AuctionRecord",
    "AuctionStatus",
    "CheckpointStore",
    "CommandMark",
    "CommitUncertain",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "EventAppender",
    "EventStore",
    "GroupCommitWriter",
    "Histogram",
    "IdempotencyKeys",
    "IdempotencyMisuse",
    "IdempotentRunner",
    "InvalidEvents",
    "Invitation",
    "InvitationStore",
    "KeptCheckpoint",
    "KeyInProgress",
    "KeyRefused",
    "KeyReused",
    "Lease",
    "LeaseLost",
    "LeaseStore",
    "MemoryCheckpointStore",
    "MemoryEventStore",
    "MemoryIdempotencyKeys",
    "MemoryInvitationStore",
    "MemoryLeaseStore",
    "MemoryTenderStore",
    "MemoryTokenStore",
    "Migration",
    "MigrationError",
    "NodeInfo",
    "PostgresCheckpointStore",
    "PostgresEventStore",
    "PostgresIdempotencyKeys",
    "PostgresInvitationStore",
    "PostgresLeaseStore",
    "PostgresTenderStore",
    "PostgresTokenStore",
    "RedeemOutcome",
    "Redeemed",
    "ReservationLost",
    "SeqConflict",
    "SeqError",
    "SeqGap",
    "Snapshot",
    "SnapshotAhead",
    "StorageError",
    "StorageMisuse",
    "StoredEvent",
    "TenderStore",
    "TokenStore",
    "WriterClosed",
    "WriterStats",
    "create_pool",
    "dsn_with_database",
    "load_migrations",
    "migrate",
    "schema_version",
    "start_embedded",
]
