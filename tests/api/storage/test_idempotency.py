"""Idempotency keys in storage (:mod:`api.storage.idempotency`).

:class:`IdempotencyKeysContract` states the behaviour of the port
(:class:`~api.storage.idempotency.IdempotencyKeys`) once; each adapter subclasses it and
provides the ``keys`` fixture and a ``mark`` fixture that records a command's committed
events the way that adapter's event store does (in the append's transaction for
PostgreSQL). The runner (:class:`~api.storage.idempotency.IdempotentRunner`) is then
tested over the in-memory adapter; over PostgreSQL, through HTTP's subclass, in
``tests/api/http/test_idempotency*.py``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.errors import (
    IdempotencyMisuse,
    KeyInProgress,
    KeyRefused,
    KeyReused,
    ReservationLost,
    StorageError,
    StorageMisuse,
)
from api.storage.idempotency import (
    Committed,
    IdempotencyKeys,
    IdempotentRunner,
    KeyRecord,
    PostgresIdempotencyKeys,
    Reservation,
    StoredResponse,
    current_mark,
    current_slot,
)
from api.storage.memory import MemoryEventStore, MemoryIdempotencyKeys
from api.storage.ports import CommandMark, StoredEvent
from api.storage.postgres import PostgresEventStore

FP = b"a" * 32
OTHER = b"b" * 32
ANSWER = StoredResponse(201, b'{"seq":7}', (("Location", "/api/v1/auctions/a-9"),))
#: Times: a reservation at T; expiry and lease cutoffs as the runner computes them.
T = 1_000_000
TTL = 100
LEASE = 10

Mark = Callable[[str, CommandMark], Awaitable[None]]


async def reserve(
    keys: IdempotencyKeys, now: int, fp: bytes = FP, *, party: str = "p", key: str = "k"
) -> Reservation | None:
    return await keys.reserve(
        party,
        key,
        fp,
        now=now,
        expired_before=now - TTL,
        lease_before=now - LEASE,
        command_id=f"cmd-{now}",
    )


class IdempotencyKeysContract:
    """Every adapter of the idempotency port must pass these tests."""

    @pytest.fixture
    def keys(self) -> IdempotencyKeys:
        raise NotImplementedError

    @pytest.fixture
    def mark(self, keys: IdempotencyKeys) -> Mark:
        raise NotImplementedError

    async def test_a_free_key_is_reserved(self, keys: IdempotencyKeys) -> None:
        assert await keys.lookup("p", "k") is None
        assert await reserve(keys, T) == Reservation(T, f"cmd-{T}")
        assert await keys.lookup("p", "k") == KeyRecord(FP, None)

    async def test_a_held_key_is_not_reserved_again(self, keys: IdempotencyKeys) -> None:
        await reserve(keys, T)
        assert await reserve(keys, T + LEASE) is None  # within the lease
        assert await reserve(keys, T + 1, OTHER) is None
        assert await reserve(keys, T + LEASE + 1, OTHER) is None  # past it: not this request
        assert await keys.lookup("p", "k") == KeyRecord(FP, None)

    async def test_keys_are_scoped_per_party(self, keys: IdempotencyKeys) -> None:
        assert await reserve(keys, T, party="p1") is not None
        assert await reserve(keys, T, OTHER, party="p2") is not None
        assert await reserve(keys, T, OTHER, key="k2", party="p1") is not None
        assert await keys.lookup("p2", "k") == KeyRecord(OTHER, None)

    async def test_finish_stores_the_answer_once(self, keys: IdempotencyKeys) -> None:
        await reserve(keys, T)
        assert not await keys.finish("p", "k", T + 1, ANSWER)  # not its stamp
        assert await keys.finish("p", "k", T, ANSWER)
        assert await keys.lookup("p", "k") == KeyRecord(FP, ANSWER)
        assert not await keys.finish("p", "k", T, StoredResponse(500, b"{}"))
        assert await keys.lookup("p", "k") == KeyRecord(FP, ANSWER)
        assert await reserve(keys, T + LEASE + 1) is None  # finished: never taken over
        assert not await keys.finish("p", "nope", T, ANSWER)

    async def test_an_answer_without_headers(self, keys: IdempotencyKeys) -> None:
        await reserve(keys, T)
        assert await keys.finish("p", "k", T, StoredResponse(409, b""))
        assert await keys.lookup("p", "k") == KeyRecord(FP, StoredResponse(409, b""))

    async def test_release_frees_the_key(self, keys: IdempotencyKeys) -> None:
        await reserve(keys, T)
        assert not await keys.release("p", "k", T - 1, abandon_at=0)
        assert await keys.release("p", "k", T, abandon_at=0)
        assert await keys.lookup("p", "k") is None
        assert not await keys.release("p", "k", T, abandon_at=0)
        assert await reserve(keys, T + 1, OTHER) == Reservation(T + 1, f"cmd-{T + 1}")

    async def test_a_finished_key_is_not_released(self, keys: IdempotencyKeys) -> None:
        await reserve(keys, T)
        await keys.finish("p", "k", T, ANSWER)
        assert not await keys.release("p", "k", T, abandon_at=0)
        assert await keys.lookup("p", "k") == KeyRecord(FP, ANSWER)

    async def test_an_abandoned_reservation_is_taken_over_by_the_same_request(
        self, keys: IdempotencyKeys
    ) -> None:
        await reserve(keys, T)
        later = T + LEASE + 1
        taken = await reserve(keys, later)
        assert taken == Reservation(later, f"cmd-{T}")  # the same command: its id is kept
        # The old owner can neither finish nor release the new owner's reservation.
        assert not await keys.finish("p", "k", T, StoredResponse(201, b"old"))
        assert not await keys.release("p", "k", T, abandon_at=0)
        assert await keys.finish("p", "k", later, ANSWER)

    @pytest.mark.parametrize("finished", [False, True])
    async def test_an_expired_key_starts_afresh(
        self, keys: IdempotencyKeys, mark: Mark, finished: bool
    ) -> None:
        await reserve(keys, T)
        await mark("a-1", CommandMark("p", "k", T, 1, 2))
        if finished:
            await keys.finish("p", "k", T, ANSWER)
        later = T + TTL + 1
        assert await reserve(keys, later, OTHER) == Reservation(later, f"cmd-{later}")
        assert await keys.lookup("p", "k") == KeyRecord(OTHER, None)

    async def test_a_committed_range_goes_to_the_next_owner(
        self, keys: IdempotencyKeys, mark: Mark
    ) -> None:
        await reserve(keys, T)
        await mark("a-1", CommandMark("p", "k", T, 1, 1))
        assert await reserve(keys, T + LEASE) is None
        taken = await reserve(keys, T + LEASE + 1)
        assert taken == Reservation(T + LEASE + 1, f"cmd-{T}", Committed("a-1", 1, 1))

    async def test_release_keeps_a_committed_reservation_for_the_next_retry(
        self, keys: IdempotencyKeys, mark: Mark
    ) -> None:
        await reserve(keys, T)
        await mark("a-1", CommandMark("p", "k", T, 1, 1))
        assert await keys.release("p", "k", T, abandon_at=T - LEASE - 1)
        assert await keys.lookup("p", "k") == KeyRecord(FP, None)
        assert await reserve(keys, T + 1, OTHER) is None  # still not another request's
        taken = await reserve(keys, T + 1)
        assert taken == Reservation(T + 1, f"cmd-{T}", Committed("a-1", 1, 1))

    async def test_a_mark_of_a_lost_reservation_changes_nothing(
        self, keys: IdempotencyKeys, mark: Mark
    ) -> None:
        await reserve(keys, T)
        taken = await reserve(keys, T + LEASE + 1)
        assert taken is not None
        with pytest.raises(ReservationLost):  # the append is refused, nothing recorded
            await mark("a-1", CommandMark("p", "k", T, 1, 1))
        assert await keys.release("p", "k", taken.stamp, abandon_at=0)
        assert await keys.lookup("p", "k") is None  # no committed range: deleted

    async def test_purge_deletes_in_batches(self, keys: IdempotencyKeys) -> None:
        for i in range(5):
            await reserve(keys, T + i, key=f"old-{i}")
        await keys.finish("p", "old-0", T, ANSWER)
        await reserve(keys, T + 10, key="recent")
        assert await keys.purge(T + 5, 2) == 2
        assert await keys.purge(T + 5, 2) == 2
        assert await keys.purge(T + 5, 2) == 1
        assert await keys.purge(T + 5, 2) == 0
        assert await keys.lookup("p", "recent") == KeyRecord(FP, None)


class TestMemoryIdempotencyKeys(IdempotencyKeysContract):
    @pytest.fixture
    def keys(self) -> IdempotencyKeys:
        return MemoryIdempotencyKeys()

    @pytest.fixture
    def mark(self, keys: MemoryIdempotencyKeys) -> Mark:
        events = MemoryEventStore(keys)

        async def record(stream_id: str, mark: CommandMark) -> None:
            first = await events.last_seq(stream_id) + 1
            await events.append(stream_id, [StoredEvent(stream_id, first, "t", 0, b"{}")], [mark])

        return record


class TestPostgresIdempotencyKeys(IdempotencyKeysContract):
    @pytest.fixture
    def keys(self, pg_pool: asyncpg.Pool) -> IdempotencyKeys:
        return PostgresIdempotencyKeys(pg_pool)

    @pytest.fixture
    def mark(self, pg_pool: asyncpg.Pool) -> Mark:
        events = PostgresEventStore(pg_pool)

        async def record(stream_id: str, mark: CommandMark) -> None:
            first = await events.last_seq(stream_id) + 1
            stored = [StoredEvent(stream_id, first, "t", 0, b"{}")]
            await events.append(stream_id, stored, [mark])

        return record


# ------------------------------------------------------------------------------ errors


def test_error_tree() -> None:
    assert issubclass(KeyReused, KeyRefused) and issubclass(KeyInProgress, KeyRefused)
    assert issubclass(KeyRefused, StorageError) and not issubclass(KeyRefused, AssertionError)
    assert issubclass(IdempotencyMisuse, StorageMisuse)
    assert issubclass(IdempotencyMisuse, AssertionError)


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [(99, b"", ()), (600, b"", ()), (True, b"", ()), (200, "str", ()), (200, b"", (("a", "é"),))],
)
def test_stored_response_refuses_misuse(status: Any, body: Any, headers: Any) -> None:
    with pytest.raises(IdempotencyMisuse):
        StoredResponse(status, body, headers)


def test_stored_response_content_type() -> None:
    assert StoredResponse(201, b"{}").content_type == "application/json"
    assert StoredResponse(404, b"{}").content_type == "application/problem+json"


# ---------------------------------------------------------------------- the runner


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runner(clock: Clock) -> IdempotentRunner:
    return IdempotentRunner(MemoryIdempotencyKeys(), wait_s=0.2, clock_us=clock)


async def test_a_command_runs_once_per_key(runner: IdempotentRunner) -> None:
    calls: list[int] = []

    async def command() -> StoredResponse:
        calls.append(1)
        await asyncio.sleep(0.01)
        return ANSWER

    results = await asyncio.gather(*(runner.run("p", "k", FP, command) for _ in range(5)))
    assert len(calls) == 1
    assert sorted(replayed for _, replayed in results) == [False] + [True] * 4
    with pytest.raises(KeyReused):
        await runner.run("p", "k", OTHER, command)


async def test_the_slot_is_the_running_commands_only(runner: IdempotentRunner) -> None:
    seen: list[Any] = []

    async def command() -> StoredResponse:
        seen.append((current_slot(), current_mark()))
        return ANSWER

    await runner.run("p", "k", FP, command)
    [(slot, mark)] = seen
    assert (slot.party, slot.key, len(slot.command_id)) == ("p", "k", 32)
    assert mark == CommandMark("p", "k", slot.stamp)
    assert current_slot() is None and current_mark() is None


async def test_every_error_releases_by_default(runner: IdempotentRunner) -> None:
    async def fails() -> StoredResponse:
        raise ValueError("no")

    with pytest.raises(ValueError):
        await runner.run("p", "k", FP, fails)
    assert await runner.keys.lookup("p", "k") is None


async def test_a_subclass_stores_the_errors_that_answer(clock: Clock) -> None:
    class Answers(IdempotentRunner):
        def stored_answer(self, error: Exception) -> StoredResponse | None:
            return StoredResponse(409, str(error).encode())

    runner = Answers(MemoryIdempotencyKeys(), clock_us=clock)

    async def refused() -> StoredResponse:
        raise ValueError("closed")

    with pytest.raises(ValueError):
        await runner.run("p", "k", FP, refused)
    assert await runner.run("p", "k", FP, refused) == (StoredResponse(409, b"closed"), True)


async def test_in_progress_after_the_wait(clock: Clock) -> None:
    runner = IdempotentRunner(MemoryIdempotencyKeys(), wait_s=0.02, clock_us=clock)
    slot = await runner.begin("p", "k", FP)
    with pytest.raises(KeyInProgress):
        await runner.begin("p", "k", FP)
    clock.now += 61 * 1_000_000  # past the lease: the same request takes it over
    taken = await runner.begin("p", "k", FP)
    assert taken.command_id == slot.command_id and taken.stamp > slot.stamp
    assert not await runner.finish(slot, ANSWER)
    assert await runner.finish(taken, ANSWER)


async def test_a_committed_range_reaches_the_slot(clock: Clock) -> None:
    keys = MemoryIdempotencyKeys()
    runner = IdempotentRunner(keys, clock_us=clock)
    slot = await runner.begin("p", "k", FP)
    assert keys.mark("a-1", CommandMark("p", "k", slot.stamp, 3, 4))
    assert await runner.release(slot)  # kept, backdated past the lease
    again = await runner.begin("p", "k", FP)
    assert again.committed == Committed("a-1", 3, 4) and again.command_id == slot.command_id


async def test_purge_expired(runner: IdempotentRunner, clock: Clock) -> None:
    for i in range(3):
        await runner.begin("p", f"k{i}", FP)
    clock.now += 24 * 3600 * 1_000_000 + 1
    await runner.begin("p", "new", FP)
    assert await runner.purge_expired(batch=2) == 3
    assert await runner.keys.lookup("p", "new") is not None


@pytest.mark.parametrize(
    "kwargs", [{"ttl_s": 10, "lease_s": 10}, {"lease_s": 0}, {"wait_s": -1}, {"poll_s": 0}]
)
def test_settings_misuse(kwargs: dict[str, Any]) -> None:
    with pytest.raises(IdempotencyMisuse):
        IdempotentRunner(MemoryIdempotencyKeys(), **kwargs)


async def test_misuse_before_any_step(runner: IdempotentRunner) -> None:
    with pytest.raises(IdempotencyMisuse):
        await runner.begin("p", "k", b"short")

    async def garbage() -> Any:
        return {"status": 201}

    with pytest.raises(IdempotencyMisuse):
        await runner.run("p", "k", FP, garbage)
    assert await runner.keys.lookup("p", "k") is None
    replay = await runner.run("p", "k2", FP, lambda: asyncio.sleep(0, ANSWER))
    slot = await runner.begin("p", "k2", FP)
    assert replay == (ANSWER, False) and slot.replay == ANSWER
    for step in (runner.finish(slot, ANSWER), runner.release(slot)):
        with pytest.raises(IdempotencyMisuse):
            await step


def test_the_module_imports_no_http() -> None:
    # The tender and auction services read current_mark() from here: no sanic with it.
    code = (
        "import sys, api.storage.idempotency, api.storage.memory; "
        "print(sorted(m for m in sys.modules if m.startswith(('sanic', 'api.http'))))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert found.stdout.strip() == b"[]"
