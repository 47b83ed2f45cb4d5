"""Who may call which route (:mod:`api.access.rules`), against a real server on real PostgreSQL.

:data:`EXPECT` (the core) and :data:`EDGE_EXPECT` (a read-only edge) are this test's own
statement of every route's rule, written apart from ``api.access.rules`` so that the two check
each other. Every route the apps register must have an entry, so a new route without a
rule fails the suite (:func:`test_every_route_has_an_expectation`).

For each route, every caller is tried: an officer, an auditor (each bound to this
auction or tender, to another one, or to none), a bidder and an observer (bound to this
one or another: they cannot be unbound) and a request without a token. A caller the rule
admits must get through the door: any answer but 401 and the 403s of access control
(``role_forbidden``, ``wrong_auction``, ``wrong_party``), never a 5xx; the body sent is
one the route refuses *after* the door (an unknown field), so nothing changes. Any other
caller gets exactly the refusal the table says. Websockets are judged by their first
frame (admitted) or their close code and reason (refused).

Then the escalations of issue 12, item 1, as named regression tests, the minting rules,
the one namespace of auction and tender ids, and the ``jti`` of every issuing answer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.access import auth
from api.access import rules as access
from api.access.rules import Binding, Rule
from api.http.app import create_app
from api.http.edge import create_edge_app
from api.http.vendor_assets import vendored_files
from api.settings import Settings
from tests.api.conftest import _in_thread
from tests.api.http.test_tenders import (
    KEYS,
    Tendering,
    hand_off_rules,
    new_tender,
    now_us,
    sealed_for_auction,
)
from tests.api.live.test_ws import english

if TYPE_CHECKING:
    from tests.api.conftest import Live, Reply

S = 1_000_000
#: The codes of access control: an admitted caller never gets one of these.
ACCESS_CODES = frozenset({"role_forbidden", "wrong_auction", "wrong_party"})
#: A body every route with a body refuses after the door (and so changes nothing).
JUNK = {"bogus": 1}

ANY = frozenset({"officer", "auditor", "bidder", "observer"})
OFFICER = frozenset({"officer"})
BIDDER = frozenset({"bidder"})
OVERSEER = frozenset({"officer", "auditor"})

#: The subject each role's tokens carry: o1 sits on the tender's committee, b1 bids in
#: the auction and has an envelope in the tender.
SUBJECT = {"officer": "o1", "auditor": "aud", "bidder": "b1", "observer": "eye"}
#: (role, binding) of every caller tried; ``None`` is a request without a token.
CALLERS: tuple[tuple[str, str] | None, ...] = (
    ("officer", "this"),
    ("officer", "other"),
    ("officer", "unbound"),
    ("auditor", "this"),
    ("auditor", "other"),
    ("auditor", "unbound"),
    ("bidder", "this"),
    ("bidder", "other"),
    ("observer", "this"),
    ("observer", "other"),
    None,
)


@dataclass(frozen=True)
class Route:
    """What a route should do: ``roles`` admitted (``None``: no token read at all),
    ``binding`` as in :class:`api.access.rules.Binding`, and ``refusals`` by (role, binding)
    beyond the rule (a party check after the door). ``path`` may hold ``{auction}``,
    ``{tender}``, ``{seq}`` (a receipt) and ``{victim}`` (a fresh jti of a token bound to
    the auction); ``ws`` names the kind of websocket (``live``, ``feed``, ``edge``)."""

    method: str
    path: str
    roles: frozenset[str] | None
    binding: str = "target"
    body: Any = field(default_factory=lambda: JUNK)
    refusals: Mapping[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    ws: str | None = None
    tender: bool = False

    def expected(self, caller: tuple[str, str] | None) -> tuple[int, str] | None:
        """The refusal ``caller`` gets, or ``None`` when it is admitted."""
        if self.roles is None:
            return None
        if caller is None:
            return 401, "token_missing"
        role, binding = caller
        if role not in self.roles:
            return 403, "role_forbidden"
        if (self.binding == "target" and binding == "other") or (
            self.binding == "unbound" and binding != "unbound"
        ):
            return 403, "wrong_auction"
        return self.refusals.get(caller)


def public(path: str) -> Route:
    return Route("GET", path, None)


A = "/api/v1/auctions/{auction}"
T = "/api/v1/tenders/{tender}"
L = T + "/lots/L1"
AT = "/api/v1/audit/tenders/{tender}"


def _audit(prefix: str, base: str, tender: bool) -> dict[str, Route]:
    return {
        f"{prefix}_checkpoint": Route("GET", f"{base}/checkpoint", ANY, tender=tender),
        f"{prefix}_inclusion": Route("GET", f"{base}/proofs/inclusion?seq=1", ANY, tender=tender),
        f"{prefix}_consistency": Route(
            "GET", f"{base}/proofs/consistency?from=1", ANY, tender=tender
        ),
        f"{prefix}_export": Route("GET", f"{base}/export", OVERSEER, tender=tender),
        f"{prefix}_ocds": Route("GET", f"{base}/ocds", OVERSEER, tender=tender),
    }


#: Every route of the core, by route name.
EXPECT: dict[str, Route] = {
    "healthz": public("/healthz"),
    "readyz": public("/readyz"),
    "metrics": public("/metrics"),
    "openapi": public("/api/v1/openapi.json"),
    "docs": public("/api/v1/docs"),
    "docs_asset": public("/api/v1/docs/docs.js"),
    "audit_key": public("/api/v1/audit/key"),
    "tender_server_key": public("/api/v1/tenders/server-key"),
    "tender_seal_redirect": public("/seal"),
    "tender_seal_page": public("/seal/"),
    "tender_seal_asset": public("/seal/seal.js"),
    "tender_open_redirect": public("/open"),
    "tender_open_page": public("/open/"),
    "tender_open_asset": public("/open/tender-custody.js"),
    "app_redirect": public("/app"),
    "app_page": public("/app/"),
    "app_asset": public("/app/i18n/en.json"),
    "schemas_messages": public("/api/v1/schemas/messages.json"),
    "schemas_http": public("/api/v1/schemas/http.json"),
    "schemas_rules": public("/api/v1/schemas/rules.json"),
    "schemas_tender": public("/api/v1/schemas/tender.json"),
    # Any vendored file the lock records (their versions change with `make vendor`).
    "vendor_asset": public("/vendor/" + min(vendored_files())),
    "landing_page": public("/"),
    "landing_asset": public("/landing/landing.js"),
    "public_auctions": public("/api/v1/public/auctions"),
    # Auctions: a bound token sees only its own in the list.
    "list_auctions": Route("GET", "/api/v1/auctions", ANY, "narrowed"),
    "create_auction": Route("POST", "/api/v1/auctions", OFFICER, "unbound"),
    "get_auction": Route("GET", A, ANY),
    "my_standing": Route("GET", A + "/me", BIDDER),
    "events_after": Route("GET", A + "/events", ANY),
    "register_bidder": Route("POST", A + "/bidders", OFFICER),
    "bidder_bids": Route("POST", A + "/bids", BIDDER),
    "bidder_proxy": Route("POST", A + "/proxy", BIDDER),
    "bidder_accept": Route("POST", A + "/accept", BIDDER),
    "bidder_withdraw": Route("POST", A + "/withdraw", BIDDER),
    "bidder_pass": Route("POST", A + "/pass", BIDDER),
    "disqualify": Route("POST", A + "/disqualify", OFFICER),
    "cancel": Route("POST", A + "/cancel", OFFICER),
    # Minting an observer of this auction: the binding applies to the new token's auction.
    "issue_token": Route(
        "POST",
        "/api/v1/tokens",
        OFFICER,
        body={"role": "observer", "party": "press", "auction": "{auction}"},
    ),
    # Revoking another's token (bound to this auction); one's own: see below.
    "revoke_token": Route("POST", "/api/v1/tokens/{victim}/revoke", OFFICER, body=None),
    # Invitation links: an officer of the auction invites; redeeming reads no token.
    "issue_invitation": Route("POST", A + "/invitations", OFFICER),
    "list_invitations": Route("GET", A + "/invitations", OFFICER),
    "redeem_invitation": Route("POST", "/api/v1/invitations/redeem", None),
    # Revoking a supplier's access (an unknown party: admitted, then 404 unknown_party).
    "revoke_bidder": Route("POST", A + "/bidders/nobody/revoke", OFFICER, body=None),
    "revoke_supplier": Route(
        "POST", T + "/suppliers/nobody/revoke", OFFICER, body=None, tender=True
    ),
    "live": Route("GET", A, ANY, ws="live"),
    "edge_feed": Route("GET", "/ws/v1/feed", OVERSEER, "unbound", ws="feed"),
    # Sealed tenders: the binding names the tender.
    "tender_create": Route("POST", "/api/v1/tenders", OFFICER, "unbound", tender=True),
    "list_tenders": Route("GET", "/api/v1/tenders", OFFICER, "narrowed"),
    "tender_ceremony": Route("POST", T + "/ceremony", OFFICER, body=None, tender=True),
    "tender_get": Route("GET", T, ANY, tender=True),
    "issue_tender_invitation": Route("POST", T + "/invitations", OFFICER, tender=True),
    "list_tender_invitations": Route("GET", T + "/invitations", OFFICER, tender=True),
    "tender_events": Route("GET", T + "/events", ANY, tender=True),
    "tender_my_share": Route("GET", T + "/shares/mine", OFFICER, tender=True),
    "tender_schedule": Route("POST", L + "/schedule", ANY, tender=True),
    "tender_submit": Route("POST", L + "/envelopes", BIDDER, tender=True),
    "tender_upload": Route("POST", L + "/envelopes/nonsense", BIDDER, tender=True),
    "tender_withdraw": Route(
        "POST", L + "/envelopes/nonsense/withdraw", BIDDER, body=None, tender=True
    ),
    "tender_receipt": Route(
        "GET",
        T + "/receipts/{seq}",
        ANY,
        refusals={("observer", "this"): (403, "wrong_party")},
        tender=True,
    ),
    "tender_bids": Route("GET", L + "/envelopes", ANY, tender=True),
    "tender_share": Route("POST", L + "/shares", OFFICER, tender=True),
    "tender_offers": Route("GET", L + "/offers", ANY, tender=True),
    "tender_exclude": Route("POST", L + "/exclude", OFFICER, tender=True),
    "tender_award": Route("POST", L + "/award", OFFICER, body=None, tender=True),
    "tender_hand_off": Route("POST", L + "/auction", OFFICER, "unbound", tender=True),
    **_audit("audit_auction", A, tender=False),
    "audit_auction_flags": Route("GET", "/api/v1/audit/auctions/{auction}/flags", OVERSEER),
    "audit_search": Route("GET", "/api/v1/audit/search", OVERSEER, "narrowed"),
    **_audit("audit_tender", AT, tender=True),
    "audit_tender_flags": Route("GET", AT + "/flags", OVERSEER, tender=True),
}

#: Every route of a read-only edge, by route name.
EDGE_EXPECT: dict[str, Route] = {
    "healthz": public("/healthz"),
    "readyz": public("/readyz"),
    "live": Route("GET", A, ANY, ws="edge"),
}


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    """The module's server and edge, an auction with a bidder, another auction with its
    own bidder, and a published tender with one envelope (and its receipt's seq)."""

    server: Live
    edge: Live
    auction: str
    other: str
    tender: Tendering
    receipt_seq: int

    def token(self, caller: tuple[str, str] | None, this: str) -> str | None:
        if caller is None:
            return None
        role, binding = caller
        bound = {"this": this, "other": self.other, "unbound": None}[binding]
        return self.server.token(SUBJECT[role], role, bound)


@pytest.fixture(scope="module")
def world(start_server: Callable[..., Live], start_edge: Callable[..., Live]) -> World:
    server = start_server()
    edge = start_edge(server)

    async def build() -> World:
        auction = await server.create(english(start_in=600))
        other = await server.create(english(start_in=600))
        await server.register(auction, "b1")
        await server.register(other, "yb")
        tender = await new_tender(server, close_in=600)
        reply = await tender.submit("b1", tender.seal("b1", 1000))
        assert reply.status == 201, reply.body
        seq = reply.json()["receipt"]["seq"]
        return World(server, edge, auction, other, tender, seq)

    # Module set-up is synchronous (each test has its own event loop).
    world: World = _in_thread(build)
    return world


# --------------------------------------------------------------------------- helpers


async def first_outcome(ws: ClientConnection, timeout: float = 10.0) -> tuple[int, str] | None:
    """``None`` if the server's first frame arrives (admitted), else its close code and
    reason. Bounded generously: a refusal closes at once, an admission answers at once."""
    try:
        async with asyncio.timeout(timeout):
            await ws.recv()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, closed
        return closed.rcvd.code, closed.rcvd.reason
    await ws.close()
    return None


async def feed_outcome(world: World, token: str | None) -> tuple[int, str] | None:
    """Connect to the core's feed; commit (register a bidder) until a frame or a close
    arrives: an admitted feed only speaks when something is committed."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    ws = await connect(f"ws://127.0.0.1:{world.server.port}/ws/v1/feed", additional_headers=headers)
    try:
        for _ in range(20):
            try:
                return await first_outcome(ws, timeout=0.5)
            except TimeoutError:
                await world.server.register(world.auction, f"p-{uuid.uuid4().hex[:8]}")
        raise AssertionError("the feed neither spoke nor closed")
    finally:
        await ws.close()


def ws_refusal(kind: str, refusal: tuple[int, str]) -> tuple[int, str]:
    """The close a refused handshake gets: the feed tells 4401 from 4403; the auctions'
    sockets (core and edge) close 4401 with the problem code in both cases."""
    status, code = refusal
    return (4403 if kind == "feed" and status == 403 else 4401), code


async def victim(world: World) -> str:
    """A fresh jti of a token bound to the auction, issued (so recorded) by the server."""
    reply = await world.server.post(
        "/api/v1/tokens",
        {"role": "observer", "party": "victim", "auction": world.auction},
        world.server.officer,
    )
    assert reply.status == 201, reply.body
    jti: str = reply.json()["jti"]
    return jti


async def call(
    world: World, live: Live, route: Route, caller: tuple[str, str] | None
) -> tuple[int, str] | None:
    """Call ``route`` as ``caller``; ``None`` if admitted, else the refusal."""
    this = world.tender.id if route.tender else world.auction
    token = world.token(caller, this)
    values = {"auction": world.auction, "tender": world.tender.id, "seq": world.receipt_seq}
    if "{victim}" in route.path:
        values["victim"] = await victim(world)
    path = route.path.format(**values)
    if route.ws == "feed":
        return await feed_outcome(world, token)
    if route.ws is not None:
        ws = await connect(
            f"ws://127.0.0.1:{live.port}/ws/v1/auctions/{world.auction}",
            subprotocols=["gavel.v1", *([f"gavel.bearer.{token}"] if token else [])],  # type: ignore[list-item]
            open_timeout=10,
        )
        with contextlib.suppress(ConnectionClosed):  # refused already: the close tells
            await ws.send(json.dumps({"type": "subscribe", "since": 0}))
        return await first_outcome(ws)
    body = route.body
    if isinstance(body, dict):
        body = {k: v.format(**values) if isinstance(v, str) else v for k, v in body.items()}
    reply: Reply = await live.request(route.method, path, body, token=token)
    assert reply.status < 500, (route, caller, reply.status, reply.body)
    if reply.status == 401 or reply.code in ACCESS_CODES:
        assert reply.code is not None, reply.body
        return reply.status, reply.code
    return None


async def check_matrix(world: World, live: Live, route: Route) -> None:
    wrong = []
    for caller in CALLERS:
        expected = route.expected(caller)
        if expected is not None and route.ws is not None:
            expected = ws_refusal(route.ws, expected)
        got = await call(world, live, route, caller)
        if got != expected:
            wrong.append(f"{caller}: expected {expected or 'admitted'}, got {got or 'admitted'}")
    assert not wrong, "\n".join(wrong)


# --------------------------------------------------------------------------- the matrix


def _names(app: Any) -> set[str]:
    return {route.name.rpartition(".")[2] for route in app.router.routes}


def test_every_route_has_an_expectation(tmp_path: Path) -> None:
    """Every route the core and an edge register is in this test's tables and in
    ``api.access.rules`` (and neither names a route that is gone): a route added without a rule
    fails here."""
    settings = Settings.from_env({}, data_dir=str(tmp_path))
    core = _names(create_app(settings))
    edge = _names(create_edge_app(settings, "http://127.0.0.1:1", "unused"))
    assert core == set(EXPECT), (core - set(EXPECT), set(EXPECT) - core)
    assert core == set(access.ROUTES)
    assert edge == set(EDGE_EXPECT), (edge - set(EDGE_EXPECT), set(EDGE_EXPECT) - edge)
    assert edge == set(access.EDGE_ROUTES)


@pytest.mark.parametrize("name", sorted(EXPECT))
async def test_route_by_role_and_binding(world: World, name: str) -> None:
    await check_matrix(world, world.server, EXPECT[name])


@pytest.mark.parametrize("name", sorted(EDGE_EXPECT))
async def test_edge_route_by_role_and_binding(world: World, name: str) -> None:
    await check_matrix(world, world.edge, EDGE_EXPECT[name])


async def test_a_bound_token_lists_only_its_own_auction(world: World) -> None:
    server = world.server
    for caller in [("observer", "this"), ("officer", "this"), ("auditor", "other")]:
        reply = await server.get("/api/v1/auctions", world.token(caller, world.auction))
        bound = world.auction if caller[1] == "this" else world.other
        assert [a["id"] for a in reply.json()["auctions"]] == [bound]
    everything = await server.get("/api/v1/auctions", server.officer)
    assert {world.auction, world.other} <= {a["id"] for a in everything.json()["auctions"]}


# ------------------------------------------------------ issue 12, item 1: the escalations


def bound_officer(world: World, ttl_s: int = 3600) -> str:
    """An officer token bound to the auction X (the other auction is Y)."""
    return world.server.token("ox", "officer", world.auction, ttl_s)


def claims_of(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=="))
    return claims


async def test_a_bound_officer_cannot_mint_an_unbound_officer(world: World) -> None:
    reply = await world.server.post(
        "/api/v1/tokens", {"role": "officer", "party": "boss"}, bound_officer(world)
    )
    assert (reply.status, reply.code) == (403, "wrong_auction"), reply.body


async def test_a_bound_officer_cannot_mint_a_bidder_of_another_auction(world: World) -> None:
    """Not even for Y's existing bidder, who it would then bid as."""
    reply = await world.server.post(
        "/api/v1/tokens",
        {"role": "bidder", "party": "yb", "auction": world.other},
        bound_officer(world),
    )
    assert (reply.status, reply.code) == (403, "wrong_auction"), reply.body


async def test_a_bound_officer_cannot_mint_an_unbound_auditor(world: World) -> None:
    reply = await world.server.post(
        "/api/v1/tokens", {"role": "auditor", "party": "spy"}, bound_officer(world)
    )
    assert (reply.status, reply.code) == (403, "wrong_auction"), reply.body


async def test_a_bound_officer_cannot_create_an_auction(world: World) -> None:
    server, made = world.server, f"a-{uuid.uuid4().hex[:10]}"
    reply = await server.post(
        "/api/v1/auctions", {"id": made, "rules": english(start_in=600)}, bound_officer(world)
    )
    assert (reply.status, reply.code) == (403, "wrong_auction"), reply.body
    # Not even one named like its own binding; and nothing was created.
    named = server.token("ox", "officer", made)
    reply = await server.post("/api/v1/auctions", {"id": made, "rules": english()}, named)
    assert (reply.status, reply.code) == (403, "wrong_auction"), reply.body
    assert (await server.get(f"/api/v1/auctions/{made}", server.officer)).status == 404


async def test_a_bound_officer_cannot_create_a_tender_nor_hand_a_lot_off(world: World) -> None:
    server, tender = world.server, world.tender
    bound = server.token("o1", "officer", tender.id)  # on the committee, bound to it
    spec = {
        "id": f"t-{uuid.uuid4().hex[:10]}",
        "title": "x",
        "currency": "EUR",
        "threshold": 1,
        "officers": [{"id": "o1", "public_key": KEYS["o1"].encryption_public.hex()}],
        "lots": [{"id": "L1", "deadline": now_us() + 60 * S, "opening_at": now_us() + 60 * S}],
    }
    reply = await server.post("/api/v1/tenders", spec, bound)
    assert (reply.status, reply.code) == (403, "wrong_auction"), reply.body
    rules = {"format": "multiround", "currency": "EUR", "starts_at": now_us() + 60 * S}
    reply = await server.post(
        f"/api/v1/tenders/{tender.id}/lots/L1/auction", {"rules": rules}, bound
    )
    assert (reply.status, reply.code) == (403, "wrong_auction"), reply.body


async def test_a_bound_officer_mints_within_its_auction_and_its_lifetime(world: World) -> None:
    server = world.server
    minter = bound_officer(world, ttl_s=120)
    for role in ("officer", "auditor", "observer", "bidder"):
        reply = await server.post(
            "/api/v1/tokens",
            {"role": role, "party": f"p-{role}", "auction": world.auction, "ttl_s": 86400},
            minter,
        )
        assert reply.status == 201, reply.body
        body = reply.json()
        claims = claims_of(body["token"])
        assert (claims["role"], claims["auction"], claims["jti"]) == (
            role,
            world.auction,
            body["jti"],
        )
        # Never outlives the token that minted it.
        assert claims["exp"] <= claims_of(minter)["exp"] and body["expires_in"] <= 120
    # The minted officer is as bound as its minter.
    minted = (
        await server.post(
            "/api/v1/tokens", {"role": "officer", "party": "o2", "auction": world.auction}, minter
        )
    ).json()["token"]
    reply = await server.post(
        f"/api/v1/auctions/{world.other}/disqualify", {"bidder": "yb"}, minted
    )
    assert (reply.status, reply.code) == (403, "wrong_auction")


async def test_an_unbound_officer_mints_anything_for_up_to_a_week(world: World) -> None:
    server = world.server
    for tree in [
        {"role": "officer", "party": "boss", "ttl_s": access.MAX_TTL_S},
        {"role": "auditor", "party": "aud"},
        {"role": "bidder", "party": "yb", "auction": world.other},
    ]:
        reply = await server.post("/api/v1/tokens", tree, server.officer)
        assert reply.status == 201, reply.body
    assert reply.json()["expires_in"] == 3600
    too_long = {"role": "auditor", "party": "aud", "ttl_s": access.MAX_TTL_S + 1}
    reply = await server.post("/api/v1/tokens", too_long, server.officer)
    assert (reply.status, reply.code) == (422, "invalid_field")


async def test_only_officers_mint(world: World) -> None:
    server = world.server
    for token in [
        server.token("aud", "auditor"),
        server.token("aud", "auditor", world.auction),
        server.token("eye", "observer", world.auction),
        server.token("b1", "bidder", world.auction),
    ]:
        reply = await server.post(
            "/api/v1/tokens",
            {"role": "observer", "party": "x", "auction": world.auction},
            token,
        )
        assert (reply.status, reply.code) == (403, "role_forbidden"), reply.body


async def test_anyone_revokes_their_own_token_and_a_bound_officer_not_an_unbound_one(
    world: World,
) -> None:
    server = world.server
    issued = await server.post(
        "/api/v1/tokens",
        {"role": "observer", "party": "me", "auction": world.auction},
        server.officer,
    )
    mine = issued.json()
    reply = await server.post(f"/api/v1/tokens/{mine['jti']}/revoke", None, mine["token"])
    assert reply.status == 200, reply.body
    unbound = await server.post("/api/v1/tokens", {"role": "auditor", "party": "a"}, server.officer)
    reply = await server.post(
        f"/api/v1/tokens/{unbound.json()['jti']}/revoke", None, bound_officer(world)
    )
    assert (reply.status, reply.code) == (403, "wrong_auction")


# ------------------------------------------------------------------ ids name one thing


async def test_an_auction_and_a_tender_never_share_an_id(world: World) -> None:
    server = world.server
    reply = await server.post(
        "/api/v1/auctions", {"id": world.tender.id, "rules": english(start_in=600)}, server.officer
    )
    assert (reply.status, reply.code) == (409, "auction_exists"), reply.body
    spec = {
        "id": world.auction,
        "title": "x",
        "currency": "EUR",
        "threshold": 1,
        "officers": [{"id": "o1", "public_key": KEYS["o1"].encryption_public.hex()}],
        "lots": [{"id": "L1", "deadline": now_us() + 60 * S, "opening_at": now_us() + 60 * S}],
    }
    reply = await server.post("/api/v1/tenders", spec, server.token("o1", "officer"))
    assert (reply.status, reply.code) == (409, "tender_exists"), reply.body


# --------------------------------------------------------------- jti in every issuing answer


async def test_registration_answers_the_jti_of_the_token_it_issues(world: World) -> None:
    server = world.server
    reply = await server.post(
        f"/api/v1/auctions/{world.auction}/bidders", {"party": "jt"}, server.officer
    )
    assert reply.status == 201, reply.body
    body = reply.json()
    assert body["jti"] == claims_of(body["token"])["jti"]
    assert body["expires_in"] == 3600
    revoked = await server.post(f"/api/v1/tokens/{body['jti']}/revoke", None, server.officer)
    assert revoked.status == 200, revoked.body
    reply = await server.get(f"/api/v1/auctions/{world.auction}", body["token"])
    assert (reply.status, reply.code) == (401, "token_revoked")


async def test_a_bound_officer_registers_bidders_whose_tokens_end_with_its_own(
    world: World,
) -> None:
    minter = bound_officer(world, ttl_s=90)
    reply = await world.server.post(
        f"/api/v1/auctions/{world.auction}/bidders", {"party": "short"}, minter
    )
    assert reply.status == 201, reply.body
    assert claims_of(reply.json()["token"])["exp"] <= claims_of(minter)["exp"]


async def test_the_hand_off_answers_the_jtis_of_the_tokens_it_issues(world: World) -> None:
    server = world.server
    tender = await sealed_for_auction(server)
    await tender.open_with("o1")
    rules = hand_off_rules()
    reply = await server.post(
        f"/api/v1/tenders/{tender.id}/lots/L1/auction", {"rules": rules}, tender.officer["o1"]
    )
    assert reply.status == 201, reply.body
    body = reply.json()
    assert set(body["jtis"]) == set(body["tokens"]) == {"ann", "bob"}
    for bidder, token in body["tokens"].items():
        claims = claims_of(token)
        assert (claims["jti"], claims["auction"]) == (body["jtis"][bidder], body["auction_id"])


# ------------------------------------------------------------------ the rules, pure


def claims(role: str, auction: str | None = None, exp: int = 2_000) -> auth.Claims:
    return auth.Claims(sub="s", role=auth.Role(role), auction=auction, iat=1_000, exp=exp, jti="j")


def test_rules_check_the_role_then_the_binding() -> None:
    rule = Rule(frozenset({auth.Role.OFFICER}), Binding.TARGET)
    assert rule.check(claims("officer", "x"), "x").auction == "x"
    assert rule.check(claims("officer"), "y").auction is None
    with pytest.raises(auth.RoleForbidden):
        rule.check(claims("bidder", "y"), "x")  # the role first, though bound elsewhere
    with pytest.raises(auth.WrongAuction):
        rule.check(claims("officer", "y"), "x")
    with pytest.raises(auth.WrongAuction, match="not bound"):
        rule.check(claims("officer", "x"), None)  # acting on no single auction
    unbound = Rule(frozenset(auth.Role), Binding.UNBOUND)
    assert unbound.check(claims("auditor"), "x").auction is None
    with pytest.raises(auth.WrongAuction):
        unbound.check(claims("auditor", "x"), "x")
    narrowed = Rule(frozenset(auth.Role), Binding.NARROWED)
    assert narrowed.check(claims("observer", "x"), "y").auction == "x"


def test_public_rules_read_no_token_and_unknown_routes_have_no_rule() -> None:
    with pytest.raises(auth.AuthMisuse):
        access.PUBLIC.admit(claims("officer"))
    with pytest.raises(auth.AuthMisuse):
        access.PUBLIC.bind(claims("officer", "x"), "x")
    assert access.rule_for("gavel_7.cancel") is access.ROUTES["cancel"]
    assert access.rule_for("live", access.EDGE_ROUTES) is access.EDGE_ROUTES["live"]
    with pytest.raises(auth.AuthMisuse, match="no access rule"):
        access.rule_for("gavel_7.brand_new_route")


def test_only_an_officer_mints_and_never_wider_than_itself() -> None:
    for role in auth.Role:
        assert access.MINTABLE[role] == (
            frozenset(auth.Role) if role is auth.Role.OFFICER else set()
        )
    root = claims("officer")
    assert access.grant(root, auth.Role.OFFICER, None, 600, now_s=1_500) == access.Grant(
        auth.Role.OFFICER, None, 600, None
    )
    bound = claims("officer", "x", exp=1_600)
    grant = access.grant(bound, auth.Role.BIDDER, "x", 3_600, now_s=1_500)
    assert grant == access.Grant(auth.Role.BIDDER, "x", 100, 1_600)
    assert grant.lifetime(1_550) == 50 and grant.lifetime(1_700) == 1
    assert access.Grant(auth.Role.BIDDER, "x", 60, None).lifetime(10**9) == 60
    with pytest.raises(auth.WrongAuction, match="not bound to one"):
        access.grant(bound, auth.Role.OFFICER, None, 60, now_s=1_500)
    with pytest.raises(auth.WrongAuction, match="'y'"):
        access.grant(bound, auth.Role.BIDDER, "y", 60, now_s=1_500)
    with pytest.raises(auth.TokenExpired):
        access.grant(bound, auth.Role.BIDDER, "x", 60, now_s=1_600)  # inside the leeway
    for role in ("auditor", "observer", "bidder"):
        with pytest.raises(auth.RoleForbidden, match="may not mint"):
            access.grant(claims(role, "x"), auth.Role.OBSERVER, "x", 60, now_s=1_500)


def test_every_rule_of_a_token_route_admits_someone() -> None:
    """A typo'd empty role set would lock a route: only public rules admit nobody."""
    for name, rule in {
        **access.ROUTES,
        **{f"edge:{k}": v for k, v in access.EDGE_ROUTES.items()},
    }.items():
        assert bool(rule.roles) == (rule.binding is not Binding.PUBLIC), name


def test_officers_are_the_only_unbound_creators() -> None:
    """Creating an auction or a tender, and handing a lot off, need an unbound officer."""
    for name in ("create_auction", "tender_create", "tender_hand_off"):
        assert access.ROUTES[name] == Rule(frozenset({auth.Role.OFFICER}), Binding.UNBOUND)
