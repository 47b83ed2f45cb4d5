"""Revoking a party's access in storage: every live token of a party bound to one auction
(:meth:`~api.storage.tokens.TokenStore.revoke_party`) and its links not used yet
(:meth:`~api.storage.invitations.InvitationStore.withdraw`), stated once as contracts and
run against every adapter; then what only PostgreSQL shows: one notification per token,
a withdrawal racing a redeem, and the table refusing any other change of a withdrawn row.
"""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.errors import StorageMisuse
from api.storage.invitations import (
    Invitation,
    InvitationStore,
    PostgresInvitationStore,
    RedeemOutcome,
    check_invitation,
    code_hash,
    outcome_of,
)
from api.storage.memory import MemoryInvitationStore, MemoryTokenStore
from api.storage.tokens import REVOKED_CHANNEL, PostgresTokenStore, TokenRow, TokenStore

T0 = 1_800_000_000_000_000
HOUR = 3_600_000_000


def token(jti: str, party: str = "p1", auction: str | None = "a-1", **kw: int) -> TokenRow:
    issued = kw.get("issued", T0 - HOUR)
    return TokenRow(jti, party, "bidder", auction, issued, kw.get("expires", T0 + HOUR))


def invitation(
    code: str, *, party: str = "p1", auction: str = "a-1", created: int = T0, life: int = HOUR
) -> Invitation:
    return Invitation(
        code_hash(code), auction, party, "bidder", "o1", created, created + life, None
    )


def test_withdrawn_is_why_a_row_cannot_be_redeemed() -> None:
    row = dataclasses.replace(invitation("c"), withdrawn_at=T0, withdrawn_by="o1")
    assert row.withdrawn and not invitation("c").withdrawn
    assert outcome_of(row, T0) is RedeemOutcome.WITHDRAWN
    # Withdrawn wins over expired: the officer's act is what the supplier should hear.
    assert outcome_of(row, T0 + 2 * HOUR) is RedeemOutcome.WITHDRAWN
    with pytest.raises(StorageMisuse, match="not withdrawn"):
        check_invitation(row)


class TokensContract:
    """Every adapter of the token port revokes a party's tokens alike."""

    @pytest.fixture
    def store(self) -> TokenStore:
        raise NotImplementedError

    async def test_every_live_token_of_the_party_in_the_auction(self, store: TokenStore) -> None:
        await store.record(
            [
                token("t-2", issued=T0 - 10),
                token("t-1", issued=T0 - 20),
                token("other-party", party="p2"),
                token("other-auction", auction="a-2"),
                token("unbound", auction=None),
                token("expired", expires=T0 - 1),
                token("already"),
            ]
        )
        first = await store.revoke("already", at=T0 - 5, by="o0")
        revoked = await store.revoke_party("p1", "a-1", at=T0, by="o1")
        assert [row.jti for row in revoked] == ["t-1", "t-2"]  # by issue time
        assert all((r.revoked_at, r.revoked_by) == (T0, "o1") for r in revoked)
        for jti in ("other-party", "other-auction", "unbound", "expired"):
            found = await store.get(jti)
            assert found is not None and not found.revoked, jti
        assert await store.get("already") == first  # its first revocation stays
        # Again: nothing more; the first time and author stay.
        assert await store.revoke_party("p1", "a-1", at=T0 + 1, by="o2") == []
        assert await store.get("t-1") == revoked[0]
        assert set(await store.revoked(T0)) == {"t-1", "t-2", "already"}

    async def test_a_token_expired_within_the_leeway(self, store: TokenStore) -> None:
        await store.record(
            [token("just", expires=T0 - 1), token("long", issued=T0 - 2 * HOUR, expires=T0 - HOUR)]
        )
        revoked = await store.revoke_party("p1", "a-1", at=T0, by="o1", alive_after=T0 - 60)
        assert [row.jti for row in revoked] == ["just"]

    async def test_an_unknown_party_revokes_nothing(self, store: TokenStore) -> None:
        assert await store.revoke_party("nobody", "a-1", at=T0, by="o1") == []

    async def test_how_many_were_issued_to_a_party(self, store: TokenStore) -> None:
        await store.record([token("t-1"), token("t-2"), token("x", auction="a-2")])
        await store.revoke_party("p1", "a-1", at=T0, by="o1")
        assert await store.issued_to("p1", "a-1") == 2  # revoked ones count
        assert await store.issued_to("p1", "a-2") == 1
        assert await store.issued_to("p2", "a-1") == 0


class TestMemoryTokens(TokensContract):
    @pytest.fixture
    def store(self) -> TokenStore:
        return MemoryTokenStore()


class TestPostgresTokens(TokensContract):
    @pytest.fixture
    def store(self, pg_pool: asyncpg.Pool) -> TokenStore:
        return PostgresTokenStore(pg_pool)


class WithdrawContract:
    """Every adapter of the invitation port withdraws a party's open links alike."""

    @pytest.fixture
    def store(self) -> InvitationStore:
        raise NotImplementedError

    async def test_the_open_links_of_the_party_only(self, store: InvitationStore) -> None:
        rows = {
            "open-old": invitation("open-old", created=T0 - 10),
            "open-new": invitation("open-new", created=T0 - 5),
            "used": invitation("used"),
            "expired": invitation("expired", created=T0 - 2 * HOUR),
            "other-party": invitation("other-party", party="p2"),
            "other-auction": invitation("other-auction", auction="a-2"),
        }
        for row in rows.values():
            await store.issue(row)
        await store.redeem(rows["used"].code_hash, at=T0, jti="j-used")
        withdrawn = await store.withdraw("a-1", "p1", at=T0 + 1, by="o9")
        assert [row.code_hash for row in withdrawn] == [
            rows["open-new"].code_hash,
            rows["open-old"].code_hash,
        ]  # newest first
        for row in withdrawn:
            assert (row.withdrawn_at, row.withdrawn_by) == (T0 + 1, "o9")
            assert await store.get(row.code_hash) == row
            refused = await store.redeem(row.code_hash, at=T0 + 2, jti="late")
            assert (refused.outcome, refused.invitation) == (RedeemOutcome.WITHDRAWN, row)
        for name in ("used", "expired", "other-party", "other-auction"):
            found = await store.get(rows[name].code_hash)
            assert found is not None and not found.withdrawn, name
        assert (await store.redeem(rows["other-party"].code_hash, at=T0 + 2, jti="j2")).outcome is (
            RedeemOutcome.REDEEMED
        )
        # Again: nothing more, the first time and author stay.
        assert await store.withdraw("a-1", "p1", at=T0 + 3, by="o8") == []
        assert await store.get(rows["open-old"].code_hash) == withdrawn[1]
        listed = await store.for_auction("a-1")
        assert {row.code_hash for row in listed if row.withdrawn} == {
            rows["open-old"].code_hash,
            rows["open-new"].code_hash,
        }

    async def test_a_withdrawal_names_who(self, store: InvitationStore) -> None:
        await store.issue(invitation("c"))
        with pytest.raises(StorageMisuse):
            await store.withdraw("a-1", "p1", at=T0, by="")
        found = await store.get(code_hash("c"))
        assert found is not None and not found.withdrawn


class TestMemoryWithdraw(WithdrawContract):
    @pytest.fixture
    def store(self) -> InvitationStore:
        return MemoryInvitationStore()


class TestPostgresWithdraw(WithdrawContract):
    @pytest.fixture
    def store(self, pg_pool: asyncpg.Pool) -> InvitationStore:
        return PostgresInvitationStore(pg_pool)


async def test_postgres_notifies_each_token_of_the_party(
    pg_pool: asyncpg.Pool, pg_dsn: str
) -> None:
    store = PostgresTokenStore(pg_pool)
    await store.record([token("t-1"), token("t-2"), token("t-3", party="p2")])
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(pg_dsn)
    try:
        await listener.add_listener(REVOKED_CHANNEL, lambda *args: heard.put_nowait(args[-1]))
        await store.revoke_party("p1", "a-1", at=T0, by="o1")
        await store.revoke_party("p1", "a-1", at=T0, by="o1")
        got = {await asyncio.wait_for(heard.get(), 5) for _ in range(2)}
        assert got == {"t-1", "t-2"}
        await asyncio.sleep(0.1)
        assert heard.empty()
    finally:
        await listener.close()


async def test_postgres_a_withdrawal_and_a_redeem_race(pg_dsn: str, pg_pool: asyncpg.Pool) -> None:
    """On separate backends at once: each round the row ends either used (the redeem
    won, nothing withdrawn) or withdrawn (the redeem answers WITHDRAWN), never both."""
    pools = [await asyncpg.create_pool(pg_dsn, min_size=1, max_size=1) for _ in range(2)]
    try:
        a, b = (PostgresInvitationStore(pool) for pool in pools)
        for round_ in range(15):
            row = invitation(f"race-{round_}", party=f"p{round_}")
            await a.issue(row)
            redeemed, withdrawn = await asyncio.gather(
                a.redeem(row.code_hash, at=T0, jti=f"j{round_}"),
                b.withdraw("a-1", f"p{round_}", at=T0, by="o1"),
            )
            stored = await a.get(row.code_hash)
            assert stored is not None and not (stored.used and stored.withdrawn)
            if redeemed.outcome is RedeemOutcome.REDEEMED:
                assert withdrawn == [] and stored.used
            else:
                assert redeemed.outcome is RedeemOutcome.WITHDRAWN
                assert withdrawn == [stored]
    finally:
        for pool in pools:
            await pool.close()


async def test_postgres_a_withdrawn_row_changes_no_more(pg_pool: asyncpg.Pool) -> None:
    store = PostgresInvitationStore(pg_pool)
    await store.issue(invitation("w"))
    await store.issue(invitation("u", party="p2"))
    await store.redeem(code_hash("u"), at=T0, jti="j-u")
    with pytest.raises(asyncpg.RestrictViolationError):  # a used row is never withdrawn
        await pg_pool.execute(
            "UPDATE invitations SET withdrawn_at = 1, withdrawn_by = 'o' WHERE party = 'p2'"
        )
    with pytest.raises(asyncpg.CheckViolationError):  # when and who, together
        await pg_pool.execute("UPDATE invitations SET withdrawn_at = 1 WHERE party = 'p1'")
    with pytest.raises(asyncpg.RestrictViolationError):  # nothing else with it
        await pg_pool.execute(
            "UPDATE invitations SET withdrawn_at = 1, withdrawn_by = 'o', party = 'x'"
            " WHERE party = 'p1'"
        )
    [row] = await store.withdraw("a-1", "p1", at=T0, by="o1")
    for sql in (
        "UPDATE invitations SET withdrawn_at = NULL, withdrawn_by = NULL WHERE party = 'p1'",
        "UPDATE invitations SET withdrawn_by = 'o2' WHERE party = 'p1'",
        "UPDATE invitations SET used_at = 5, jti = 'j' WHERE party = 'p1'",
        "DELETE FROM invitations WHERE party = 'p1'",
    ):
        with pytest.raises(asyncpg.RestrictViolationError):
            await pg_pool.execute(sql)
    assert await store.get(code_hash("w")) == row
