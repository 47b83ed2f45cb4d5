"""The crash window of ``Idempotency-Key``, in process on a real PostgreSQL.

A process that commits a command's events and dies before storing the answer leaves a
reservation in progress. The transaction that committed the events also recorded which
ones they were (a :class:`~api.storage.ports.CommandMark`), so the next owner of the
reservation (after the lease) gets a :class:`~api.http.idempotency.Slot` whose ``committed``
names them, under the same ``command_id``, and answers from them instead of running
the command again. A mark is never recorded without its events (a rejected append
records nothing), and an expired key starts afresh.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.auctions.outcomes import outcome
from api.auctions.service import Service
from api.http.idempotency import Committed, IdempotencyStore, StoredResponse, current_slot
from api.live.hub import Hub
from api.storage import (
    CommandMark,
    GroupCommitWriter,
    PostgresEventStore,
    ReservationLost,
    SeqConflict,
)
from api.storage.idempotency import PostgresIdempotencyKeys
from api.storage.ports import StoredEvent
from api.storage.postgres import append_batch
from engine import BidAccepted, EnglishRules, PlaceBid, RegisterBidder, Step

S = 1_000_000
T0 = 1_800_000_000 * S
FINGERPRINT = b"f" * 32


class Clock:
    """A wall clock the test moves by hand (microseconds)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def row(pool: asyncpg.Pool, key: str) -> dict[str, Any]:
    found = await pool.fetchrow(
        "SELECT command_id, auction_id, first_seq, last_seq, status_code, response_headers"
        " FROM idempotency_keys WHERE key = $1",
        key,
    )
    assert found is not None
    return dict(found)


@pytest.fixture
async def world(pg_pool: asyncpg.Pool) -> Any:
    clock = Clock()
    writer = GroupCommitWriter(pg_pool)
    await writer.start()
    svc = Service(PostgresEventStore(pg_pool), writer, Hub(), clock=clock)
    rules = EnglishRules("EUR", T0 + 1, T0 + 3600 * S, 100, Step(100))
    await svc.create("a-1", rules, "create-1")
    await svc.submit("a-1", lambda at: RegisterBidder("reg", at, "acme", Decimal(0)))
    clock.now = T0 + 10
    yield clock, svc
    await svc.close()
    await writer.close()


async def test_a_retry_after_the_lease_finds_the_committed_events(
    pg_pool: asyncpg.Pool, world: Any
) -> None:
    clock, svc = world
    dead = IdempotencyStore(PostgresIdempotencyKeys(pg_pool), clock_us=clock)
    slot = await dead.begin("acme", "k-1", FINGERPRINT)
    assert slot.committed is None and len(slot.command_id) == 32
    command_id = f"http-{slot.command_id}"
    mark = CommandMark(slot.party, slot.key, slot.stamp)
    caused = await svc.submit(
        "a-1", lambda at: PlaceBid(command_id, at, "acme", Decimal("1.00"), "EUR"), mark
    )
    # ... and the process dies here: no finish().
    stored = await row(pg_pool, "k-1")
    assert stored["status_code"] is None
    assert (stored["auction_id"], stored["first_seq"], stored["last_seq"]) == (
        "a-1",
        caused[0].seq,
        caused[-1].seq,
    )

    # Within the lease a retry waits, then hears "in progress".
    clock.now += 30 * S
    waiting = IdempotencyStore(PostgresIdempotencyKeys(pg_pool), clock_us=clock, wait_s=0)
    with pytest.raises(Exception, match="in progress"):
        await waiting.begin("acme", "k-1", FINGERPRINT)

    # After it, the retry takes the reservation over and learns what was committed.
    clock.now += 31 * S
    heir = IdempotencyStore(PostgresIdempotencyKeys(pg_pool), clock_us=clock)
    taken = await heir.begin("acme", "k-1", FINGERPRINT)
    assert taken.replay is None and taken.command_id == slot.command_id
    assert taken.committed == Committed("a-1", caused[0].seq, caused[-1].seq)
    events = await svc.recorded("a-1", taken.committed.first_seq, taken.committed.last_seq)
    result = outcome(events, command_id)
    assert isinstance(result.accepted, BidAccepted) and result.accepted.seq == caused[-1].seq
    # Nothing new in the log.
    assert await svc.store.last_seq("a-1") == caused[-1].seq


async def test_run_exposes_the_slot_and_stores_headers(pg_pool: asyncpg.Pool) -> None:
    store = IdempotencyStore(PostgresIdempotencyKeys(pg_pool))
    seen: list[Any] = []

    async def handler() -> StoredResponse:
        seen.append(current_slot())
        return StoredResponse(201, b"{}", (("Location", "/api/v1/auctions/a-9"),))

    assert current_slot() is None
    first, replayed = await store.run("p", "k-h", FINGERPRINT, handler)
    assert not replayed and seen[0] is not None and seen[0].key == "k-h"
    assert current_slot() is None  # set in the run's own task only
    again, replayed = await store.run("p", "k-h", FINGERPRINT, handler)
    assert replayed and again == first and len(seen) == 1
    assert again.headers == (("Location", "/api/v1/auctions/a-9"),)
    assert (await row(pg_pool, "k-h"))["response_headers"] == '{"Location": "/api/v1/auctions/a-9"}'


async def test_a_rejected_append_records_no_mark(pg_pool: asyncpg.Pool) -> None:
    store = IdempotencyStore(PostgresIdempotencyKeys(pg_pool))
    slot = await store.begin("p", "k-2", FINGERPRINT)
    events = PostgresEventStore(pg_pool)
    first = StoredEvent("a-2", 1, "T", 1, b"{}")
    await events.append("a-2", [first])
    mark = CommandMark(slot.party, slot.key, slot.stamp, 1, 1)
    async with GroupCommitWriter(pg_pool) as writer:
        with pytest.raises(SeqConflict):
            await writer.append("a-2", [first], [mark])
        assert (await row(pg_pool, "k-2"))["first_seq"] is None
        await writer.append("a-2", [StoredEvent("a-2", 2, "T", 2, b"{}")], [mark])
        assert (await row(pg_pool, "k-2"))["first_seq"] == 1
    # An append marked for a reservation that was finished is refused, and stores
    # nothing: a key's command commits once.
    await store.finish(slot, StoredResponse(200, b"{}"))
    with pytest.raises(ReservationLost):
        await events.append(
            "a-2",
            [StoredEvent("a-2", 3, "T", 3, b"{}")],
            [CommandMark("p", "k-2", slot.stamp, 3, 3)],
        )
    assert (await row(pg_pool, "k-2"))["first_seq"] == 1
    assert await events.last_seq("a-2") == 2


async def test_a_slow_owner_cannot_commit_after_its_key_was_taken_over(
    pg_pool: asyncpg.Pool,
) -> None:
    """The first request's commit stalls past the lease; a retry takes the key over and
    runs the command. The stalled append, when it finally runs, is refused whole: one
    key, one commit (the first owner answers 503; the retry's answer stands)."""
    clock = Clock()
    store = IdempotencyStore(PostgresIdempotencyKeys(pg_pool), clock_us=clock)
    slow = await store.begin("p", "k-6", FINGERPRINT)
    clock.now += 61 * S  # past the 60 s lease, the first owner still running
    retry = await store.begin("p", "k-6", FINGERPRINT)
    assert retry.replay is None and retry.committed is None and retry.stamp != slow.stamp
    events = PostgresEventStore(pg_pool)
    async with GroupCommitWriter(pg_pool) as writer:
        await writer.append(
            "a-6",
            [StoredEvent("a-6", 1, "T", 1, b"retry")],
            [CommandMark("p", "k-6", retry.stamp, 1, 1)],
        )
        with pytest.raises(ReservationLost):
            await writer.append(
                "a-6",
                [StoredEvent("a-6", 2, "T", 2, b"slow")],
                [CommandMark("p", "k-6", slow.stamp, 2, 2)],
            )
    assert [e.payload for e in await events.read("a-6")] == [b"retry"]
    assert (await row(pg_pool, "k-6"))["first_seq"] == 1


async def test_a_takeover_waits_for_the_owners_commit_and_answers_from_it(
    pg_pool: asyncpg.Pool,
) -> None:
    """The fence locks the reservation until the owner's commit: a retry that takes
    the key over meanwhile waits, then finds the committed events (no second run)."""
    clock = Clock()
    store = IdempotencyStore(PostgresIdempotencyKeys(pg_pool), clock_us=clock)
    slot = await store.begin("p", "k-7", FINGERPRINT)
    clock.now += 61 * S
    async with pg_pool.acquire() as conn, conn.transaction():
        (outcome,) = await append_batch(
            conn,
            [("a-7", [StoredEvent("a-7", 1, "T", 1, b"owner")])],
            [[CommandMark("p", "k-7", slot.stamp, 1, 1)]],
        )
        assert outcome is None
        takeover = asyncio.create_task(store.begin("p", "k-7", FINGERPRINT))
        await asyncio.sleep(0.2)
        assert not takeover.done()  # blocked on the locked reservation
    retry = await asyncio.wait_for(takeover, 5)
    assert retry.committed == Committed("a-7", 1, 1)


async def test_an_expired_key_starts_afresh(pg_pool: asyncpg.Pool) -> None:
    clock = Clock()
    store = IdempotencyStore(PostgresIdempotencyKeys(pg_pool), clock_us=clock)
    slot = await store.begin("p", "k-3", FINGERPRINT)
    await PostgresEventStore(pg_pool).append(
        "a-3", [StoredEvent("a-3", 1, "T", 1, b"{}")], [CommandMark("p", "k-3", slot.stamp)]
    )
    clock.now += 25 * 3600 * S
    fresh = await store.begin("p", "k-3", b"g" * 32)
    assert fresh.committed is None and fresh.command_id != slot.command_id


async def test_a_release_after_a_commit_keeps_the_outcome_for_the_retry(
    pg_pool: asyncpg.Pool, world: Any
) -> None:
    # The runner's append raised (the answer of the COMMIT was lost) but the events
    # were committed: the app answers 503 and releases the key. Deleting the row would
    # let the retry bid again; it is kept, and the retry takes it over at once.
    clock, svc = world
    store = IdempotencyStore(PostgresIdempotencyKeys(pg_pool), clock_us=clock)
    slot = await store.begin("acme", "k-4", FINGERPRINT)
    caused = await svc.submit(
        "a-1",
        lambda at: PlaceBid(f"http-{slot.command_id}", at, "acme", Decimal("1.00"), "EUR"),
        CommandMark(slot.party, slot.key, slot.stamp),
    )
    assert await store.release(slot)
    retry = await store.begin("acme", "k-4", FINGERPRINT)
    assert retry.committed == Committed("a-1", caused[0].seq, caused[-1].seq)
    assert retry.command_id == slot.command_id
    # Without committed events a release deletes the row, as before.
    other = await store.begin("acme", "k-5", FINGERPRINT)
    assert await store.release(other)
    assert await pg_pool.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'k-5'") == 0
    assert not await store.release(other)
