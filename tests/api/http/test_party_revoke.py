"""Revoking a supplier's access in one call (:mod:`api.http.party_revoke`), over a live
server: every token of the party bound to the auction or tender (a registration's, an
invitation's, one minted by ``POST /tokens``) is refused at once and its websocket closed
4401; its links not used yet are withdrawn (a redeem answers 410 invitation_withdrawn, the
listing says ``withdrawn``); other parties keep theirs; a second call changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed

from api.access import rules as access
from api.access.auth import Role
from api.http.openapi import openapi_document
from tests.api.conftest import Live, Reply
from tests.api.http.test_invitations import (
    assert_problem,
    english,
    invite,
    invite_to_tender,
    redeem,
)
from tests.api.http.test_tenders import new_tender

in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server()


def revoke_path(auction: str, party: str) -> str:
    return f"/api/v1/auctions/{auction}/bidders/{party}/revoke"


async def signed_in(server: Live, auction: str, party: str) -> tuple[str, str]:
    """A fresh link for ``party``, redeemed: its token and jti."""
    issued = await invite(server, auction, party)
    assert issued.status == 201, issued.body
    redeemed = await redeem(server, issued.json()["code"])
    assert redeemed.status == 200, redeemed.body
    return redeemed.json()["token"], redeemed.json()["jti"]


async def open_link(server: Live, auction: str, party: str) -> str:
    issued = await invite(server, auction, party)
    assert issued.status == 201, issued.body
    code: str = issued.json()["code"]
    return code


def test_the_routes_rules_and_operations() -> None:
    officer_of_target = access.Rule(frozenset({Role.OFFICER}), access.Binding.TARGET)
    assert access.rule_for("revoke_bidder") == officer_of_target == access.REVOKE_OTHERS
    assert access.rule_for("revoke_supplier") == officer_of_target
    paths = openapi_document()["paths"]
    bidder = paths["/api/v1/auctions/{auction_id}/bidders/{party}/revoke"]["post"]
    supplier = paths["/api/v1/tenders/{tender_id}/suppliers/{party}/revoke"]["post"]
    assert (bidder["operationId"], supplier["operationId"]) == ("revoke_bidder", "revoke_supplier")
    for op in (bidder, supplier):
        assert "unknown_party" in op["responses"]["404"]["description"]
        answer = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert {"tokens_revoked", "links_withdrawn"} <= set(answer["required"])
    listed = paths["/api/v1/auctions/{auction_id}/invitations"]["get"]["responses"]["200"]
    item = listed["content"]["application/json"]["schema"]["properties"]["invitations"]["items"]
    assert "withdrawn" in item["properties"]["state"]["enum"]


@in_module_loop
async def test_every_token_ends_and_every_open_link_is_withdrawn(server: Live) -> None:
    auction = await server.create(english(start_in=60))
    registered = await server.register(auction, "acme")  # a registration's token
    await server.register(auction, "bolt")
    by_link, by_link_jti = await signed_in(server, auction, "acme")
    minted = await server.post(
        "/api/v1/tokens",
        {"role": "observer", "party": "acme", "auction": auction},
        server.officer,
    )
    assert minted.status == 201, minted.body
    pending = await open_link(server, auction, "acme")
    bolt, _ = await signed_in(server, auction, "bolt")
    bolt_pending = await open_link(server, auction, "bolt")
    acme_tokens = [registered, by_link, minted.json()["token"]]
    ws = await server.connect(auction, by_link)
    await asyncio.wait_for(ws.recv(), 5)  # subscribed: the snapshot

    reply = await server.post(revoke_path(auction, "acme"), None, server.officer)
    assert reply.status == 200, reply.body
    answer = reply.json()
    assert (answer["auction_id"], answer["kind"], answer["party"]) == (auction, "auction", "acme")
    assert (answer["tokens_revoked"], answer["links_withdrawn"]) == (3, 1)
    assert by_link_jti in answer["jtis"] and answer["revoked_by"] == "officer-1"

    # The open socket is closed at once, 4401 token_revoked.
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "token_revoked")
    # Every token of acme in this auction is refused; bolt's still works.
    for token in acme_tokens:
        assert_problem(await server.get(f"/api/v1/auctions/{auction}", token), 401, "token_revoked")
    assert (await server.get(f"/api/v1/auctions/{auction}", bolt)).status == 200
    # The open link no longer signs in; bolt's does.
    assert_problem(await redeem(server, pending), 410, "invitation_withdrawn", pending)
    listed = await server.get(f"/api/v1/auctions/{auction}/invitations", server.officer)
    states = sorted((e["party"], e["state"], e["revoked"]) for e in listed.json()["invitations"])
    assert states == [
        ("acme", "used", True),
        ("acme", "withdrawn", False),
        ("bolt", "open", False),
        ("bolt", "used", False),
    ]
    withdrawn = [e for e in listed.json()["invitations"] if e["state"] == "withdrawn"]
    assert withdrawn[0]["withdrawn_at"] == answer["revoked_at"]

    # Again: nothing more, still 200.
    again = await server.post(revoke_path(auction, "acme"), None, server.officer)
    assert again.status == 200, again.body
    assert (again.json()["tokens_revoked"], again.json()["links_withdrawn"]) == (0, 0)
    # The officer may let acme in again with a new link.
    fresh, _ = await signed_in(server, auction, "acme")
    assert (await server.get(f"/api/v1/auctions/{auction}", fresh)).status == 200
    assert (await redeem(server, bolt_pending)).status == 200


@in_module_loop
async def test_who_may_revoke_and_what_is_refused(server: Live) -> None:
    auction = await server.create(english(start_in=60))
    await server.register(auction, "acme")
    other = await server.create(english(start_in=60))
    acme_there = await server.register(other, "acme")
    path = revoke_path(auction, "acme")
    for role in ("bidder", "auditor", "observer"):
        refused = await server.post(path, None, server.token("acme", role, auction))
        assert_problem(refused, 403, "role_forbidden")
    elsewhere = server.token("o-there", "officer", other)
    assert_problem(await server.post(path, None, elsewhere), 403, "wrong_auction")
    assert_problem(await server.post(path, None), 401, "token_missing")
    assert_problem(
        await server.post(revoke_path("a-nowhere", "acme"), None, server.officer), 404, "not_found"
    )
    for party in ("nobody", "x" * 101):
        unknown = await server.post(revoke_path(auction, party), None, server.officer)
        assert_problem(unknown, 404, "unknown_party")
    junk: Reply = await server.post(path, {"why": "no"}, server.officer)
    assert_problem(junk, 422, "unknown_field")
    # An officer bound to this auction may; an empty JSON body is taken.
    bound = server.token("o-here", "officer", auction)
    done = await server.post(path, {}, bound)
    assert done.status == 200, done.body
    assert (done.json()["tokens_revoked"], done.json()["revoked_by"]) == (1, "o-here")
    # acme's token in the other auction is not touched.
    assert (await server.get(f"/api/v1/auctions/{other}", acme_there)).status == 200


@in_module_loop
async def test_a_tender_suppliers_access(server: Live) -> None:
    tender = await new_tender(server, close_in=120)
    o1, o2 = tender.officer["o1"], tender.officer["o2"]
    issued = await invite_to_tender(server, tender.id, "acme", o1)
    redeemed = await redeem(server, issued.json()["code"])
    assert redeemed.status == 200, redeemed.body
    token = redeemed.json()["token"]
    pending = (await invite_to_tender(server, tender.id, "acme", o1)).json()["code"]
    kept = (await invite_to_tender(server, tender.id, "bolt", o1)).json()["code"]
    path = f"/api/v1/tenders/{tender.id}/suppliers/acme/revoke"

    stranger = server.token("o-stranger", "officer", tender.id)
    assert_problem(await server.post(path, None, stranger), 403, "not_tender_officer")
    assert_problem(
        await server.post("/api/v1/tenders/t-nowhere/suppliers/acme/revoke", None, o1),
        404,
        "not_found",
    )
    unknown = await server.post(f"/api/v1/tenders/{tender.id}/suppliers/nobody/revoke", None, o1)
    assert_problem(unknown, 404, "unknown_party")

    reply = await server.post(path, None, o2)
    assert reply.status == 200, reply.body
    answer = reply.json()
    assert (answer["tender_id"], answer["kind"]) == (tender.id, "tender")
    assert (answer["tokens_revoked"], answer["links_withdrawn"]) == (1, 1)
    assert_problem(await server.get(f"/api/v1/tenders/{tender.id}", token), 401, "token_revoked")
    assert_problem(await redeem(server, pending), 410, "invitation_withdrawn", pending)
    listed = await server.get(f"/api/v1/tenders/{tender.id}/invitations", o1)
    states = sorted((e["party"], e["state"]) for e in listed.json()["invitations"])
    assert states == [("acme", "used"), ("acme", "withdrawn"), ("bolt", "open")]
    again = await server.post(path, None, o1)
    assert (again.status, again.json()["tokens_revoked"], again.json()["links_withdrawn"]) == (
        200,
        0,
        0,
    )
    assert (await redeem(server, kept)).status == 200
