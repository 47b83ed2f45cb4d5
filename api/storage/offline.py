"""The server's database as the command line reaches it, with or without the server running.

``gavel officer …`` (:mod:`api.access.cli`) and ``gavel db …`` (:mod:`api.storage.dump`)
work on the data ``gavel serve`` uses: ``DATABASE_URL`` when set, otherwise the embedded
PostgreSQL under ``GAVEL_DATA_DIR/postgres`` (default ``./var/postgres``).

The embedded data directory belongs to one postmaster at a time; the library
(:mod:`api.storage.embedded`) reuses the server already running on it (a running
``gavel serve``) and only stops it when its last user lets go. So a command run next to
a running server shares that server's PostgreSQL and leaves it running; run alone, it
starts PostgreSQL for the time it needs and stops it again. It never initialises a new
data directory: a directory that ``gavel serve`` has not created is refused
(:class:`DatabaseMissing`), so a typo in ``GAVEL_DATA_DIR`` does not bootstrap an empty
database beside the real one.

Refusals are one line each, never a password: :class:`DatabaseMissing` (no embedded
data directory) and :class:`DatabaseUnreachable` (``DATABASE_URL`` refused or malformed).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg

from api.settings import Settings
from api.storage.embedded import start_embedded
from api.storage.errors import StorageError
from api.storage.listener import CONNECT_ERRORS, error_line, redact_dsn, scrub_dsn_secrets
from api.storage.migrate import migrate
from api.storage.postgres import create_pool
from api.storage.tokens import TokenRow

__all__ = [
    "DatabaseMissing",
    "DatabaseUnreachable",
    "database_dsn",
    "embedded_data",
    "list_tokens",
    "open_pool",
]

_COLUMNS = "id, party_id, role, auction_id, issued_at, expires_at, revoked_at, revoked_by"


class DatabaseMissing(StorageError):
    """No ``DATABASE_URL`` and no embedded data directory that ``gavel serve`` made."""


class DatabaseUnreachable(StorageError):
    """``DATABASE_URL`` could not be used; the message names it without its password."""


def embedded_data(settings: Settings) -> Path:
    """Where ``gavel serve`` keeps its embedded PostgreSQL for ``settings``."""
    return Path(settings.data_dir) / "postgres"


@contextlib.contextmanager
def database_dsn(settings: Settings) -> Iterator[str]:
    """The DSN of the server's database while the block runs: ``DATABASE_URL``, or the
    embedded server (started if it is not running, let go of afterwards).

    Raises :class:`DatabaseMissing` for an embedded data directory never initialised.
    Blocking (up to about 0.2 s to start the embedded server).
    """
    if settings.database_url:
        yield settings.database_url
        return
    data = embedded_data(settings)
    if not (data / "PG_VERSION").exists():
        raise DatabaseMissing(
            f"no database: DATABASE_URL is unset and {data} holds no embedded PostgreSQL"
            " (run `gavel serve` once to create it, or set DATABASE_URL)"
        )
    with start_embedded(data) as server:
        yield server.dsn


@contextlib.asynccontextmanager
async def open_pool(dsn: str, *, migrated: bool = True) -> AsyncIterator[asyncpg.Pool]:
    """A small pool on ``dsn`` (migrations applied first if ``migrated``, as ``gavel
    serve`` would: a fresh ``DATABASE_URL`` then works before the first start).

    Raises :class:`DatabaseUnreachable` (one line, no password) if it cannot connect.
    """
    try:
        pool = await create_pool(dsn, min_size=1, max_size=2, timeout=10)
    except ValueError as error:
        raise DatabaseUnreachable(
            f"DATABASE_URL {redact_dsn(dsn)} is not a usable PostgreSQL URL:"
            f" {scrub_dsn_secrets(str(error), dsn)}"
        ) from None
    except CONNECT_ERRORS as error:
        raise DatabaseUnreachable(
            f"cannot reach the database {redact_dsn(dsn)}:"
            f" {scrub_dsn_secrets(error_line(error), dsn)}"
        ) from None
    try:
        if migrated:
            async with pool.acquire() as conn:
                await migrate(conn)
        yield pool
    finally:
        await pool.close()


async def list_tokens(
    pool: asyncpg.Pool, *, role: str | None = None, now: int | None = None
) -> list[TokenRow]:
    """Recorded tokens, oldest first: of ``role`` only if given; with ``now`` (µs), only
    those neither expired nor revoked at ``now``. O(rows)."""
    records = await pool.fetch(
        f"SELECT {_COLUMNS} FROM tokens"
        " WHERE ($1::text IS NULL OR role = $1)"
        " AND ($2::bigint IS NULL OR (NOT revoked AND expires_at > $2))"
        " ORDER BY issued_at, id",
        role,
        now,
    )
    return [TokenRow(*record) for record in records]
