"""The tender tables on a real PostgreSQL: one transaction per command, append-only rows."""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.errors import CommitUncertain, ReservationLost, SeqConflict
from api.storage.idempotency import IdempotentRunner, PostgresIdempotencyKeys
from api.storage.ports import CommandMark
from api.storage.tenders import EnvelopeBlob, StoredTenderEvent, TenderStore

COMMITMENT = "ab" * 32


def event(seq: int, type_: str = "EnvelopeReceived") -> StoredTenderEvent:
    return StoredTenderEvent(seq, type_, seq * 10, b'{"seq":%d}' % seq)


async def test_round_trip(pg_pool: asyncpg.Pool) -> None:
    store = TenderStore(pg_pool)
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
    store = TenderStore(pg_pool)
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
    await TenderStore(breaking).append("t1", [event(1)], [blob])
    assert await TenderStore(pg_pool).read("t1") == [event(1)]


async def test_an_envelope_without_its_event_is_refused(pg_pool: asyncpg.Pool) -> None:
    store = TenderStore(pg_pool)
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
    store = TenderStore(pg_pool)
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
    store = TenderStore(pg_pool)
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
    store = TenderStore(pg_pool)
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
