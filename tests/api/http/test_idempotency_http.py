"""``Idempotency-Key`` on the HTTP command routes, against a real server process.

Two clients that race the same key on ``POST …/bids`` create one bid: both get the same
answer, the one that did not run it marked ``Idempotent-Replayed: true``. The same key
with another body is refused with 422 ``idempotency_key_reused``. Real PostgreSQL, real
sockets: the race is decided by the database, not by one process's event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.http.idempotency import fingerprint
from loadtests.server_process import ServerProcess

S = 1_000_000
SERVER_ENV = {"GAVEL_RATE_PER_S": "100000", "GAVEL_RATE_BURST": "100000"}
REPLAYED = "idempotent-replayed"


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer; header names lower-cased."""

    status: int
    body: Any
    headers: dict[str, str]


def _http(
    method: str, url: str, token: str, body: Any = None, headers: dict[str, str] | None = None
) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, status, got = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, error.headers
    return Answer(status, json.loads(raw or b"null"), {k.lower(): v for k, v in got.items()})


async def http(
    method: str, url: str, token: str, body: Any = None, headers: dict[str, str] | None = None
) -> Answer:
    return await asyncio.to_thread(_http, method, url, token, body, headers)


@dataclass(frozen=True, slots=True)
class Live:
    """A running server with one started reverse auction and two bidders."""

    server: ServerProcess
    auction_id: str
    tokens: dict[str, str]

    @property
    def bids_url(self) -> str:
        return f"{self.server.url}/api/v1/auctions/{self.auction_id}/bids"

    async def bids_of(self, party: str) -> list[dict[str, Any]]:
        """Every accepted bid of ``party`` in the stored log."""
        officer = self.server.token("officer-1", "officer")
        page = await http(
            "GET", f"{self.server.url}/api/v1/auctions/{self.auction_id}/events?after=0", officer
        )
        assert page.status == 200, page.body
        return [
            line["event"]
            for line in page.body["events"]
            if line["event"]["type"] == "BidAccepted" and line["event"]["bidder"] == party
        ]


@pytest.fixture
async def live(pg_dsn: str, tmp_path: Path) -> AsyncIterator[Live]:
    server = ServerProcess(tmp_path, database_url=pg_dsn, env=SERVER_ENV)
    await asyncio.to_thread(server.start)
    try:
        officer = server.token("officer-1", "officer")
        starts_at = time.time_ns() // 1000 + S // 2
        rules = {
            "format": "reverse",
            "currency": "EUR",
            "starts_at": starts_at,
            "ends_at": starts_at + 600 * S,
            "start_price": "1000.00",
            "step": {"amount": "1.00"},
            "improvement": "beat_own",  # ann and bob may both bid 900.00
        }
        created = await http(
            "POST", f"{server.url}/api/v1/auctions", officer, {"id": "idem", "rules": rules}
        )
        assert created.status == 201, created.body
        tokens = {}
        for party in ("ann", "bob"):
            answer = await http(
                "POST", f"{server.url}/api/v1/auctions/idem/bidders", officer, {"party": party}
            )
            assert answer.status == 201, answer.body
            tokens[party] = answer.body["token"]
        await asyncio.sleep(max(0.0, (starts_at - time.time_ns() // 1000) / S) + 0.01)
        yield Live(server, "idem", tokens)
    finally:
        await asyncio.to_thread(server.stop)


def _race(live: Live, clients: int, key: str, body: dict[str, Any]) -> list[Answer]:
    """``clients`` threads send the same request at the same instant."""
    barrier = threading.Barrier(clients)
    answers: list[Answer | None] = [None] * clients

    def client(index: int) -> None:
        barrier.wait()
        answers[index] = _http(
            "POST", live.bids_url, live.tokens["ann"], body, {"Idempotency-Key": key}
        )

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


def english_in_a_minute() -> dict[str, Any]:
    """English rules starting a minute from now, running a minute."""
    starts_at = time.time_ns() // 1000 + 60 * S
    return {
        "format": "english",
        "currency": "EUR",
        "starts_at": starts_at,
        "ends_at": starts_at + 60 * S,
        "start_price": "1.00",
        "step": {"amount": "1.00"},
    }


@pytest.mark.parametrize("clients", [2, 8])
async def test_clients_racing_one_key_create_one_bid(live: Live, clients: int) -> None:
    body = {"amount": "900.00", "currency": "EUR"}
    answers = await asyncio.to_thread(_race, live, clients, "order-1", body)

    assert [a.status for a in answers] == [201] * clients, [a.body for a in answers]
    assert all(a.body == answers[0].body for a in answers), "every client gets the same answer"
    fresh = [a for a in answers if a.headers.get(REPLAYED) != "true"]
    assert len(fresh) == 1, [a.headers for a in answers]
    assert all(a.headers.get(REPLAYED) == "true" for a in answers if a is not fresh[0])

    bids = await live.bids_of("ann")
    assert len(bids) == 1
    assert bids[0]["seq"] == answers[0].body["seq"]
    assert bids[0]["price"] == 90000

    # A later retry still gets the stored answer and still creates nothing.
    retry = await http(
        "POST", live.bids_url, live.tokens["ann"], body, {"Idempotency-Key": "order-1"}
    )
    assert (retry.status, retry.body, retry.headers.get(REPLAYED)) == (201, answers[0].body, "true")
    assert len(await live.bids_of("ann")) == 1


async def test_the_same_key_with_another_body_is_refused(live: Live) -> None:
    key = {"Idempotency-Key": "order-2"}
    first = await http(
        "POST", live.bids_url, live.tokens["ann"], {"amount": "900.00", "currency": "EUR"}, key
    )
    assert first.status == 201, first.body
    other = await http(
        "POST", live.bids_url, live.tokens["ann"], {"amount": "800.00", "currency": "EUR"}, key
    )
    assert other.status == 422, other.body
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.body["code"] == "idempotency_key_reused"
    assert [bid["price"] for bid in await live.bids_of("ann")] == [90000]


async def test_keys_are_scoped_per_bidder(live: Live) -> None:
    key = {"Idempotency-Key": "shared-key"}
    body = {"amount": "900.00", "currency": "EUR"}
    ann = await http("POST", live.bids_url, live.tokens["ann"], body, key)
    bob = await http("POST", live.bids_url, live.tokens["bob"], body, key)
    assert (ann.status, bob.status) == (201, 201), (ann.body, bob.body)
    assert REPLAYED not in bob.headers
    assert ann.body["seq"] != bob.body["seq"]


async def test_a_rejected_bid_is_answered_again_not_run_again(live: Live) -> None:
    key = {"Idempotency-Key": "too-high"}
    body = {"amount": "2000.00", "currency": "EUR"}  # above the budget ceiling
    first = await http("POST", live.bids_url, live.tokens["ann"], body, key)
    assert (first.status, first.body["code"]) == (422, "above_start_price")
    again = await http("POST", live.bids_url, live.tokens["ann"], body, key)
    assert (again.status, again.body, again.headers.get(REPLAYED)) == (422, first.body, "true")


async def test_a_created_auction_has_a_location_also_when_replayed(live: Live) -> None:
    officer = live.server.token("officer-1", "officer")
    url = f"{live.server.url}/api/v1/auctions"
    rules = english_in_a_minute()
    key = {"Idempotency-Key": "new-auction"}
    first = await http("POST", url, officer, {"rules": rules}, key)  # the server picks the id
    assert first.status == 201, first.body
    assert first.headers["location"] == f"/api/v1/auctions/{first.body['id']}"
    assert REPLAYED not in first.headers
    found = await http("GET", live.server.url + first.headers["location"], officer)
    assert found.status == 200 and found.body["id"] == first.body["id"]

    again = await http("POST", url, officer, {"rules": rules}, key)
    assert (again.status, again.body, again.headers.get(REPLAYED)) == (201, first.body, "true")
    assert again.headers["location"] == first.headers["location"]

    # Without a key: a Location too, and a second auction.
    plain = await http("POST", url, officer, {"id": "plain", "rules": rules})
    assert (plain.status, plain.headers["location"]) == (201, "/api/v1/auctions/plain")


async def test_a_credential_is_issued_once_per_key(live: Live) -> None:
    officer = live.server.token("officer-1", "officer")
    url = f"{live.server.url}/api/v1/tokens"
    body = {"role": "observer", "party": "press", "auction": live.auction_id}
    key = {"Idempotency-Key": "press-pass"}
    first = await http("POST", url, officer, body, key)
    assert first.status == 201, first.body
    again = await http("POST", url, officer, body, key)
    assert (again.status, again.body, again.headers.get(REPLAYED)) == (201, first.body, "true")
    other = await http("POST", url, officer, {**body, "party": "radio"}, key)
    assert (other.status, other.body["code"]) == (422, "idempotency_key_reused")
    # One row, one credential: the retry did not mint a second live token.
    conn = await asyncpg.connect(live.server.database_url)
    try:
        parties = await conn.fetch("SELECT id FROM tokens WHERE party_id = 'press'")
        assert [row["id"] for row in parties] == [first.body["jti"]]
        assert await conn.fetchval("SELECT count(*) FROM tokens WHERE party_id = 'radio'") == 0
        # The stored answer holds the credential sealed, never in clear.
        stored = await conn.fetchval(
            "SELECT response_body FROM idempotency_keys WHERE key = 'press-pass'"
        )
        assert stored is not None and b'"token":"sealed.v1.' in bytes(stored)
        assert first.body["token"].encode() not in bytes(stored)
    finally:
        await conn.close()


async def test_a_key_that_cannot_be_reserved_is_a_503_not_a_500(live: Live) -> None:
    """Storage failing outside the runner (here: the reservation's table is gone, as
    PostgreSQL itself refuses it) answers 503 storage_unavailable, and nothing ran."""
    conn = await asyncpg.connect(live.server.database_url)
    body = {"amount": "900.00", "currency": "EUR"}
    key = {"Idempotency-Key": "while-down"}
    try:
        await conn.execute("ALTER TABLE idempotency_keys RENAME TO idempotency_keys_gone")
        try:
            down = await http("POST", live.bids_url, live.tokens["ann"], body, key)
        finally:
            await conn.execute("ALTER TABLE idempotency_keys_gone RENAME TO idempotency_keys")
    finally:
        await conn.close()
    assert (down.status, down.body["code"]) == (503, "storage_unavailable"), down.body
    assert down.headers["retry-after"] == "1"
    assert await live.bids_of("ann") == []
    again = await http("POST", live.bids_url, live.tokens["ann"], body, key)
    assert again.status == 201, again.body
    assert len(await live.bids_of("ann")) == 1


# -- the crash window: events committed, answer not stored ------------------------------

LEASE_US = 61 * S  # the store's lease is 60 s


async def crash_after_commit(dsn: str, key: str) -> dict[str, Any]:
    """Leave key's row as a process that died between committing the command's events
    and storing its answer leaves it: in progress, and older than the lease."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "UPDATE idempotency_keys"
            " SET status_code = NULL, response_body = NULL, response_headers = NULL,"
            "     created_at = created_at - $2"
            " WHERE key = $1"
            " RETURNING command_id, auction_id, first_seq, last_seq",
            key,
            LEASE_US,
        )
    finally:
        await conn.close()
    assert row is not None
    return dict(row)


async def test_a_retry_after_a_crash_between_commit_and_answer_runs_nothing_twice(
    live: Live, pg_dsn: str
) -> None:
    key = {"Idempotency-Key": "crash-1"}
    body = {"amount": "900.00", "currency": "EUR"}
    first = await http("POST", live.bids_url, live.tokens["ann"], body, key)
    assert first.status == 201, first.body

    mark = await crash_after_commit(pg_dsn, "crash-1")
    # The writer recorded, in the transaction of the bid, which events it committed.
    assert mark["auction_id"] == live.auction_id
    assert mark["first_seq"] <= first.body["seq"] <= mark["last_seq"]

    retry = await http("POST", live.bids_url, live.tokens["ann"], body, key)
    assert (retry.status, retry.body) == (201, first.body)
    assert [bid["seq"] for bid in await live.bids_of("ann")] == [first.body["seq"]]
    # The rebuilt answer is stored: the next retry is a plain replay.
    again = await http("POST", live.bids_url, live.tokens["ann"], body, key)
    assert (again.status, again.body, again.headers.get(REPLAYED)) == (201, first.body, "true")


async def test_a_rejection_committed_before_a_crash_is_answered_again(
    live: Live, pg_dsn: str
) -> None:
    key = {"Idempotency-Key": "crash-2"}
    body = {"amount": "2000.00", "currency": "EUR"}  # above the ceiling: rejected, logged
    first = await http("POST", live.bids_url, live.tokens["bob"], body, key)
    assert (first.status, first.body["code"]) == (422, "above_start_price")
    await crash_after_commit(pg_dsn, "crash-2")
    retry = await http("POST", live.bids_url, live.tokens["bob"], body, key)
    assert (retry.status, retry.body) == (422, first.body)
    officer = live.server.token("officer-1", "officer")
    page = await http(
        "GET", f"{live.server.url}/api/v1/auctions/{live.auction_id}/events?after=0", officer
    )
    rejected = [e for e in page.body["events"] if e["event"]["type"] == "CommandRejected"]
    assert len(rejected) == 1


async def test_a_created_auction_is_not_created_twice_after_a_crash(
    live: Live, pg_dsn: str
) -> None:
    officer = live.server.token("officer-1", "officer")
    url = f"{live.server.url}/api/v1/auctions"
    rules = english_in_a_minute()
    key = {"Idempotency-Key": "crash-create"}
    first = await http("POST", url, officer, {"rules": rules}, key)  # the server picks the id
    assert first.status == 201, first.body
    await crash_after_commit(pg_dsn, "crash-create")
    # The process also died before writing the auction's record.
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("DELETE FROM auctions WHERE id = $1", first.body["id"])
    finally:
        await conn.close()

    retry = await http("POST", url, officer, {"rules": rules}, key)
    assert (retry.status, retry.body) == (201, first.body)
    assert retry.headers["location"] == first.headers["location"]
    listed = await http("GET", url, officer)
    ids = [a["id"] for a in listed.body["auctions"]]
    assert ids.count(first.body["id"]) == 1 and len(ids) == 2  # "idem" and this one


async def test_an_abandoned_reservation_without_committed_events_runs_once(
    live: Live, pg_dsn: str
) -> None:
    body = {"amount": "900.00", "currency": "EUR"}
    path = f"/api/v1/auctions/{live.auction_id}/bids"
    # The process died before the bid committed: a reservation with no mark.
    conn = await asyncpg.connect(pg_dsn)
    try:
        for key, request in [("crash-3", body), ("crash-4", {"amount": "1.00"})]:
            await conn.execute(
                "INSERT INTO idempotency_keys"
                " (party_id, key, request_hash, created_at, command_id)"
                " VALUES ('ann', $1, $2, $3, 'deadbeef')",
                key,
                fingerprint("POST", path, json.dumps(request).encode()),
                time.time_ns() // 1000 - LEASE_US,
            )
    finally:
        await conn.close()
    # Another request with an abandoned key: refused even though abandoned.
    reused = await http(
        "POST", live.bids_url, live.tokens["ann"], body, {"Idempotency-Key": "crash-4"}
    )
    assert reused.status == 422 and reused.body["code"] == "idempotency_key_reused"
    assert await live.bids_of("ann") == []
    # The same request: taken over and run, once.
    key = {"Idempotency-Key": "crash-3"}
    first = await http("POST", live.bids_url, live.tokens["ann"], body, key)
    again = await http("POST", live.bids_url, live.tokens["ann"], body, key)
    assert (first.status, again.status, again.body) == (201, 201, first.body)
    assert REPLAYED not in first.headers and again.headers[REPLAYED] == "true"
    assert [bid["seq"] for bid in await live.bids_of("ann")] == [first.body["seq"]]
