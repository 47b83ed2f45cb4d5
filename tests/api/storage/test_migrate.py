"""Migrations: from an empty database, from the previous version, re-runs and refusals."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.errors import MigrationError
from api.storage.migrate import Migration, load_migrations, migrate, schema_version

ALL = load_migrations()
LATEST = len(ALL)

TABLES_AT = {
    1: {"auctions", "events", "parties", "tokens"},
    2: {"auctions", "events", "idempotency_keys", "parties", "snapshots", "tokens"},
    3: {"auctions", "events", "idempotency_keys", "parties", "snapshots", "tokens"},
}
# Later versions: the tables their own file creates (0004 belongs to the tender work).
for _migration in ALL[len(TABLES_AT) :]:
    TABLES_AT[_migration.version] = TABLES_AT[_migration.version - 1] | set(
        re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", _migration.sql)
    )


@pytest.fixture
async def conn(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(pg_dsn)
    try:
        yield connection
    finally:
        await connection.close()


async def tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename <> 'schema_migrations'"
    )
    return {row[0] for row in rows}


def test_files_are_numbered_from_one() -> None:
    assert [m.version for m in ALL] == list(range(1, LATEST + 1))
    assert LATEST >= 2, "the previous-version test needs at least two migrations"
    assert set(TABLES_AT) == set(range(1, LATEST + 1)), "describe the new version here"


async def test_empty_database_to_latest(conn: asyncpg.Connection) -> None:
    assert await schema_version(conn) == 0
    assert await migrate(conn) == list(range(1, LATEST + 1))
    assert await schema_version(conn) == LATEST
    assert await tables(conn) == TABLES_AT[LATEST]
    rows = await conn.fetch("SELECT version, name, applied_at FROM schema_migrations")
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in ALL]
    assert all(r["applied_at"] is not None for r in rows)


async def test_previous_version_upgrades_and_keeps_data(conn: asyncpg.Connection) -> None:
    previous = LATEST - 1
    assert await migrate(conn, target=previous) == list(range(1, previous + 1))
    assert await tables(conn) == TABLES_AT[previous]
    await conn.execute("INSERT INTO events VALUES ('a', 1, 't', 0, '\\x7b7d'::bytea)")
    assert await migrate(conn) == [LATEST]
    assert await tables(conn) == TABLES_AT[LATEST]
    assert await conn.fetchval("SELECT payload FROM events") == b"{}"


async def test_rerun_is_a_no_op(conn: asyncpg.Connection) -> None:
    await migrate(conn)
    assert await migrate(conn) == []
    assert await migrate(conn, target=LATEST) == []
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == LATEST


async def test_concurrent_starts_apply_each_file_once(pg_dsn: str) -> None:
    # The advisory lock makes the second process wait, then find nothing to do.
    conns = [await asyncpg.connect(pg_dsn) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    assert sorted(results) == [[], [], list(range(1, LATEST + 1))]


async def test_failed_file_rolls_back_the_whole_run(conn: asyncpg.Connection) -> None:
    broken = (*ALL, Migration(LATEST + 1, "broken", "CREATE TABLE doomed (); SELECT 1 / 0;"))
    with pytest.raises(asyncpg.DivisionByZeroError):
        await migrate(conn, migrations=broken)
    assert await schema_version(conn) == 0
    assert await tables(conn) == set()


async def test_unknown_history_is_refused(conn: asyncpg.Connection) -> None:
    await migrate(conn)
    await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')")
    with pytest.raises(MigrationError, match="not a prefix"):
        await migrate(conn)


async def test_renamed_file_is_refused(conn: asyncpg.Connection) -> None:
    await migrate(conn, target=1)
    renamed = (Migration(1, "renamed", ALL[0].sql), *ALL[1:])
    with pytest.raises(MigrationError, match="not a prefix"):
        await migrate(conn, migrations=renamed)


@pytest.mark.parametrize("target", [-1, LATEST + 1])
async def test_unknown_target_is_refused(conn: asyncpg.Connection, target: int) -> None:
    with pytest.raises(MigrationError, match="target"):
        await migrate(conn, target=target)


async def test_no_down_migrations(conn: asyncpg.Connection) -> None:
    await migrate(conn)
    with pytest.raises(MigrationError, match="no down migrations"):
        await migrate(conn, target=1)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["0001_a.sql", "0003_c.sql"], "without gaps"),
        (["0001_a.sql", "1_b.sql"], "NNNN_name.sql"),
        (["0002_b.sql"], "without gaps"),
    ],
)
def test_malformed_file_sets_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: list[str], message: str
) -> None:
    package = tmp_path / "fake_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "README.txt").write_text("ignored")
    for name in files:
        (package / name).write_text("SELECT 1;")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_migrations", raising=False)
    with pytest.raises(MigrationError, match=message):
        load_migrations("fake_migrations")


# -- what the schema itself guarantees ---------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET type = 'rewritten'",
        "DELETE FROM events",
        "TRUNCATE events",
    ],
)
async def test_events_are_append_only(conn: asyncpg.Connection, statement: str) -> None:
    await migrate(conn)
    await conn.execute("INSERT INTO events VALUES ('a', 1, 't', 0, '\\x00'::bytea)")
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await conn.execute(statement)
    assert await conn.fetchval("SELECT type FROM events") == "t"


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO events VALUES ('a', 0, 't', 0, '')",
        "INSERT INTO auctions VALUES ('a', 'english', 'paused', 0, '{}')",
        "INSERT INTO parties VALUES ('p', 'admin', 'P', 0)",
        "INSERT INTO tokens VALUES ('t', 'nobody', 'bidder', NULL, 1, 1, false)",
        "INSERT INTO tokens VALUES ('t', 'nobody', 'bidder', NULL, 0, 1, true)",
        "INSERT INTO idempotency_keys VALUES ('p', 'k', '', 200, NULL, 0)",
    ],
    ids=["seq-0", "status", "role", "token-expiry", "revoked-without-time", "half-response"],
)
async def test_constraints(conn: asyncpg.Connection, statement: str) -> None:
    await migrate(conn)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await conn.execute(statement)


async def test_0003_keeps_tokens_and_keys_and_frees_tokens_from_foreign_keys(
    conn: asyncpg.Connection,
) -> None:
    await migrate(conn, target=2)
    await conn.execute("INSERT INTO parties VALUES ('p', 'bidder', 'P', 0)")
    await conn.execute("INSERT INTO tokens VALUES ('t', 'p', 'bidder', NULL, 0, 1, false)")
    await conn.execute("INSERT INTO idempotency_keys VALUES ('p', 'k', '\\x00', 201, '{}', 5)")
    await migrate(conn, target=3)
    token = await conn.fetchrow("SELECT * FROM tokens")
    assert (token["id"], token["revoked"], token["revoked_at"]) == ("t", False, None)
    key = await conn.fetchrow("SELECT * FROM idempotency_keys")
    assert (key["status_code"], key["response_headers"], key["first_seq"]) == (201, None, None)
    # A token for a party and an auction the server has no row for.
    await conn.execute("INSERT INTO tokens VALUES ('u', 'nobody', 'observer', 'a-9', 0, 1, false)")
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            "UPDATE idempotency_keys SET first_seq = 3, last_seq = 2 WHERE key = 'k'"
        )
