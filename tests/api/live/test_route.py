"""The one live route (:mod:`api.live.route`) over a stand-in :class:`~api.live.source.LiveSource`,
served in-process by Sanic on a real socket: every handshake outcome (429 before the
upgrade, 4403 origin, 4401 token, 1001 not serving, 4400 unknown auction), a session
that streams and refuses a bid as its source says, the socket registry and the counters,
and the route's name as the access rules know it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api.access import auth
from api.access import rules as access
from api.access.errors import RateLimited
from api.access.revocations import Revocations
from api.auctions.runner import CommandFactory, RunnerStopped
from api.live.hub import Hub
from api.live.route import LIVE_PATH, LIVE_ROUTE, live_blueprint
from api.live.source import LiveSource, SessionSource
from api.live.ws import ReadOnly
from api.settings import Settings
from contracts import messages as m
from engine import Auction, CreateAuction, Event
from engine.rules import EnglishRules, Step
from loadtests.server_process import free_port

_NAMES = itertools.count()
T0 = 1_800_000_000_000_000


class Session:
    """A :class:`SessionSource` on one auction, ``a-1``, that takes no commands."""

    def __init__(self) -> None:
        self.hub = Hub()
        self.clock: Callable[[], int] = lambda: T0
        self.closing = False
        self.stopped = False
        events = Auction().handle(
            CreateAuction("c", T0, EnglishRules("EUR", 100, 9000, 100, Step(100)))
        )
        self.hub.publish("a-1", events)

    async def prepare(self, auction_id: str) -> bool:
        if self.stopped:
            raise RunnerStopped(auction_id)
        return auction_id in self.hub.channels

    async def catch_up(self, auction_id: str) -> None:
        return None

    async def history(self, auction_id: str, after: int, limit: int | None = None) -> list[Event]:
        return []

    async def submit(self, auction_id: str, make: CommandFactory) -> list[Event]:
        raise ReadOnly("not here")


class Source:
    """A :class:`LiveSource` with its own key, serving :class:`Session` unless told not to."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.revoked = Revocations()
        self.sockets: set[Any] = set()
        self.closing = False
        self.session: Session | None = Session()
        self.results: list[tuple[bool, str | None]] = []
        self.slow = 0

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

    @property
    def access_rules(self) -> Mapping[str, access.Rule]:
        return access.EDGE_ROUTES

    def serving(self) -> SessionSource | None:
        return self.session

    def on_result(self, accepted: bool, reason: str | None) -> None:
        self.results.append((accepted, reason))

    def on_slow(self) -> None:
        self.slow += 1

    def token(self, role: str = "observer", auction: str | None = "a-1", sub: str = "w") -> str:
        return auth.issue(
            self.key,
            sub=sub,
            role=auth.Role(role),
            auction=auction,
            ttl_s=600,
            now_s=int(time.time()),
            jti=auth.new_jti(),
        )


def _typed(source: LiveSource) -> LiveSource:
    # mypy checks here that the stand-in is a LiveSource, and Session a SessionSource.
    session: SessionSource = Session()
    assert session is not None
    return source


class Served:
    """The route on a real port."""

    def __init__(self, source: Source, port: int) -> None:
        self.source = source
        self.port = port

    def url(self, auction_id: str = "a-1") -> str:
        return f"ws://127.0.0.1:{self.port}{LIVE_PATH.replace('<auction_id>', auction_id)}"

    def connect(
        self, token: str | None, auction_id: str = "a-1", **extra: Any
    ) -> Any:  # websockets' connect: awaitable and an async context manager
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return connect(
            self.url(auction_id),
            additional_headers=headers,
            subprotocols=[m.PROTOCOL],  # type: ignore[list-item]
            open_timeout=5,
            **extra,
        )


async def _refused(request: Request, error: Exception) -> HTTPResponse:
    # What the app's error handlers do with a refusal (api.http.errors), in brief.
    assert isinstance(error, RateLimited)
    headers = {"Retry-After": str(error.retry_after)}
    return json_response({"code": error.code.value}, status=error.status, headers=headers)


@contextlib.asynccontextmanager
async def serve(source: Source, *, limit: bool = True, **settings: Any) -> AsyncIterator[Served]:
    port = free_port()
    config = replace(Settings(), port=port, heartbeat_s=60.0, **settings)
    app = Sanic(f"test_route_{next(_NAMES)}", configure_logging=False)
    # Sanic rewrites its request handler once per process ("touchup"); a second app
    # served in the same process would find it rewritten already.
    app.config.TOUCHUP = False
    app.blueprint(live_blueprint(_typed(source), config, limit_handshakes=limit))
    app.exception(RateLimited)(_refused)
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, debug=False
    )
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield Served(source, port)
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()
        for ws in list(source.sockets):
            ws.end_connection(1001, "test over")


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code is not None
    return ws.close_code, ws.close_reason or ""


async def next_frame(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return frame


def test_the_route_keeps_its_access_rules_name() -> None:
    app = Sanic(f"test_route_{next(_NAMES)}", configure_logging=False)
    app.blueprint(live_blueprint(Source(), Settings()))
    app.router.finalize()
    (route,) = app.router.routes
    assert route.name.rpartition(".")[2] == LIVE_ROUTE == "live"
    assert access.rule_for(route.name, access.ROUTES) is access.ROUTES["live"]
    assert access.rule_for(route.name, access.EDGE_ROUTES) is access.EDGE_ROUTES["live"]
    assert route.extra.websocket
    assert route.handler.keywords == {"subprotocols": (m.PROTOCOL,)}


async def test_a_session_streams_registers_its_socket_and_refuses_as_its_source_says() -> None:
    source = Source()
    async with serve(source) as served, served.connect(source.token("bidder", sub="ann")) as ws:
        await ws.send(m.to_json(m.Subscribe(0)))
        welcome = await next_frame(ws)
        assert (welcome["type"], welcome["seq"], welcome["role"]) == ("welcome", 1, "bidder")
        assert (await next_frame(ws))["type"] == "event"
        assert len(source.sockets) == 1
        await ws.send(
            json.dumps({"type": "bid", "request_id": "b", "amount": "1.00", "currency": "EUR"})
        )
        reject = await next_frame(ws)
        assert (reject["type"], reject["code"]) == ("reject", "read_only")
        await ws.close()
        for _ in range(100):
            if not source.sockets:
                break
            await asyncio.sleep(0.01)
        assert not source.sockets


async def test_handshake_refusals_close_with_the_documented_codes() -> None:
    source = Source()
    async with serve(source) as served:
        # Origin first, whatever the token.
        async with served.connect(None, origin="http://evil.example") as ws:
            assert await closed_with(ws) == (m.CLOSE_BAD_ORIGIN, "origin not allowed")
        async with served.connect(None) as ws:
            assert await closed_with(ws) == (m.CLOSE_AUTH_FAILED, "token_missing")
        async with served.connect(source.token(auction="a-2")) as ws:
            assert await closed_with(ws) == (m.CLOSE_AUTH_FAILED, "wrong_auction")
        revoked = source.token()
        source.revoked.add(auth.verify(source.public_key, revoked, now_s=time.time()).jti, 0, 2**62)
        async with served.connect(revoked) as ws:
            assert await closed_with(ws) == (m.CLOSE_AUTH_FAILED, "token_revoked")
        async with served.connect(source.token(auction="nope"), auction_id="nope") as ws:
            await ws.send(m.to_json(m.Subscribe(0)))
            assert await closed_with(ws) == (m.CLOSE_PROTOCOL_ERROR, "unknown auction")
        # Not serving (starting, or stopping): 1001, as a stopping session's source says.
        session, source.session = source.session, None
        async with served.connect(source.token()) as ws:
            assert await closed_with(ws) == (m.CLOSE_GOING_AWAY, "server shutting down")
        assert session is not None
        source.session, session.stopped = session, True  # its node began to stop
        async with served.connect(source.token()) as ws:
            await ws.send(m.to_json(m.Subscribe(0)))
            assert await closed_with(ws) == (m.CLOSE_GOING_AWAY, "server shutting down")
        assert not source.sockets


async def test_handshakes_over_the_rate_get_a_429_before_the_upgrade() -> None:
    source = Source()
    limits: dict[str, Any] = {"ws_rate_per_s": 0.001, "ws_rate_burst": 2}
    async with serve(source, **limits) as served:
        for _ in range(2):
            async with served.connect(source.token()) as ws:
                await ws.send(m.to_json(m.Subscribe(0)))
                assert (await next_frame(ws))["type"] == "welcome"
        with pytest.raises(InvalidStatus) as refused:
            async with served.connect(source.token()):
                pass
        response = refused.value.response
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
    # Without the limiter (an app that cannot answer its refusal yet), no 429 ever.
    async with serve(Source(), limit=False, **limits) as served:
        for _ in range(3):
            async with served.connect(served.source.token()) as ws:
                await ws.send(m.to_json(m.Subscribe(0)))
                assert (await next_frame(ws))["type"] == "welcome"
