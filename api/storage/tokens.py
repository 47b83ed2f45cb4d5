"""Issued credentials: a row per token, and its revocation. The port (:class:`TokenStore`)
and its PostgreSQL adapter (:class:`PostgresTokenStore`, the ``tokens`` table); the
in-memory adapter is :class:`~api.storage.memory.MemoryTokenStore`, and both pass the
contract suite in ``tests/api/storage/test_tokens.py``.

Tokens are verified by signature alone (:mod:`api.access.auth`), so a row is not needed to
*accept* a token; it is what lets an officer or an operator *refuse* one before it
expires. The server keeps the ids of the revoked tokens that have not expired in memory
(:meth:`TokenStore.revoked`, loaded once at start-up, then updated by each revoke), so
the check on every request is a set lookup, not a query.

Several server processes on one database: each loads the set at start-up and learns
of later revocations through ``NOTIFY gavel_token_revoked`` (:data:`REVOKED_CHANNEL`),
which :meth:`PostgresTokenStore.revoke` sends in the revoking transaction; a process listens
with :func:`api.access.revocations.keep_current` (a listener that survives a restart of
PostgreSQL and reads :meth:`TokenStore.revoked` again after each reconnection).

Times are microseconds on the server's wall clock, as everywhere in storage. Call
order: ``record`` when a token is issued (before it is handed out), ``revoke`` (one token)
or ``revoke_party`` (every live token of a party bound to an auction or tender: an
officer's "revoke access") at any time, ``revoked`` at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import asyncpg

__all__ = ["REVOKED_CHANNEL", "PostgresTokenStore", "TokenRow", "TokenStore"]

#: The PostgreSQL notification channel a revocation is announced on (payload: the jti).
REVOKED_CHANNEL = "gavel_token_revoked"


@dataclass(frozen=True, slots=True)
class TokenRow:
    """One issued token as recorded. ``auction_id`` ``None``: not bound to one auction."""

    jti: str
    party_id: str
    role: str
    auction_id: str | None
    issued_at: int
    expires_at: int
    revoked_at: int | None = None
    revoked_by: str | None = None

    @property
    def revoked(self) -> bool:
        """Whether the token was revoked."""
        return self.revoked_at is not None


_COLUMNS = "id, party_id, role, auction_id, issued_at, expires_at, revoked_at, revoked_by"

# The first revocation's time and author are kept: revoking again changes nothing.
_REVOKE = f"""
UPDATE tokens SET revoked = true, revoked_at = $2, revoked_by = $3
WHERE id = $1 AND NOT revoked
RETURNING {_COLUMNS}
"""


def _row(record: asyncpg.Record) -> TokenRow:
    return TokenRow(*record)


class TokenStore(Protocol):
    """The storage port of issued tokens. A token is recorded once; a revocation keeps
    its first time and author; rows are never removed."""

    async def record(self, rows: list[TokenRow]) -> None:
        """Record ``rows`` (issued tokens, not revoked), all or nothing."""
        ...

    async def get(self, jti: str) -> TokenRow | None:
        """The row of token ``jti``, or ``None``. O(log n)."""
        ...

    async def revoke(self, jti: str, *, at: int, by: str) -> TokenRow | None:
        """Mark ``jti`` revoked at ``at`` by ``by`` (once: a second call keeps the first
        time and author); the row as revoked, or ``None`` for an unknown jti. Other
        processes learn of it (PostgreSQL: ``NOTIFY`` on :data:`REVOKED_CHANNEL`)."""
        ...

    async def revoked(self, now: int) -> dict[str, int]:
        """``{jti: expires_at}`` of every revoked token not expired at ``now``."""
        ...

    async def issued_to(self, party_id: str, auction_id: str) -> int:
        """How many tokens were ever issued to ``party_id`` bound to ``auction_id``
        (revoked and expired ones too). O(k) for the party's k tokens."""
        ...

    async def revoke_party(
        self, party_id: str, auction_id: str, *, at: int, by: str, alive_after: int | None = None
    ) -> list[TokenRow]:
        """Revoke at ``at`` by ``by`` every token of ``party_id`` bound to ``auction_id``
        that is not revoked and expires after ``alive_after`` (default ``at``; a verifier
        with leeway passes less); the rows as revoked, by issue time (none on a second
        call). Atomic; other processes learn of each (PostgreSQL: one ``NOTIFY`` on
        :data:`REVOKED_CHANNEL` per jti). O(k) for the party's k tokens."""
        ...


class PostgresTokenStore:
    """:class:`TokenStore` in the ``tokens`` table on an asyncpg pool (migration 0003 or
    later)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, rows: list[TokenRow]) -> None:
        """Insert ``rows`` (issued tokens) in one statement. O(len(rows))."""
        if not rows:
            return
        await self._pool.executemany(
            "INSERT INTO tokens (id, party_id, role, auction_id, issued_at, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [(r.jti, r.party_id, r.role, r.auction_id, r.issued_at, r.expires_at) for r in rows],
        )

    async def get(self, jti: str) -> TokenRow | None:
        """The row of token ``jti``, or ``None``. One primary key probe."""
        record = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM tokens WHERE id = $1", jti)
        return None if record is None else _row(record)

    async def revoke(self, jti: str, *, at: int, by: str) -> TokenRow | None:
        """Mark ``jti`` revoked (once: a second call keeps the first time and author).

        Returns the row as revoked, or ``None`` for an unknown jti. Notifies
        :data:`REVOKED_CHANNEL` in the same transaction when the row changed. One
        transaction.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            record = await conn.fetchrow(_REVOKE, jti, at, by)
            if record is not None:
                await conn.execute("SELECT pg_notify($1, $2)", REVOKED_CHANNEL, jti)
            else:
                record = await conn.fetchrow(f"SELECT {_COLUMNS} FROM tokens WHERE id = $1", jti)
        return None if record is None else _row(record)

    async def revoked(self, now: int) -> dict[str, int]:
        """``{jti: expires_at}`` of every revoked token not expired at ``now``."""
        records = await self._pool.fetch(
            "SELECT id, expires_at FROM tokens WHERE revoked AND expires_at > $1", now
        )
        return {str(r[0]): int(r[1]) for r in records}

    async def issued_to(self, party_id: str, auction_id: str) -> int:
        """See :meth:`TokenStore.issued_to`: one count by the ``tokens_party`` index."""
        count = await self._pool.fetchval(
            "SELECT count(*) FROM tokens WHERE party_id = $1 AND auction_id = $2",
            party_id,
            auction_id,
        )
        return int(count)

    async def revoke_party(
        self, party_id: str, auction_id: str, *, at: int, by: str, alive_after: int | None = None
    ) -> list[TokenRow]:
        """See :meth:`TokenStore.revoke_party`: one conditional ``UPDATE`` (by the
        ``tokens_party`` index) and its notifications, in one transaction."""
        after = at if alive_after is None else alive_after
        async with self._pool.acquire() as conn, conn.transaction():
            records = await conn.fetch(
                "UPDATE tokens SET revoked = true, revoked_at = $3, revoked_by = $4"
                " WHERE party_id = $1 AND auction_id = $2 AND NOT revoked AND expires_at > $5"
                f" RETURNING {_COLUMNS}",
                party_id,
                auction_id,
                at,
                by,
                after,
            )
            rows = sorted((_row(r) for r in records), key=lambda row: (row.issued_at, row.jti))
            for row in rows:
                await conn.execute("SELECT pg_notify($1, $2)", REVOKED_CHANNEL, row.jti)
        return rows
