"""``gavel serve`` as an operator runs it: a real process, signals, logs, storage.

Without ``DATABASE_URL`` the server starts its own embedded PostgreSQL under
``<data dir>/postgres`` (what ``make run`` does), keeps what it committed across a
restart, and stops it again on SIGINT/SIGTERM; every line it logs is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import psutil

from api.logs import JsonFormatter
from loadtests.server_process import ServerProcess
from tests.api.conftest import Live
from tests.api.test_app import english


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
