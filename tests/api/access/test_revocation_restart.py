"""A revoked token loses its sockets on every process that holds them, before and after a
restart of PostgreSQL (issue 12, item 8).

Real processes on a PostgreSQL of this module's own
(:class:`~tests.api.killable_pg.KillablePostgres`, never the machine's): a core
(``gavel serve``) and an edge (``gavel edge``), the edge reaching PostgreSQL through a
proxy (:class:`~tests.api.storage.test_listener.PgProxy`) so that a test can keep it away from
the database while the core is back. A bidder's token has a socket open on each; the
officer revokes it on the core. Both sockets close with 4401 ``token_revoked`` and the
edge refuses the token's next handshake:

* with PostgreSQL up all along;
* after PostgreSQL was stopped and started, and after it was SIGKILLed and started (the
  edge's listener reconnected and hears the notification);
* when the token is revoked after PostgreSQL is back but before the edge's listener is
  (the notification is lost for the edge: its re-read after reconnecting finds it).

While PostgreSQL is down a revocation cannot be made: the core answers 503
``storage_unavailable`` and nothing changes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from loadtests.server_process import EdgeProcess, ServerProcess
from tests.api.conftest import DEFAULT_ENV, Live
from tests.api.http.test_app import english
from tests.api.killable_pg import KillablePostgres
from tests.api.live.test_ws import closed_with
from tests.api.storage.test_listener import PgProxy, stop_gracefully

REVOKE = "/api/v1/tokens/{}/revoke"


class Cluster:
    """The module's PostgreSQL, core, proxy and edge."""

    def __init__(self, pg: KillablePostgres, core: Live, edge: Live, proxy: PgProxy) -> None:
        self.pg = pg
        self.core = core
        self.edge = edge
        self.proxy = proxy


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    pg = KillablePostgres().start()
    proxy = PgProxy(str(pg.data_dir)).start()
    core = ServerProcess(
        Path(tmp_path_factory.mktemp("core")), database_url=pg.dsn, env=dict(DEFAULT_ENV)
    )
    edge = EdgeProcess(Path(tmp_path_factory.mktemp("edge")), core, env=dict(DEFAULT_ENV))
    edge.database_url = proxy.dsn  # the edge's pool and listener go through the proxy
    try:
        core.start()
        edge.start()
        yield Cluster(pg, Live(core), Live(edge), proxy)
    finally:
        edge.stop()
        core.stop()
        proxy.close()
        pg.close()


async def held(live: Live, auction: str, token: str) -> ClientConnection:
    """A socket of ``token`` on ``live``, past its welcome."""
    ws = await live.connect(auction, token)
    first = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert first["type"] == "welcome", first
    return ws


async def bidder_with_sockets(
    cluster: Cluster,
) -> tuple[str, str, ClientConnection, ClientConnection, ClientConnection]:
    """An auction, a bidder's token with a socket on the core and one on the edge, and a
    control socket of another bidder on the edge: ``(auction, token, core_ws, edge_ws,
    control_ws)``."""
    auction = await cluster.core.create(english(duration=600))
    token = await cluster.core.register(auction, "acme")
    other = await cluster.core.register(auction, "bolt")
    on_core = await held(cluster.core, auction, token)
    on_edge = await held(cluster.edge, auction, token)
    control = await held(cluster.edge, auction, other)
    return auction, token, on_core, on_edge, control


def jti_of(token: str) -> str:
    from tests.api.access.test_revocation import jti_of as read

    return read(token)


async def revoke(cluster: Cluster, token: str) -> None:
    """The officer revokes ``token`` on the core; retried while the core's pool is still
    finding its way back to a restarted PostgreSQL (503), never another answer."""
    deadline = time.monotonic() + 60
    while True:
        reply = await cluster.core.post(REVOKE.format(jti_of(token)), None, cluster.core.officer)
        if reply.status == 200:
            return
        assert (reply.status, reply.code) == (503, "storage_unavailable"), reply.body
        assert time.monotonic() < deadline, "the core never revoked it"
        await asyncio.sleep(0.2)


async def enforced_everywhere(
    cluster: Cluster,
    auction: str,
    token: str,
    on_core: ClientConnection,
    on_edge: ClientConnection,
    control: ClientConnection,
) -> None:
    """Both sockets closed with 4401, the edge refuses a new handshake, the control
    socket of another token is still open."""
    assert await closed_with(on_core, 60) == (4401, "token_revoked")
    assert await closed_with(on_edge, 60) == (4401, "token_revoked")
    again = await cluster.edge.connect(auction, token, since=None)
    assert await closed_with(again, 30) == (4401, "token_revoked")
    assert control.close_code is None
    await control.close()


async def edge_listening(cluster: Cluster, connections: int) -> None:
    """Wait until the edge's listener has made ``connections`` connections and is up."""
    deadline = time.monotonic() + 60
    while True:
        state: dict[str, Any] = (await cluster.edge.get("/readyz")).json()
        if state["listening"] and state["listener_connections"] >= connections:
            return
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.1)


def gap_lines(live: Live) -> tuple[int, int]:
    """How many times ``live``'s revocation listener logged a loss, and a return."""
    messages = [json.loads(line)["msg"] for line in live.process.log_path.read_text().splitlines()]
    lost = sum("revocations: lost its connection" in msg for msg in messages)
    back = sum("revocations: listening again after a gap" in msg for msg in messages)
    return lost, back


async def edge_listener_connections(cluster: Cluster) -> int:
    connections: int = (await cluster.edge.get("/readyz")).json()["listener_connections"]
    return connections


async def test_a_token_revoked_while_two_processes_hold_its_sockets(cluster: Cluster) -> None:
    auction, token, on_core, on_edge, control = await bidder_with_sockets(cluster)
    await revoke(cluster, token)
    await enforced_everywhere(cluster, auction, token, on_core, on_edge, control)


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_a_token_revoked_after_postgresql_restarted_closes_its_sockets_everywhere(
    cluster: Cluster, how: str
) -> None:
    auction, token, on_core, on_edge, control = await bidder_with_sockets(cluster)
    before = await edge_listener_connections(cluster)
    gaps = {
        name: gap_lines(live) for name, live in (("core", cluster.core), ("edge", cluster.edge))
    }
    await asyncio.to_thread(stop_gracefully if how == "stop" else KillablePostgres.kill, cluster.pg)
    # Down: a revocation cannot be made, and says so (nothing is half done).
    down = await cluster.core.post(REVOKE.format(jti_of(token)), None, cluster.core.officer)
    assert (down.status, down.code) == (503, "storage_unavailable"), down.body
    await asyncio.to_thread(cluster.pg.start)
    # The edge's listener is back: this revocation reaches it as a notification.
    await edge_listening(cluster, before + 1)
    await revoke(cluster, token)
    await enforced_everywhere(cluster, auction, token, on_core, on_edge, control)
    # Both processes logged the gap: one line when lost, one when back.
    for name, live in (("core", cluster.core), ("edge", cluster.edge)):
        lost, back = gaps[name]
        assert gap_lines(live) == (lost + 1, back + 1), live.process.log()


async def test_a_token_revoked_before_the_edge_listens_again_is_enforced_on_reconnect(
    cluster: Cluster,
) -> None:
    auction, token, on_core, on_edge, control = await bidder_with_sockets(cluster)
    before = await edge_listener_connections(cluster)
    # The edge loses PostgreSQL and stays without it; PostgreSQL restarts meanwhile.
    cluster.proxy.refuse()
    await asyncio.to_thread(stop_gracefully, cluster.pg)
    await asyncio.to_thread(cluster.pg.start)
    # Revoked on the core while the edge cannot hear it: the notification is lost for it.
    await revoke(cluster, token)
    assert await closed_with(on_core, 60) == (4401, "token_revoked")
    assert on_edge.close_code is None  # the edge has not heard (it cannot)
    # Let the edge back: its listener reconnects, reads the revocations again, and
    # closes the socket it could not close before.
    cluster.proxy.accept()
    await edge_listening(cluster, before + 1)
    assert await closed_with(on_edge, 60) == (4401, "token_revoked")
    again = await cluster.edge.connect(auction, token, since=None)
    assert await closed_with(again, 30) == (4401, "token_revoked")
    assert control.close_code is None
    await control.close()
    assert "revocations made while it was not listening are enforced now" in (
        cluster.edge.process.log_path.read_text()
    )
