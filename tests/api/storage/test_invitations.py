"""The invitation port's contract (:mod:`api.storage.invitations`), run against every adapter.

:class:`InvitationStoreContract` states the behaviour of
:class:`~api.storage.invitations.InvitationStore` once; each adapter subclasses it and
provides the ``store`` fixture (as ``test_checkpoints.py`` does). Then what only
PostgreSQL can show: concurrent redeems from separate connections, and the table
refusing any change but the one redeem.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.storage.errors import StorageError, StorageMisuse
from api.storage.invitations import (
    CODE_BYTES,
    CODE_LENGTH,
    Invitation,
    InvitationStore,
    PostgresInvitationStore,
    Redeemed,
    RedeemOutcome,
    code_hash,
    new_code,
    new_invitation,
    outcome_of,
)
from api.storage.memory import MemoryInvitationStore

T0 = 1_700_000_000_000_000
HOUR = 3_600_000_000


def invitation(code: str = "c", *, party: str = "p1", lifetime: int = HOUR) -> Invitation:
    return Invitation(code_hash(code), "a-1", party, "bidder", "o1", T0, T0 + lifetime, T0 + HOUR)


def test_a_code_is_32_random_bytes_in_base64url() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == CODE_LENGTH
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", code)
        assert len(base64.urlsafe_b64decode(code + "=")) == CODE_BYTES


def test_what_is_stored_is_the_codes_sha256() -> None:
    assert code_hash("abc").hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert len(code_hash(new_code())) == 32
    assert code_hash("\ud800") != code_hash("")  # a lone surrogate is hashed, not a 500


def test_a_new_invitation_is_its_codes_hash() -> None:
    code, made = new_invitation("a-1", "p1", "o1", now=T0, expires_at=T0 + HOUR)
    assert made == Invitation(code_hash(code), "a-1", "p1", "bidder", "o1", T0, T0 + HOUR)
    assert made.kind == "auction"  # by default, as every row before tender invitations
    _, tender = new_invitation("t-1", "p1", "o1", now=T0, expires_at=T0 + HOUR, kind="tender")
    assert tender.kind == "tender"
    other, _ = new_invitation("a-1", "p1", "o1", now=T0, expires_at=T0 + HOUR)
    assert other != code and len(code) == CODE_LENGTH


def test_why_a_row_cannot_be_redeemed() -> None:
    row = invitation()
    assert outcome_of(None, T0) is RedeemOutcome.UNKNOWN
    assert outcome_of(row, T0) is RedeemOutcome.REDEEMED
    assert outcome_of(row, T0 + HOUR - 1) is RedeemOutcome.REDEEMED
    assert outcome_of(row, T0 + HOUR) is RedeemOutcome.EXPIRED
    used = dataclasses.replace(row, used_at=T0, jti="j")
    assert used.used and outcome_of(used, T0 + 2 * HOUR) is RedeemOutcome.USED


class InvitationStoreContract:
    """Every adapter of the invitation port must pass these tests."""

    @pytest.fixture
    def store(self) -> InvitationStore:
        raise NotImplementedError

    async def test_an_issued_invitation_reads_back(self, store: InvitationStore) -> None:
        row = invitation()
        await store.issue(row)
        assert await store.get(code_hash("c")) == row
        assert await store.get(code_hash("other")) is None

    async def test_a_tender_invitation_keeps_its_kind(self, store: InvitationStore) -> None:
        row = dataclasses.replace(invitation(), auction_id="t-1", kind="tender")
        await store.issue(row)
        assert await store.get(row.code_hash) == row
        redeemed = await store.redeem(row.code_hash, at=T0 + 1, jti="j1")
        assert redeemed.invitation is not None and redeemed.invitation.kind == "tender"
        assert [r.kind for r in await store.for_auction("t-1")] == ["tender"]

    async def test_no_token_limit_is_kept_as_none(self, store: InvitationStore) -> None:
        row = dataclasses.replace(invitation(), token_not_after=None)
        await store.issue(row)
        assert await store.get(row.code_hash) == row

    async def test_it_redeems_once(self, store: InvitationStore) -> None:
        row = invitation()
        await store.issue(row)
        first = await store.redeem(row.code_hash, at=T0 + 5, jti="j1")
        used = dataclasses.replace(row, used_at=T0 + 5, jti="j1")
        assert first == Redeemed(RedeemOutcome.REDEEMED, used)
        second = await store.redeem(row.code_hash, at=T0 + 6, jti="j2")
        assert second == Redeemed(RedeemOutcome.USED, used)  # the first token stays
        assert await store.get(row.code_hash) == used

    async def test_an_expired_one_is_not_redeemed(self, store: InvitationStore) -> None:
        row = invitation()
        await store.issue(row)
        refused = await store.redeem(row.code_hash, at=T0 + HOUR, jti="j1")
        assert refused == Redeemed(RedeemOutcome.EXPIRED, row)
        assert await store.get(row.code_hash) == row  # unchanged

    async def test_used_wins_over_expired(self, store: InvitationStore) -> None:
        row = invitation()
        await store.issue(row)
        await store.redeem(row.code_hash, at=T0, jti="j1")
        late = await store.redeem(row.code_hash, at=T0 + 2 * HOUR, jti="j2")
        assert late.outcome is RedeemOutcome.USED

    async def test_an_unknown_code(self, store: InvitationStore) -> None:
        assert await store.redeem(code_hash("nope"), at=T0, jti="j") == Redeemed(
            RedeemOutcome.UNKNOWN, None
        )
        assert await store.get(code_hash("nope")) is None

    async def test_invitations_are_apart(self, store: InvitationStore) -> None:
        one, two = invitation("one", party="p1"), invitation("two", party="p2")
        await store.issue(one)
        await store.issue(two)
        await store.redeem(one.code_hash, at=T0, jti="j1")
        assert await store.get(two.code_hash) == two
        redeemed = await store.redeem(two.code_hash, at=T0, jti="j2")
        assert redeemed.outcome is RedeemOutcome.REDEEMED
        assert redeemed.invitation is not None and redeemed.invitation.party == "p2"

    async def test_a_hash_is_issued_once(self, store: InvitationStore) -> None:
        row = invitation()
        await store.issue(row)
        with pytest.raises(StorageMisuse):
            await store.issue(dataclasses.replace(row, party="thief"))
        assert await store.get(row.code_hash) == row

    @pytest.mark.parametrize(
        "change",
        [
            {"code_hash": b"short"},
            {"auction_id": ""},
            {"party": ""},
            {"role": ""},
            {"expires_at": T0},
            {"used_at": T0, "jti": "j"},
            {"kind": "lottery"},
            {"kind": ""},
        ],
        ids=[
            "short-hash",
            "no-auction",
            "no-party",
            "no-role",
            "no-lifetime",
            "used",
            "unknown-kind",
            "no-kind",
        ],
    )
    async def test_misuse_keeps_nothing(
        self, store: InvitationStore, change: dict[str, object]
    ) -> None:
        row = dataclasses.replace(invitation(), **change)  # type: ignore[arg-type]
        with pytest.raises(StorageMisuse) as raised:
            await store.issue(row)
        assert isinstance(raised.value, AssertionError | StorageError)
        assert await store.get(row.code_hash) is None

    async def test_a_redeem_names_its_token(self, store: InvitationStore) -> None:
        row = invitation()
        await store.issue(row)
        with pytest.raises(StorageMisuse):
            await store.redeem(row.code_hash, at=T0, jti="")
        assert await store.get(row.code_hash) == row

    async def test_an_auctions_invitations_newest_first(self, store: InvitationStore) -> None:
        assert await store.for_auction("a-1") == []
        rows = [
            dataclasses.replace(invitation(f"c{n}", party=f"p{n % 2}"), created_at=T0 + n % 3)
            for n in range(6)
        ]
        for row in rows:
            await store.issue(row)
        await store.issue(dataclasses.replace(invitation("elsewhere"), auction_id="a-2"))
        await store.redeem(rows[1].code_hash, at=T0 + 9, jti="j1")
        listed = await store.for_auction("a-1")
        expected = sorted(rows, key=lambda row: (-row.created_at, row.code_hash))
        expected = [
            dataclasses.replace(row, used_at=T0 + 9, jti="j1") if row is rows[1] else row
            for row in expected
        ]
        assert listed == expected
        assert await store.for_auction("a-1", limit=2) == expected[:2]
        assert [row.auction_id for row in await store.for_auction("a-2")] == ["a-2"]

    async def test_concurrent_redeems_one_wins(self, store: InvitationStore) -> None:
        row = invitation()
        await store.issue(row)
        results = await asyncio.gather(
            *(store.redeem(row.code_hash, at=T0 + n, jti=f"j{n}") for n in range(8))
        )
        outcomes = [result.outcome for result in results]
        assert outcomes.count(RedeemOutcome.REDEEMED) == 1
        assert outcomes.count(RedeemOutcome.USED) == 7
        winner = results[outcomes.index(RedeemOutcome.REDEEMED)].invitation
        assert winner is not None and await store.get(row.code_hash) == winner
        assert {result.invitation for result in results} == {winner}


class TestMemoryInvitationStore(InvitationStoreContract):
    @pytest.fixture
    def store(self) -> InvitationStore:
        return MemoryInvitationStore()


class TestPostgresInvitationStore(InvitationStoreContract):
    @pytest.fixture
    def store(self, pg_pool: asyncpg.Pool) -> InvitationStore:
        return PostgresInvitationStore(pg_pool)


async def test_postgres_redeems_race_from_separate_connections(
    pg_pool: asyncpg.Pool, pg_dsn: str
) -> None:
    """Each store on a pool of its own: the redeems really run on separate backends at
    once, and the row lock decides; every round exactly one of them wins."""
    pools = [await asyncpg.create_pool(pg_dsn, min_size=1, max_size=1) for _ in range(4)]
    try:
        stores = [PostgresInvitationStore(pool) for pool in pools]
        for round_ in range(20):
            row = invitation(f"race-{round_}")
            await stores[0].issue(row)
            results = await asyncio.gather(
                *(
                    store.redeem(row.code_hash, at=T0 + n, jti=f"r{round_}-{n}")
                    for n, store in enumerate(stores)
                )
            )
            outcomes = sorted(result.outcome.value for result in results)
            assert outcomes == ["redeemed", "used", "used", "used"], round_
            stored = await stores[0].get(row.code_hash)
            assert stored is not None and stored.jti is not None
            assert {result.invitation for result in results} == {stored}
    finally:
        for pool in pools:
            await pool.close()


async def test_postgres_keeps_the_code_out_of_the_table(pg_pool: asyncpg.Pool) -> None:
    code = new_code()
    await PostgresInvitationStore(pg_pool).issue(invitation(code))
    dump = await pg_pool.fetchval("SELECT string_agg(t::text, '|') FROM invitations t")
    assert code not in dump
    assert code_hash(code).hex() in dump


async def test_postgres_changes_a_row_only_by_redeeming_it(pg_pool: asyncpg.Pool) -> None:
    store = PostgresInvitationStore(pg_pool)
    row = invitation()
    await store.issue(row)
    with pytest.raises(asyncpg.RestrictViolationError):
        await pg_pool.execute("UPDATE invitations SET party = 'thief'")
    with pytest.raises(asyncpg.RestrictViolationError):
        await pg_pool.execute("UPDATE invitations SET expires_at = expires_at + 1")
    with pytest.raises(asyncpg.RestrictViolationError):
        await pg_pool.execute("UPDATE invitations SET kind = 'tender'")
    with pytest.raises(asyncpg.CheckViolationError):
        await pg_pool.execute(
            "INSERT INTO invitations (code_hash, auction_id, party, role, created_by,"
            " created_at, expires_at, kind) VALUES ($1, 'a', 'p', 'bidder', 'o', 1, 2, 'x')",
            code_hash("kindless"),
        )
    await store.redeem(row.code_hash, at=T0, jti="j1")
    with pytest.raises(asyncpg.RestrictViolationError):
        await pg_pool.execute("UPDATE invitations SET used_at = NULL, jti = NULL")
    with pytest.raises(asyncpg.RestrictViolationError):
        await pg_pool.execute("UPDATE invitations SET jti = 'j2'")
    with pytest.raises(asyncpg.RestrictViolationError):
        await pg_pool.execute("DELETE FROM invitations")
    assert await store.get(row.code_hash) == dataclasses.replace(row, used_at=T0, jti="j1")
