"""Ordered, versioned SQL migrations, applied at start-up.

The files live in :mod:`api.storage.migrations` as ``NNNN_name.sql``. :func:`migrate`
applies those not yet recorded in ``schema_migrations(version, name, applied_at)``:

1. one transaction for the whole run, so a failing file leaves the schema as it was;
2. inside it, ``pg_advisory_xact_lock`` first, so two processes starting together
   (Sanic workers, a CLI next to the server) apply each file once, the second then
   finding nothing to do. The lock is released by the commit or the rollback;
3. it refuses a database whose recorded history is not a prefix of the files (a
   version this code does not know, or a name that differs): running on a schema we
   cannot vouch for would corrupt it quietly.

Re-running is a no-op. There are no down migrations: a mistake is fixed by a new file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from api.storage.errors import MigrationError

__all__ = ["MIGRATION_LOCK_KEY", "Migration", "load_migrations", "migrate", "schema_version"]

#: Key of the advisory lock held while migrating ("gavelmig" in ASCII); any other
#: process that migrates the same database waits on it.
MIGRATION_LOCK_KEY = int.from_bytes(b"gavelmig", "big")

_FILE_NAME = re.compile(r"(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: ``version`` counts from 1, ``sql`` is the file's text."""

    version: int
    name: str
    sql: str


def load_migrations(package: str = "api.storage.migrations") -> tuple[Migration, ...]:
    """Read the ``NNNN_name.sql`` files of ``package``, ordered by version.

    Raises :class:`MigrationError` if a ``.sql`` file is misnamed or the versions are
    not exactly 1, 2, …, N. O(N) file reads.
    """
    found: list[Migration] = []
    for entry in resources.files(package).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        found.append(
            Migration(int(match["version"]), match["name"], entry.read_text(encoding="utf-8"))
        )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration versions must be 1..N without gaps, found {versions}")
    return tuple(found)


async def schema_version(conn: asyncpg.Connection | PoolConnectionProxy) -> int:
    """The highest applied migration version, 0 for a database never migrated."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    version: int = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
    return version


async def migrate(
    conn: asyncpg.Connection | PoolConnectionProxy,
    *,
    target: int | None = None,
    migrations: Sequence[Migration] | None = None,
) -> list[int]:
    """Apply the pending migrations up to ``target`` (the latest when ``None``).

    ``conn`` must not be inside a transaction (the run is its own). ``migrations``
    defaults to :func:`load_migrations`. Returns the versions applied by this call, in
    order; ``[]`` when the database was already there.

    Raises :class:`MigrationError` if ``target`` is not a known version or is below
    the database's, or if the recorded history does not match the files; any error
    from a file's SQL propagates after the whole run is rolled back.
    """
    known = tuple(load_migrations() if migrations is None else migrations)
    latest = len(known)
    wanted = latest if target is None else target
    if not 0 <= wanted <= latest:
        raise MigrationError(f"target version {wanted} is not in 0..{latest}")
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(_CREATE_TABLE)
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        recorded = [(int(row["version"]), str(row["name"])) for row in rows]
        expected = [(m.version, m.name) for m in known[: len(recorded)]]
        if recorded != expected:
            raise MigrationError(
                f"the database records migrations {recorded}, which are not a prefix "
                f"of this code's {[(m.version, m.name) for m in known]}"
            )
        if wanted < len(recorded):
            raise MigrationError(
                f"the database is at version {len(recorded)}, above the target {wanted}: "
                "there are no down migrations"
            )
        for migration in known[len(recorded) : wanted]:
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied.append(migration.version)
    return applied
