"""The checkpoint port's contract (:mod:`api.storage.checkpoints`), run against every adapter.

:class:`CheckpointStoreContract` states the behaviour of
:class:`~api.storage.checkpoints.CheckpointStore` once; each adapter subclasses it and
provides the ``store`` fixture (as ``test_ports.py`` does for the event store).
"""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.checkpoints import (
    STREAM_KINDS,
    CheckpointStore,
    KeptCheckpoint,
    PostgresCheckpointStore,
)
from api.storage.errors import StorageError, StorageMisuse
from api.storage.memory import MemoryCheckpointStore

ROOT = bytes(range(32))


async def keep(
    store: CheckpointStore, stream: str, size: int, note: str, reason: str = "x"
) -> None:
    await store.record("auction", stream, size, ROOT, note, reason=reason, issued_at=size * 10)


class CheckpointStoreContract:
    """Every adapter of the checkpoint port must pass these tests."""

    @pytest.fixture
    def store(self) -> CheckpointStore:
        raise NotImplementedError

    async def test_no_checkpoints(self, store: CheckpointStore) -> None:
        assert await store.notes("auction", "a") == []

    async def test_kept_by_size(self, store: CheckpointStore) -> None:
        await keep(store, "a", 7, "seven", "AuctionEnded")
        await keep(store, "a", 2, "two", "AuctionStarted")
        await keep(store, "a", 0, "empty", "request")
        assert await store.notes("auction", "a") == [
            KeptCheckpoint(0, "request", "empty"),
            KeptCheckpoint(2, "AuctionStarted", "two"),
            KeptCheckpoint(7, "AuctionEnded", "seven"),
        ]

    async def test_the_first_of_a_size_stays(self, store: CheckpointStore) -> None:
        await keep(store, "a", 3, "first", "request")
        await keep(store, "a", 3, "second", "export")
        assert await store.notes("auction", "a") == [KeptCheckpoint(3, "request", "first")]

    async def test_streams_and_kinds_are_apart(self, store: CheckpointStore) -> None:
        await keep(store, "a", 1, "auction a")
        await keep(store, "b", 1, "auction b")
        await store.record("tender", "a", 1, ROOT, "tender a", reason="LotOpened", issued_at=1)
        assert await store.notes("auction", "a") == [KeptCheckpoint(1, "x", "auction a")]
        assert await store.notes("auction", "b") == [KeptCheckpoint(1, "x", "auction b")]
        assert await store.notes("tender", "a") == [KeptCheckpoint(1, "LotOpened", "tender a")]
        assert await store.notes("tender", "b") == []

    async def test_notes_are_kept_verbatim(self, store: CheckpointStore) -> None:
        note = "gavel/auction/a\n1\nq83Jm0=\n\n— gavel-audit AAAA/Zoë==\n"
        await keep(store, "a", 1, note)
        assert [each.note for each in await store.notes("auction", "a")] == [note]

    @pytest.mark.parametrize(
        ("kind", "size", "root"),
        [("lot", 1, ROOT), ("auction", -1, ROOT), ("auction", 1, b"short"), ("tender", 1, b"")],
        ids=["unknown-kind", "negative-size", "short-root", "empty-root"],
    )
    async def test_misuse_keeps_nothing(
        self, store: CheckpointStore, kind: str, size: int, root: bytes
    ) -> None:
        with pytest.raises(StorageMisuse) as raised:
            await store.record(kind, "a", size, root, "n", reason="x", issued_at=1)
        assert isinstance(raised.value, AssertionError | StorageError)
        for each in STREAM_KINDS:
            assert await store.notes(each, "a") == []


class TestMemoryCheckpointStore(CheckpointStoreContract):
    @pytest.fixture
    def store(self) -> CheckpointStore:
        return MemoryCheckpointStore()


class TestPostgresCheckpointStore(CheckpointStoreContract):
    @pytest.fixture
    def store(self, pg_pool: asyncpg.Pool) -> CheckpointStore:
        return PostgresCheckpointStore(pg_pool)


async def test_postgres_keeps_them_append_only(pg_pool: asyncpg.Pool) -> None:
    # The table refuses UPDATE and DELETE (migration 0005): issued statements stay.
    await keep(PostgresCheckpointStore(pg_pool), "a", 1, "one")
    with pytest.raises(asyncpg.RestrictViolationError):
        await pg_pool.execute("DELETE FROM checkpoints")
