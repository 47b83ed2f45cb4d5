"""Token revocation through the ``tokens`` table, against real servers and PostgreSQL.

Every token the server issues (demo credentials included) gets a row;
``POST /api/v1/tokens/{jti}/revoke`` marks it revoked; a revoked token is refused with
401 ``token_revoked`` on every HTTP route, by this process and, after a restart, by the
next one. Who may revoke: the holder itself, an officer of the token's auction, an
officer of any auction. A revoked token's open websocket is closed with 4401 (here, on
the core; ``test_edge.py`` on an edge); the in-memory list itself is tested in
``test_revocations.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.access import auth
from api.storage.tokens import PostgresTokenStore
from tests.api.conftest import Live
from tests.api.http.test_app import english

REVOKE = "/api/v1/tokens/{}/revoke"


async def issued(live: Live, role: str, party: str, auction: str | None = None) -> dict[str, Any]:
    """``POST /api/v1/tokens`` as the officer; the answer (token and jti)."""
    body: dict[str, Any] = {"role": role, "party": party}
    if auction is not None:
        body["auction"] = auction
    reply = await live.post("/api/v1/tokens", body, live.officer)
    assert reply.status == 201, reply.body
    answer: dict[str, Any] = reply.json()
    return answer


def jti_of(token: str) -> str:
    """The jti a token carries (read without a key: tests only)."""
    segment = token.split(".")[0]
    claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    jti: str = claims["jti"]
    return jti


async def test_revoked_tokens_are_refused_on_every_route(server: Live) -> None:
    auction = await server.create(english(duration=60))
    bidder = await server.register(auction, "acme")
    officer = await issued(server, "officer", "boss")
    assert officer["jti"] == jti_of(officer["token"])
    watcher = await issued(server, "observer", "eve", auction)
    await server.wait_phase(auction, "running")

    # Valid before: the watcher reads, the bidder bids.
    assert (await server.get(f"/api/v1/auctions/{auction}", watcher["token"])).status == 200
    bid = await server.post(
        f"/api/v1/auctions/{auction}/bids", {"amount": "100.00", "currency": "EUR"}, bidder
    )
    assert bid.status == 201, bid.body

    # The officer revokes the bidder's token (issued at registration: it has a row too).
    reply = await server.post(REVOKE.format(jti_of(bidder)), None, officer["token"])
    assert reply.status == 200, reply.body
    answer = reply.json()
    assert answer["revoked"] is True and answer["party"] == "acme"
    assert answer["revoked_by"] == "boss" and answer["auction"] == auction
    first_time = answer["revoked_at"]

    refused = [
        await server.post(
            f"/api/v1/auctions/{auction}/bids", {"amount": "101.00", "currency": "EUR"}, bidder
        ),
        await server.get(f"/api/v1/auctions/{auction}", bidder),
        await server.get(f"/api/v1/auctions/{auction}/me", bidder),
        await server.get(f"/api/v1/auctions/{auction}/events", bidder),
        await server.get("/api/v1/auctions", bidder),
        await server.post(f"/api/v1/auctions/{auction}/withdraw", {}, bidder),
        await server.post(REVOKE.format(jti_of(bidder)), None, bidder),
    ]
    for reply in refused:
        assert reply.status == 401, reply.body
        assert reply.code == "token_revoked"
        assert reply.headers["www-authenticate"] == 'Bearer realm="gavel", error="invalid_token"'

    # Revoking twice changes nothing: same time, same author.
    again = await server.post(REVOKE.format(jti_of(bidder)), None, server.officer)
    assert again.status == 200 and again.json()["revoked_at"] == first_time
    assert again.json()["revoked_by"] == "boss"

    # The holder revokes its own token; an officer's revoked token cannot revoke more.
    assert (await server.post(REVOKE.format(watcher["jti"]), None, watcher["token"])).status == 200
    assert (await server.get("/api/v1/auctions", watcher["token"])).code == "token_revoked"
    assert (await server.post(REVOKE.format(officer["jti"]), {}, officer["token"])).status == 200
    late = await server.post(REVOKE.format(watcher["jti"]), None, officer["token"])
    assert late.status == 401 and late.code == "token_revoked"

    # Other tokens of the same party are not affected.
    fresh = await issued(server, "bidder", "acme", auction)
    assert (await server.get(f"/api/v1/auctions/{auction}/me", fresh["token"])).status == 200


async def test_who_may_revoke_and_unknown_tokens(server: Live) -> None:
    auction = await server.create(english(duration=60))
    other = await server.create(english(duration=60))
    alice = await server.register(auction, "alice")
    bob = await server.register(auction, "bob")

    # A bidder may not revoke another bidder's token.
    reply = await server.post(REVOKE.format(jti_of(bob)), None, alice)
    assert reply.status == 403 and reply.code == "role_forbidden"
    # An officer bound to another auction may not revoke this auction's tokens.
    stranger = await issued(server, "officer", "other-boss", other)
    reply = await server.post(REVOKE.format(jti_of(bob)), None, stranger["token"])
    assert reply.status == 403 and reply.code == "wrong_auction"
    # Unknown ids, including ones no token could carry, are 404 problems.
    for jti in ["nope", "x" * 100, auth.new_jti()]:
        reply = await server.post(REVOKE.format(jti), None, server.officer)
        assert reply.status == 404 and reply.code == "not_found", reply.body
    reply = await server.post(REVOKE.format("x" * 101), None, server.officer)
    assert reply.status == 404 and reply.code == "not_found"
    # A token the server never issued (minted with its key by the test harness) has no row.
    reply = await server.post(REVOKE.format(jti_of(server.officer)), None, server.officer)
    assert reply.status == 404 and reply.code == "not_found"
    # A body, if any, must be an empty JSON object.
    reply = await server.post(REVOKE.format(jti_of(bob)), {"why": "x"}, server.officer)
    assert reply.status == 422 and reply.code == "unknown_field"
    # Nothing above revoked anything.
    assert (await server.get(f"/api/v1/auctions/{auction}/me", bob)).status == 200
    assert (await server.get(f"/api/v1/auctions/{auction}/me", alice)).status == 200


async def test_revocation_survives_a_restart(start_server: Any, pg_server_dsn: str) -> None:
    first = start_server()
    auction = await first.create(english(duration=60))
    bidder = await first.register(auction, "acme")
    kept = await first.register(auction, "globex")
    assert (await first.post(REVOKE.format(jti_of(bidder)), None, first.officer)).status == 200
    first.process.stop()

    # The same database and signing key, a new process.
    from loadtests.server_process import ServerProcess

    again = ServerProcess(
        first.process.data_dir,
        database_url=first.process.database_url,
        env={"GAVEL_RATE_PER_S": "100000", "GAVEL_RATE_BURST": "100000"},
    )
    again.key = first.process.key
    again.start()
    try:
        second = Live(again)
        reply = await second.get(f"/api/v1/auctions/{auction}/me", bidder)
        assert reply.status == 401 and reply.code == "token_revoked"
        assert (await second.get(f"/api/v1/auctions/{auction}/me", kept)).status == 200
    finally:
        again.stop()


async def test_token_store_rows_and_listeners(pg_pool: asyncpg.Pool, pg_dsn: str) -> None:
    from api.storage.listener import HeldListener
    from api.storage.tokens import REVOKED_CHANNEL, TokenRow

    store = PostgresTokenStore(pg_pool)
    now = time.time_ns() // 1000
    rows = [
        TokenRow("t-1", "acme", "bidder", "a-1", now, now + 10**9),
        TokenRow("t-2", "boss", "officer", None, now, now + 10**9),
        TokenRow("t-old", "old", "observer", "a-1", now - 10**9, now - 1),
    ]
    await store.record(rows)
    await store.record([])
    assert await store.get("t-1") == rows[0]
    assert await store.get("missing") is None
    heard: list[str] = []
    listener = HeldListener(pg_dsn, {REVOKED_CHANNEL: heard.append})
    await listener.start()
    try:
        revoked = await store.revoke("t-1", at=now + 5, by="boss")
        assert revoked is not None and revoked.revoked and revoked.revoked_at == now + 5
        again = await store.revoke("t-1", at=now + 9, by="someone")
        assert again == revoked
        assert await store.revoke("missing", at=now, by="boss") is None
        await store.revoke("t-old", at=now, by="boss")
        # Only unexpired revoked tokens are loaded at start-up.
        assert await store.revoked(now) == {"t-1": now + 10**9}
        for _ in range(200):
            if len(heard) == 2:
                break
            await asyncio.sleep(0.01)
        assert heard == ["t-1", "t-old"]  # one notification per revocation, not per call
    finally:
        await listener.stop()


def test_a_revoked_jti_is_refused_by_verify_token(tmp_path: Path) -> None:
    from api.node import Node
    from api.settings import Settings

    gavel = Node(Settings(data_dir=tmp_path)).credentials
    token = gavel.issue("p", auth.Role.OBSERVER, "a-" + uuid.uuid4().hex[:6])
    assert gavel.verify_token(token).sub == "p"
    gavel.revoked.add(gavel._unrecorded[-1].jti, time.time_ns() // 1000)
    with pytest.raises(auth.TokenRevoked):
        gavel.verify_token(token)
    # Heard from another process (PostgreSQL notification, expiry unknown): counted once.
    now = time.time_ns() // 1000
    assert gavel.revoked.add("jti-elsewhere", now) is True
    assert gavel.revoked.add("jti-elsewhere", now) is False
    assert "jti-elsewhere" in gavel.revoked and len(gavel.revoked) == 2


def test_the_demo_credentials_can_be_revoked(pg_server_dsn: str, tmp_path: Path) -> None:
    import re
    import urllib.error
    import urllib.request

    from api.storage.postgres import dsn_with_database
    from loadtests.server_process import ServerProcess
    from tests.api.conftest import _create_database, _drop_databases

    def call(url: str, token: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {token}"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    name = _create_database(pg_server_dsn)
    process = ServerProcess(
        tmp_path, database_url=dsn_with_database(pg_server_dsn, name), args=("--demo",)
    )
    try:
        process.start()
        text = process.log()
        officer = re.search(r"Officer token:\n\s+(\S+)", text)
        acme = re.search(r"Bidder 'acme' token:\n\s+(\S+)", text)
        assert officer is not None and acme is not None, text
        status, body = call(f"{process.url}{REVOKE.format(jti_of(acme[1]))}", officer[1])
        assert (status, body["party"], body["revoked_by"]) == (200, "acme", "demo-officer")
        status, body = call(f"{process.url}{REVOKE.format(jti_of(officer[1]))}", acme[1])
        assert (status, body["code"]) == (401, "token_revoked")
    finally:
        process.stop()
        _drop_databases(pg_server_dsn, {name})


async def test_a_revocation_reaches_every_server_on_the_database(start_server: Any) -> None:
    from loadtests.server_process import ServerProcess

    first = start_server()
    auction = await first.create(english(duration=60))
    bidder = await first.register(auction, "acme")
    other = ServerProcess(
        first.process.data_dir,
        database_url=first.process.database_url,
        env={"GAVEL_RATE_PER_S": "100000", "GAVEL_RATE_BURST": "100000"},
    )
    other.key = first.process.key
    await asyncio.to_thread(other.start)
    try:
        second = Live(other)
        me = f"/api/v1/auctions/{auction}/me"
        assert (await second.get(me, bidder)).status == 200
        assert (await first.post(REVOKE.format(jti_of(bidder)), None, first.officer)).status == 200
        deadline = time.monotonic() + 10
        while (reply := await second.get(me, bidder)).status == 200:
            assert time.monotonic() < deadline, "the other server never heard of it"
            await asyncio.sleep(0.02)
        assert (reply.status, reply.code) == (401, "token_revoked")
    finally:
        await asyncio.to_thread(other.stop)


async def test_a_revoked_token_cannot_open_a_socket_and_its_open_sockets_close(
    server: Live,
) -> None:
    from tests.api.live.test_ws import closed_with

    auction = await server.create(english(duration=60))
    bidder = await server.register(auction, "acme")
    other = await server.register(auction, "bolt")
    mine = await server.connect(auction, bidder)
    theirs = await server.connect(auction, other)
    await asyncio.wait_for(mine.recv(), 10)  # the welcome: the socket is live

    reply = await server.post(REVOKE.format(jti_of(bidder)), None, bidder)
    assert reply.status == 200, reply.body
    assert await closed_with(mine) == (4401, "token_revoked")
    # The handshake refuses the revoked token; another bidder's socket stays open.
    again = await server.connect(auction, bidder, since=None)
    assert await closed_with(again) == (4401, "token_revoked")
    assert json.loads(await asyncio.wait_for(theirs.recv(), 10))["type"] == "welcome"
    assert theirs.close_code is None
    await theirs.close()
