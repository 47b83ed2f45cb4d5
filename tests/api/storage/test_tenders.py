"""Tender storage (:mod:`api.storage.tenders`): the port's contract over every adapter,
then the PostgreSQL tables: one transaction per command, append-only rows.

:class:`TenderStoreContract` states the behaviour of
:class:`~api.storage.tenders.TenderStore` once; each adapter subclasses it and provides
the ``pair`` fixture: the store and the idempotency keys its marks are recorded in.
"""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.errors import CommitUncertain, ReservationLost, SeqConflict, StorageMisuse
from api.storage.idempotency import (
    Committed,
    IdempotencyKeys,
    IdempotentRunner,
    PostgresIdempotencyKeys,
)
from api.storage.memory import MemoryIdempotencyKeys, MemoryTenderStore
from api.storage.ports import CommandMark
from api.storage.tenders import EnvelopeBlob, PostgresTenderStore, StoredTenderEvent, TenderStore

COMMITMENT = "ab" * 32


def event(seq: int, type_: str = "EnvelopeReceived") -> StoredTenderEvent:
    return StoredTenderEvent(seq, type_, seq * 10, b'{"seq":%d}' % seq)


def blob(seq: int, ciphertext: bytes = b"x", lot: str = "L1") -> EnvelopeBlob:
    return EnvelopeBlob(seq, lot, "financial", "ann", COMMITMENT, ciphertext)


Pair = tuple[TenderStore, IdempotencyKeys]


class TenderStoreContract:
    """Every adapter of the tender port must pass these tests."""

    @pytest.fixture
    def pair(self) -> Pair:
        raise NotImplementedError

    async def test_an_unknown_tender_is_empty(self, pair: Pair) -> None:
        store, _ = pair
        assert await store.read("nope") == []
        assert await store.event("nope", 1) is None
        assert await store.ciphertexts("nope", [1]) == {}
        assert await store.share("nope", "o1") is None

    async def test_round_trip(self, pair: Pair) -> None:
        store, _ = pair
        await store.append("t1", [event(1, "TenderCreated")], shares=[("o1", '{"s":1}')])
        await store.append("t1", [event(2), event(3)], [blob(2, b"\x00\x01"), blob(3, b"")])
        await store.append("t2", [event(1, "TenderCreated")], shares=[("o1", '{"s":2}')])
        assert await store.read("t1") == [event(1, "TenderCreated"), event(2), event(3)]
        assert await store.read("t1", 1) == [event(2), event(3)]
        assert await store.read("t1", 0, 1) == [event(1, "TenderCreated")]
        assert await store.read("t1", 1, 0) == []
        assert await store.read("t1", 3) == []
        assert await store.event("t1", 2) == event(2)
        assert await store.event("t1", 4) is None
        assert await store.ciphertexts("t1", [1, 2, 3, 4]) == {2: b"\x00\x01", 3: b""}
        assert await store.ciphertexts("t2", [2]) == {}
        assert await store.share("t1", "o1") == '{"s":1}'
        assert await store.share("t2", "o1") == '{"s":2}'
        assert await store.share("t1", "o2") is None

    async def test_payload_bytes_are_kept_exactly(self, pair: Pair) -> None:
        store, _ = pair
        odd = [
            StoredTenderEvent(1, "t", -5, b""),
            StoredTenderEvent(2, "t", 0, bytes(range(256))),
            StoredTenderEvent(3, "t", 2**62, '{"name":"Zoë", "n": 1.50}'.encode()),
        ]
        await store.append("t1", odd)
        assert await store.read("t1") == odd

    async def test_a_taken_seq_is_a_conflict_and_nothing_is_kept(self, pair: Pair) -> None:
        store, _ = pair
        await store.append("t1", [event(1)])
        with pytest.raises(SeqConflict) as raised:
            await store.append("t1", [event(2), event(1)], [blob(2)], [("o1", "{}")])
        assert (raised.value.auction_id, raised.value.got) == ("t1", 2)
        assert await store.read("t1") == [event(1)]
        assert await store.ciphertexts("t1", [2]) == {}
        assert await store.share("t1", "o1") is None

    async def test_a_held_mark_is_recorded_with_the_events(self, pair: Pair) -> None:
        store, keys = pair
        runner = IdempotentRunner(keys, clock_us=lambda: 10**15)
        slot = await runner.begin("o1", "k-1", b"f" * 32)
        await store.append(
            "t1", [event(1), event(2)], mark=CommandMark("o1", "k-1", slot.stamp, 1, 2)
        )
        assert await runner.release(slot)  # kept: its command committed events
        again = await runner.begin("o1", "k-1", b"f" * 32)
        assert again.committed == Committed("t1", 1, 2)

    async def test_a_lost_mark_stores_nothing(self, pair: Pair) -> None:
        store, keys = pair
        runner = IdempotentRunner(keys, clock_us=lambda: 10**15)
        slot = await runner.begin("o1", "k-1", b"f" * 32)
        lost = CommandMark("o1", "k-1", slot.stamp - 1, 1, 1)
        for mark in (lost, CommandMark("o1", "never", 1, 1, 1)):
            with pytest.raises(ReservationLost) as raised:
                await store.append("t1", [event(1)], [blob(1)], mark=mark)
            assert (raised.value.party, raised.value.key) == ("o1", mark.key)
        assert await store.read("t1") == []
        assert await store.ciphertexts("t1", [1]) == {}

    async def test_an_append_without_commit_doubt_is_settled(self, pair: Pair) -> None:
        store, _ = pair
        assert await store.settled(CommitUncertain(None, "unknown"))


class TestMemoryTenderStore(TenderStoreContract):
    @pytest.fixture
    def pair(self) -> Pair:
        keys = MemoryIdempotencyKeys()
        return MemoryTenderStore(keys), keys


class TestPostgresTenderStore(TenderStoreContract):
    @pytest.fixture
    def pair(self, pg_pool: asyncpg.Pool) -> Pair:
        return PostgresTenderStore(pg_pool), PostgresIdempotencyKeys(pg_pool)


@pytest.mark.parametrize(
    ("events", "envelopes", "shares"),
    [
        ([event(0)], [], []),
        ([event(1)], [blob(2)], []),
        ([event(1)], [blob(1), blob(1)], []),
        ([event(1)], [], [("o1", "{}"), ("o1", "{}")]),
    ],
    ids=["seq-0", "envelope-without-event", "two-envelopes", "two-shares"],
)
async def test_memory_refuses_what_postgres_constraints_refuse(
    events: list[StoredTenderEvent], envelopes: list[EnvelopeBlob], shares: list[tuple[str, str]]
) -> None:
    store = MemoryTenderStore()
    with pytest.raises(StorageMisuse):
        await store.append("t1", events, envelopes, shares)
    assert await store.read("t1") == []
    with pytest.raises(ReservationLost):  # no keys: no reservation is ever held
        await store.append("t1", [event(1)], mark=CommandMark("o1", "k", 1))


async def test_postgres_round_trip(pg_pool: asyncpg.Pool) -> None:
    store = PostgresTenderStore(pg_pool)
    await store.append("t1", [event(1, "TenderCreated")], shares=[("o1", '{"s":1}')])
    await store.append(
        "t1", [event(2)], [EnvelopeBlob(2, "L1", "financial", "ann", COMMITMENT, b"\x00\x01")]
    )
    await store.append("t2", [event(1, "TenderCreated")])
    assert await store.read("t1") == [event(1, "TenderCreated"), event(2)]
    assert await store.read("t1", 1) == [event(2)]
    assert await store.read("t1", 0, 1) == [event(1, "TenderCreated")]
    assert await store.event("t1", 2) == event(2)
    assert await store.event("t1", 3) is None
    assert await store.ciphertexts("t1", [2, 3]) == {2: b"\x00\x01"}
    assert await store.share("t1", "o1") == '{"s":1}'
    assert await store.share("t1", "o2") is None


async def test_a_taken_seq_is_a_conflict_and_nothing_of_the_append_is_kept(
    pg_pool: asyncpg.Pool,
) -> None:
    store = PostgresTenderStore(pg_pool)
    await store.append("t1", [event(1)])
    with pytest.raises(SeqConflict):
        await store.append(
            "t1", [event(1)], [EnvelopeBlob(1, "L1", "financial", "ann", COMMITMENT, b"x")]
        )
    assert await store.ciphertexts("t1", [1]) == {}


async def test_a_connection_that_breaks_after_its_commit_does_not_fail_the_append(
    pg_pool: asyncpg.Pool,
) -> None:
    # As for auctions (tests/api/storage/test_writer.py): the server died right after
    # COMMIT returned and the pool's reset of the connection failed. The append is
    # stored; an error here became 503 "nothing was recorded" for a received envelope.
    from tests.api.storage.test_writer import BreaksOnRelease

    breaking: Any = BreaksOnRelease(pg_pool)
    blob = EnvelopeBlob(1, "L1", "financial", "ann", COMMITMENT, b"x")
    await PostgresTenderStore(breaking).append("t1", [event(1)], [blob])
    assert await PostgresTenderStore(pg_pool).read("t1") == [event(1)]


async def test_an_envelope_without_its_event_is_refused(pg_pool: asyncpg.Pool) -> None:
    store = PostgresTenderStore(pg_pool)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await store.append(
            "t1", [event(1)], [EnvelopeBlob(2, "L1", "financial", "ann", COMMITMENT, b"x")]
        )
    assert await store.read("t1") == []  # the whole transaction rolled back


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE tender_events SET payload = 'x'",
        "DELETE FROM tender_events",
        "TRUNCATE tender_events CASCADE",
        "UPDATE tender_envelopes SET ciphertext = 'x'",
        "DELETE FROM tender_envelopes",
        "TRUNCATE tender_envelopes",
        "UPDATE tender_shares SET share = 'x'",
        "DELETE FROM tender_shares",
    ],
)
async def test_tender_tables_are_append_only(pg_pool: asyncpg.Pool, statement: str) -> None:
    store = PostgresTenderStore(pg_pool)
    await store.append(
        "t1",
        [event(1)],
        [EnvelopeBlob(1, "L1", "financial", "ann", COMMITMENT, b"x")],
        [("o1", "{}")],
    )
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await pg_pool.execute(statement)


async def test_an_append_whose_reservation_was_taken_over_stores_nothing(
    pg_pool: asyncpg.Pool,
) -> None:
    clock = [1_800_000_000 * 1_000_000]
    keys = IdempotentRunner(PostgresIdempotencyKeys(pg_pool), clock_us=lambda: clock[0])
    slow = await keys.begin("o1", "k-1", b"f" * 32)
    clock[0] += 61 * 1_000_000  # past the lease: a retry takes the key over
    retry = await keys.begin("o1", "k-1", b"f" * 32)
    store = PostgresTenderStore(pg_pool)
    with pytest.raises(ReservationLost):
        await store.append("t-1", [event(1)], mark=CommandMark("o1", "k-1", slow.stamp, 1, 1))
    assert await store.read("t-1") == []
    await store.append("t-1", [event(1)], mark=CommandMark("o1", "k-1", retry.stamp, 1, 1))
    assert [row.seq for row in await store.read("t-1")] == [1]


#: Fails, at COMMIT only, the append of an event of type ``refused_at_commit``.
_REFUSED_AT_COMMIT = """
CREATE FUNCTION refused_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.type = 'refused_at_commit' THEN RAISE EXCEPTION 'refused at commit'; END IF;
    RETURN NEW;
END $$;
CREATE CONSTRAINT TRIGGER refused_at_commit AFTER INSERT ON tender_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refused_at_commit();
"""


async def test_a_failure_at_commit_is_uncertain_and_settled_tells_when_the_log_decides(
    pg_pool: asyncpg.Pool,
) -> None:
    """As the auction appenders (tests/api/storage/test_postgres.py): a failed COMMIT is
    CommitUncertain with the transaction's id (the envelope may stand), never the plain
    "nothing stored" error that a failure before COMMIT is."""
    await pg_pool.execute(_REFUSED_AT_COMMIT)
    store = PostgresTenderStore(pg_pool)
    blob = EnvelopeBlob(1, "L1", "financial", "ann", COMMITMENT, b"x")
    with pytest.raises(CommitUncertain) as failed:
        await store.append("t1", [event(1, "refused_at_commit")], [blob])
    assert isinstance(failed.value.__cause__, asyncpg.RaiseError)
    assert failed.value.xid is not None and str(failed.value.xid) in str(failed.value)
    assert await store.settled(failed.value)  # aborted: the log may be believed
    assert await store.read("t1") == [] and await store.ciphertexts("t1", [1]) == {}
    assert await store.settled(CommitUncertain(None, "no transaction id"))
    # A failure before COMMIT is the database error itself: nothing was stored.
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        orphan = EnvelopeBlob(2, "L1", "financial", "ann", COMMITMENT, b"x")
        await store.append("t1", [event(1)], [orphan])
    # settled() says False while the transaction may still commit.
    async with pg_pool.acquire() as conn:
        await conn.execute("BEGIN")
        xid = int(await conn.fetchval("SELECT pg_current_xact_id()::text"))
        assert not await store.settled(CommitUncertain(xid, "in progress"))
        await conn.execute("COMMIT")
    assert await store.settled(CommitUncertain(xid, "committed"))
    await store.append("t1", [event(1)], [blob])
    assert [row.seq for row in await store.read("t1")] == [1]
