"""The composition root: importable without HTTP, not ready until started, the tender
service built with the storage (and refused while stopping only if it served nothing),
and a graceful shutdown that never waits on a socket that stopped reading."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.live.ws import CLOSE_WAIT_S
from api.node import DatabaseUnreachable, Node, NodeError, NotReady
from api.settings import Settings
from api.storage.tenders import PostgresTenderStore
from api.tenders.errors import UnknownTender
from api.tenders.service import TenderService


def _settings(
    tmp_path: Path, database_url: str | None = None, db_wait_s: float | None = None
) -> Settings:
    seed = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    return Settings(
        data_dir=tmp_path, signing_key_pem=seed, database_url=database_url, db_wait_s=db_wait_s
    )


def test_the_node_imports_no_http_module() -> None:
    """``api.node`` sits below ``api.http``: importing it loads none of ``api.http``."""
    code = (
        "import sys, api.node; "
        "print(sorted(m for m in sys.modules if m == 'api.http' or m.startswith('api.http.')))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert found.stdout.strip() == "[]"


def test_the_error_tree() -> None:
    assert issubclass(NotReady, NodeError) and issubclass(DatabaseUnreachable, NodeError)


def test_not_started_the_service_is_not_ready_and_the_parts_are_empty(tmp_path: Path) -> None:
    node = Node(_settings(tmp_path))
    with pytest.raises(NotReady, match="not ready"):
        node.svc  # noqa: B018
    with pytest.raises(NotReady, match="the server is not ready"):
        node.tender_svc  # noqa: B018
    parts = (node.pool, node.writer, node.service, node.tenders, node.idempotency, node.tokens)
    assert parts == (None,) * 6
    assert node.public_key == node.credentials.public_key
    assert node.revoked is node.credentials.revoked
    assert node.tender_observers == [] and node.tender_checkpoint is None
    assert not node.ready and not node.closing


async def test_id_kind_is_refused_while_not_ready(tmp_path: Path) -> None:
    with pytest.raises(NotReady):
        await Node(_settings(tmp_path)).id_kind("a-1")


async def test_shutdown_never_waits_on_a_socket_that_stopped_reading(tmp_path: Path) -> None:
    # Regression: stop() awaited ws.close() on every socket; for a peer that stopped
    # reading that waits for buffer room that never comes, so shutdown stalled until
    # Sanic cancelled it, and the writer and pool were never closed (exit status 1).
    class StalledSocket:
        def __init__(self) -> None:
            self.ended: tuple[int, str] | None = None

        async def close(self, code: int = 1000, reason: str = "") -> None:
            await asyncio.Event().wait()  # the send buffer never drains

        def end_connection(self, code: int = 1000, reason: str = "") -> None:
            self.ended = (code, reason)

    node = Node(_settings(tmp_path))
    sockets = [StalledSocket(), StalledSocket()]
    node.sockets.update(sockets)
    # Their sessions never end (nobody reads them): shutdown waits for them no longer
    # than CLOSE_WAIT_S, then goes on and closes the writer and the pool.
    await asyncio.wait_for(node.stop(), CLOSE_WAIT_S + 1)
    assert [s.ended for s in sockets] == [(1001, "server shutting down")] * 2
    assert node.closing and not node.ready


async def test_start_and_stop_against_postgres(pg_dsn: str, tmp_path: Path) -> None:
    """Started on a real database: ready, the service answers, ids are told apart; stopped:
    not ready, the service refused again."""
    node = Node(_settings(tmp_path, pg_dsn))
    await node.start()
    try:
        assert node.ready and node.pool is not None and node.tokens is not None
        assert await node.id_kind("no-such-id") is None
    finally:
        await node.stop()
    assert not node.ready
    with pytest.raises(NotReady):
        node.svc  # noqa: B018


async def test_a_database_url_that_is_no_postgresql_url_is_given_up_at_once(
    tmp_path: Path,
) -> None:
    node = Node(_settings(tmp_path, "mysql://root:secret@127.0.0.1/x"))
    with pytest.raises(DatabaseUnreachable, match="is not a usable PostgreSQL URL") as gave_up:
        await node.start()
    assert "secret" not in str(gave_up.value)
    assert (node.pool, node.service, node.tenders, node.ready) == (None, None, None, False)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://gavel:s3cret/pw@[zz]/gavel",
        "postgresql://gavel:s3cret@127.0.0.1:notaport/gavel",
        "postgresql://gavel@127.0.0.1:1/gavel?password=s3cret",
    ],
)
async def test_the_driver_s_message_never_carries_a_piece_of_the_password(
    tmp_path: Path, url: str
) -> None:
    # asyncpg quotes the text it could not read (a port, say), which may be a piece of
    # the password when the password holds an unencoded '/'.
    node = Node(_settings(tmp_path, url, db_wait_s=0.3))
    with pytest.raises(DatabaseUnreachable) as gave_up:
        await node.start()
    assert "s3cret" not in str(gave_up.value), gave_up.value


async def test_an_unreachable_database_is_waited_for_then_given_up(tmp_path: Path) -> None:
    node = Node(_settings(tmp_path, "postgresql://postgres@127.0.0.1:1/none", db_wait_s=0.3))
    failed: list[bool] = []

    async def on_failure() -> None:
        failed.append(True)

    node.begin(on_failure)
    for _ in range(100):
        if node.waiting is not None:
            break
        await asyncio.sleep(0.01)
    assert node.waiting == "waiting for the database (attempt 1 failed)"
    for _ in range(300):
        if failed:
            break
        await asyncio.sleep(0.01)
    assert failed == [True] and not node.ready and node.pool is None
    await node.stop()


async def test_the_tender_service_is_built_with_the_storage(pg_dsn: str, tmp_path: Path) -> None:
    """Started: the node's tender service runs on its pool, signs with its key, calls the
    node's own list of tender observers, and gives up waiting for a commit's fate once the
    node stops; its reads reach the database."""
    node = Node(_settings(tmp_path, pg_dsn))
    await node.start()
    try:
        svc = node.tender_svc
        assert isinstance(svc, TenderService) and svc is node.tenders
        assert isinstance(svc.store, PostgresTenderStore)
        assert svc.server_key is node.key and svc.observers is node.tender_observers
        assert svc.outcome_wait_s == node.settings.outcome_wait_s
        assert not svc._closing()
        with pytest.raises(UnknownTender):
            await svc.tender("no-such-tender")
    finally:
        await node.stop()
    assert svc._closing()
    # Stopped after serving: the same service is still handed out (its pool is closed).
    assert node.tender_svc is svc


async def _while_stopping(node: Node) -> list[object]:
    """What ``node.tender_svc`` gives (the service or the error) while ``node`` stops with
    its pool still open (an on_stop hook), and what a read of an unknown tender then gets."""
    seen: list[object] = []

    async def during() -> None:
        assert node.closing and node.pool is not None
        try:
            svc = node.tender_svc
        except NotReady as error:
            seen.append(error)
            return
        seen.append(svc)
        try:
            await svc.tender("no-such-tender")
        except UnknownTender as error:
            seen.append(error)

    node.on_stop.append(during)
    await node.stop()
    return seen


async def test_stopping_a_tender_service_that_served_nothing_is_refused(
    pg_dsn: str, tmp_path: Path
) -> None:
    """As when the tender routes built the service on first use: a first tender request
    while the node stops is refused (503 over HTTP), as every auction request is."""
    node = Node(_settings(tmp_path, pg_dsn))
    await node.start()
    seen = await _while_stopping(node)
    assert len(seen) == 1 and isinstance(seen[0], NotReady)
    assert str(seen[0]) == "the server is not ready"


async def test_stopping_a_tender_service_in_use_goes_on_serving(
    pg_dsn: str, tmp_path: Path
) -> None:
    """As when the tender routes built the service on first use: once used, the tender
    service still serves while the node stops, until its pool closes."""
    node = Node(_settings(tmp_path, pg_dsn))
    await node.start()
    svc = node.tender_svc
    seen = await _while_stopping(node)
    assert seen[0] is svc and isinstance(seen[1], UnknownTender) and len(seen) == 2
