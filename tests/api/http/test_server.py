"""``gavel serve`` as an operator runs it: a real process, signals, logs, storage.

Without ``DATABASE_URL`` the server starts its own embedded PostgreSQL under
``<data dir>/postgres`` (what ``make run`` does), keeps what it committed across a
restart, and stops it again on SIGINT/SIGTERM; every line it logs is one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import psutil
import pytest

from api.logs import JsonFormatter
from loadtests.server_process import ServerProcess
from tests.api.conftest import Live
from tests.api.http.test_app import english


def embedded_postgres_pids(data_dir: Path) -> list[int]:
    """The ``postgres`` processes serving ``data_dir`` (the postmaster carries ``-D``)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "postgres" in (process.info["name"] or "") and str(data_dir) in " ".join(cmdline):
            found.append(process.pid)
    return found


def log_lines(server: ServerProcess) -> list[dict[str, object]]:
    """Every line the server wrote, each parsed as JSON (fails on any other line)."""
    lines = server.log_path.read_text().splitlines()
    parsed = [json.loads(line) for line in lines if line.strip()]
    for entry in parsed:
        assert {"ts", "level", "logger", "msg"} <= set(entry), entry
    return parsed


async def test_without_database_url_the_server_runs_on_its_embedded_postgresql(
    tmp_path: Path,
) -> None:
    env = {"GAVEL_LOG_LEVEL": "INFO", "GAVEL_RATE_PER_S": "1000", "GAVEL_RATE_BURST": "1000"}
    server = ServerProcess(tmp_path, database_url=None, env=env)
    server.start(timeout_s=120)
    data = (tmp_path / "postgres").resolve()
    try:
        live = Live(server)
        auction = await live.create(english(start_in=0.2))
        bidder = await live.register(auction, "acme")
        await live.wait_phase(auction, "running")
        bid = await live.post(
            f"/api/v1/auctions/{auction}/bids", {"amount": "100.00", "currency": "EUR"}, bidder
        )
        assert bid.status == 201, bid.body
        assert embedded_postgres_pids(data), "no postgres serves the data dir"
    finally:
        exit_code = server.stop()
    assert exit_code == 0, server.log()
    # The embedded server went with it.
    deadline = time.monotonic() + 10
    while embedded_postgres_pids(data) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert embedded_postgres_pids(data) == []
    # Structured logs: JSON only, and the start-up line says which database it used.
    entries = log_lines(server)
    ready = [entry for entry in entries if entry["msg"] == "ready"]
    assert ready and ready[0]["embedded"] is True

    # What it committed is still there after a restart on the same data dir.
    again = ServerProcess(tmp_path, database_url=None, env=env)
    again.key = server.key
    again.start(timeout_s=120)
    try:
        state = await Live(again).state(auction)
        assert state["phase"] == "running" and len(state["ranking"]) == 1
    finally:
        again.stop()


async def test_sigint_stops_as_gracefully_as_sigterm(start_server: object) -> None:
    live = start_server()  # type: ignore[operator]
    process = live.process.process
    assert process is not None
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0
    log_lines(live.process)  # nothing but JSON, shutdown included


def test_the_json_formatter_keeps_extra_fields_and_exceptions() -> None:
    record = logging.makeLogRecord(
        {"name": "gavel.test", "levelname": "ERROR", "msg": "commit %s", "args": ("failed",)}
    )
    record.auction = "a-1"
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["level"], entry["logger"], entry["msg"]) == (
        "ERROR",
        "gavel.test",
        "commit failed",
    )
    assert entry["auction"] == "a-1" and "ValueError: boom" in entry["exc"]
    assert entry["ts"].endswith("+00:00")


async def test_expired_idempotency_keys_are_purged_at_start_up(start_server: Any) -> None:
    first = start_server()
    auction = await first.create(english(start_in=60))
    reply = await first.request(
        "POST",
        "/api/v1/tokens",
        {"role": "observer", "party": "press", "auction": auction},
        token=first.officer,
        headers={"Idempotency-Key": "old-pass"},
    )
    assert reply.status == 201, reply.body
    first.process.stop()
    conn = await asyncpg.connect(first.process.database_url)
    try:
        # A day and an hour old: past the keys' 24 h lifetime.
        await conn.execute(
            "UPDATE idempotency_keys SET created_at = created_at - $1", 25 * 3600 * 1_000_000
        )
        again = ServerProcess(first.process.data_dir, database_url=first.process.database_url)
        again.key = first.process.key
        again.start()
        try:
            deadline = time.monotonic() + 10
            while await conn.fetchval("SELECT count(*) FROM idempotency_keys"):
                assert time.monotonic() < deadline, "the expired key was not purged"
                await asyncio.sleep(0.05)
        finally:
            again.stop()
    finally:
        await conn.close()


# ------------------------------------------------------------------ waiting for the database


def waiting_lines(server: ServerProcess) -> list[dict[str, object]]:
    """The start-up's "waiting for the database" lines, in order (none before the log
    file exists)."""
    if not server.log_path.exists():
        return []
    return [e for e in log_lines(server) if str(e["msg"]).startswith("waiting for the database")]


async def test_serve_waits_for_its_database_and_is_ready_once_it_comes_up(tmp_path: Path) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    from tests.api.killable_pg import KillablePostgres
    from tests.api.storage.test_listener import stop_gracefully

    pg = KillablePostgres().start()
    try:
        await asyncio.to_thread(stop_gracefully, pg)  # initialised, and down
        server = ServerProcess(tmp_path, database_url=pg.dsn, env={"GAVEL_LOG_LEVEL": "INFO"})
        starting = asyncio.create_task(asyncio.to_thread(server.start, 120))
        try:
            live = Live(server)
            deadline = time.monotonic() + 60
            while len(waiting_lines(server)) < 3:
                assert not starting.done(), server.log()
                assert time.monotonic() < deadline, server.log()
                await asyncio.sleep(0.1)
            # Up but not ready: /healthz 200, /readyz and the API a 503 problem, and a
            # websocket handshake a 503 before the upgrade. Never a 500.
            assert (await live.get("/healthz")).status == 200
            ready = await live.get("/readyz")
            assert (ready.status, ready.code) == (503, "storage_unavailable"), ready.body
            assert ready.headers["retry-after"] == "1"
            auctions = await live.get("/api/v1/auctions", live.officer)
            assert (auctions.status, auctions.code) == (503, "storage_unavailable")
            with pytest.raises(InvalidStatus) as refused:
                await connect(
                    f"{server.ws_url}/ws/v1/auctions/a-1",
                    subprotocols=["gavel.v1", f"gavel.bearer.{live.officer}"],  # type: ignore[list-item]
                    open_timeout=10,
                )
            assert refused.value.response.status_code == 503

            await asyncio.to_thread(pg.start)
            await asyncio.wait_for(starting, 120)  # /readyz 200
            auction = await live.create(english(start_in=60))
            assert (await live.state(auction))["phase"] == "scheduled"
        finally:
            if not starting.done():
                server.kill()  # a failed test: end the start-up's wait now
            with contextlib.suppress(RuntimeError):
                await starting
            server.stop()
    finally:
        await asyncio.to_thread(pg.close)
    # One line per attempt, numbered, naming the database; then ready; no traceback.
    lines = waiting_lines(server)
    assert [e["attempt"] for e in lines] == list(range(1, len(lines) + 1))
    assert all(e["level"] == "WARNING" and f"socket {pg.data_dir}" in str(e["msg"]) for e in lines)
    ready_lines = [e for e in log_lines(server) if e["msg"] == "ready"]
    assert len(ready_lines) == 1 and ready_lines[0]["attempts"] == len(lines) + 1
    assert "Traceback" not in server.log_path.read_text()


async def test_serve_gives_up_after_gavel_db_wait_s_with_one_line(tmp_path: Path) -> None:
    from loadtests.server_process import free_port

    url = f"postgresql://gavel:s3cret-pw@127.0.0.1:{free_port()}/gavel"
    server = ServerProcess(tmp_path, database_url=url, env={"GAVEL_DB_WAIT_S": "1.5"})
    with pytest.raises(RuntimeError, match="exited early"):
        await asyncio.to_thread(server.start, 60)
    assert server.process is not None and server.process.wait(30) == 1
    text = server.log_path.read_text()
    assert "Traceback" not in text and "s3cret" not in text
    errors = [e for e in log_lines(server) if e["level"] == "ERROR"]
    assert len(errors) == 1, text
    message = str(errors[0]["msg"])
    assert message.startswith(f"DATABASE_URL {url.replace(':s3cret-pw', '')} could not be")
    assert "GAVEL_DB_WAIT_S" in message
    assert len(waiting_lines(server)) >= 2  # it did wait, one line per attempt


def test_a_database_url_that_is_no_postgresql_url_exits_at_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, database_url="mysql://root@127.0.0.1/x")
    with pytest.raises(RuntimeError, match="exited early"):
        server.start(60)
    assert server.process is not None and server.process.wait(30) == 1
    errors = [e for e in log_lines(server) if e["level"] == "ERROR"]
    assert len(errors) == 1 and "is not a usable PostgreSQL URL" in str(errors[0]["msg"])
    assert waiting_lines(server) == [] and "Traceback" not in server.log_path.read_text()


@pytest.mark.parametrize(
    "url",
    ["postgresql://gavel:s3cret-pw@[::1", "postgresql://gavel:s3cret-pw@[zz]/gavel"],
)
def test_a_database_url_urllib_cannot_read_exits_at_once_in_one_line(
    tmp_path: Path, url: str
) -> None:
    """An unclosed or bad IPv6 host (urllib raises on it) is still answered in one line
    naming DATABASE_URL, without the password: never a traceback."""
    server = ServerProcess(tmp_path, database_url=url)
    with pytest.raises(RuntimeError, match="exited early"):
        server.start(60)
    assert server.process is not None and server.process.wait(30) == 1
    text = server.log_path.read_text()
    assert "Traceback" not in text and "s3cret" not in text, text
    errors = [e for e in log_lines(server) if e["level"] == "ERROR"]
    assert len(errors) == 1, text
    message = str(errors[0]["msg"])
    assert message.startswith("DATABASE_URL postgresql://gavel@") and "not a usable" in message
    assert waiting_lines(server) == []


# ------------------------------------------------------------------ a port already in use


@pytest.fixture
def busy_port() -> Any:
    """A port something else listens on (a plain socket of this test)."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "edge"])
def test_a_busy_port_is_one_line_naming_gavel_port_and_exit_status_1(
    tmp_path: Path, busy_port: int, command: str
) -> None:
    """``gavel serve`` (without DATABASE_URL, so an embedded PostgreSQL would start) and
    ``gavel edge`` on a taken port: one JSON line saying so, naming GAVEL_PORT and
    --port, status 1, no traceback; and nothing started before (no embedded cluster)."""
    from loadtests.server_process import EdgeProcess

    server = ServerProcess(tmp_path, database_url=None, port=busy_port)
    if command == "edge":
        core = ServerProcess(tmp_path, database_url="postgresql://gavel@127.0.0.1:1/gavel")
        server = EdgeProcess(tmp_path, core, port=busy_port)
    with pytest.raises(RuntimeError, match="exited early"):
        server.start(60)
    assert server.process is not None and server.process.wait(30) == 1
    text = server.log_path.read_text()
    assert len(text.splitlines()) == 1 and "Traceback" not in text, text
    [entry] = log_lines(server)
    assert entry["level"] == "ERROR" and entry["port"] == busy_port
    message = str(entry["msg"])
    assert message.startswith(f"port {busy_port} is already in use on 127.0.0.1"), message
    assert "GAVEL_PORT" in message and "--port" in message
    assert not (tmp_path / "postgres").exists()


def test_listen_names_the_setting_to_change_for_each_way_it_fails(busy_port: int) -> None:
    from api.http.server import CannotListen, listen

    with pytest.raises(CannotListen, match=rf"^port {busy_port} is already in use.*GAVEL_PORT"):
        listen("127.0.0.1", busy_port)
    with pytest.raises(CannotListen, match="a port is 0-65535; set GAVEL_PORT or --port"):
        listen("127.0.0.1", 70_000)
    for host in ("192.0.2.1", "no-such-host.invalid"):  # TEST-NET-1, and no DNS name
        with pytest.raises(CannotListen, match=f"'{host}' is not an address.*GAVEL_HOST"):
            listen(host, 0)
    sock = listen("127.0.0.1", 0)  # free: a listening socket
    try:
        assert sock.getsockname()[0] == "127.0.0.1" and sock.getsockname()[1] > 0
    finally:
        sock.close()
