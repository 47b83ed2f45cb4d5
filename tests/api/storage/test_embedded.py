"""The embedded server: start, reuse, stop, restart on the same data, crash leftovers.

These tests run whether or not ``DATABASE_URL`` is set: the embedded path is what
``make run`` and the default test run use, so it is always exercised.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.embedded import start_embedded
from api.storage.errors import EmbeddedPostgresError, StorageError


async def query(dsn: str, sql: str) -> object:
    """Run ``sql`` (one or more statements) on a new connection; the first value, if any."""
    conn = await asyncpg.connect(dsn)
    try:
        if ";" in sql:
            await conn.execute(sql)
            return None
        return await conn.fetchval(sql)
    finally:
        await conn.close()


@pytest.fixture
def data_root() -> Iterator[Path]:
    """A temporary directory outside pytest's basetemp, which other pytest runs on the
    machine reset to mode 0700, out of the `embedded_postgres` user's reach."""
    root = Path(tempfile.mkdtemp(prefix="gavel-test-embedded-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


async def test_lifecycle(data_root: Path) -> None:
    data = data_root / "nested" / "data"
    server = await asyncio.to_thread(start_embedded, data)
    try:
        assert (data / "PG_VERSION").exists()
        assert await query(server.dsn, "SHOW synchronous_commit") == "on"
        assert await query(server.dsn, "SHOW fsync") == "on"
        await query(server.dsn, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
        # A second handle in the same process shares the server; stopping it alone
        # leaves the server up for the first.
        second = start_embedded(data)
        assert second.pid == server.pid
        second.stop()
        second.stop()
        assert await query(server.dsn, "SELECT 1") == 1
    finally:
        server.stop()
    assert not (data / "postmaster.pid").exists()
    with pytest.raises(OSError):
        await query(server.dsn, "SELECT 1")

    # A crashed user left its pid behind: it must not keep the server alive forever.
    (data / ".handle_pids.json").write_text(json.dumps([dead_pid()]))
    with start_embedded(data, delete_on_stop=True) as again:
        assert await query(again.dsn, "SELECT x FROM kept") == 42
    assert not data.exists()


def test_unusable_data_dir_raises_our_error(data_root: Path) -> None:
    data = data_root / "data"
    data.mkdir()
    (data / "PG_VERSION").write_text("7\n")  # claims a cluster, holds none
    with pytest.raises(EmbeddedPostgresError) as raised:
        start_embedded(data)
    assert isinstance(raised.value, StorageError)


def test_failed_start_can_be_retried(data_root: Path) -> None:
    data = data_root / "data"
    data.mkdir()
    (data / "PG_VERSION").write_text("7\n")
    with pytest.raises(EmbeddedPostgresError):
        start_embedded(data)
    shutil.rmtree(data)  # the operator clears the directory; the next start must initdb
    with start_embedded(data, delete_on_stop=True) as server:
        assert asyncio.run(query(server.dsn, "SELECT 1")) == 1
