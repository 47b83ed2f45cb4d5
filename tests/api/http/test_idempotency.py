"""Idempotency keys on a real PostgreSQL (tests/conftest.py): one execution per key."""

from __future__ import annotations

import asyncio
import doctest
import hashlib
import json
import logging
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

import api.http.idempotency
from api.http.idempotency import (
    MAX_KEY_CHARS,
    REPLAYED_HEADER,
    IdempotencyError,
    IdempotencyKeyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    IdempotencyMisuse,
    IdempotencyRefused,
    IdempotencyStore,
    Slot,
    StoredResponse,
    fingerprint,
    parse_key,
    to_http,
)
from api.http.problems import (
    PROBLEM_MEDIA_TYPE,
    Code,
    ProblemError,
    problem,
    problem_from_reason,
    to_response,
)
from api.storage.errors import StorageMisuse
from api.storage.idempotency import KeyRecord, PostgresIdempotencyKeys
from engine.reasons import Reason

FP = fingerprint("POST", "/api/v1/auctions/a-1/bids", b'{"amount": "10.00"}')
OTHER_FP = fingerprint("POST", "/api/v1/auctions/a-1/bids", b'{"amount": "9.00"}')
CREATED = StoredResponse(201, b'{"seq":7}')


def test_doctests() -> None:
    assert doctest.testmod(api.http.idempotency).failed == 0


# ---------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (None, None),
        ("abc", "abc"),
        ("  8e03978e-40d5-43e8-bc93-6894a57f9324\t", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('"8e03978e"', "8e03978e"),
        ('"with space"', "with space"),
        ('"q\\"uote\\\\"', 'q"uote\\'),
        ("bare \"quotes' ~", "bare \"quotes' ~"),
        ("x" * MAX_KEY_CHARS, "x" * MAX_KEY_CHARS),
        ('"' + "x" * MAX_KEY_CHARS + '"', "x" * MAX_KEY_CHARS),
    ],
)
def test_parse_key(header: str | None, key: str | None) -> None:
    assert parse_key(header) == key


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        '""',
        '"',
        '"abc',
        '"abc\\"',
        '"a"b"',
        '"a\\nb"',
        '"tab\there"',
        "tab\there",
        "café",
        '"café"',
        "x" * (MAX_KEY_CHARS + 1),
        '"' + "x" * (MAX_KEY_CHARS + 1) + '"',
        "nul\x00",
    ],
)
def test_parse_key_refuses(header: str) -> None:
    with pytest.raises(IdempotencyKeyInvalid) as caught:
        parse_key(header)
    assert caught.value.problem.status == 400
    assert caught.value.problem.code == "idempotency_key_invalid"


# --------------------------------------------------------------------- fingerprint


def test_fingerprint_ignores_white_space_and_member_order() -> None:
    a = fingerprint("POST", "/x", b'{"b": [1, {"d": true, "c": null}], "a": "\\u00e9"}')
    b = fingerprint("post", "/x", b'{"a":"\xc3\xa9","b":[1,{"c":null,"d":true}]}')
    assert a == b and len(a) == 32


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("POST", "/x", b"{}"), ("PUT", "/x", b"{}")),
        (("POST", "/x", b"{}"), ("POST", "/y", b"{}")),
        (("POST", "/x?a=1", b"{}"), ("POST", "/x?a=2", b"{}")),
        (("POST", "/x", b'{"a":12.50}'), ("POST", "/x", b'{"a":12.5}')),
        (("POST", "/x", b'{"a":"12.50"}'), ("POST", "/x", b'{"a":12.50}')),
        (("POST", "/x", b'{"a":1}'), ("POST", "/x", b'{"a":1.0}')),
        (("POST", "/x", b'{"a":[1,2]}'), ("POST", "/x", b'{"a":[2,1]}')),
        (("POST", "/x", b"not json"), ("POST", "/x", b"not  json")),
        # Framing: moving bytes between parts never collides.
        (("POST", "/ab", b""), ("POST", "/a", b"b")),
        (("POS", "T/x", b""), ("POST", "/x", b"")),
        # A JSON body and a raw body with the same canonical bytes differ.
        (("POST", "/x", b"{}"), ("POST", "/x", b"{ ")),
    ],
)
def test_fingerprint_tells_requests_apart(
    left: tuple[str, str, bytes], right: tuple[str, str, bytes]
) -> None:
    assert fingerprint(*left) != fingerprint(*right)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1,"a":2}',
        b"[" * 100_000 + b"]" * 100_000,
        b"\xff\xfe",
        b"",
    ],
)
def test_fingerprint_hashes_non_json_as_raw_bytes(raw: bytes) -> None:
    expected = hashlib.sha256()
    for part in (b"POST", b"/x"):
        expected.update(len(part).to_bytes(8, "big") + part)
    expected.update(b"R" + raw)
    assert fingerprint("POST", "/x", raw) == expected.digest()


def test_fingerprint_of_odd_but_valid_json() -> None:
    # NaN (which Python's parser accepts), a lone surrogate, a surrogate in the target.
    assert fingerprint("POST", "/x", b'{"a":NaN}') != fingerprint("POST", "/x", b'{"a":null}')
    assert len(fingerprint("POST", "/x\udcff", b'["\\ud800"]')) == 32


# ------------------------------------------------------------------ stored response


def test_stored_response_and_its_http_form() -> None:
    assert CREATED.content_type == "application/json"
    first = to_http(CREATED, replayed=False)
    assert (first.status, first.body, first.content_type) == (201, b'{"seq":7}', "application/json")
    assert REPLAYED_HEADER not in first.headers
    again = to_http(CREATED, replayed=True)
    assert again.headers[REPLAYED_HEADER] == "true"
    rejected = StoredResponse(409, problem_from_reason(Reason.AUCTION_CLOSED, "late").to_json())
    assert to_http(rejected, replayed=True).content_type == PROBLEM_MEDIA_TYPE


@pytest.mark.parametrize(("status", "body"), [(99, b""), (600, b""), (True, b""), (200, "str")])
def test_stored_response_refuses_misuse(status: Any, body: Any) -> None:
    with pytest.raises(IdempotencyMisuse):
        StoredResponse(status, body)


def test_error_tree() -> None:
    for leaf in (IdempotencyKeyInvalid, IdempotencyKeyReused, IdempotencyKeyInProgress):
        assert issubclass(leaf, IdempotencyRefused)
    assert issubclass(IdempotencyRefused, IdempotencyError)
    assert issubclass(IdempotencyRefused, ProblemError)
    # Misuse is storage's (api.storage.errors), re-exported: not a refusal of the request.
    assert issubclass(IdempotencyMisuse, StorageMisuse)
    assert issubclass(IdempotencyMisuse, AssertionError)
    assert not issubclass(IdempotencyMisuse, IdempotencyError)


# ------------------------------------------------------------------- with PostgreSQL


class Clock:
    """Wall-clock microseconds that a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1_000_000)


class Counter:
    """A command handler that counts its executions."""

    def __init__(self, response: StoredResponse = CREATED, delay: float = 0.0) -> None:
        self.calls = 0
        self.response = response
        self.delay = delay
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> StoredResponse:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.delay)
        return self.response


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(pg_pool: asyncpg.Pool, clock: Clock) -> IdempotencyStore:
    return IdempotencyStore(PostgresIdempotencyKeys(pg_pool), wait_s=5.0, clock_us=clock)


async def rows(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    records = await pool.fetch("SELECT * FROM idempotency_keys ORDER BY party_id, key")
    return [dict(record) for record in records]


async def test_first_run_executes_and_retry_replays(
    store: IdempotencyStore, pg_pool: asyncpg.Pool
) -> None:
    handler = Counter()
    assert await store.run("bidder-1", "k1", FP, handler) == (CREATED, False)
    assert await store.run("bidder-1", "k1", FP, handler) == (CREATED, True)
    assert handler.calls == 1
    [row] = await rows(pg_pool)
    assert (row["status_code"], bytes(row["response_body"])) == (201, b'{"seq":7}')
    assert bytes(row["request_hash"]) == FP


async def test_same_key_other_request_is_refused(store: IdempotencyStore) -> None:
    await store.run("bidder-1", "k1", FP, Counter())
    with pytest.raises(IdempotencyKeyReused) as caught:
        await store.run("bidder-1", "k1", OTHER_FP, Counter())
    response = to_response(caught.value.problem)
    assert (response.status, caught.value.problem.code) == (422, "idempotency_key_reused")


async def test_keys_are_scoped_per_party(store: IdempotencyStore) -> None:
    one, two = Counter(StoredResponse(201, b"1")), Counter(StoredResponse(201, b"2"))
    assert await store.run("bidder-1", "same", FP, one) == (one.response, False)
    assert await store.run("bidder-2", "same", OTHER_FP, two) == (two.response, False)
    assert (one.calls, two.calls) == (1, 1)


async def test_racing_clients_execute_once(store: IdempotencyStore, pg_pool: asyncpg.Pool) -> None:
    handler = Counter(delay=0.05)
    results = await asyncio.gather(*(store.run("bidder-1", "race", FP, handler) for _ in range(20)))
    assert handler.calls == 1
    assert all(response == CREATED for response, _ in results)
    assert sorted(replayed for _, replayed in results) == [False] + [True] * 19
    assert len(await rows(pg_pool)) == 1


async def test_racing_clients_on_separate_stores_execute_once(
    pg_pool: asyncpg.Pool, pg_dsn: str
) -> None:
    # Two "servers": separate pools and stores on the same database.
    other_pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=5)
    try:
        stores = [
            IdempotencyStore(PostgresIdempotencyKeys(pg_pool)),
            IdempotencyStore(PostgresIdempotencyKeys(other_pool)),
        ]
        handler = Counter(delay=0.05)
        results = await asyncio.gather(
            *(stores[i % 2].run("bidder-1", "race", FP, handler) for i in range(10))
        )
    finally:
        await other_pool.close()
    assert handler.calls == 1
    assert [replayed for _, replayed in results].count(False) == 1


async def test_waiting_duplicate_gets_the_first_answer(store: IdempotencyStore) -> None:
    handler = Counter()
    handler.gate = asyncio.Event()
    first = asyncio.create_task(store.run("bidder-1", "k", FP, handler))
    await handler.started.wait()
    second = asyncio.create_task(store.run("bidder-1", "k", FP, handler))
    await asyncio.sleep(0.05)
    assert not second.done()  # it waits instead of answering 409 at once
    handler.gate.set()
    assert await first == (CREATED, False)
    assert await second == (CREATED, True)
    assert handler.calls == 1


async def test_in_progress_after_the_bounded_wait(pg_pool: asyncpg.Pool) -> None:
    store = IdempotencyStore(PostgresIdempotencyKeys(pg_pool), wait_s=0.05)
    handler = Counter()
    handler.gate = asyncio.Event()
    first = asyncio.create_task(store.run("bidder-1", "k", FP, handler))
    await handler.started.wait()
    with pytest.raises(IdempotencyKeyInProgress) as caught:
        await store.run("bidder-1", "k", FP, handler)
    response = to_response(caught.value.problem)
    assert response.status == 409
    assert response.headers["Retry-After"] == "1"
    # A different request with the key is refused at once, in progress or not.
    with pytest.raises(IdempotencyKeyReused):
        await store.run("bidder-1", "k", OTHER_FP, handler)
    handler.gate.set()
    await first
    assert handler.calls == 1


async def test_wait_zero_answers_409_at_once(pg_pool: asyncpg.Pool) -> None:
    store = IdempotencyStore(PostgresIdempotencyKeys(pg_pool), wait_s=0)
    slot = await store.begin("bidder-1", "k", FP)
    with pytest.raises(IdempotencyKeyInProgress):
        await store.begin("bidder-1", "k", FP)
    assert await store.release(slot)


async def test_handler_error_releases_so_a_retry_runs(
    store: IdempotencyStore, pg_pool: asyncpg.Pool
) -> None:
    async def fails() -> StoredResponse:
        raise RuntimeError("storage hiccup")

    with pytest.raises(RuntimeError):
        await store.run("bidder-1", "k", FP, fails)
    assert await rows(pg_pool) == []
    handler = Counter()
    assert await store.run("bidder-1", "k", FP, handler) == (CREATED, False)


@pytest.mark.parametrize("code", [Code.STORAGE_UNAVAILABLE, Code.RATE_LIMITED])
async def test_transient_problems_release(
    store: IdempotencyStore, pg_pool: asyncpg.Pool, code: Code
) -> None:
    async def transient() -> StoredResponse:
        raise ProblemError(problem(code, "later", retry_after=1))

    with pytest.raises(ProblemError):
        await store.run("bidder-1", "k", FP, transient)
    assert await rows(pg_pool) == []


async def test_rejections_are_stored_as_the_answer(store: IdempotencyStore) -> None:
    rejection = problem_from_reason(Reason.AUCTION_CLOSED, "the auction ended")

    async def rejected() -> StoredResponse:
        raise ProblemError(rejection)

    with pytest.raises(ProblemError) as caught:
        await store.run("bidder-1", "k", FP, rejected)
    assert caught.value.problem == rejection
    handler = Counter()
    response, replayed = await store.run("bidder-1", "k", FP, handler)
    assert replayed and handler.calls == 0
    assert (response.status, response.body) == (409, rejection.to_json())
    http = to_http(response, replayed=True)
    assert http.content_type == PROBLEM_MEDIA_TYPE
    assert http.body is not None and json.loads(http.body)["code"] == "auction_closed"


async def test_handler_returning_garbage_is_misuse_and_releases(
    store: IdempotencyStore, pg_pool: asyncpg.Pool
) -> None:
    async def garbage() -> Any:
        return {"status": 201}

    with pytest.raises(IdempotencyMisuse):
        await store.run("bidder-1", "k", FP, garbage)
    assert await rows(pg_pool) == []


async def test_client_disconnect_does_not_stop_the_first_run(store: IdempotencyStore) -> None:
    # Sanic cancels a handler whose client disconnects; the command must still finish
    # and store its answer, so that the client's retry gets it instead of a re-run.
    handler = Counter()
    handler.gate = asyncio.Event()
    client = asyncio.create_task(store.run("bidder-1", "k", FP, handler))
    await handler.started.wait()
    client.cancel()
    with pytest.raises(asyncio.CancelledError):
        await client
    handler.gate.set()
    await store.drain()
    assert await store.run("bidder-1", "k", FP, handler) == (CREATED, True)
    assert handler.calls == 1


async def test_cancelled_run_releases(store: IdempotencyStore, pg_pool: asyncpg.Pool) -> None:
    # Cancelling the shielded task itself (the loop shutting down) releases the key.
    handler = Counter()
    handler.gate = asyncio.Event()
    client = asyncio.create_task(store.run("bidder-1", "k", FP, handler))
    await handler.started.wait()
    [inner] = store._running
    inner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await client
    await store.drain()
    assert await rows(pg_pool) == []


async def test_failure_nobody_awaits_is_retrieved(store: IdempotencyStore) -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    async def fails_later() -> StoredResponse:
        started.set()
        await gate.wait()
        raise RuntimeError("boom")

    client = asyncio.create_task(store.run("bidder-1", "k", FP, fails_later))
    await started.wait()
    client.cancel()
    gate.set()
    await store.drain()  # no "exception was never retrieved" from the shielded task
    assert client.cancelled()


async def test_release_failure_keeps_the_original_error(
    store: IdempotencyStore, pg_pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    async def breaks_storage() -> StoredResponse:
        await pg_pool.execute("ALTER TABLE idempotency_keys RENAME TO gone")
        raise RuntimeError("the original error")

    with (
        caplog.at_level(logging.ERROR, logger="api.storage.idempotency"),
        pytest.raises(RuntimeError, match="the original error"),
    ):
        await store.run("bidder-1", "k", FP, breaks_storage)
    assert "could not release" in caplog.text


async def test_drain_without_runs(store: IdempotencyStore) -> None:
    await store.drain()


# --------------------------------------------------------------- begin and finish


async def test_begin_finish_release_primitives(store: IdempotencyStore) -> None:
    slot = await store.begin("bidder-1", "k", FP)
    assert slot.replay is None and slot.party == "bidder-1" and slot.key == "k"
    assert await store.finish(slot, CREATED)
    assert not await store.release(slot)  # finished: nothing to release
    again = await store.begin("bidder-1", "k", FP)
    assert again.replay == CREATED
    with pytest.raises(IdempotencyMisuse):
        await store.finish(again, CREATED)
    with pytest.raises(IdempotencyMisuse):
        await store.release(again)


async def test_finish_twice_stores_once(
    store: IdempotencyStore, caplog: pytest.LogCaptureFixture
) -> None:
    slot = await store.begin("bidder-1", "k", FP)
    assert await store.finish(slot, CREATED)
    with caplog.at_level(logging.WARNING, logger="api.storage.idempotency"):
        assert not await store.finish(slot, StoredResponse(500, b"{}"))
    assert "lost its reservation" in caplog.text
    assert (await store.begin("bidder-1", "k", FP)).replay == CREATED


@pytest.mark.parametrize(
    ("party", "key", "fp"), [("", "k", FP), ("p", "", FP), ("p", "k", b"short")]
)
async def test_begin_refuses_misuse(party: str, key: str, fp: bytes) -> None:
    with pytest.raises(IdempotencyMisuse):
        await IdempotencyStore(None).begin(party, key, fp)  # refused before any I/O


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ttl_s": 10, "lease_s": 10},
        {"lease_s": 0},
        {"wait_s": -1},
        {"poll_s": 0},
    ],
)
def test_store_settings_misuse(kwargs: dict[str, Any]) -> None:
    with pytest.raises(IdempotencyMisuse):
        IdempotencyStore(None, **kwargs)


async def test_abandoned_reservation_is_taken_over_after_the_lease(
    store: IdempotencyStore, clock: Clock
) -> None:
    dead = await store.begin("bidder-1", "k", FP)  # its process then died
    clock.advance(59)
    with pytest.raises(IdempotencyKeyInProgress):
        await IdempotencyStore(store.keys, wait_s=0, clock_us=clock).begin("bidder-1", "k", FP)
    with pytest.raises(IdempotencyKeyReused):
        await store.begin("bidder-1", "k", OTHER_FP)
    clock.advance(2)
    # Past the lease, only the same request may take the key over.
    with pytest.raises(IdempotencyKeyReused):
        await store.begin("bidder-1", "k", OTHER_FP)
    taken = await store.begin("bidder-1", "k", FP)
    assert taken.replay is None and taken.stamp > dead.stamp
    # The slow original can neither finish nor release the new owner's reservation.
    assert not await store.finish(dead, StoredResponse(201, b"old"))
    assert not await store.release(dead)
    assert await store.finish(taken, CREATED)
    assert (await store.begin("bidder-1", "k", FP)).replay == CREATED


async def test_expired_keys_are_free_again(store: IdempotencyStore, clock: Clock) -> None:
    handler = Counter()
    await store.run("bidder-1", "k", FP, handler)
    clock.advance(24 * 3600 - 1)
    assert (await store.run("bidder-1", "k", FP, handler))[1] is True
    clock.advance(2)
    # Expired: the key runs again, even for another request.
    assert await store.run("bidder-1", "k", OTHER_FP, handler) == (CREATED, False)
    assert handler.calls == 2


async def test_purge_expired(store: IdempotencyStore, pg_pool: asyncpg.Pool, clock: Clock) -> None:
    for i in range(5):
        await store.run("bidder-1", f"old-{i}", FP, Counter())
    await store.begin("bidder-1", "old-in-progress", FP)
    clock.advance(12 * 3600)
    await store.run("bidder-1", "recent", FP, Counter())
    clock.advance(12 * 3600 + 1)
    assert await store.purge_expired(batch=2) == 6
    assert [row["key"] for row in await rows(pg_pool)] == ["recent"]
    assert await store.purge_expired() == 0


class ReleasedDuringLookup(IdempotencyStore):
    """Makes the first request's release land between the reserve and the lookup."""

    async def _lookup(self, party: str, key: str) -> KeyRecord | None:
        if self.victim is not None:
            await self.release(self.victim)
            self.victim = None
        return await super()._lookup(party, key)

    victim: Slot | None = None


async def test_a_row_vanishing_mid_begin_is_reserved_at_once(
    pg_pool: asyncpg.Pool, clock: Clock
) -> None:
    # Even with no time left to wait: a vanished row means the key is free.
    store = ReleasedDuringLookup(PostgresIdempotencyKeys(pg_pool), wait_s=0, clock_us=clock)
    store.victim = await store.begin("bidder-1", "k", FP)
    slot = await store.begin("bidder-1", "k", FP)
    assert slot.replay is None and store.victim is None
