"""api.access.credentials: issuing, recording, verifying, admitting and revoking tokens,
over the in-memory tokens store (the PostgreSQL one is the storage suite's)."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.access import auth
from api.access import rules as access
from api.access.credentials import Credentials
from api.access.errors import RateLimited, Refused, TokenUnknown
from api.storage.memory import MemoryTokenStore
from api.storage.tokens import TokenRow


def credentials(rate_per_s: float = 100.0, rate_burst: int = 100) -> Credentials:
    return Credentials(
        Ed25519PrivateKey.generate(), token_ttl_s=600, rate_per_s=rate_per_s, rate_burst=rate_burst
    )


def bearer(token: str) -> str:
    return f"Bearer {token}"


async def test_issued_tokens_are_recorded_once_the_store_is_there() -> None:
    creds = credentials()
    token = creds.issue("officer-1", auth.Role.OFFICER, None)
    await creds.record_tokens()  # no store yet: kept for later
    creds.tokens = store = MemoryTokenStore()
    await creds.record_tokens()
    claims = creds.verify_token(token)
    row = await store.get(claims.jti)
    assert row is not None and (row.party_id, row.role, row.auction_id) == (
        "officer-1",
        "officer",
        None,
    )
    assert row.expires_at - row.issued_at == 600 * 1_000_000
    await creds.record_tokens()  # nothing left to write


async def test_a_failed_record_keeps_the_rows_for_the_next_call() -> None:
    class Failing(MemoryTokenStore):
        async def record(self, rows: list[TokenRow]) -> None:
            raise OSError("down")

    creds = credentials()
    creds.issue("p", auth.Role.OBSERVER, "a-1")
    creds.tokens = Failing()
    with pytest.raises(OSError):
        await creds.record_tokens()
    creds.tokens = MemoryTokenStore()
    await creds.record_tokens()
    assert creds._unrecorded == []


async def test_mint_writes_the_row_and_answers_the_grants_lifetime() -> None:
    creds = credentials()
    creds.tokens = store = MemoryTokenStore()
    officer = creds.verify_token(creds.issue("officer-1", auth.Role.OFFICER, None))
    grant = access.grant(officer, auth.Role.BIDDER, "a-1", 120, now_s=int(time.time()))
    token, jti, lifetime = await creds.mint("bidder-1", grant)
    assert lifetime == 120
    assert creds.verify_token(token).jti == jti
    assert await store.get(jti) is not None


def test_claims_admit_by_the_routes_rule_and_binding() -> None:
    creds = credentials()
    token = creds.issue("bidder-1", auth.Role.BIDDER, "a-1")
    claims = creds.claims("gavel_1.bidder_bids", "192.0.2.1", bearer(token), "a-1")
    assert (claims.sub, claims.auction) == ("bidder-1", "a-1")
    with pytest.raises(auth.WrongAuction) as wrong:
        creds.claims("gavel_1.bidder_bids", "192.0.2.1", bearer(token), "a-2")
    assert (wrong.value.code, wrong.value.status) == ("wrong_auction", 403)
    with pytest.raises(auth.RoleForbidden):
        creds.claims("gavel_1.cancel", "192.0.2.1", bearer(token), "a-1")
    # bind=False: the role is checked, the binding left to the route.
    officer = creds.issue("officer-1", auth.Role.OFFICER, "a-1")
    unbound = creds.claims("issue_token", "192.0.2.1", bearer(officer), bind=False)
    assert unbound.auction == "a-1"
    with pytest.raises(auth.TokenMissing) as missing:
        creds.claims("get_auction", "192.0.2.1", None, "a-1")
    assert missing.value.headers["WWW-Authenticate"] == 'Bearer realm="gavel"'


def test_the_address_is_limited_before_the_token_is_read() -> None:
    creds = credentials(rate_per_s=0.001, rate_burst=1)  # 4 per address, 1 per token
    token = creds.issue("bidder-1", auth.Role.BIDDER, "a-1")
    creds.claims("get_auction", "192.0.2.1", bearer(token), "a-1")
    with pytest.raises(RateLimited) as by_token:
        creds.claims("get_auction", "192.0.2.2", bearer(token), "a-1")
    assert by_token.value.retry_after is not None and by_token.value.retry_after >= 1
    assert by_token.value.detail == "too many requests; slow down"
    for _ in range(4):  # the burst of 4
        with pytest.raises(auth.TokenMissing):
            creds.claims("get_auction", "192.0.2.3", None, "a-1")
    with pytest.raises(RateLimited):  # the address's bucket is empty: no token read
        creds.claims("get_auction", "192.0.2.3", None, "a-1")


async def test_revoke_own_others_and_unknown() -> None:
    creds = credentials()
    creds.tokens = MemoryTokenStore()
    bidder_token, bidder_jti = await creds.issue_recorded("bidder-1", auth.Role.BIDDER, "a-1")
    other_token, other_jti = await creds.issue_recorded("bidder-2", auth.Role.BIDDER, "a-1")
    officer_token, _ = await creds.issue_recorded("officer-1", auth.Role.OFFICER, "a-1")
    bidder = creds.verify_token(bidder_token)
    # A bidder may not revoke another's token, and learns nothing of jtis.
    with pytest.raises(auth.RoleForbidden):
        await creds.revoke(other_jti, bidder)
    with pytest.raises(auth.RoleForbidden):
        await creds.revoke("never-issued", bidder)
    # The officer of the auction may; a jti never issued is a 404 refusal.
    officer = creds.verify_token(officer_token)
    with pytest.raises(TokenUnknown) as unknown:
        await creds.revoke("never-issued", officer)
    assert isinstance(unknown.value, Refused)
    assert (unknown.value.code, unknown.value.status) == ("not_found", 404)
    row = await creds.revoke(other_jti, officer)
    assert row.revoked_by == "officer-1"
    with pytest.raises(auth.TokenRevoked):
        creds.verify_token(other_token)
    # Anyone may revoke their own.
    assert (await creds.revoke(bidder_jti, bidder)).revoked_by == "bidder-1"
    assert bidder_jti in creds.revoked and len(creds.revoked) == 2
