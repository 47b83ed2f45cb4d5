"""The child-process harness: ending processes, free ports, and a server's and an edge's
environment, command line, tokens and start-up failures (without starting a server: the
API tests start real ones through it)."""

from __future__ import annotations

import base64
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.access import auth
from loadtests.server_process import EdgeProcess, ServerProcess, end_process, free_port


def _child(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


def test_end_process_terminates_a_running_child() -> None:
    child = _child("import time; time.sleep(60)")
    assert end_process(child, timeout_s=10) == -signal.SIGTERM


def test_end_process_kills_one_that_ignores_the_signal() -> None:
    code = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        " print('ready', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    assert end_process(child, timeout_s=0.3) == -signal.SIGKILL


def test_end_process_leaves_an_ended_child_alone() -> None:
    child = _child("raise SystemExit(3)")
    child.wait(10)
    assert end_process(child) == 3


def test_free_port_can_be_bound() -> None:
    port = free_port()
    assert 0 < port < 65536
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))


def test_a_server_is_described_by_its_port_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GAVEL_LOG_LEVEL", raising=False)
    server = ServerProcess(tmp_path, port=8123, env={"GAVEL_AUDIT": "off"}, args=("--demo",))
    assert (server.url, server.ws_url) == ("http://127.0.0.1:8123", "ws://127.0.0.1:8123")
    assert server.log_path == tmp_path / "server-8123.log"
    env = server._environment()
    raw = base64.b64decode(env["GAVEL_SIGNING_KEY"])
    assert raw == server.key.private_bytes_raw()
    assert env["GAVEL_LOG_LEVEL"] == "WARNING" and env["GAVEL_AUDIT"] == "off"
    command = server._command()
    assert command[:3] == [sys.executable, "-m", "api.http.server"]
    assert command[3:] == [
        "--host",
        "127.0.0.1",
        "--port",
        "8123",
        "--data-dir",
        str(tmp_path),
        "--demo",
    ]
    assert server.log() == "(no log)" and server.stop() is None
    server.kill()  # nothing started: nothing to do


def test_tokens_are_signed_with_the_servers_key(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    token = server.token("acme", "bidder", "a-1", ttl_s=60)
    claims = auth.verify(server.key.public_key(), token, now_s=time.time())
    assert (claims.sub, claims.role, claims.auction) == ("acme", auth.Role.BIDDER, "a-1")
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(auth.Unauthenticated):
        auth.verify(other, token, now_s=time.time())


class _Quitter(ServerProcess):
    """Runs a child that exits at once instead of a server."""

    def _command(self) -> list[str]:
        return [sys.executable, "-c", "print('no database'); raise SystemExit(1)"]


class _Sleeper(ServerProcess):
    """Runs a child that never answers ``/readyz``."""

    def _command(self) -> list[str]:
        return [sys.executable, "-c", "import time; time.sleep(60)"]


def test_start_reports_an_early_exit_with_the_log(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="exited early:\nno database"):
        _Quitter(tmp_path / "data").start(timeout_s=20)


def test_start_gives_up_on_a_server_never_ready_and_kills_it(tmp_path: Path) -> None:
    sleeper = _Sleeper(tmp_path)
    with pytest.raises(RuntimeError, match="was not ready in 0.5 s"):
        sleeper.start(timeout_s=0.5)
    assert sleeper.process is not None and sleeper.process.returncode == -signal.SIGKILL


def test_an_edge_uses_the_cores_key_and_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAVEL_SIGNING_KEY", "inherited")
    core = ServerProcess(tmp_path, database_url="postgresql://db/x", port=8200)
    edge = EdgeProcess(tmp_path, core, port=8201, core_url="http://127.0.0.1:9")
    assert edge.key is core.key and edge.database_url == "postgresql://db/x"
    assert edge.log_path == tmp_path / "edge-8201.log"
    env = edge._environment()
    assert "GAVEL_SIGNING_KEY" not in env  # an edge never holds the private key
    feed = auth.verify(core.key.public_key(), env["GAVEL_EDGE_TOKEN"], now_s=time.time())
    assert feed.role == auth.Role.AUDITOR
    assert edge._command()[2:6] == ["api.http.edge", "--core-url", "http://127.0.0.1:9", "--host"]
    assert EdgeProcess(tmp_path, core)._command()[4] == core.url
