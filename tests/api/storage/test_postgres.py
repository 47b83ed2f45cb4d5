"""PostgreSQL-only behaviour of the adapter; the shared contract is in test_ports.py."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.errors import CommitUncertain, SeqConflict
from api.storage.ports import StoredEvent
from api.storage.postgres import (
    PostgresEventStore,
    append_batch,
    create_pool,
    dsn_with_database,
    fetch_last_seqs,
    transaction_settled,
)

#: A deferred constraint trigger that fails an append at COMMIT, not before: events of
#: type "refused_at_commit" fail, those of type "slow_commit" make COMMIT take 30 s.
AT_COMMIT = """
CREATE FUNCTION at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.type = 'refused_at_commit' THEN RAISE EXCEPTION 'refused at commit'; END IF;
    IF NEW.type = 'slow_commit' THEN PERFORM pg_sleep(30); END IF;
    RETURN NEW;
END $$;
CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION at_commit();
"""


def event(auction_id: str, seq: int, type_: str = "bid_accepted") -> StoredEvent:
    return StoredEvent(auction_id, seq, type_, seq, b"{}")


async def wait_for_lock_wait(pool: asyncpg.Pool) -> None:
    """Return once some session of this database is waiting on a row lock."""
    for _ in range(500):
        waiting = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no session ever waited on a lock")


def test_dsn_with_database() -> None:
    assert (
        dsn_with_database("postgresql://postgres@127.0.0.1:5432/test", "gavel")
        == "postgresql://postgres@127.0.0.1:5432/gavel"
    )
    assert (
        dsn_with_database("postgresql://postgres:@/postgres?host=/tmp/pg data", "t 1")
        == "postgresql://postgres:@/t%201?host=/tmp/pg data"
    )
    assert dsn_with_database("postgresql://u@h", "d") == "postgresql://u@h/d"


async def test_pool_forces_synchronous_commit(pg_dsn: str) -> None:
    # Even where the database's default says otherwise, and after the pool's
    # RESET ALL on release, every pooled connection commits durably.
    admin = await asyncpg.connect(pg_dsn)
    try:
        database = await admin.fetchval("SELECT current_database()")
        await admin.execute(f'ALTER DATABASE "{database}" SET synchronous_commit = off')
    finally:
        await admin.close()
    pool = await create_pool(
        pg_dsn, min_size=1, max_size=1, server_settings={"synchronous_commit": "off"}
    )
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW synchronous_commit") == "on"
            assert await conn.fetchval("SHOW application_name") == "gavel"
            await conn.execute("SET synchronous_commit = off")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW synchronous_commit") == "on"
    finally:
        await pool.close()


async def test_fetch_last_seqs(pg_pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pg_pool)
    await store.append("a", [event("a", 1), event("a", 2)])
    async with pg_pool.acquire() as conn:
        assert await fetch_last_seqs(conn, ["a", "b"]) == {"a": 2, "b": 0}
        assert await fetch_last_seqs(conn, []) == {}


async def test_append_batch_takes_appends_in_order(pg_pool: asyncpg.Pool) -> None:
    # A rejected append does not advance its stream; a later one in the batch may.
    async with pg_pool.acquire() as conn, conn.transaction():
        outcome = await append_batch(
            conn,
            [
                ("a", [event("a", 1)]),
                ("a", [event("a", 3)]),
                ("b", [event("b", 1)]),
                ("a", [event("a", 2)]),
                ("a", [event("a", 2)]),
            ],
        )
    assert [type(o).__name__ for o in outcome] == [
        "NoneType",
        "SeqGap",
        "NoneType",
        "NoneType",
        "SeqConflict",
    ]
    assert await PostgresEventStore(pg_pool).last_seq("a") == 2


async def test_race_with_another_writer_is_a_conflict(pg_pool: asyncpg.Pool) -> None:
    # Another session inserts seq 1 without committing: the store's pre-check cannot
    # see it, its COPY waits on the key, and fails once the other side commits. The
    # unique violation (SQLSTATE 23505) must surface as SeqConflict.
    store = PostgresEventStore(pg_pool)
    async with pg_pool.acquire() as other:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("INSERT INTO events VALUES ('a', 1, 'other', 0, '\\x00'::bytea)")
        loser = asyncio.create_task(store.append("a", [event("a", 1), event("a", 2)]))
        await wait_for_lock_wait(pg_pool)
        await transaction.commit()
        with pytest.raises(SeqConflict) as raised:
            await loser
    conflict = raised.value
    assert (conflict.auction_id, conflict.expected, conflict.got) == ("a", None, 1)
    assert isinstance(conflict.__cause__, asyncpg.UniqueViolationError)
    assert [e.type for e in await store.read("a")] == ["other"]


async def test_other_unique_violations_are_not_seq_conflicts(pg_pool: asyncpg.Pool) -> None:
    await pg_pool.execute("CREATE UNIQUE INDEX one_per_type ON events (type)")
    store = PostgresEventStore(pg_pool)
    await store.append("a", [event("a", 1, "x")])
    with pytest.raises(asyncpg.UniqueViolationError):
        await store.append("b", [event("b", 1, "x")])


def test_conflict_without_a_parsable_detail_names_the_first_append() -> None:
    # A localised or absent error detail must still give a usable SeqConflict.
    from api.storage.postgres import _conflict

    conflict = _conflict(asyncpg.UniqueViolationError("duplicate"), [("a", [event("a", 4)])])
    assert (conflict.auction_id, conflict.expected, conflict.got) == ("a", None, 4)


async def test_a_failed_commit_is_uncertain_and_its_transaction_tells_when_settled(
    pg_pool: asyncpg.Pool,
) -> None:
    """COMMIT itself fails: the append raises CommitUncertain with its transaction id,
    which (aborted) is settled, and the log lacks the events."""
    await pg_pool.execute(AT_COMMIT)
    store = PostgresEventStore(pg_pool)
    with pytest.raises(CommitUncertain) as failed:
        await store.append("a", [event("a", 1, "refused_at_commit")])
    assert isinstance(failed.value.__cause__, asyncpg.RaiseError)
    assert failed.value.xid is not None and str(failed.value.xid) in str(failed.value)
    assert await store.settled(failed.value)
    assert await store.read("a") == []
    # A failure before COMMIT is the database error itself: nothing was stored.
    await pg_pool.execute("ALTER TABLE events ADD CONSTRAINT no_boom CHECK (type <> 'boom')")
    with pytest.raises(asyncpg.CheckViolationError):
        await store.append("a", [event("a", 1, "boom")])
    await store.append("a", [event("a", 1)])
    assert [row.seq for row in await store.read("a")] == [1]


async def test_transaction_settled_follows_the_transaction(pg_pool: asyncpg.Pool) -> None:
    async with pg_pool.acquire() as conn:
        for ending in ("COMMIT", "ROLLBACK"):
            await conn.execute("BEGIN")
            xid = int(await conn.fetchval("SELECT pg_current_xact_id()::text"))
            assert not await transaction_settled(pg_pool, xid)  # it may still commit
            await conn.execute(ending)
            assert await transaction_settled(pg_pool, xid)
    # An id the server has not handed out yet: one lost in a crash (no commit record
    # of it survived), so that transaction can never commit.
    assert await transaction_settled(pg_pool, xid + 1_000_000)
