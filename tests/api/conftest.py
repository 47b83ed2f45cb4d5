"""Live-server fixtures for the API tests: a real server process, real sockets, real PostgreSQL.

``start_edge(core, **env)`` (module scope) starts a read-only edge
(:class:`~loadtests.server_process.EdgeProcess`) of a server ``start_server`` returned,
on the same database; its :class:`Live` mints tokens with the core's key. Edges stop
before their cores.

``start_server(**env)`` (module scope) starts :class:`~loadtests.server_process.ServerProcess`
on a fresh database of the session's PostgreSQL (``DATABASE_URL``, or the embedded server
of ``tests/conftest.py``) and returns a :class:`Live` handle; every server a module
started is stopped, and its database dropped, when the module ends. ``server`` is one
such server with the default settings, shared by the module's tests.

:class:`Live` speaks HTTP/1.1 itself over ``asyncio`` streams (one connection per
request) so that tests can send anything at all: junk bodies, odd methods, paths that no
client library would produce. Websockets go through the ``websockets`` client, as a
browser would connect: subprotocols ``gavel.v1`` and ``gavel.bearer.<token>``.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from websockets.asyncio.client import ClientConnection, connect

from api.storage.postgres import dsn_with_database
from loadtests.server_process import EdgeProcess, ServerProcess

#: Settings every test server gets unless a test overrides them: no rate limit in the way.
DEFAULT_ENV = {"GAVEL_RATE_PER_S": "100000", "GAVEL_RATE_BURST": "100000"}


def _in_thread(make: Callable[[], Awaitable[Any]]) -> Any:
    # Sync fixtures may run while a test's event loop is alive in this thread, so each
    # database chore gets a loop of its own in a short-lived thread.
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = asyncio.run(make())  # type: ignore[arg-type]
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller
            box["error"] = error

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _create_database(server_dsn: str) -> str:
    name = f"gavel_live_{os.getpid()}_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        finally:
            await admin.close()

    _in_thread(create)
    return name


def _drop_databases(server_dsn: str, names: set[str]) -> None:
    async def drop(name: str) -> None:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    async def drop_all() -> None:
        # Concurrent drops share PostgreSQL's checkpoint: one second in all, not each.
        await asyncio.gather(*(drop(name) for name in names))

    _in_thread(drop_all)


@dataclass
class Reply:
    """One HTTP response. Header names are lower case."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)

    @property
    def code(self) -> str | None:
        """The ``code`` of a problem response (``None`` for anything else)."""
        if not self.headers.get("content-type", "").startswith("application/problem+json"):
            return None
        code: str = self.json()["code"]
        return code


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2 :]
    return bytes(out)


class Live:
    """A running server: HTTP and websocket helpers bound to it."""

    def __init__(self, process: ServerProcess) -> None:
        self.process = process
        self.officer = process.token("officer-1", "officer")

    @property
    def port(self) -> int:
        """The server's port on 127.0.0.1."""
        return self.process.port

    def token(self, sub: str, role: str, auction: str | None = None, ttl_s: int = 3600) -> str:
        """A token signed with the server's key."""
        return self.process.token(sub, role, auction, ttl_s)

    # ------------------------------------------------------------------ HTTP

    async def raw(self, data: bytes, timeout: float = 10.0) -> Reply:
        """Send ``data`` as is on a new connection; parse what comes back."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(data)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        while head.startswith(b"HTTP/1.1 100"):  # an interim answer to Expect: 100-continue
            head, _, body = body.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = _dechunk(body)
        return Reply(status, headers, body)

    async def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        body: bytes | None = None,
        token: str | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request; ``json_body`` is serialised, ``body`` is sent as is."""
        if body is None and json_body is not None:
            body = json.dumps(json_body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", "Connection: close"]
        if token is not None:
            lines.append(f"Authorization: Bearer {token}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
            if content_type is not None:
                lines.append(f"Content-Type: {content_type}")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        return await self.raw(data)

    async def get(self, path: str, token: str | None = None) -> Reply:
        """``GET path``."""
        return await self.request("GET", path, token=token)

    async def post(self, path: str, json_body: Any = None, token: str | None = None) -> Reply:
        """``POST path`` with a JSON body."""
        return await self.request("POST", path, json_body, token=token)

    async def metrics(self) -> str:
        """The ``/metrics`` text."""
        reply = await self.get("/metrics")
        assert reply.status == 200
        return reply.body.decode()

    # ------------------------------------------------------------------ auctions

    async def create(self, rules: dict[str, Any], auction_id: str | None = None) -> str:
        """Create an auction as the officer; its id."""
        auction_id = auction_id or f"a-{uuid.uuid4().hex[:10]}"
        reply = await self.post(
            "/api/v1/auctions", {"id": auction_id, "rules": rules}, token=self.officer
        )
        assert reply.status == 201, reply.body
        return auction_id

    async def register(self, auction_id: str, party: str, **extra: Any) -> str:
        """Register ``party`` as the officer; the bidder's token."""
        reply = await self.post(
            f"/api/v1/auctions/{auction_id}/bidders", {"party": party, **extra}, token=self.officer
        )
        assert reply.status == 201, reply.body
        token: str = reply.json()["token"]
        return token

    async def state(self, auction_id: str, token: str | None = None) -> dict[str, Any]:
        """``GET /api/v1/auctions/{id}`` (as the officer unless told)."""
        reply = await self.get(f"/api/v1/auctions/{auction_id}", token=token or self.officer)
        assert reply.status == 200, reply.body
        state: dict[str, Any] = reply.json()
        return state

    async def events(self, auction_id: str, after: int = 0) -> list[dict[str, Any]]:
        """The officer's view of the log after ``after``."""
        reply = await self.get(f"/api/v1/auctions/{auction_id}/events?after={after}", self.officer)
        assert reply.status == 200, reply.body
        events: list[dict[str, Any]] = reply.json()["events"]
        return events

    async def wait_phase(self, auction_id: str, *phases: str, timeout: float = 10.0) -> None:
        """Poll until the auction is in one of ``phases``."""
        deadline = time.monotonic() + timeout
        while True:
            phase = (await self.state(auction_id))["phase"]
            if phase in phases:
                return
            assert time.monotonic() < deadline, f"still {phase}, wanted {phases}"
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ websockets

    async def connect(
        self,
        auction_id: str,
        token: str,
        *,
        since: int | None = 0,
        origin: str | None = None,
        **options: Any,
    ) -> ClientConnection:
        """Open the auction's websocket as a browser does; send ``subscribe`` unless
        ``since`` is ``None``."""
        ws = await connect(
            f"ws://127.0.0.1:{self.port}/ws/v1/auctions/{auction_id}",
            subprotocols=["gavel.v1", f"gavel.bearer.{token}"],  # type: ignore[list-item]
            origin=origin,  # type: ignore[arg-type]
            open_timeout=10,
            **options,
        )
        if since is not None:
            await ws.send(json.dumps({"type": "subscribe", "since": since}))
        return ws


@pytest.fixture(scope="module")
def start_server(
    pg_server_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Live]]:
    """Start servers for this module: ``start_server(GAVEL_X="...")`` → :class:`Live`."""
    started: list[tuple[ServerProcess, str]] = []

    def start(**env: str) -> Live:
        name = _create_database(pg_server_dsn)
        for attempt in range(3):
            process = ServerProcess(
                Path(tmp_path_factory.mktemp("server")),
                database_url=dsn_with_database(pg_server_dsn, name),
                env={**DEFAULT_ENV, **env},
            )
            started.append((process, name))
            try:
                process.start()
            except RuntimeError:
                # free_port() can race with other suites on this machine: try another.
                if attempt == 2:
                    raise
                continue
            return Live(process)
        raise AssertionError("unreachable")  # pragma: no cover

    yield start
    stopping = [threading.Thread(target=process.stop) for process, _ in started]
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join()
    _drop_databases(pg_server_dsn, {name for _, name in started})


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    """One server with the default settings, shared by the module's tests."""
    return start_server()


@pytest.fixture(scope="module")
def start_edge(
    start_server: Callable[..., Live], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Live]]:
    """Start edges for this module: ``start_edge(core, GAVEL_X="...")`` → :class:`Live`
    (``core_url=``: reach the core there instead, e.g. through a proxy).

        Depends on ``start_server`` so that its edges are stopped before the cores and
        their databases go."""
    started: list[EdgeProcess] = []

    def start(core: Live, core_url: str | None = None, **env: str) -> Live:
        for attempt in range(3):
            process = EdgeProcess(
                Path(tmp_path_factory.mktemp("edge")),
                core.process,
                env={**DEFAULT_ENV, **env},
                core_url=core_url,
            )
            started.append(process)
            try:
                process.start()
            except RuntimeError:
                if attempt == 2:
                    raise
                continue
            return Live(process)
        raise AssertionError("unreachable")  # pragma: no cover

    yield start
    stopping = [threading.Thread(target=process.stop) for process in started]
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join()


#: The heartbeat of the ``core`` and ``edge`` fixtures: short, so pings come soon.
QUICK_HEARTBEAT_S = 0.25


@pytest.fixture(scope="module")
def core(start_server: Callable[..., Live]) -> Live:
    """A core with a quick heartbeat, shared by the module's tests (next to ``edge``)."""
    return start_server(GAVEL_HEARTBEAT_S=str(QUICK_HEARTBEAT_S))


@pytest.fixture(scope="module")
def edge(core: Live, start_edge: Callable[..., Live]) -> Live:
    """An edge of the module's ``core``, connected to it directly."""
    return start_edge(core, GAVEL_HEARTBEAT_S=str(QUICK_HEARTBEAT_S))
