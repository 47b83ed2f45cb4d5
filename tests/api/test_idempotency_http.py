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

import pytest

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
