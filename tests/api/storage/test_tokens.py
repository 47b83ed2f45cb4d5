"""Issued tokens in storage (:mod:`api.storage.tokens`): the port's contract over every adapter.

:class:`TokenStoreContract` states the behaviour of :class:`~api.storage.tokens.TokenStore`
once; each adapter subclasses it and provides the ``store`` fixture. PostgreSQL's own
part, the ``NOTIFY`` a revocation sends, is checked at the end.
"""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.errors import StorageMisuse
from api.storage.memory import MemoryTokenStore
from api.storage.tokens import REVOKED_CHANNEL, PostgresTokenStore, TokenRow, TokenStore

NOW = 1_800_000_000_000_000
HOUR = 3_600_000_000


def row(jti: str, expires_at: int = NOW + HOUR, auction: str | None = "a-1") -> TokenRow:
    return TokenRow(jti, f"party-{jti}", "bidder", auction, NOW - HOUR, expires_at)


class TokenStoreContract:
    """Every adapter of the token port must pass these tests."""

    @pytest.fixture
    def store(self) -> TokenStore:
        raise NotImplementedError

    async def test_recorded_rows_read_back(self, store: TokenStore) -> None:
        await store.record([row("t-1"), row("t-2", auction=None)])
        await store.record([])
        assert await store.get("t-1") == row("t-1")
        assert await store.get("t-2") == row("t-2", auction=None)
        assert await store.get("t-3") is None
        assert not row("t-1").revoked

    async def test_revoke_once(self, store: TokenStore) -> None:
        await store.record([row("t-1")])
        revoked = await store.revoke("t-1", at=NOW, by="officer-1")
        assert revoked is not None and revoked.revoked
        assert (revoked.revoked_at, revoked.revoked_by) == (NOW, "officer-1")
        # Again: the first time and author stay.
        assert await store.revoke("t-1", at=NOW + 5, by="operator") == revoked
        assert await store.get("t-1") == revoked
        assert await store.revoke("nope", at=NOW, by="officer-1") is None

    async def test_revoked_lists_the_unexpired_only(self, store: TokenStore) -> None:
        await store.record([row("live"), row("old", expires_at=NOW - 1), row("kept")])
        assert await store.revoked(NOW) == {}
        for jti in ("live", "old"):
            await store.revoke(jti, at=NOW - 10, by="officer-1")
        assert await store.revoked(NOW) == {"live": NOW + HOUR}
        assert await store.revoked(NOW - 2) == {"live": NOW + HOUR, "old": NOW - 1}
        assert await store.revoked(NOW + HOUR) == {}


class TestMemoryTokenStore(TokenStoreContract):
    @pytest.fixture
    def store(self) -> TokenStore:
        return MemoryTokenStore()


class TestPostgresTokenStore(TokenStoreContract):
    @pytest.fixture
    def store(self, pg_pool: asyncpg.Pool) -> TokenStore:
        return PostgresTokenStore(pg_pool)


async def test_memory_records_a_jti_once() -> None:
    store = MemoryTokenStore()
    await store.record([row("t-1")])
    for rows in ([row("t-1")], [row("t-2"), row("t-2")]):
        with pytest.raises(StorageMisuse):
            await store.record(rows)
    assert await store.get("t-2") is None


async def test_postgres_notifies_each_revocation_once(pg_pool: asyncpg.Pool, pg_dsn: str) -> None:
    store = PostgresTokenStore(pg_pool)
    await store.record([row("t-1")])
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(pg_dsn)
    try:
        await listener.add_listener(REVOKED_CHANNEL, lambda *args: heard.put_nowait(args[-1]))
        await store.revoke("t-1", at=NOW, by="officer-1")
        await store.revoke("t-1", at=NOW, by="officer-1")
        assert await asyncio.wait_for(heard.get(), 5) == "t-1"
        await asyncio.sleep(0.1)
        assert heard.empty()
    finally:
        await listener.close()
