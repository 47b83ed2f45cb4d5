"""The public view of an auction: the live websocket without a token (the ``gavel.public``
subprotocol, :mod:`api.live.route`), read-only, as an observer sees it.

Against a real server process on real PostgreSQL: no token is needed, other bidders are
anonymous labels and never party names, a sealed auction shows nothing of its bids
before the close (and its result by label after it), a bid sent on it is refused with a
typed ``reject``; an edge serves it alike. Over the route alone (an in-process stand-in source, as
``test_route.py``): a token next to ``gavel.public`` is refused 4401, public handshakes
count against the per-address rate like any other, and a public socket holds no token
to revoke.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from api.access import rules as access
from api.live.handshake import PUBLIC_SUBPROTOCOL
from contracts import messages as m
from tests.api.live import test_route as route
from tests.api.live.test_ws import S, Tape, bid, closed_with, english, now_us

if TYPE_CHECKING:
    from tests.api.conftest import Live


@pytest.fixture(scope="module")
def live(core: Live) -> Live:
    """The module's server: tests/api/conftest.py's ``core`` (a short heartbeat), which
    its ``edge`` follows."""
    return core


async def open_public(live: Live, auction: str, since: int | None = 0, **opts: Any) -> Any:
    """The auction's public view as the supplier's page opens it: no token at all."""
    ws = await connect(
        f"ws://127.0.0.1:{live.port}/ws/v1/auctions/{auction}",
        subprotocols=[m.PROTOCOL, PUBLIC_SUBPROTOCOL],  # type: ignore[list-item]
        open_timeout=10,
        **opts,
    )
    if since is not None:
        await ws.send(json.dumps({"type": "subscribe", "since": since}))
    return ws


async def test_the_public_view_needs_no_token_and_shows_labels_never_parties(
    live: Live,
) -> None:
    auction = await live.create({**english(start_in=0.2), "reserve_price": "50.00"})
    alice = await live.register(auction, "alice-ltd")
    bob = await live.register(auction, "bob-llc")
    await live.wait_phase(auction, "running")
    public_ws = await open_public(live, auction)
    assert public_ws.subprotocol == m.PROTOCOL  # gavel.public is never selected
    public = Tape(public_ws)
    welcome = await public.wait(lambda t: t.messages("welcome"))
    assert welcome[0]["role"] == access.PUBLIC_LIVE_ROLE.value == "observer"
    assert welcome[0]["you"] is None
    for amount, token in (("2.00", alice), ("3.00", bob)):
        reply = await live.post(
            f"/api/v1/auctions/{auction}/bids", {"amount": amount, "currency": "EUR"}, token
        )
        assert reply.status == 201, reply.body
    head = reply.json()["seq"]
    await public.wait(lambda t: t.last_seq() >= head)
    assert public.seqs() == list(range(1, head + 1))  # every seq, once, in order
    bids = [e["event"] for e in public.events() if e["event"]["type"] == "BidAccepted"]
    assert [(b["bidder"], b["price"]) for b in bids] == [("Bidder 1", 200), ("Bidder 2", 300)]
    raw = json.dumps(public.messages())
    assert "alice-ltd" not in raw and "bob-llc" not in raw
    created = public.events()[0]["event"]
    assert created["type"] == "AuctionCreated" and "reserve_price" not in created["rules"]
    # A bid on the public view: a typed reject, nothing recorded.
    attempt = bid("9.00")
    await public_ws.send(json.dumps(attempt))
    reject = await public.wait(lambda t: t.answer(attempt["request_id"]))
    assert (reject["type"], reject["code"]) == ("reject", "forbidden")
    assert reject["detail"]
    log = await live.events(auction)
    assert len(log) == head and all(e["event"]["type"] != "CommandRejected" for e in log)
    # And it is live: the next bid reaches it.
    reply = await live.post(
        f"/api/v1/auctions/{auction}/bids", {"amount": "4.00", "currency": "EUR"}, alice
    )
    await public.wait(lambda t: t.last_seq() >= reply.json()["seq"])
    assert public.events()[-1]["event"]["bidder"] == "Bidder 1"
    await public.wait(lambda t: t.messages("heartbeat"))
    await public.close()


async def test_a_sealed_auction_shows_the_public_nothing_of_its_bids_before_the_close(
    live: Live,
) -> None:
    starts = now_us() + int(0.5 * S)
    auction = await live.create(
        {
            "format": "sealed",
            "currency": "EUR",
            "starts_at": starts,
            "ends_at": starts + int(3 * S),
            "reserve_price": "10.00",
        }
    )
    one = await live.register(auction, "sealer-one")
    two = await live.register(auction, "sealer-two")
    public = Tape(await open_public(live, auction))
    await live.wait_phase(auction, "running")
    seqs = []
    for amount, token in (("70.00", one), ("60.00", two)):
        reply = await live.post(
            f"/api/v1/auctions/{auction}/bids", {"amount": amount, "currency": "EUR"}, token
        )
        assert reply.status == 201, reply.body
        seqs.append(reply.json()["seq"])
    await public.wait(lambda t: t.last_seq() >= seqs[-1])
    for seq in seqs:
        assert public.event(seq) == {"type": "Redacted"}
    before = [frame["event"] for frame in public.events()]
    assert not any({"price", "ranking", "limit"} & set(event) for event in before), before
    # A page opened late, still before the close, sees no more.
    late = Tape(await open_public(live, auction))
    await late.wait(lambda t: t.last_seq() >= seqs[-1])
    assert late.events() == public.events()
    await late.close()
    # At the close: the result, by label.
    ended = await public.wait(
        lambda t: [e["event"] for e in t.events() if e["event"]["type"] == "AuctionEnded"],
        timeout=10,
    )
    assert ended[0]["winners"] == ["Bidder 1"] and ended[0]["price"] == 7000
    assert [(r["bidder"], r["price"]) for r in ended[0]["ranking"]] == [
        ("Bidder 1", 7000),
        ("Bidder 2", 6000),
    ]
    assert "sealer" not in json.dumps(public.messages())
    # After it, the public may read the bids themselves (by label).
    after = Tape(await open_public(live, auction))
    await after.wait(lambda t: t.last_seq() >= seqs[-1] + 1)
    opened = after.event(seqs[0])
    assert opened is not None and (opened["bidder"], opened["price"]) == ("Bidder 1", 7000)
    for tape in (public, after):
        await tape.close()


async def test_without_gavel_public_no_token_is_still_refused(live: Live) -> None:
    auction = await live.create(english(start_in=60))
    ws = await connect(
        f"ws://127.0.0.1:{live.port}/ws/v1/auctions/{auction}",
        subprotocols=[m.PROTOCOL],  # type: ignore[list-item]
        open_timeout=10,
    )
    assert await closed_with(ws) == (4401, "token_missing")
    # An unknown auction: the same 4400 a token holder gets.
    ws = await open_public(live, "no-such-auction")
    assert await closed_with(ws) == (4400, "unknown auction")


async def test_an_edge_serves_the_public_view_as_the_core_does(live: Live, edge: Live) -> None:
    auction = await live.create(english(start_in=0.2))
    alice = await live.register(auction, "alice-ltd")
    await live.wait_phase(auction, "running")
    reply = await live.post(
        f"/api/v1/auctions/{auction}/bids", {"amount": "2.00", "currency": "EUR"}, alice
    )
    head = reply.json()["seq"]
    on_core = Tape(await open_public(live, auction))
    on_edge_ws = await open_public(edge, auction)
    on_edge = Tape(on_edge_ws)
    for tape in (on_core, on_edge):
        await tape.wait(lambda t: t.last_seq() >= head)
    assert on_edge.events() == on_core.events()
    assert on_edge.events()[-1]["event"]["bidder"] == "Bidder 1"
    attempt = bid("3.00")
    await on_edge_ws.send(json.dumps(attempt))
    reject = await on_edge.wait(lambda t: t.answer(attempt["request_id"]))
    assert reject["code"] == "forbidden"
    for tape in (on_core, on_edge):
        await tape.close()


# ------------------------------------------------------------ the route alone


def public_connect(served: route.Served, token: str | None = None, **extra: Any) -> Any:
    """The stand-in route, offering ``gavel.public`` (and a token in the subprotocol)."""
    offered = [m.PROTOCOL, PUBLIC_SUBPROTOCOL]
    if token is not None:
        offered.append(f"gavel.bearer.{token}")
    return connect(
        served.url(),
        subprotocols=offered,  # type: ignore[arg-type]
        open_timeout=5,
        **extra,
    )


async def test_a_token_beside_gavel_public_is_refused_and_no_socket_is_revocable() -> None:
    source = route.Source()
    async with route.serve(source) as served:
        async with public_connect(served, source.token()) as ws:
            assert await route.closed_with(ws) == (m.CLOSE_AUTH_FAILED, "token_malformed")
        async with connect(
            served.url(),
            subprotocols=[m.PROTOCOL, PUBLIC_SUBPROTOCOL],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Bearer {source.token()}"},
            open_timeout=5,
        ) as ws:
            assert await route.closed_with(ws) == (m.CLOSE_AUTH_FAILED, "token_malformed")
        # The origin is checked for the public view as for everyone.
        async with public_connect(served, origin="http://evil.example") as ws:
            assert await route.closed_with(ws) == (m.CLOSE_BAD_ORIGIN, "origin not allowed")
        async with public_connect(served) as ws:
            await ws.send(m.to_json(m.Subscribe(0)))
            welcome = await route.next_frame(ws)
            assert (welcome["role"], welcome["you"]) == ("observer", None)
            assert len(source.sockets) == 1
            assert not source.revoked._sockets  # nothing waits on a revocation
            await send_and_expect_forbidden(ws)


async def send_and_expect_forbidden(ws: ClientConnection) -> None:
    frames = [
        {"type": "bid", "request_id": "b", "amount": "1.00", "currency": "EUR"},
        {"type": "withdraw", "request_id": "w"},
        {"type": "accept", "request_id": "a", "expected": "1.00", "currency": "EUR"},
    ]
    for frame in frames:
        await ws.send(json.dumps(frame))
    answers: dict[str, str] = {}
    while len(answers) < len(frames):
        frame = await route.next_frame(ws)
        if frame["type"] == "reject":
            answers[frame["request_id"]] = frame["code"]
    assert answers == {"b": "forbidden", "w": "forbidden", "a": "forbidden"}


async def test_public_handshakes_count_against_the_address_rate() -> None:
    source = route.Source()
    limits: dict[str, Any] = {"ws_rate_per_s": 0.001, "ws_rate_burst": 2}
    async with route.serve(source, **limits) as served:
        for _ in range(2):
            async with public_connect(served) as ws:
                await ws.send(m.to_json(m.Subscribe(0)))
                assert (await route.next_frame(ws))["type"] == "welcome"
        with pytest.raises(InvalidStatus) as refused:
            async with public_connect(served):
                pass
        response = refused.value.response
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
        # A token holder from the same address is over the same bucket.
        with pytest.raises(InvalidStatus):
            async with served.connect(source.token()):
                pass
