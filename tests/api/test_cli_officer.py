"""``gavel officer`` and ``gavel db`` (issue 15): the first officer without the demo, and
the database's backup, on a real PostgreSQL and a real server.

Every command runs as the operator runs it: ``python -m api.cli …`` in a child process,
with the environment the server has (``DATABASE_URL``, ``GAVEL_SIGNING_KEY`` or the key
file in ``GAVEL_DATA_DIR``). The token ``officer add`` prints must work against the
running server (an auction created with it), be listed, and, once revoked, be refused by
that server without a restart. The dump is made by the wheel's ``pg_dump`` and restored
by the wheel's tools into a fresh database with every event intact.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from api import cli
from api.access.auth import load_or_create_signing_key
from api.storage.dump import WHEEL_BIN, split_password
from api.storage.embedded import start_embedded
from api.storage.postgres import dsn_with_database
from loadtests.server_process import ServerProcess
from tests.api.conftest import Live

ROOT = Path(__file__).resolve().parents[2]
S = 1_000_000


def run_gavel(*argv: object, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m api.cli ARGV`` in a child process with exactly ``env`` on top of PATH."""
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *map(str, argv)],
        env={"PATH": os.environ.get("PATH", ""), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def gavel(*argv: object, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``gavel ARGV`` as :func:`run_gavel` runs it, but in this process (a child's start
    costs most of a second): ``os.environ`` is exactly ``env`` on top of PATH meanwhile,
    stdout and stderr are captured, and it runs in a thread of its own so that its
    ``asyncio.run`` does not meet the test's running loop."""
    out, err = io.StringIO(), io.StringIO()
    box: dict[str, int] = {}

    def work() -> None:
        try:
            box["status"] = cli.main([str(arg) for arg in argv])
        except SystemExit as exit:  # argparse's refusals
            box["status"] = int(exit.code or 0)

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({"PATH": saved.get("PATH", ""), **env})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            thread = threading.Thread(target=work)
            thread.start()
            thread.join()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(list(argv), box["status"], out.getvalue(), err.getvalue())


def refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2, nothing on stdout, one line on stderr naming ``words``."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for word in words:
        assert word in done.stderr


def server_env(server: Live, data_dir: Path) -> dict[str, str]:
    """What the server runs with: its database, its key, a data directory."""
    process = server.process
    assert process.database_url is not None
    return {
        "DATABASE_URL": process.database_url,
        "GAVEL_SIGNING_KEY": base64.b64encode(process.key.private_bytes_raw()).decode(),
        "GAVEL_DATA_DIR": str(data_dir),
    }


def rules(duration_s: int = 900) -> dict[str, Any]:
    starts = time.time_ns() // 1000 + S // 2
    return {
        "format": "reverse",
        "currency": "AZN",
        "starts_at": starts,
        "ends_at": starts + duration_s * S,
        "start_price": "1000.00",
        "step": {"amount": "10.00"},
    }


async def create_auction(server: Live, token: str) -> tuple[int, str]:
    auction_id = f"a-{uuid.uuid4().hex[:10]}"
    reply = await server.post("/api/v1/auctions", {"id": auction_id, "rules": rules()}, token)
    return reply.status, auction_id


def minted(done: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """The token ``officer add`` printed (its only stdout line) and its jti."""
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    token = lines[0]
    assert token not in done.stderr  # printed once, on stdout only
    payload = token.split(".")[0]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["role"] == "officer" and claims["auction"] is None
    return token, str(claims["jti"])


def listed(done: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split("\t")[0] == "jti"
    return {row.split("\t")[0]: row.split("\t") for row in rows}


# ---------------------------------------------------------------------- officer add


async def test_the_minted_officer_creates_an_auction_is_listed_and_revocable(
    server: Live, tmp_path: Path
) -> None:
    env = server_env(server, tmp_path)
    # As the operator runs it: a child process.
    token, jti = minted(
        run_gavel("officer", "add", "--name", "first-officer", "--ttl", "2h", env=env)
    )
    status, auction_id = await create_auction(server, token)
    assert status == 201
    assert (await server.state(auction_id, token))["phase"] in ("scheduled", "running")

    rows = listed(gavel("officer", "list", env=env))
    assert rows[jti][1:3] == ["officer", "first-officer"]
    assert rows[jti][3] == "-" and rows[jti][-1] == "active"
    issued = time.strptime(rows[jti][4], "%Y-%m-%dT%H:%M:%SZ")
    expires = time.strptime(rows[jti][5], "%Y-%m-%dT%H:%M:%SZ")
    assert 7190 <= time.mktime(expires) - time.mktime(issued) <= 7210

    done = gavel("officer", "revoke", jti, "--by", "ops", env=env)
    assert done.returncode == 0, done.stderr
    assert "revoked" in done.stdout and "by ops" in done.stdout
    # The running server learns of it (NOTIFY) and refuses the token from then on.
    deadline = time.monotonic() + 10
    while True:
        reply = await server.get(f"/api/v1/auctions/{auction_id}", token)
        if reply.status == 401:
            assert reply.code == "token_revoked"
            break
        assert reply.status == 200 and time.monotonic() < deadline
        time.sleep(0.05)
    assert jti not in listed(gavel("officer", "list", env=env))
    assert listed(gavel("officer", "list", "--all", env=env))[jti][-1].startswith("revoked ")


async def test_add_runs_the_migrations_on_a_fresh_database_url(
    server: Live, pg_dsn: str, tmp_path: Path
) -> None:
    # A DATABASE_URL nobody has served yet: the token is recorded there all the same.
    env = {**server_env(server, tmp_path), "DATABASE_URL": pg_dsn}
    _, jti = minted(gavel("officer", "add", env=env))
    connection = await asyncpg.connect(pg_dsn)
    try:
        row = await connection.fetchrow("SELECT party_id, role FROM tokens WHERE id = $1", jti)
    finally:
        await connection.close()
    assert tuple(row) == ("officer", "officer")


# ---------------------------------------------------------------------- refusals


def test_no_signing_key_is_refused(server: Live, tmp_path: Path) -> None:
    env = server_env(server, tmp_path / "elsewhere")
    del env["GAVEL_SIGNING_KEY"]
    done = gavel("officer", "add", "--data-dir", tmp_path, env=env)
    refused(done, "no signing key", f"{tmp_path}/signing-key.pem")
    assert not (tmp_path / "signing-key.pem").exists()  # never created here


def test_a_key_others_may_read_is_refused(server: Live, tmp_path: Path) -> None:
    env = server_env(server, tmp_path)
    del env["GAVEL_SIGNING_KEY"]
    load_or_create_signing_key(tmp_path / "signing-key.pem")
    (tmp_path / "signing-key.pem").chmod(0o644)
    refused(gavel("officer", "add", env=env), "unusable signing key", "chmod 600")


def test_a_bad_signing_key_variable_is_refused(server: Live, tmp_path: Path) -> None:
    env = {**server_env(server, tmp_path), "GAVEL_SIGNING_KEY": "not a key"}
    refused(gavel("officer", "add", env=env), "unusable signing key")


def test_no_database_is_refused(tmp_path: Path) -> None:
    # No DATABASE_URL and no embedded data directory: nothing is initialised.
    load_or_create_signing_key(tmp_path / "signing-key.pem")
    env = {"GAVEL_DATA_DIR": str(tmp_path)}
    for argv in (("officer", "add"), ("officer", "list"), ("db", "dump", "-o", tmp_path / "d")):
        refused(gavel(*argv, env=env), "no database", "DATABASE_URL")
    assert not (tmp_path / "postgres").exists()
    assert not (tmp_path / "d").exists()


def test_an_unreachable_database_is_refused_without_its_password(
    server: Live, tmp_path: Path
) -> None:
    env = {
        **server_env(server, tmp_path),
        "DATABASE_URL": "postgresql://gavel:s3cret-pw@127.0.0.1:1/gavel",
    }
    for argv in (("officer", "add"), ("officer", "revoke", "x")):
        done = gavel(*argv, env=env)
        refused(done, "cannot reach the database", "127.0.0.1:1")
        assert "s3cret-pw" not in done.stderr


def test_revoking_an_unknown_jti_is_refused(server: Live, tmp_path: Path) -> None:
    refused(
        gavel("officer", "revoke", "no-such-jti", env=server_env(server, tmp_path)),
        "no token with jti 'no-such-jti'",
    )


def test_a_jti_beginning_with_a_dash_is_taken_after_double_dash(
    server: Live, tmp_path: Path
) -> None:
    # Ids minted before new_jti ruled a leading "-" out are still revocable this way.
    refused(
        gavel(
            "officer", "revoke", "--by", "ops", "--", "-LuyGCd6", env=server_env(server, tmp_path)
        ),
        "no token with jti '-LuyGCd6'",
    )


@pytest.mark.parametrize("ttl", ["0", "-5", "1w", "soon"])
def test_a_bad_lifetime_is_refused(server: Live, tmp_path: Path, ttl: str) -> None:
    done = gavel("officer", "add", "--ttl", ttl, env=server_env(server, tmp_path))
    assert done.returncode == 2 and done.stdout == ""
    assert "not a duration" in done.stderr


def test_an_empty_name_is_refused(server: Live, tmp_path: Path) -> None:
    refused(gavel("officer", "add", "--name", " ", env=server_env(server, tmp_path)), "--name")


def test_restoring_a_missing_file_is_refused(tmp_path: Path) -> None:
    refused(gavel("db", "restore", tmp_path / "nope.dump", env={}), "no dump at")


# ---------------------------------------------------------------------- db dump


async def _rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    connection = await asyncpg.connect(dsn)
    try:
        return [tuple(record) for record in await connection.fetch(query)]
    finally:
        await connection.close()


EVENTS = "SELECT * FROM events ORDER BY auction_id, seq"


@pytest.fixture
async def fresh_databases(pg_server_dsn: str) -> AsyncIterator[list[str]]:
    """Two fresh empty databases on the session's server; dropped afterwards."""
    names = [f"gavel_restore_{os.getpid()}_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        yield [dsn_with_database(pg_server_dsn, name) for name in names]
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_dump_restores_into_a_fresh_database_with_the_events_intact(
    server: Live, tmp_path: Path, fresh_databases: list[str]
) -> None:
    assert (WHEEL_BIN / "pg_dump").is_file()  # the wheel's own, never a system one
    auction_id = await server.create(rules())
    for party in ("ann", "bob"):
        await server.register(auction_id, party)
    env = server_env(server, tmp_path)
    source = env["DATABASE_URL"]
    events = await _rows(source, EVENTS)
    assert any(row for row in events if auction_id in row)

    custom, plain = tmp_path / "gavel.dump", tmp_path / "gavel.sql"
    done = gavel("db", "dump", "--output", custom, env=env)
    assert done.returncode == 0, done.stderr
    assert custom.read_bytes()[:5] == b"PGDMP"
    done = gavel("db", "dump", "-o", plain, "--format", "plain", env=env)
    assert done.returncode == 0, done.stderr
    assert "CREATE TABLE public.events" in plain.read_text()

    for dump, target in zip((custom, plain), fresh_databases, strict=True):
        done = gavel("db", "restore", dump, "--into", target, env={})
        assert done.returncode == 0, done.stderr
        # The server keeps appending (auctions start) while it is dumped: the restored
        # log holds every event committed before the dump and none that never was.
        restored = await _rows(target, EVENTS)
        assert set(events) <= set(restored) <= set(await _rows(source, EVENTS))
        assert restored == sorted(restored, key=lambda row: (row[0], row[1]))
        assert await _rows(target, "SELECT version, name FROM schema_migrations ORDER BY 1") == (
            await _rows(source, "SELECT version, name FROM schema_migrations ORDER BY 1")
        )

    # Restoring again into a database that has it all: refused, nothing half-loaded.
    before = await _rows(fresh_databases[0], EVENTS)
    done = gavel("db", "restore", custom, "--into", fresh_databases[0], env={})
    assert done.returncode == 1
    assert "nothing was loaded" in done.stderr
    assert await _rows(fresh_databases[0], EVENTS) == before


def test_the_password_goes_to_the_environment_not_the_command_line() -> None:
    assert split_password("postgresql://u:p%40ss@h:5/db?sslmode=require") == (
        "postgresql://u@h:5/db?sslmode=require",
        "p@ss",
    )
    assert split_password("postgresql://u@/db?host=/run/pg&password=x") == (
        "postgresql://u@/db?host=/run/pg",
        "x",
    )
    assert split_password("postgresql://u@h/db") == ("postgresql://u@h/db", None)


# ---------------------------------------------------------------------- embedded


@pytest.fixture
def embedded_var() -> Iterator[Path]:
    """A server's data directory with an embedded PostgreSQL made and stopped, and its
    key file: what ``gavel serve`` leaves behind. Not under pytest's basetemp (see
    :mod:`api.storage.embedded`)."""
    root = Path(tempfile.mkdtemp(prefix="gavel-test-officer-"))
    try:
        with start_embedded(root / "var" / "postgres"):
            pass
        load_or_create_signing_key(root / "var" / "signing-key.pem")
        yield root / "var"
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_on_the_embedded_database_with_the_server_stopped_and_running(
    embedded_var: Path,
) -> None:
    env = {"GAVEL_DATA_DIR": str(embedded_var)}
    # The server is not running: the command starts PostgreSQL and stops it again.
    first, first_jti = minted(run_gavel("officer", "add", "--name", "boot", env=env))
    assert not (embedded_var / "postgres" / "postmaster.pid").exists()

    process = ServerProcess(embedded_var, env={"GAVEL_SIGNING_KEY": ""})
    process.start()
    try:
        live = Live(process)
        status, _ = await create_auction(live, first)
        assert status == 201
        # The server is running: the command shares its PostgreSQL and leaves it up.
        second, second_jti = minted(run_gavel("officer", "add", "--name", "next", env=env))
        status, auction_id = await create_auction(live, second)
        assert status == 201
        assert {first_jti, second_jti} <= set(listed(run_gavel("officer", "list", env=env)))
        dump = embedded_var.parent / "live.dump"
        done = run_gavel("db", "dump", "-o", dump, env=env)
        assert done.returncode == 0, done.stderr
        assert (await live.state(auction_id, second))["id"] == auction_id
        assert process.process is not None and process.process.poll() is None
    finally:
        process.stop()
    assert dump.read_bytes()[:5] == b"PGDMP"
    # Restored into a new data directory (made by the restore), the tokens come back.
    fresh = {"GAVEL_DATA_DIR": str(embedded_var.parent / "restored")}
    done = run_gavel("db", "restore", dump, env=fresh)
    assert done.returncode == 0, done.stderr
    assert {first_jti, second_jti} <= set(listed(run_gavel("officer", "list", env=fresh)))
