"""Invitation links (:mod:`api.http.invitations`) against a running server on real PostgreSQL.

An officer invites a registered bidder; the code is exchanged once for the bidder's
token, which bids in that auction only and is revocable. Used, expired and unknown codes
get their own problems; the code is never stored in clear (the invitations table keeps
its SHA-256, a stored idempotent answer keeps it sealed), never echoed and never logged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sanic import Sanic

from api.access import rules as access
from api.access.at_rest import PREFIX, AtRest
from api.access.auth import Role
from api.http.invitations import DEFAULT_LIFETIME_S, exchange, invitations_blueprint, link_for
from api.http.openapi import openapi_document
from api.http.problems import ProblemError
from api.node import Node
from api.settings import Settings
from api.storage.invitations import (
    CODE_LENGTH,
    Invitation,
    Redeemed,
    code_hash,
    new_code,
)
from api.storage.memory import MemoryInvitationStore, MemoryTokenStore
from tests.api.conftest import Live, Reply
from tests.api.http.test_tenders import new_tender

S = 1_000_000
REDEEM = "/api/v1/invitations/redeem"


def now_us() -> int:
    return time.time_ns() // 1000


def english(start_in: float = 0.5, duration: float = 3600.0) -> dict[str, Any]:
    starts = now_us() + int(start_in * S)
    return {
        "format": "english",
        "currency": "EUR",
        "starts_at": starts,
        "ends_at": starts + int(duration * S),
        "start_price": "1.00",
        "step": {"amount": "1.00"},
    }


def claims_of(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=="))
    return claims


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    # DEBUG: every log line the server can write is written, and none holds a code.
    return start_server(GAVEL_LOG_LEVEL="DEBUG")


async def invite(
    server: Live,
    auction: str,
    party: str,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Reply:
    return await server.request(
        "POST",
        f"/api/v1/auctions/{auction}/invitations",
        {"party": party, **extra},
        token=token or server.officer,
        headers=headers,
    )


async def redeem(server: Live, code: str) -> Reply:
    return await server.post(REDEEM, {"code": code})


async def auction_with(server: Live, *parties: str) -> str:
    auction = await server.create(english())
    for party in parties:
        await server.register(auction, party)
    return auction


def assert_problem(reply: Reply, status: int, code: str, secret: str | None = None) -> None:
    assert (reply.status, reply.code) == (status, code), reply.body
    body = reply.json()
    assert body["detail"] and body["title"] and body["type"].endswith(code)
    if secret is not None:
        assert secret.encode() not in reply.body  # never echoed


# ------------------------------------------------------------------------- the routes


def test_the_routes_their_rules_and_operations(tmp_path: Any) -> None:
    seed = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    node = Node(Settings(data_dir=tmp_path, signing_key_pem=seed))
    app = Sanic(f"test_invitations_{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.blueprint(invitations_blueprint(node))
    app.router.finalize()
    routes = {
        route.name.rpartition(".")[2]: (sorted(route.methods), route.path.replace(":str>", ">"))
        for route in app.router.routes
    }
    assert routes == {
        "issue_invitation": (["POST"], "api/v1/auctions/<auction_id>/invitations"),
        "list_invitations": (["GET"], "api/v1/auctions/<auction_id>/invitations"),
        "issue_tender_invitation": (["POST"], "api/v1/tenders/<tender_id>/invitations"),
        "list_tender_invitations": (["GET"], "api/v1/tenders/<tender_id>/invitations"),
        "redeem_invitation": (["POST"], "api/v1/invitations/redeem"),
    }
    for name in ("issue_tender_invitation", "list_tender_invitations"):
        assert access.rule_for(name) == access.rule_for("issue_invitation")
    assert access.rule_for("issue_invitation") == access.Rule(
        frozenset({Role.OFFICER}), access.Binding.TARGET
    )
    assert access.rule_for("list_invitations") == access.rule_for("issue_invitation")
    assert access.rule_for("redeem_invitation") is access.PUBLIC
    paths = openapi_document()["paths"]
    issue = paths["/api/v1/auctions/{auction_id}/invitations"]["post"]
    assert issue["operationId"] == "issue_invitation" and "security" in issue
    assert "Idempotency-Key" in {p["name"] for p in issue["parameters"]}
    tender_ops = paths["/api/v1/tenders/{tender_id}/invitations"]
    assert tender_ops["post"]["operationId"] == "issue_tender_invitation"
    assert tender_ops["get"]["operationId"] == "list_tender_invitations"
    assert {"201", "401", "403", "404", "422"} <= set(tender_ops["post"]["responses"])
    redeemed = paths[REDEEM]["post"]
    assert redeemed["operationId"] == "redeem_invitation" and "security" not in redeemed
    shapes = redeemed["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"]
    assert [shape["properties"]["kind"]["const"] for shape in shapes] == ["auction", "tender"]
    assert {"200", "404", "410", "422", "429"} <= set(redeemed["responses"])
    assert "Idempotency-Key" not in {p["name"] for p in redeemed["parameters"]}


def test_a_stored_answer_seals_the_code_and_the_link() -> None:
    at_rest = AtRest(Ed25519PrivateKey.generate())
    code = new_code()
    answer = {"code": code, "link": link_for(code), "party": "p1", "expires_at": 1}
    sealed = at_rest.seal_fields(answer)
    assert sealed["code"].startswith(PREFIX) and sealed["link"].startswith(PREFIX)
    raw = json.dumps(sealed).encode()
    assert code.encode() not in raw
    assert json.loads(at_rest.open_fields(raw)) == answer


# ------------------------------------------------------------------------- the exchange


def offline_node(tmp_path: Any) -> tuple[Node, MemoryTokenStore]:
    seed = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    node = Node(Settings(data_dir=tmp_path, signing_key_pem=seed))
    tokens = node.credentials.tokens = MemoryTokenStore()
    return node, tokens


def offered(code: str, *, lifetime_s: int = 600, not_after: int | None = None) -> Invitation:
    now = now_us()
    return Invitation(
        code_hash(code), "a-1", "acme", "bidder", "o1", now, now + lifetime_s * S, not_after
    )


class LosingStore(MemoryInvitationStore):
    """A store whose every redeem is beaten by a concurrent one just before it."""

    async def redeem(self, code_hash: bytes, *, at: int, jti: str) -> Redeemed:
        await super().redeem(code_hash, at=at, jti="the-winner")
        return await super().redeem(code_hash, at=at, jti=jti)


async def test_the_exchange_mints_a_recorded_bound_token(tmp_path: Any) -> None:
    node, tokens = offline_node(tmp_path)
    store = MemoryInvitationStore()
    code = new_code()
    await store.issue(offered(code))
    answer = await exchange(node, store, code)
    row = await tokens.get(answer["jti"])
    assert row is not None and (row.party_id, row.role, row.auction_id) == ("acme", "bidder", "a-1")
    assert row.expires_at == answer["expires_at"] and not row.revoked
    kept = await store.get(code_hash(code))
    assert kept is not None and kept.jti == answer["jti"]
    with pytest.raises(ProblemError) as used:
        await exchange(node, store, code)
    assert used.value.problem.code == "invitation_used"
    assert [r.jti for r in tokens._rows.values()] == [answer["jti"]]  # no second token


async def test_a_redeem_that_loses_the_race_revokes_the_token_it_minted(tmp_path: Any) -> None:
    node, tokens = offline_node(tmp_path)
    store = LosingStore()
    code = new_code()
    await store.issue(offered(code))
    with pytest.raises(ProblemError) as lost:
        await exchange(node, store, code)
    assert (lost.value.problem.status, lost.value.problem.code) == (410, "invitation_used")
    minted = list(tokens._rows.values())
    assert len(minted) == 1 and minted[0].revoked and minted[0].revoked_by == "gavel:invitations"
    assert minted[0].jti in node.credentials.revoked
    kept = await store.get(code_hash(code))
    assert kept is not None and kept.jti == "the-winner"


async def test_the_token_ends_with_the_inviting_officers(tmp_path: Any) -> None:
    node, _ = offline_node(tmp_path)
    store = MemoryInvitationStore()
    code = new_code()
    limit_s = int(time.time()) + 90
    await store.issue(offered(code, lifetime_s=60, not_after=limit_s * S))
    answer = await exchange(node, store, code)
    assert answer["expires_at"] == limit_s * S and answer["expires_in"] <= 90


async def test_unknown_and_expired_codes_mint_nothing(tmp_path: Any) -> None:
    node, tokens = offline_node(tmp_path)
    store = MemoryInvitationStore()
    with pytest.raises(ProblemError) as unknown:
        await exchange(node, store, new_code())
    assert (unknown.value.problem.status, unknown.value.problem.code) == (404, "invitation_unknown")
    code = new_code()
    old = offered(code)
    await store.issue(Invitation(old.code_hash, "a-1", "acme", "bidder", "o1", 1, 2, None))
    with pytest.raises(ProblemError) as expired:
        await exchange(node, store, code)
    assert (expired.value.problem.status, expired.value.problem.code) == (410, "invitation_expired")
    assert expired.value.problem.detail and code not in expired.value.problem.detail
    assert tokens._rows == {}


# ------------------------------------------------------------------------- issue, redeem


async def test_an_invitation_signs_the_bidder_in_once(server: Live) -> None:
    auction = await auction_with(server, "acme", "rival")
    other = await auction_with(server, "acme")
    before = now_us()
    issued = await invite(server, auction, "acme")
    assert issued.status == 201, issued.body
    body = issued.json()
    code = body["code"]
    assert len(code) == CODE_LENGTH
    assert body["link"] == f"/app/#invite={code}"
    assert (body["party"], body["auction_id"], body["role"]) == ("acme", auction, "bidder")
    assert (
        before + DEFAULT_LIFETIME_S * S <= body["expires_at"] <= now_us() + DEFAULT_LIFETIME_S * S
    )

    redeemed = await redeem(server, code)
    assert redeemed.status == 200, redeemed.body
    answer = redeemed.json()
    assert set(answer) == {
        "token",
        "jti",
        "expires_at",
        "expires_in",
        "auction_id",
        "kind",
        "party",
        "role",
    }
    assert (answer["auction_id"], answer["party"], answer["role"]) == (auction, "acme", "bidder")
    assert answer["kind"] == body["kind"] == "auction"
    claims = claims_of(answer["token"])
    assert (claims["sub"], claims["role"], claims["auction"]) == ("acme", "bidder", auction)
    assert claims["jti"] == answer["jti"] and claims["exp"] * S == answer["expires_at"]
    assert 3500 <= answer["expires_in"] <= 3600  # the server's token lifetime
    token = answer["token"]

    # The token bids in its auction, as acme, and nowhere else.
    await server.wait_phase(auction, "running")
    bid = await server.post(
        f"/api/v1/auctions/{auction}/bids", {"amount": "5.00", "currency": "EUR"}, token
    )
    assert bid.status == 201, bid.body
    me = await server.get(f"/api/v1/auctions/{auction}/me", token)
    assert me.status == 200, me.body
    assert (me.json()["bidder"], me.json()["rank"], me.json()["leading"]) == ("acme", 1, True)
    elsewhere = await server.post(
        f"/api/v1/auctions/{other}/bids", {"amount": "5.00", "currency": "EUR"}, token
    )
    assert_problem(elsewhere, 403, "wrong_auction")

    # Once only: the second use is 410, the first token stays good.
    again = await redeem(server, code)
    assert_problem(again, 410, "invitation_used", secret=code)
    assert (await server.get(f"/api/v1/auctions/{auction}/me", token)).status == 200

    # The token is recorded (the invitation keeps its jti) and revocable.
    conn = await asyncpg.connect(server.process.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT party_id, role, auction_id FROM tokens WHERE id = $1", answer["jti"]
        )
        assert row is not None and tuple(row) == ("acme", "bidder", auction)
        kept = await conn.fetchrow(
            "SELECT jti, used_at, created_by FROM invitations WHERE code_hash = $1",
            code_hash(code),
        )
        assert kept is not None and kept["jti"] == answer["jti"] and kept["used_at"] is not None
        assert kept["created_by"] == "officer-1"
    finally:
        await conn.close()
    revoked = await server.post(f"/api/v1/tokens/{answer['jti']}/revoke", None, server.officer)
    assert revoked.status == 200, revoked.body
    assert_problem(await server.get(f"/api/v1/auctions/{auction}/me", token), 401, "token_revoked")


async def test_an_expired_invitation_is_410(server: Live) -> None:
    auction = await auction_with(server, "late")
    issued = await invite(server, auction, "late", expires_in_s=1)
    assert issued.status == 201, issued.body
    body = issued.json()
    assert body["expires_at"] - now_us() <= 1 * S
    await asyncio.sleep(max(0.0, (body["expires_at"] - now_us()) / S) + 0.05)
    assert_problem(await redeem(server, body["code"]), 410, "invitation_expired", body["code"])


async def test_an_unknown_or_malformed_code(server: Live) -> None:
    code = new_code()
    assert_problem(await redeem(server, code), 404, "invitation_unknown", secret=code)
    for bad in (code[:-1], code + "A", code[:-1] + "=", "", " " + code[1:]):
        reply = await redeem(server, bad)
        assert_problem(reply, 422, "invalid_field")
        assert reply.json()["field"] == "code"
        if bad:
            assert bad.encode() not in reply.body
    assert_problem(await server.post(REDEEM, {}), 422, "missing_field")
    assert_problem(await server.post(REDEEM, {"code": code, "x": 1}), 422, "unknown_field")
    assert_problem(await server.post(REDEEM, {"code": 7}), 422, "invalid_field")
    raw = await server.request("POST", REDEEM, body=b"{", content_type="application/json")
    assert_problem(raw, 400, "bad_json")
    text = await server.request("POST", REDEEM, body=b"code", content_type="text/plain")
    assert_problem(text, 415, "unsupported_media_type")


async def test_who_may_invite(server: Live) -> None:
    auction = await auction_with(server, "acme")
    other = await auction_with(server, "acme")
    bound_here = server.token("o-here", "officer", auction)
    reply = await invite(server, auction, "acme", token=bound_here)
    assert reply.status == 201, reply.body
    wrong = server.token("o-there", "officer", other)
    assert_problem(await invite(server, auction, "acme", token=wrong), 403, "wrong_auction")
    bidder = server.token("acme", "bidder", auction)
    assert_problem(await invite(server, auction, "acme", token=bidder), 403, "role_forbidden")
    auditor = server.token("aud", "auditor")
    assert_problem(await invite(server, auction, "acme", token=auditor), 403, "role_forbidden")
    anonymous = await server.post(f"/api/v1/auctions/{auction}/invitations", {"party": "acme"})
    assert_problem(anonymous, 401, "token_missing")


async def test_only_a_registered_bidder_is_invited(server: Live) -> None:
    auction = await auction_with(server, "acme", "cheat")
    assert_problem(await invite(server, auction, "stranger"), 422, "unknown_bidder")
    assert_problem(await invite(server, "a-nowhere", "acme"), 404, "not_found")
    await server.wait_phase(auction, "running")
    out = await server.post(
        f"/api/v1/auctions/{auction}/disqualify", {"bidder": "cheat"}, server.officer
    )
    assert out.status == 200, out.body
    assert_problem(await invite(server, auction, "cheat"), 422, "bidder_disqualified")
    for body in (
        {"party": "acme", "expires_in_s": 0},
        {"party": "acme", "expires_in_s": 31 * 86400},
    ):
        reply = await server.post(f"/api/v1/auctions/{auction}/invitations", body, server.officer)
        assert_problem(reply, 422, "invalid_field")
        assert reply.json()["field"] == "expires_in_s"
    conn = await asyncpg.connect(server.process.database_url)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM invitations WHERE auction_id = $1", auction
        )
    finally:
        await conn.close()
    assert count == 0  # nothing refused left an invitation behind


async def test_a_bound_officers_invitation_ends_with_its_token(server: Live) -> None:
    auction = await auction_with(server, "acme")
    officer = server.token("o-short", "officer", auction, ttl_s=120)
    limit = claims_of(officer)["exp"]
    issued = await invite(server, auction, "acme", token=officer)
    assert issued.status == 201, issued.body
    assert issued.json()["expires_at"] <= limit * S
    redeemed = await redeem(server, issued.json()["code"])
    assert redeemed.status == 200, redeemed.body
    assert claims_of(redeemed.json()["token"])["exp"] <= limit


async def test_concurrent_redeems_one_token(server: Live) -> None:
    auction = await auction_with(server, "racer")
    code = (await invite(server, auction, "racer")).json()["code"]
    replies = await asyncio.gather(*(redeem(server, code) for _ in range(6)))
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [200, 410, 410, 410, 410, 410], [r.body for r in replies]
    assert all(r.code == "invitation_used" for r in replies if r.status == 410)
    winner = next(reply.json() for reply in replies if reply.status == 200)
    conn = await asyncpg.connect(server.process.database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, revoked FROM tokens WHERE party_id = 'racer' AND auction_id = $1", auction
        )
    finally:
        await conn.close()
    # Besides the registration's token: the winner's, live; any loser's minted token revoked.
    live = {row["id"] for row in rows if not row["revoked"]}
    assert winner["jti"] in live and len(live) == 2
    assert (await server.get(f"/api/v1/auctions/{auction}/me", winner["token"])).status == 200


# ------------------------------------------------------------------------- idempotency, secrecy


async def test_an_idempotent_issue_replays_the_same_code_sealed_at_rest(server: Live) -> None:
    auction = await auction_with(server, "acme")
    key = {"Idempotency-Key": f"invite-{uuid.uuid4().hex[:8]}"}
    first = await invite(server, auction, "acme", headers=key)
    again = await invite(server, auction, "acme", headers=key)
    assert first.status == again.status == 201, (first.body, again.body)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    code = first.json()["code"]
    other = await invite(server, auction, "acme", headers=key, expires_in_s=60)
    assert_problem(other, 422, "idempotency_key_reused", secret=code)
    conn = await asyncpg.connect(server.process.database_url)
    try:
        stored = bytes(
            await conn.fetchval(
                "SELECT response_body FROM idempotency_keys WHERE key = $1",
                key["Idempotency-Key"],
            )
        )
        assert b'"code":"sealed.v1.' in stored and b'"link":"sealed.v1.' in stored
        # Nowhere in the database in clear: every table, every row, as text.
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        for table in (row["tablename"] for row in tables):
            dump = await conn.fetchval(
                f"SELECT coalesce(string_agg(t::text, '|'), '') FROM {table} t"  # noqa: S608
            )
            assert code not in dump, table
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM invitations WHERE code_hash = $1", code_hash(code)
            )
            == 1
        )
    finally:
        await conn.close()
    # One invitation for both answers: it redeems once.
    assert (await redeem(server, code)).status == 200
    assert_problem(await redeem(server, code), 410, "invitation_used")


async def test_no_code_reaches_the_log(server: Live) -> None:
    auction = await auction_with(server, "acme")
    codes = []
    for _ in range(2):
        codes.append((await invite(server, auction, "acme")).json()["code"])
    await redeem(server, codes[0])
    await redeem(server, codes[0])
    await redeem(server, new_code())
    log = server.process.log_path.read_text(errors="replace")
    assert log  # the server logs at DEBUG
    for code in codes:
        assert code not in log


async def test_redeeming_is_rate_limited_per_address(start_server: Callable[..., Live]) -> None:
    limited = start_server(GAVEL_RATE_PER_S="1", GAVEL_RATE_BURST="2")  # 4/s, burst 8
    replies = [await redeem(limited, new_code()) for _ in range(12)]
    codes = [reply.code for reply in replies]
    assert "rate_limited" in codes, codes
    refused = next(reply for reply in replies if reply.code == "rate_limited")
    assert refused.status == 429 and int(refused.headers["retry-after"]) >= 1
    assert set(codes) == {"invitation_unknown", "rate_limited"}


async def test_an_officer_lists_an_auctions_invitations_without_their_codes(server: Live) -> None:
    auction = await auction_with(server, "acme", "bolt", "cog")
    other = await auction_with(server, "acme")
    codes = {}
    for party in ("acme", "bolt"):
        reply = await invite(server, auction, party)
        codes[party] = reply.json()["code"]
    late = (await invite(server, auction, "cog", expires_in_s=1)).json()
    await invite(server, other, "acme")
    redeemed = (await redeem(server, codes["acme"])).json()
    await asyncio.sleep(max(0.0, (late["expires_at"] - now_us()) / S) + 0.05)

    reply = await server.get(f"/api/v1/auctions/{auction}/invitations", server.officer)
    assert reply.status == 200, reply.body
    listed = reply.json()["invitations"]
    assert [entry["party"] for entry in listed] == ["cog", "bolt", "acme"]  # newest first
    by_party = {entry["party"]: entry for entry in listed}
    assert by_party["acme"]["state"] == "used" and by_party["acme"]["jti"] == redeemed["jti"]
    assert by_party["acme"]["used_at"] is not None
    assert by_party["bolt"]["state"] == "open" and by_party["bolt"]["jti"] is None
    assert (
        by_party["cog"]["state"] == "expired"
        and by_party["cog"]["expires_at"] == late["expires_at"]
    )
    assert {entry["created_by"] for entry in listed} == {"officer-1"}
    for code in (*codes.values(), late["code"]):
        assert code.encode() not in reply.body

    assert not any(entry["revoked"] for entry in listed)
    # A leaked link's token is found here and revoked; the listing says so.
    revoked = await server.post(f"/api/v1/tokens/{redeemed['jti']}/revoke", None, server.officer)
    assert revoked.status == 200, revoked.body
    again = (await server.get(f"/api/v1/auctions/{auction}/invitations", server.officer)).json()
    assert {e["party"]: e["revoked"] for e in again["invitations"]} == {
        "cog": False,
        "bolt": False,
        "acme": True,
    }
    bound = server.token("o-here", "officer", auction)
    assert (await server.get(f"/api/v1/auctions/{auction}/invitations", bound)).status == 200
    wrong = server.token("o-there", "officer", other)
    refused = await server.get(f"/api/v1/auctions/{auction}/invitations", wrong)
    assert_problem(refused, 403, "wrong_auction")
    bidder = server.token("acme", "bidder", auction)
    refused = await server.get(f"/api/v1/auctions/{auction}/invitations", bidder)
    assert_problem(refused, 403, "role_forbidden")
    missing = await server.get("/api/v1/auctions/a-nowhere/invitations", server.officer)
    assert_problem(missing, 404, "not_found")


# ------------------------------------------------------------------------- a tender's supplier


async def invite_to_tender(
    server: Live, tender: str, party: str, token: str, **extra: Any
) -> Reply:
    return await server.post(
        f"/api/v1/tenders/{tender}/invitations", {"party": party, **extra}, token
    )


async def test_a_tender_invitation_signs_the_supplier_in_once(server: Live) -> None:
    tender = await new_tender(server, close_in=120)
    issued = await invite_to_tender(server, tender.id, "acme", tender.officer["o1"])
    assert issued.status == 201, issued.body
    body = issued.json()
    assert (body["party"], body["tender_id"], body["role"], body["kind"]) == (
        "acme",
        tender.id,
        "bidder",
        "tender",
    )
    assert "auction_id" not in body and body["link"] == f"/app/#invite={body['code']}"

    redeemed = await redeem(server, body["code"])
    assert redeemed.status == 200, redeemed.body
    answer = redeemed.json()
    assert set(answer) == {
        "token",
        "jti",
        "expires_at",
        "expires_in",
        "tender_id",
        "kind",
        "party",
        "role",
    }
    assert (answer["tender_id"], answer["kind"], answer["party"]) == (tender.id, "tender", "acme")
    claims = claims_of(answer["token"])
    assert (claims["sub"], claims["role"], claims["auction"]) == ("acme", "bidder", tender.id)
    token = answer["token"]

    # The token seals offers into this tender as acme, and reads nothing else.
    sealed = tender.seal("acme", 12_345)
    submitted = await server.post(
        f"/api/v1/tenders/{tender.id}/lots/L1/envelopes",
        {"kind": "financial", "ciphertext": base64.b64encode(sealed).decode()},
        token,
    )
    assert submitted.status == 201, submitted.body
    assert submitted.json()["receipt"]["bidder_id"] == "acme"
    other = await new_tender(server, close_in=120)
    assert_problem(await server.get(f"/api/v1/tenders/{other.id}", token), 403, "wrong_auction")

    assert_problem(await redeem(server, body["code"]), 410, "invitation_used", body["code"])
    listed = await server.get(f"/api/v1/tenders/{tender.id}/invitations", tender.officer["o2"])
    assert listed.status == 200, listed.body
    [entry] = listed.json()["invitations"]
    assert (entry["party"], entry["kind"], entry["state"], entry["jti"]) == (
        "acme",
        "tender",
        "used",
        answer["jti"],
    )
    assert body["code"].encode() not in listed.body


async def test_who_may_invite_to_a_tender(server: Live) -> None:
    tender = await new_tender(server, close_in=120)
    other = await new_tender(server, close_in=120)
    path = f"/api/v1/tenders/{tender.id}/invitations"
    # An officer on the committee, bound to this tender: yes.
    bound = server.token("o2", "officer", tender.id)
    assert (await invite_to_tender(server, tender.id, "acme", bound)).status == 201
    # An officer who is not on this tender's committee, bound or not: no.
    stranger = server.token("o-stranger", "officer")
    refused = await invite_to_tender(server, tender.id, "acme", stranger)
    assert_problem(refused, 403, "not_tender_officer")
    stranger_here = server.token("o-stranger", "officer", tender.id)
    refused = await invite_to_tender(server, tender.id, "acme", stranger_here)
    assert_problem(refused, 403, "not_tender_officer")
    assert_problem(await server.get(path, stranger), 403, "not_tender_officer")
    # Bound to another tender, a bidder, an auditor, no token.
    elsewhere = server.token("o1", "officer", other.id)
    assert_problem(
        await invite_to_tender(server, tender.id, "acme", elsewhere), 403, "wrong_auction"
    )
    for role in ("bidder", "auditor"):
        token = server.token("acme", role, tender.id)
        reply = await invite_to_tender(server, tender.id, "acme", token)
        assert_problem(reply, 403, "role_forbidden")
    assert_problem(await server.post(path, {"party": "acme"}), 401, "token_missing")
    # No such tender, or an auction's id at the tender route.
    officer = tender.officer["o1"]
    missing = await invite_to_tender(server, "t-nowhere", "acme", officer)
    assert_problem(missing, 404, "not_found")
    assert_problem(
        await server.get("/api/v1/tenders/t-nowhere/invitations", officer), 404, "not_found"
    )
    auction = await auction_with(server, "acme")
    assert_problem(await invite_to_tender(server, auction, "acme", officer), 404, "not_found")
    # Bad bodies.
    for bad, field in (
        ({"party": ""}, "party"),
        ({"party": "acme", "expires_in_s": 0}, "expires_in_s"),
    ):
        reply = await server.post(path, bad, officer)
        assert_problem(reply, 422, "invalid_field")
        assert reply.json()["field"] == field
    assert_problem(await server.post(path, {}, officer), 422, "missing_field")
    conn = await asyncpg.connect(server.process.database_url)
    try:
        kept = await conn.fetch(
            "SELECT party, created_by, kind FROM invitations WHERE auction_id = ANY($1)",
            [tender.id, "t-nowhere", auction, other.id],
        )
    finally:
        await conn.close()
    # Only the committee officer's invitation was kept; no refusal left one behind.
    assert [tuple(row) for row in kept] == [("acme", "o2", "tender")]


async def test_a_bound_officers_tender_invitation_ends_with_its_token(server: Live) -> None:
    tender = await new_tender(server, close_in=120)
    officer = server.token("o3", "officer", tender.id, ttl_s=120)
    limit = claims_of(officer)["exp"]
    issued = await invite_to_tender(server, tender.id, "acme", officer)
    assert issued.status == 201, issued.body
    assert issued.json()["expires_at"] <= limit * S
    redeemed = await redeem(server, issued.json()["code"])
    assert redeemed.status == 200, redeemed.body
    assert claims_of(redeemed.json()["token"])["exp"] <= limit
