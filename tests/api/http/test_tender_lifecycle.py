"""The tender routes over the node's tender service while the node starts and stops, on a
real PostgreSQL, through an in-process server holding only the tender blueprint and the
app's error handlers (the app's "until ready" middleware is left out: these are the
answers of the routes themselves).

What they answer is what they answered when the blueprint built the service on its first
use: 503 ``shutting_down`` "the server is not ready" (``Retry-After: 1``) before the
storage is up, and while the node stops if no tender request came before; a service in
use goes on serving while the node stops, until its pool closes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sanic import Sanic

from api.access import auth
from api.http.errors import add_error_handlers
from api.http.metrics import Metrics
from api.http.tenders import tenders_blueprint
from api.node import Node
from api.settings import Settings
from loadtests.server_process import free_port

_NAMES = itertools.count()
_PATH = "/api/v1/tenders/t-none"


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer: status, lower-cased headers, the JSON body."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Served:
    """The node and the port of its in-process tender server."""

    node: Node
    port: int

    async def get(self, path: str = _PATH) -> Answer:
        """``GET path`` as an unbound officer, on a connection of its own."""
        token = auth.issue(
            self.node.key,
            sub="officer-1",
            role=auth.Role.OFFICER,
            auction=None,
            ttl_s=600,
            now_s=int(time.time()),
            jti=auth.new_jti(),
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Authorization: Bearer {token}\r\n\r\n".encode()
            )
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return Answer(int(lines[0].split(" ")[1]), headers, json.loads(body))


@contextlib.asynccontextmanager
async def serve(tmp_path: Path, dsn: str) -> AsyncIterator[Served]:
    """A node (not started) and the tender blueprint over it, served on a free port."""
    seed = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    node = Node(Settings(data_dir=tmp_path, signing_key_pem=seed, database_url=dsn))
    app = Sanic(f"test_tender_lifecycle_{next(_NAMES)}", configure_logging=False)
    # Sanic rewrites its request handler once per process ("touchup"); a second app
    # served in the same process would find it rewritten already.
    app.config.TOUCHUP = False
    metrics = Metrics()
    add_error_handlers(app, metrics)
    app.blueprint(tenders_blueprint(node, metrics))
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, debug=False
    )
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield Served(node, port)
    finally:
        await node.stop()
        await server.before_stop()
        await server.close()
        await server.after_stop()


def assert_not_ready(answer: Answer) -> None:
    assert answer.status == 503, answer
    assert (answer.body["code"], answer.body["detail"]) == (
        "shutting_down",
        "the server is not ready",
    )
    assert answer.headers["retry-after"] == "1"


def assert_served(answer: Answer) -> None:
    # The service answered: the tender is unknown to its (open) database.
    assert answer.status == 404, answer
    assert (answer.body["code"], answer.body["detail"]) == ("not_found", "no tender 't-none'")


async def _while_stopping(served: Served) -> Answer:
    """What a tender request gets while the node stops, its pool still open."""
    answers: list[Answer] = []

    async def during() -> None:
        assert served.node.closing and served.node.pool is not None
        answers.append(await served.get())

    served.node.on_stop.append(during)
    await served.node.stop()
    (answer,) = answers
    return answer


async def test_before_the_storage_is_up_a_tender_route_is_not_ready(
    pg_dsn: str, tmp_path: Path
) -> None:
    async with serve(tmp_path, pg_dsn) as served:
        assert_not_ready(await served.get())


async def test_a_first_tender_request_while_stopping_is_not_ready(
    pg_dsn: str, tmp_path: Path
) -> None:
    async with serve(tmp_path, pg_dsn) as served:
        await served.node.start()
        assert_not_ready(await _while_stopping(served))


async def test_tender_routes_in_use_go_on_serving_while_stopping(
    pg_dsn: str, tmp_path: Path
) -> None:
    async with serve(tmp_path, pg_dsn) as served:
        await served.node.start()
        assert_served(await served.get())
        assert_served(await _while_stopping(served))
