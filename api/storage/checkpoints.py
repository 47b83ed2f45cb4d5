"""Signed checkpoints of the audit logs, as issued: the port and its PostgreSQL adapter.

The auditor's trail (:mod:`api.audit.trail`) signs checkpoints of each stream's Merkle
tree and keeps every one it issues, so an export hands the auditor the same signed
statements bidders were given. A stream is ``(kind, stream_id)``: kind ``"auction"`` or
``"tender"``. One checkpoint per ``(kind, stream_id, size)``: the root of a size never
changes, so a second one of the same size is not kept (the first stays as it was), and
a kept checkpoint is never changed or removed.

Adapters: :class:`PostgresCheckpointStore` (table ``checkpoints``, migration 0005) and
:class:`~api.storage.memory.MemoryCheckpointStore`; both pass the contract suite in
``tests/api/storage/test_checkpoints.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import asyncpg

from api.storage.errors import StorageMisuse

__all__ = [
    "STREAM_KINDS",
    "CheckpointStore",
    "KeptCheckpoint",
    "PostgresCheckpointStore",
    "check_checkpoint",
]

#: The kinds of stream a checkpoint may be of.
STREAM_KINDS = frozenset({"auction", "tender"})


@dataclass(frozen=True, slots=True)
class KeptCheckpoint:
    """One kept checkpoint: the tree ``size`` it signs, why it was issued (``reason``:
    an event type's name, ``"request"``, ``"export"``) and the signed ``note``
    (C2SP signed-note text, verbatim)."""

    size: int
    reason: str
    note: str


def check_checkpoint(kind: str, size: int, root: bytes) -> None:
    """Raise :class:`~api.storage.errors.StorageMisuse` unless ``kind`` is one of
    :data:`STREAM_KINDS`, ``size`` is at least 0 and ``root`` is 32 bytes. O(1)."""
    if kind not in STREAM_KINDS:
        raise StorageMisuse(f"no kind of stream {kind!r}: {sorted(STREAM_KINDS)}")
    if size < 0:
        raise StorageMisuse(f"a tree size is >= 0, got {size}")
    if len(root) != 32:
        raise StorageMisuse(f"a tree hash is 32 bytes, got {len(root)}")


class CheckpointStore(Protocol):
    """The storage port of issued checkpoints."""

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
        """Keep an issued checkpoint of ``(kind, stream_id)`` over ``size`` events whose
        tree hash is ``root`` (32 bytes), issued at ``issued_at`` (microseconds); one of
        the same size is kept as it was. Raises
        :class:`~api.storage.errors.StorageMisuse` (see :func:`check_checkpoint`),
        keeping nothing. O(log n)."""
        ...

    async def notes(self, kind: str, stream_id: str) -> list[KeptCheckpoint]:
        """Every kept checkpoint of ``(kind, stream_id)``, by size. O(k + log n)."""
        ...


class PostgresCheckpointStore:
    """:class:`CheckpointStore` in the ``checkpoints`` table of an asyncpg pool. Each
    method is one statement."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

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
        """See :meth:`CheckpointStore.record`: one ``INSERT … ON CONFLICT DO NOTHING``."""
        check_checkpoint(kind, size, root)
        await self._pool.execute(
            "INSERT INTO checkpoints (stream_kind, stream_id, size, root, issued_at, reason,"
            " note) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            kind,
            stream_id,
            size,
            root,
            issued_at,
            reason,
            note,
        )

    async def notes(self, kind: str, stream_id: str) -> list[KeptCheckpoint]:
        """See :meth:`CheckpointStore.notes`: one primary key range scan."""
        rows = await self._pool.fetch(
            "SELECT size, reason, note FROM checkpoints WHERE stream_kind = $1"
            " AND stream_id = $2 ORDER BY size",
            kind,
            stream_id,
        )
        return [KeptCheckpoint(row["size"], row["reason"], row["note"]) for row in rows]
