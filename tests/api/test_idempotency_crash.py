"""The crash window of ``Idempotency-Key``, in process on a real PostgreSQL.

A process that commits a command's events and dies before storing the answer leaves a
reservation in progress. The transaction that committed the events also recorded which
ones they were (a :class:`~api.storage.ports.CommandMark`), so the next owner of the
reservation (after the lease) gets a :class:`~api.idempotency.Slot` whose ``committed``
names them, under the same ``command_id``, and answers from them instead of running
the command again. A mark is never recorded without its events (a rejected append
records nothing), and an expired key starts afresh.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.hub import Hub
from api.idempotency import Committed, IdempotencyStore, StoredResponse, current_slot
from api.outcomes import outcome
from api.service import Service
from api.storage import CommandMark, GroupCommitWriter, PostgresEventStore, SeqConflict
from api.storage.ports import StoredEvent
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
    dead = IdempotencyStore(pg_pool, clock_us=clock)
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
    waiting = IdempotencyStore(pg_pool, clock_us=clock, wait_s=0)
    with pytest.raises(Exception, match="in progress"):
        await waiting.begin("acme", "k-1", FINGERPRINT)

    # After it, the retry takes the reservation over and learns what was committed.
    clock.now += 31 * S
    heir = IdempotencyStore(pg_pool, clock_us=clock)
    taken = await heir.begin("acme", "k-1", FINGERPRINT)
    assert taken.replay is None and taken.command_id == slot.command_id
    assert taken.committed == Committed("a-1", caused[0].seq, caused[-1].seq)
    events = await svc.recorded("a-1", taken.committed.first_seq, taken.committed.last_seq)
    result = outcome(events, command_id)
    assert isinstance(result.accepted, BidAccepted) and result.accepted.seq == caused[-1].seq
    # Nothing new in the log.
    assert await svc.store.last_seq("a-1") == caused[-1].seq


async def test_run_exposes_the_slot_and_stores_headers(pg_pool: asyncpg.Pool) -> None:
    store = IdempotencyStore(pg_pool)
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
    store = IdempotencyStore(pg_pool)
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
    # A mark for a reservation that was finished (or taken over) changes nothing.
    await store.finish(slot, StoredResponse(200, b"{}"))
    await events.append(
        "a-2", [StoredEvent("a-2", 3, "T", 3, b"{}")], [CommandMark("p", "k-2", slot.stamp, 3, 3)]
    )
    assert (await row(pg_pool, "k-2"))["first_seq"] == 1


async def test_an_expired_key_starts_afresh(pg_pool: asyncpg.Pool) -> None:
    clock = Clock()
    store = IdempotencyStore(pg_pool, clock_us=clock)
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
    store = IdempotencyStore(pg_pool, clock_us=clock)
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
