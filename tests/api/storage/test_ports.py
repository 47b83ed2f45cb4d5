"""The storage port's contract, run against every adapter.

:class:`EventStoreContract` states the behaviour of :class:`api.storage.ports.EventStore`
once; each adapter subclasses it and provides the ``store`` fixture. The class name
does not start with ``Test``, so pytest runs it only through its subclasses.
"""

from __future__ import annotations

import random

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.errors import (
    InvalidEvents,
    SeqConflict,
    SeqGap,
    SnapshotAhead,
    StorageError,
    StorageMisuse,
)
from api.storage.memory import MemoryEventStore
from api.storage.ports import (
    AuctionRecord,
    AuctionStatus,
    EventStore,
    Snapshot,
    StoredEvent,
    check_append,
)
from api.storage.postgres import PostgresEventStore


def events(auction_id: str, first: int, count: int = 1) -> list[StoredEvent]:
    """``count`` events of ``auction_id`` numbered from ``first``, each with a distinct payload."""
    return [
        StoredEvent(
            auction_id,
            seq,
            "bid_accepted",
            1_700_000_000_000_000 + seq,
            f'{{"seq":{seq},"auction":"{auction_id}"}}'.encode(),
        )
        for seq in range(first, first + count)
    ]


def auction(auction_id: str, status: AuctionStatus, created_at: int = 1) -> AuctionRecord:
    return AuctionRecord(auction_id, "reverse", status, created_at, '{"step": 100}')


class EventStoreContract:
    """Every adapter of the storage port must pass these tests."""

    @pytest.fixture
    def store(self) -> EventStore:
        raise NotImplementedError

    # -- appending and reading -----------------------------------------------------

    async def test_unknown_auction_is_empty(self, store: EventStore) -> None:
        assert await store.read("nope") == []
        assert await store.last_seq("nope") == 0

    async def test_append_then_read_in_order(self, store: EventStore) -> None:
        await store.append("a", events("a", 1, 3))
        await store.append("a", events("a", 4, 2))
        assert await store.read("a") == events("a", 1, 5)
        assert await store.last_seq("a") == 5

    async def test_read_after_and_limit(self, store: EventStore) -> None:
        await store.append("a", events("a", 1, 10))
        assert await store.read("a", after=7) == events("a", 8, 3)
        assert await store.read("a", after=2, limit=3) == events("a", 3, 3)
        assert await store.read("a", after=8, limit=5) == events("a", 9, 2)
        assert await store.read("a", after=10) == []
        assert await store.read("a", after=99) == []
        assert await store.read("a", limit=0) == []

    async def test_read_rejects_negative_bounds(self, store: EventStore) -> None:
        with pytest.raises(StorageMisuse):
            await store.read("a", after=-1)
        with pytest.raises(StorageMisuse):
            await store.read("a", limit=-1)

    async def test_streams_are_independent(self, store: EventStore) -> None:
        await store.append("a", events("a", 1, 2))
        await store.append("b", events("b", 1, 1))
        await store.append("a", events("a", 3, 1))
        assert await store.read("a") == events("a", 1, 3)
        assert await store.read("b") == events("b", 1, 1)
        assert await store.last_seq("b") == 1

    async def test_payload_bytes_are_kept_exactly(self, store: EventStore) -> None:
        odd = [
            StoredEvent("a", 1, "t", -5, b""),
            StoredEvent("a", 2, "t", 0, bytes(range(256))),
            StoredEvent("a", 3, "t", 2**62, '{"name":"Zoë", "n": 1.50}'.encode()),
        ]
        await store.append("a", odd)
        assert await store.read("a") == odd

    async def test_duplicate_seq_is_a_conflict(self, store: EventStore) -> None:
        await store.append("a", events("a", 1, 3))
        with pytest.raises(SeqConflict) as raised:
            await store.append("a", events("a", 3, 2))
        assert (raised.value.auction_id, raised.value.got) == ("a", 3)
        with pytest.raises(SeqConflict):
            await store.append("a", events("a", 1))
        assert await store.read("a") == events("a", 1, 3)

    async def test_gap_is_refused(self, store: EventStore) -> None:
        with pytest.raises(SeqGap) as raised:
            await store.append("a", events("a", 2))
        assert (raised.value.expected, raised.value.got) == (1, 2)
        await store.append("a", events("a", 1))
        with pytest.raises(SeqGap):
            await store.append("a", events("a", 3, 2))
        assert await store.read("a") == events("a", 1, 1)

    @pytest.mark.parametrize(
        "bad",
        [
            [],
            events("b", 1),
            events("a", 0),
            [*events("a", 1), *events("a", 3)],
            [*events("a", 1), *events("b", 2)],
        ],
        ids=["empty", "other-auction", "seq-0", "inner-gap", "mixed-auctions"],
    )
    async def test_malformed_append_is_misuse(
        self, store: EventStore, bad: list[StoredEvent]
    ) -> None:
        with pytest.raises(InvalidEvents) as raised:
            await store.append("a", bad)
        assert isinstance(raised.value, AssertionError)
        assert isinstance(raised.value, StorageError)
        assert await store.last_seq("a") == 0

    async def test_random_appends_match_a_model(self, store: EventStore) -> None:
        # Seeded: valid, duplicate and gapped appends over a few streams, checked
        # against a plain list per stream after every step.
        rng = random.Random(20240611)
        model: dict[str, list[StoredEvent]] = {"a": [], "b": [], "c": []}
        for _ in range(60):
            auction_id = rng.choice("abc")
            stream = model[auction_id]
            first = len(stream) + 1 + rng.choice([0, 0, 0, -1, 1])
            batch = events(auction_id, max(first, 1), rng.randint(1, 4))
            if max(first, 1) == len(stream) + 1:
                await store.append(auction_id, batch)
                stream.extend(batch)
            else:
                with pytest.raises((SeqConflict, SeqGap)):
                    await store.append(auction_id, batch)
            assert await store.last_seq(auction_id) == len(stream)
        for auction_id, stream in model.items():
            assert await store.read(auction_id) == stream

    # -- snapshots -----------------------------------------------------------------

    async def test_no_snapshot(self, store: EventStore) -> None:
        assert await store.load_snapshot("a") is None

    async def test_latest_snapshot_wins(self, store: EventStore) -> None:
        await store.append("a", events("a", 1, 10))
        await store.save_snapshot(Snapshot("a", 7, b"seven"))
        await store.save_snapshot(Snapshot("a", 3, b"three"))
        assert await store.load_snapshot("a") == Snapshot("a", 7, b"seven")
        await store.save_snapshot(Snapshot("a", 7, b"seven again"))
        assert await store.load_snapshot("a") == Snapshot("a", 7, b"seven again")
        await store.save_snapshot(Snapshot("a", 10, b"ten"))
        assert await store.load_snapshot("a") == Snapshot("a", 10, b"ten")
        assert await store.load_snapshot("b") is None

    @pytest.mark.parametrize("seq", [0, 3, 99])
    async def test_snapshot_must_be_backed_by_events(self, store: EventStore, seq: int) -> None:
        await store.append("a", events("a", 1, 2))
        with pytest.raises(SnapshotAhead):
            await store.save_snapshot(Snapshot("a", seq, b"x"))
        assert await store.load_snapshot("a") is None

    # -- auctions ------------------------------------------------------------------

    async def test_auction_round_trip_keeps_rules_verbatim(self, store: EventStore) -> None:
        record = AuctionRecord("a", "english", AuctionStatus.SCHEDULED, 5, '{"b": 1,  "a": 1.50}')
        await store.upsert_auction(record)
        assert await store.get_auction("a") == record
        assert await store.get_auction("zzz") is None

    async def test_upsert_overwrites(self, store: EventStore) -> None:
        await store.upsert_auction(auction("a", AuctionStatus.SCHEDULED))
        running = AuctionRecord("a", "dutch", AuctionStatus.RUNNING, 9, "{}")
        await store.upsert_auction(running)
        assert await store.get_auction("a") == running
        assert await store.list_auctions() == [running]

    async def test_list_auctions_by_status_in_creation_order(self, store: EventStore) -> None:
        ended = auction("e", AuctionStatus.ENDED, created_at=1)
        running = auction("r", AuctionStatus.RUNNING, created_at=3)
        scheduled = auction("s", AuctionStatus.SCHEDULED, created_at=2)
        tie = auction("q", AuctionStatus.RUNNING, created_at=3)
        for record in (running, ended, scheduled, tie):
            await store.upsert_auction(record)
        assert await store.list_auctions() == [ended, scheduled, tie, running]
        live = {AuctionStatus.SCHEDULED, AuctionStatus.RUNNING}
        assert await store.list_auctions(live) == [scheduled, tie, running]
        assert await store.list_auctions([AuctionStatus.ENDED]) == [ended]
        assert await store.list_auctions([]) == []


class TestMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def store(self) -> EventStore:
        return MemoryEventStore()


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, pg_pool: asyncpg.Pool) -> EventStore:
        return PostgresEventStore(pg_pool)


def test_check_append_accepts_a_well_formed_append() -> None:
    check_append("a", events("a", 4, 3))
