"""The core's feed for edges (``/ws/v1/feed``), over a real socket, on real PostgreSQL.

Every commit arrives as one frame: the auction's id, then the canonical bytes of its
events, exactly as the log stores them; only auditors and officers not bound to an
auction may read it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from websockets.asyncio.client import ClientConnection, connect

from api.access import auth
from api.live.edge import parse_feed_frame
from api.live.feed import checkpoint_frame, feed_frame
from engine.codec import decode_event
from tests.api.live.test_ws import closed_with, english

if TYPE_CHECKING:
    from tests.api.conftest import Live


@pytest.fixture(scope="module")
def live(start_server: Callable[..., Live]) -> Live:
    """The module's server."""
    return start_server()


async def open_feed(live: Live, token: str | None, **options: Any) -> ClientConnection:
    """Connect to the feed with ``token`` in an Authorization header (none: no header)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await connect(
        f"ws://127.0.0.1:{live.port}/ws/v1/feed", additional_headers=headers, **options
    )


async def logged(live: Live, auction: str) -> list[bytes]:
    """The canonical bytes the log holds for ``auction``, by seq."""
    assert live.process.database_url is not None
    conn = await asyncpg.connect(live.process.database_url)
    try:
        rows = await conn.fetch(
            "SELECT payload FROM events WHERE auction_id = $1 ORDER BY seq", auction
        )
    finally:
        await conn.close()
    return [bytes(row["payload"]) for row in rows]


async def test_every_commit_arrives_as_one_frame_of_canonical_events(live: Live) -> None:
    feed = await open_feed(live, live.token("aud", "auditor"))
    officer_feed = await open_feed(live, live.officer)
    auction = await live.create(english(start_in=0.2))
    token = await live.register(auction, "p1")
    await live.wait_phase(auction, "running")
    for amount in ("1.00", "2.00", "3.00"):
        reply = await live.post(
            f"/api/v1/auctions/{auction}/bids", {"amount": amount, "currency": "EUR"}, token
        )
        assert reply.status == 201
    log = await logged(live, auction)

    for ws in (feed, officer_feed):
        lines: list[bytes] = []
        checkpoints: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            # The creation is published without a commit observer (the edge reads it
            # from the log); every later commit is fed, in order.
            while len(lines) < len(log) - 1:
                frame = await ws.recv()
                assert isinstance(frame, str)
                auction_id, events, checkpoint = parse_feed_frame(frame)
                if auction_id != auction:
                    continue
                if checkpoint is not None:
                    assert events == []
                    checkpoints.append(checkpoint)
                    continue
                text = frame.split("\n")
                assert json.loads(text[0]) == {"auction": auction}
                assert len(text) == len(events) + 1 >= 2
                lines.extend(line.encode() for line in text[1:])
        assert lines == log[1:]
        # The opening's signed checkpoint is fed as well (issued in the background).
        async with asyncio.timeout(10):
            while not checkpoints:
                frame = await ws.recv()
                assert isinstance(frame, str)
                auction_id, _, checkpoint = parse_feed_frame(frame)
                if auction_id == auction and checkpoint is not None:
                    checkpoints.append(checkpoint)
        assert set(checkpoints[0]) == {"size", "root", "note"}
        assert checkpoints[0]["size"] >= 2 and auction in checkpoints[0]["note"]
        assert [decode_event(line).seq for line in lines] == list(range(2, len(log) + 1))
        await ws.close()


def test_a_frame_round_trips_through_the_edges_parser() -> None:
    from engine import BidAccepted

    events: list[Any] = [
        BidAccepted(
            seq=7,
            at=1,
            command_id="c\nwith a newline",
            bidder="p\u2028",
            price=100,
            score=-100,
            proxy=False,
        )
    ]
    auction_id, parsed, checkpoint = parse_feed_frame(feed_frame('a"1', events))
    assert auction_id == 'a"1' and parsed == events and checkpoint is None
    frame = checkpoint_frame("a2", "note\nline", 3, b"\x01\xff")
    assert parse_feed_frame(frame) == ("a2", [], {"size": 3, "root": "01ff", "note": "note\nline"})


async def test_the_feed_refuses_everyone_but_unbound_auditors_and_officers(live: Live) -> None:
    auction = await live.create(english(start_in=60))
    expired = auth.issue(
        live.process.key,
        sub="o",
        role=auth.Role.AUDITOR,
        auction=None,
        ttl_s=1,
        now_s=int(time.time()) - 600,
        jti=auth.new_jti(),
    )
    for token, expected in [
        (None, (4401, "token_missing")),
        ("garbage", (4401, "token_malformed")),
        (expired, (4401, "token_expired")),
        (live.officer[:-4] + "AAAA", (4401, "token_bad_signature")),
        (live.token("b", "bidder", auction), (4403, "role_forbidden")),
        (live.token("w", "observer", auction), (4403, "role_forbidden")),
        (live.token("o", "officer", auction), (4403, "wrong_auction")),
        (live.token("a", "auditor", auction), (4403, "wrong_auction")),
    ]:
        ws = await open_feed(live, token)
        assert await closed_with(ws) == expected, token


async def test_a_revoked_feed_token_is_closed(live: Live) -> None:
    reply = await live.post("/api/v1/tokens", {"party": "edge-2", "role": "auditor"}, live.officer)
    assert reply.status == 201, reply.body
    issued = reply.json()
    ws = await open_feed(live, issued["token"])
    revoke = await live.post(f"/api/v1/tokens/{issued['jti']}/revoke", None, live.officer)
    assert revoke.status == 200, revoke.body
    assert await closed_with(ws) == (4401, "token_revoked")
    again = await open_feed(live, issued["token"])
    assert await closed_with(again) == (4401, "token_revoked")
