"""The HTTP API against a real server process, real sockets and a real PostgreSQL.

One server is shared by the module (a second one, with a tiny rate limit, proves the
429). Auctions are short: they start a fraction of a second after creation and tests
poll for phases instead of sleeping. Every refusal is checked as an RFC 9457 problem with
its status and ``code``; a fuzz test throws junk at every route and accepts any answer
but a 5xx.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.access import auth
from engine.reasons import Reason

if TYPE_CHECKING:
    from tests.api.conftest import Live, Reply

S = 1_000_000  # one second in microseconds
BIDS = "/api/v1/auctions/{}/bids"


def now_us() -> int:
    """The wall clock in microseconds: the server's clock, on the same machine."""
    return time.time_ns() // 1000


# ---------------------------------------------------------------------- rules builders


def english(start_in: float = 0.3, duration: float = 30.0, **extra: Any) -> dict[str, Any]:
    """An English auction starting ``start_in`` seconds from now."""
    starts = now_us() + int(start_in * S)
    return {
        "format": "english",
        "currency": "EUR",
        "starts_at": starts,
        "ends_at": starts + int(duration * S),
        "start_price": "100.00",
        "step": {"amount": "1.00"},
        **extra,
    }


def reverse(start_in: float = 0.3, duration: float = 30.0) -> dict[str, Any]:
    """A reverse (procurement) auction with a budget ceiling of 1000.00."""
    starts = now_us() + int(start_in * S)
    return {
        "format": "reverse",
        "currency": "EUR",
        "starts_at": starts,
        "ends_at": starts + int(duration * S),
        "start_price": "1000.00",
        "step": {"percent": "1"},
    }


def dutch(start_in: float = 0.3) -> dict[str, Any]:
    """A Dutch auction whose clock holds 1000.00 for a minute."""
    return {
        "format": "dutch",
        "currency": "EUR",
        "starts_at": now_us() + int(start_in * S),
        "start_price": "1000.00",
        "step": "10.00",
        "interval_us": 60 * S,
        "limit_price": "500.00",
    }


def sealed(start_in: float = 0.3, duration: float = 30.0) -> dict[str, Any]:
    """A sealed first-price sale with a hidden reserve."""
    starts = now_us() + int(start_in * S)
    return {
        "format": "sealed",
        "currency": "EUR",
        "starts_at": starts,
        "ends_at": starts + int(duration * S),
        "start_price": "10.00",
        "reserve_price": "50.00",
    }


def multiround(start_in: float = 0.5, turn: float = 30.0) -> dict[str, Any]:
    """A multi-round procurement: one round, long turns (tests pass to move on)."""
    return {
        "format": "multiround",
        "currency": "EUR",
        "starts_at": now_us() + int(start_in * S),
        "turn_us": int(turn * S),
        "step": {"amount": "1.00"},
        "rounds": 1,
    }


def assert_problem(reply: Reply, status: int, code: str) -> dict[str, Any]:
    """``reply`` is an RFC 9457 problem with this status and code; its body."""
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = reply.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"] == f"https://gavel.dev/problems/{code}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str)
    return body


def assert_rejected(reply: Reply, reason: Reason) -> dict[str, Any]:
    """``reply`` is the engine's rejection for ``reason``, with its seq and server time."""
    body = assert_problem(reply, reason.status_hint, reason.value)
    assert isinstance(body["seq"], int) and isinstance(body["server_time"], int)
    return body


async def bid(server: Live, auction: str, token: str, amount: Any, currency: str = "EUR") -> Reply:
    """Place a bid over HTTP."""
    return await server.post(BIDS.format(auction), {"amount": amount, "currency": currency}, token)


# ---------------------------------------------------------------------- operations


async def test_health_ready_metrics_openapi_and_docs(server: Live) -> None:
    health = await server.get("/healthz")
    assert (health.status, health.json()) == (200, {"status": "ok"})
    ready = await server.get("/readyz")
    assert (ready.status, ready.json()) == (200, {"status": "ready"})

    metrics = await server.get("/metrics")
    assert metrics.status == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.body.decode()
    for name, kind in [
        ("gavel_bids_accepted_total", "counter"),
        ("gavel_commands_rejected_total", "counter"),
        ("gavel_http_responses_total", "counter"),
        ("gavel_sockets_connected", "gauge"),
        ("gavel_sockets_dropped_slow_total", "counter"),
        ("gavel_auction_queue_depth", "gauge"),
        ("gavel_commit_batch_events", "histogram"),
        ("gavel_commit_latency_us", "histogram"),
    ]:
        assert f"# TYPE {name} {kind}" in text
        assert f"# HELP {name} " in text
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            float(value)  # every sample is a number

    spec = await server.get("/api/v1/openapi.json")
    assert spec.status == 200
    document = spec.json()
    assert document["openapi"].startswith("3.")
    for path in [
        "/api/v1/auctions",
        "/api/v1/auctions/{auction_id}/bids",
        "/api/v1/tokens",
        "/api/v1/audit/key",
        "/api/v1/auctions/{auction_id}/proofs/inclusion",
        "/api/v1/audit/tenders/{tender_id}/export",
    ]:
        assert path in document["paths"]

    docs = await server.get("/api/v1/docs")
    assert docs.status == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert b"openapi.json" in docs.body


async def test_metrics_count_bids_by_result_and_reason(server: Live) -> None:
    auction = await server.create(english(start_in=0.3))
    token = await server.register(auction, "m1")
    await server.wait_phase(auction, "running")

    def sample(text: str, name: str) -> float:
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = await server.metrics()
    assert (await bid(server, auction, token, "100.00")).status == 201
    assert_rejected(await bid(server, auction, token, "100.50"), Reason.INSUFFICIENT_IMPROVEMENT)
    after = await server.metrics()
    accepted = "gavel_bids_accepted_total"
    rejected = 'gavel_commands_rejected_total{reason="insufficient_improvement"}'
    assert sample(after, accepted) == sample(before, accepted) + 1
    assert sample(after, rejected) == sample(before, rejected) + 1
    assert f'gavel_auction_queue_depth{{auction="{auction}"}} 0' in after
    assert sample(after, "gavel_commit_batch_events_count") > 0


# ---------------------------------------------------------------------- formats


async def test_every_format_is_created_listed_and_read_back(server: Live) -> None:
    builders = {
        "english": english,
        "reverse": reverse,
        "dutch": dutch,
        "sealed": sealed,
        "multiround": multiround,
    }
    created: dict[str, str] = {}
    for name, build in builders.items():
        rules = build(start_in=60)
        auction_id = f"fmt-{name}-{time.time_ns()}"
        reply = await server.post(
            "/api/v1/auctions", {"id": auction_id, "rules": rules}, server.officer
        )
        assert reply.status == 201, reply.body
        body = reply.json()
        assert (body["id"], body["format"], body["seq"]) == (auction_id, name, 1)
        for key, value in rules.items():
            if key != "step":  # the step comes back with its defaults filled in
                assert body["rules"][key] == value, key
        created[name] = auction_id
        state = await server.state(auction_id)
        assert (state["format"], state["phase"], state["seq"]) == (name, "scheduled", 1)
        assert state["next_deadline"] == rules["starts_at"]

    listing = (await server.get("/api/v1/auctions", server.officer)).json()["auctions"]
    listed = {entry["id"]: entry for entry in listing}
    for name, auction_id in created.items():
        assert listed[auction_id]["format"] == name
        assert listed[auction_id]["status"] == "scheduled"

    # A bidder's token is bound to its auction: it lists that one only.
    token = await server.register(created["english"], "lister")
    mine = (await server.get("/api/v1/auctions", token)).json()["auctions"]
    assert [entry["id"] for entry in mine] == [created["english"]]

    # The same id twice, and rules the engine refuses, are problems too.
    again = await server.post(
        "/api/v1/auctions", {"id": created["english"], "rules": english()}, server.officer
    )
    assert_problem(again, 409, "auction_exists")
    past = english()
    past["starts_at"] = now_us() - S
    assert_problem(
        await server.post("/api/v1/auctions", {"rules": past}, server.officer),
        422,
        "invalid_rules",
    )
    bad = english()
    bad["step"] = {"amount": 1}
    problem = assert_problem(
        await server.post("/api/v1/auctions", {"rules": bad}, server.officer),
        422,
        "invalid_field",
    )
    assert problem["field"] == "rules.step.amount"
    for tree, code in [
        ({"rules": english(), "extra": 1}, "unknown_field"),
        ({"id": "x"}, "missing_field"),
        ({"id": 7, "rules": english()}, "invalid_field"),
        ({"id": "no spaces", "rules": english()}, "invalid_field"),
        ({"rules": {"format": "english", "currency": "XXX"}}, "invalid_field"),
        ([1, 2], "bad_json"),
    ]:
        reply = await server.post("/api/v1/auctions", tree, server.officer)
        assert reply.code == code, (tree, reply.body)
        assert reply.status == (400 if code == "bad_json" else 422)


async def test_english_bids_and_engine_rejections(server: Live) -> None:
    # Long enough a lead that the first bid is certainly early on a loaded machine (0.3 s
    # was not: creating and registering two bidders outlasted it once under CI).
    auction = await server.create(english(start_in=2.0))
    alice = await server.register(auction, "alice")
    bob = await server.register(auction, "bob")

    assert_rejected(await bid(server, auction, alice, "100.00"), Reason.AUCTION_NOT_STARTED)
    await server.wait_phase(auction, "running")

    reply = await bid(server, auction, alice, "100.00")
    assert reply.status == 201
    body = reply.json()
    assert body["event"]["type"] == "BidAccepted"
    assert body["event"]["price"] == 10000  # minor units inside events
    assert body["event"]["bidder"] == "Bidder 1" and body["event"]["you"] is True
    assert body["server_time"] >= body["event"]["at"]
    first_seq = body["seq"]

    assert_rejected(await bid(server, auction, bob, "100.50"), Reason.INSUFFICIENT_IMPROVEMENT)
    assert_rejected(await bid(server, auction, bob, "200.00", "USD"), Reason.WRONG_CURRENCY)
    assert_rejected(await bid(server, auction, bob, "200.001"), Reason.TOO_MANY_DECIMALS)
    assert_rejected(await bid(server, auction, bob, "-5"), Reason.AMOUNT_NEGATIVE)
    assert_rejected(await bid(server, auction, bob, "0"), Reason.AMOUNT_ZERO)
    # Rejections are logged too: the next bid's seq counts them.
    reply = await bid(server, auction, bob, "101.00")
    assert reply.status == 201
    assert reply.json()["seq"] == first_seq + 6

    # A proxy for alice answers bob at once, by the minimum step.
    proxy = await server.post(
        f"/api/v1/auctions/{auction}/proxy", {"limit": "150.00", "currency": "EUR"}, alice
    )
    assert proxy.status == 201
    event = proxy.json()["event"]
    assert (event["type"], event["limit"], event["you"]) == ("ProxySet", 15000, True)
    state = await server.state(auction, bob)
    assert state["ranking"][0]["bidder"] == "Bidder 1"
    assert state["ranking"][0]["price"] == 10200
    assert_rejected(
        await server.post(f"/api/v1/auctions/{auction}/accept", {}, alice), Reason.NOT_SUPPORTED
    )
    again = await server.post(
        f"/api/v1/auctions/{auction}/bidders", {"party": "bob"}, server.officer
    )
    assert_rejected(again, Reason.BIDDER_ALREADY_REGISTERED)


async def test_reverse_dutch_sealed_and_multiround_rules_over_http(server: Live) -> None:
    rev = await server.create(reverse())
    dut = await server.create(dutch())
    sea = await server.create(sealed())
    mul = await server.create(multiround(start_in=0.6))
    r1 = await server.register(rev, "r1")
    d1 = await server.register(dut, "d1")
    s1 = await server.register(sea, "s1")
    s2 = await server.register(sea, "s2")
    # Multi-round bidders bring their tender offers; the worst (m1) gets the first turn.
    m1 = await server.register(mul, "m1", initial_bid="900.00")
    m2 = await server.register(mul, "m2", initial_bid="800.00")
    for auction in (rev, dut, sea):
        await server.wait_phase(auction, "running")

    # Reverse: the budget is a ceiling; the step is a percentage of the best.
    assert_rejected(await bid(server, rev, r1, "1000.01"), Reason.ABOVE_START_PRICE)
    assert (await bid(server, rev, r1, "900.00")).status == 201
    assert_rejected(await bid(server, rev, r1, "895.00"), Reason.INSUFFICIENT_IMPROVEMENT)
    assert (await bid(server, rev, r1, "891.00")).status == 201

    # Dutch: taking a price that moved is stale; taking the clock price wins at once.
    accept = f"/api/v1/auctions/{dut}/accept"
    assert_rejected(await bid(server, dut, d1, "1000.00"), Reason.NOT_SUPPORTED)
    stale = await server.post(accept, {"expected": "990.00", "currency": "EUR"}, d1)
    assert_rejected(stale, Reason.STALE_PRICE)
    taken = await server.post(accept, {"expected": "1000.00", "currency": "EUR"}, d1)
    assert taken.status == 201 and taken.json()["event"]["price"] == 100000
    state = await server.state(dut, d1)
    assert state["phase"] == "ended" and state["result"]["winners"] == ["Bidder 1"]
    assert_rejected(await server.post(accept, {}, d1), Reason.AUCTION_CLOSED)

    # Sealed: nothing of the book shows before the end; withdrawals and their limits.
    withdraw = f"/api/v1/auctions/{sea}/withdraw"
    assert_rejected(await server.post(withdraw, {}, s1), Reason.NO_BID_TO_WITHDRAW)
    assert_rejected(await bid(server, sea, s1, "9.99"), Reason.BELOW_START_PRICE)
    assert (await bid(server, sea, s1, "70.00")).status == 201
    assert (await bid(server, sea, s2, "60.00")).status == 201
    assert (await server.post(withdraw, {}, s2)).status == 201
    assert_rejected(
        await server.post(f"/api/v1/auctions/{sea}/proxy", {"limit": "1", "currency": "EUR"}, s1),
        Reason.NOT_SUPPORTED,
    )
    for token in (s2, server.token("watcher", "observer", sea), server.officer):
        state = await server.state(sea, token)
        assert state["ranking"] is None
        assert "reserve_price" not in state["rules"] or token == server.officer
    me = (await server.get(f"/api/v1/auctions/{sea}/me", s1)).json()
    assert me["price"] == 7000 and me["rank"] is None and me["leading"] is None
    cancelled = await server.post(
        f"/api/v1/auctions/{sea}/cancel", {"note": "test"}, server.officer
    )
    assert cancelled.status == 200 and cancelled.json()["event"]["outcome"] == "cancelled"
    # A cancel is no close: the sealed bids stay sealed (as the published result does).
    for token in (s2, server.officer):
        assert (await server.state(sea, token))["ranking"] is None

    # Multi-round: registration closes at the start; only the bidder whose turn it is bids.
    await server.wait_phase(mul, "running")
    assert_rejected(
        await server.post(
            f"/api/v1/auctions/{mul}/bidders",
            {"party": "m3", "initial_bid": "700.00"},
            server.officer,
        ),
        Reason.REGISTRATION_CLOSED,
    )
    assert_rejected(await bid(server, mul, m2, "700.00"), Reason.OUT_OF_TURN)
    assert (await server.state(mul, m2))["turn"]["bidder"] == "Bidder 1"
    assert (await bid(server, mul, m1, "850.00")).status == 201
    passed = await server.post(f"/api/v1/auctions/{mul}/pass", {}, m1)
    assert passed.status == 201
    turn = (await server.state(mul, m1))["turn"]
    assert turn["bidder"] == "Bidder 2"
    mine = (await server.get(f"/api/v1/auctions/{mul}/me", m2)).json()
    assert mine["your_turn"] is True and mine["price"] == 80000


async def test_a_bid_after_the_close_is_auction_closed_at_the_close_time(server: Live) -> None:
    rules = english(start_in=0.3, duration=0.4)
    auction = await server.create(rules)
    token = await server.register(auction, "late")
    await server.wait_phase(auction, "running")
    assert (await bid(server, auction, token, "100.00")).status == 201
    # No request touches the auction until after ends_at; the bid itself applies the
    # close first (or a tick that ran just before did): either way, at ends_at exactly.
    await asyncio.sleep(max(0.0, (rules["ends_at"] - now_us()) / S) + 0.01)
    body = assert_rejected(await bid(server, auction, token, "500.00"), Reason.AUCTION_CLOSED)
    assert body["server_time"] > rules["ends_at"]
    ended = [
        e["event"] for e in await server.events(auction) if e["event"]["type"] == "AuctionEnded"
    ]
    assert len(ended) == 1
    assert ended[0]["at"] == rules["ends_at"]
    assert ended[0]["outcome"] == "awarded" and ended[0]["winners"] == ["late"]


# ---------------------------------------------------------------------- edge codes


async def test_bodies_that_are_not_commands_are_4xx_problems(start_server: Any) -> None:
    small = start_server(GAVEL_MAX_BODY="2048")
    auction = await small.create(english(start_in=60))
    token = await small.register(auction, "b")
    path = BIDS.format(auction)

    assert_problem(await small.request("POST", path, body=b"{", token=token), 400, "bad_json")
    assert_problem(await small.request("POST", path, body=b"[]", token=token), 400, "bad_json")
    assert_problem(await small.request("POST", path, body=b"", token=token), 400, "bad_json")
    dup = b'{"amount": "1", "amount": "2", "currency": "EUR"}'
    assert_problem(await small.request("POST", path, body=dup, token=token), 400, "bad_json")
    nan = b'{"amount": NaN, "currency": "EUR"}'
    assert_problem(await small.request("POST", path, body=nan, token=token), 400, "bad_json")
    latin = '{"amount": "1", "currency": "é"}'.encode("latin-1")
    assert_problem(await small.request("POST", path, body=latin, token=token), 400, "bad_json")

    unknown = await small.post(path, {"amount": "1", "currency": "EUR", "bidder": "x"}, token)
    assert assert_problem(unknown, 422, "unknown_field")["field"] == "bidder"
    missing = await small.post(path, {"amount": "1"}, token)
    assert assert_problem(missing, 422, "missing_field")["field"] == "currency"
    for amount in [100, 100.5, True, None, "1e3", " 1", "NaN", "Infinity", "1_000", "١٢"]:
        reply = await small.post(path, {"amount": amount, "currency": "EUR"}, token)
        problem = assert_problem(reply, 422, "invalid_field")
        assert (problem["field"], problem["pointer"]) == ("amount", "/amount")

    huge = json.dumps({"amount": "1", "currency": "EUR", "pad": "x" * 4096}).encode()
    assert_problem(await small.request("POST", path, body=huge, token=token), 413, "body_too_large")
    big_rules = json.dumps({"rules": english(), "pad": "x" * 4096}).encode()
    too_big = await small.request("POST", "/api/v1/auctions", body=big_rules, token=small.officer)
    assert_problem(too_big, 413, "body_too_large")

    body = json.dumps({"amount": "1", "currency": "EUR"}).encode()
    for content_type in ["text/plain", None, "application/json; charset=latin-1", "json"]:
        reply = await small.request("POST", path, body=body, token=token, content_type=content_type)
        assert_problem(reply, 415, "unsupported_media_type")
    ok = await small.request(
        "POST", path, body=body, token=token, content_type="Application/JSON; charset=UTF-8"
    )
    assert_rejected(ok, Reason.AUCTION_NOT_STARTED)  # the media type passed


async def test_unknown_auctions_and_paths_are_not_found(server: Live) -> None:
    officer = server.officer
    bidder = server.token("ghost", "bidder", "nope")
    observer = server.token("eye", "observer", "nope")
    for method, path, token, body in [
        ("GET", "/api/v1/auctions/nope", officer, None),
        ("GET", "/api/v1/auctions/nope", observer, None),
        ("GET", "/api/v1/auctions/nope/me", bidder, None),
        ("GET", "/api/v1/auctions/nope/events", officer, None),
        ("POST", "/api/v1/auctions/nope/bidders", officer, {"party": "p"}),
        ("POST", "/api/v1/auctions/nope/bids", bidder, {"amount": "1", "currency": "EUR"}),
        ("POST", "/api/v1/auctions/nope/proxy", bidder, {"limit": "1", "currency": "EUR"}),
        ("POST", "/api/v1/auctions/nope/accept", bidder, {}),
        ("POST", "/api/v1/auctions/nope/withdraw", bidder, {}),
        ("POST", "/api/v1/auctions/nope/pass", bidder, {}),
        ("POST", "/api/v1/auctions/nope/disqualify", officer, {"bidder": "p"}),
        ("POST", "/api/v1/auctions/nope/cancel", officer, {}),
        ("GET", "/api/v1/auctions/%00", officer, None),
        ("GET", "/api/v1/nothing-here", officer, None),
        ("GET", "/nothing-here", None, None),  # "/" itself is the landing page (issue 14)
        ("POST", "/api/v2/auctions", officer, {}),
    ]:
        reply = await server.request(method, path, body, token=token)
        assert_problem(reply, 404, "not_found")


async def test_wrong_methods_are_405_with_allow(server: Live) -> None:
    for method, path, allowed in [
        ("DELETE", "/api/v1/auctions", {"GET", "POST"}),
        ("PUT", "/api/v1/auctions/x/bids", {"POST"}),
        ("GET", "/api/v1/auctions/x/bids", {"POST"}),
        ("POST", "/healthz", {"GET"}),
        ("PATCH", "/api/v1/tokens", {"POST"}),
    ]:
        reply = await server.request(method, path, token=server.officer)
        assert_problem(reply, 405, "method_not_allowed")
        assert {m.strip() for m in reply.headers["allow"].split(",")} >= allowed


async def test_tokens_are_checked_on_every_request(server: Live) -> None:
    auction = await server.create(english(start_in=60))
    other = await server.create(english(start_in=60))
    bidder = await server.register(auction, "tok")
    path = f"/api/v1/auctions/{auction}"

    missing = assert_problem(await server.get(path), 401, "token_missing")
    assert missing["detail"]
    reply = await server.get(path)
    assert reply.headers["www-authenticate"] == 'Bearer realm="gavel"'
    for header in ["Bearer", "Basic dXNlcjpwdw==", "Bearer not-a-token", "Bearer a.b.c"]:
        reply = await server.request("GET", path, headers={"Authorization": header})
        assert reply.code in {"token_malformed", "token_missing"}, (header, reply.body)
        assert reply.status == 401
    assert_problem(await server.get(path, "abc"), 401, "token_malformed")
    assert_problem(await server.get(path, "!!.!!"), 401, "token_malformed")

    stranger = auth.issue(
        Ed25519PrivateKey.generate(),
        sub="officer-1",
        role=auth.Role.OFFICER,
        auction=None,
        ttl_s=60,
        now_s=int(time.time()),
        jti=auth.new_jti(),
    )
    reply = await server.get(path, stranger)
    assert_problem(reply, 401, "token_bad_signature")
    assert 'error="invalid_token"' in reply.headers["www-authenticate"]
    # Tamper with the claims of a real token: the signature no longer matches.
    claims, signature = bidder.split(".")
    forged = claims[:5] + ("B" if claims[5] == "A" else "A") + claims[6:]
    assert_problem(await server.get(path, f"{forged}.{signature}"), 401, "token_bad_signature")

    expired = auth.issue(
        server.process.key,
        sub="officer-1",
        role=auth.Role.OFFICER,
        auction=None,
        ttl_s=60,
        now_s=int(time.time()) - 3600,
        jti=auth.new_jti(),
    )
    assert_problem(await server.get(path, expired), 401, "token_expired")
    early = auth.issue(
        server.process.key,
        sub="officer-1",
        role=auth.Role.OFFICER,
        auction=None,
        ttl_s=60,
        now_s=int(time.time()) + 3600,
        jti=auth.new_jti(),
    )
    assert_problem(await server.get(path, early), 401, "token_not_yet_valid")

    forbidden = await server.post("/api/v1/auctions", {"rules": english()}, bidder)
    assert_problem(forbidden, 403, "role_forbidden")
    assert 'error="insufficient_scope"' in forbidden.headers["www-authenticate"]
    observer = server.token("eye", "observer", auction)
    for token in (observer, server.officer, server.token("aud", "auditor")):
        assert_problem(await bid(server, auction, token, "1"), 403, "role_forbidden")
    assert_problem(
        await server.post(f"{path}/bidders", {"party": "x"}, bidder), 403, "role_forbidden"
    )
    assert_problem(await server.post(f"{path}/cancel", {}, bidder), 403, "role_forbidden")
    assert_problem(
        await server.post("/api/v1/tokens", {"role": "officer", "party": "me"}, bidder),
        403,
        "role_forbidden",
    )
    assert_problem(await server.get(f"{path}/me", observer), 403, "role_forbidden")

    # A token of auction A is worth nothing on auction B, on every route.
    for method, route, body in [
        ("GET", "", None),
        ("GET", "/me", None),
        ("GET", "/events", None),
        ("POST", "/bids", {"amount": "1", "currency": "EUR"}),
        ("POST", "/withdraw", {}),
    ]:
        reply = await server.request(method, f"/api/v1/auctions/{other}{route}", body, token=bidder)
        assert_problem(reply, 403, "wrong_auction")
    assert_problem(await server.get(f"/api/v1/auctions/{other}", observer), 403, "wrong_auction")


async def test_tokens_route_issues_bound_credentials(server: Live) -> None:
    auction = await server.create(english(start_in=60))
    issued = await server.post(
        "/api/v1/tokens",
        {"role": "observer", "party": "press", "auction": auction, "ttl_s": 60},
        server.officer,
    )
    assert issued.status == 201
    body = issued.json()
    assert (body["role"], body["party"], body["expires_in"]) == ("observer", "press", 60)
    state = await server.state(auction, body["token"])
    assert state["id"] == auction
    auditor = await server.post(
        "/api/v1/tokens", {"role": "auditor", "party": "aud"}, server.officer
    )
    assert auditor.status == 201
    for tree, code, field in [
        ({"role": "bidder", "party": "p"}, "missing_field", "auction"),
        ({"role": "king", "party": "p", "auction": auction}, "invalid_field", "role"),
        (
            {"role": "bidder", "party": "p", "auction": auction, "ttl_s": -1},
            "invalid_field",
            "ttl_s",
        ),
        ({"role": "bidder", "party": "p p", "auction": auction}, "invalid_field", "party"),
        # Regression: an empty auction used to reach auth.issue and answer 500.
        ({"role": "bidder", "party": "p", "auction": ""}, "invalid_field", "auction"),
        ({"role": "bidder", "party": "p", "auction": "a" * 500}, "invalid_field", "auction"),
    ]:
        reply = await server.post("/api/v1/tokens", tree, server.officer)
        assert assert_problem(reply, 422, code)["field"] == field


async def test_events_after_is_bounded(server: Live) -> None:
    auction = await server.create(english(start_in=60))
    base = f"/api/v1/auctions/{auction}/events?after="
    assert [e["seq"] for e in (await server.get(base + "0", server.officer)).json()["events"]] == [
        1
    ]
    assert (await server.get(base + "1", server.officer)).json()["events"] == []
    # Regression: a number beyond bigint reached PostgreSQL and answered 500.
    # int() would take a sign, spaces, underscores and other scripts' digits; the
    # query grammar is ASCII digits only, on every route.
    for after in ["-1", "abc", "1.5", "9" * 30, str(2**63), "%2B1", "%201", "1_0", "%D9%A5"]:
        reply = await server.get(base + after, server.officer)
        assert assert_problem(reply, 422, "invalid_field")["field"] == "after"


async def test_rate_limits_answer_429_with_retry_after(start_server: Any) -> None:
    limited = start_server(GAVEL_RATE_PER_S="1", GAVEL_RATE_BURST="2")
    token = limited.token("officer-2", "officer")
    statuses = [(await limited.get("/api/v1/auctions", token)).status for _ in range(2)]
    assert statuses == [200, 200]
    reply = await limited.get("/api/v1/auctions", token)
    problem = assert_problem(reply, 429, "rate_limited")
    assert int(reply.headers["retry-after"]) >= 1
    assert problem["detail"]
    # Another token has its own bucket (the address bucket is four times larger)...
    assert (await limited.get("/api/v1/auctions", limited.token("o3", "officer"))).status == 200
    # ... and operations endpoints are never limited.
    assert all([(await limited.get("/healthz")).status == 200 for _ in range(10)])
    # Without any token, the address bucket still applies.
    codes = {(await limited.get("/api/v1/auctions")).code for _ in range(12)}
    assert "rate_limited" in codes
    await asyncio.sleep(1.05)
    assert (await limited.get("/api/v1/auctions", token)).status == 200


# ---------------------------------------------------------------------- privacy


async def test_bidders_never_act_or_read_as_each_other(server: Live) -> None:
    auction = await server.create(english(start_in=0.3))
    alice = await server.register(auction, "alice-co")
    bob = await server.register(auction, "bob-co")
    observer = server.token("press", "observer", auction)
    await server.wait_phase(auction, "running")

    # There is no way to name another bidder in a command: the token is the bidder.
    impostor = await server.post(
        BIDS.format(auction), {"amount": "150.00", "currency": "EUR", "bidder": "bob-co"}, alice
    )
    assert assert_problem(impostor, 422, "unknown_field")["field"] == "bidder"
    assert (await bid(server, auction, alice, "100.00")).status == 201
    assert (await bid(server, auction, bob, "110.00")).status == 201
    assert (
        await server.post(
            f"/api/v1/auctions/{auction}/proxy", {"limit": "300", "currency": "EUR"}, alice
        )
    ).status == 201
    assert_rejected(await bid(server, auction, bob, "110.50"), Reason.INSUFFICIENT_IMPROVEMENT)

    officer_log = await server.events(auction)
    by_type = [(e["event"]["type"], e["event"].get("bidder")) for e in officer_log]
    assert ("BidAccepted", "alice-co") in by_type and ("BidAccepted", "bob-co") in by_type
    # Even the officer sees no proxy limit before the end (api/auctions/views.py), only that
    # a proxy was set; alice's own view of that seq is the ProxySet itself.
    assert ("Redacted", None) in by_type and ("ProxySet", "alice-co") not in by_type
    proxy_seq = officer_log[by_type.index(("Redacted", None))]["seq"]
    assert ("CommandRejected", "bob-co") in by_type

    # /me is the caller's own standing, and nothing else.
    mine = (await server.get(f"/api/v1/auctions/{auction}/me", alice)).json()
    theirs = (await server.get(f"/api/v1/auctions/{auction}/me", bob)).json()
    assert (mine["bidder"], mine["label"], mine["proxy_limit"]) == ("alice-co", "Bidder 1", 30000)
    assert (theirs["bidder"], theirs["label"], theirs["proxy_limit"]) == (
        "bob-co",
        "Bidder 2",
        None,
    )
    assert mine["leading"] is True and theirs["leading"] is False

    # Public state: labels for bidders and observers, party ids for the officer.
    for token in (alice, bob, observer):
        state = await server.state(auction, token)
        names = {line["bidder"] for line in state["ranking"]}
        assert names == {"Bidder 1", "Bidder 2"}
        assert "alice-co" not in json.dumps(state) and "bob-co" not in json.dumps(state)
    officer_state = await server.state(auction)
    assert {line["bidder"] for line in officer_state["ranking"]} == {"alice-co", "bob-co"}

    # The log as each role may see it: own events marked, proxies and others'
    # rejections redacted, never a party id.
    for token, party in [(alice, "alice-co"), (bob, "bob-co"), (observer, None)]:
        reply = await server.get(f"/api/v1/auctions/{auction}/events", token)
        events = [e["event"] for e in reply.json()["events"]]
        assert [e["seq"] for e in reply.json()["events"]] == [e["seq"] for e in officer_log]
        text = json.dumps(events)
        assert "alice-co" not in text and "bob-co" not in text
        for event, full in zip(events, officer_log, strict=True):
            own = full["event"].get("bidder") == party
            if full["seq"] == proxy_seq:
                mine_now = party == "alice-co"
                assert event["type"] == ("ProxySet" if mine_now else "Redacted")
                if mine_now:
                    assert (event["limit"], event["bidder"], event["you"]) == (
                        30000,
                        "Bidder 1",
                        True,
                    )
            elif full["event"]["type"] == "CommandRejected" and not own:
                assert event == {"type": "Redacted"}
            elif "bidder" in full["event"]:
                assert event["bidder"] in {"Bidder 1", "Bidder 2"}
                assert event.get("you", False) is own


# ---------------------------------------------------------------------- fuzz


async def test_junk_never_gets_a_5xx(server: Live) -> None:
    auction = await server.create(english(start_in=0.3))
    bidder = await server.register(auction, "fuzz")
    await server.wait_phase(auction, "running")
    rng = random.Random(20240611)
    tokens = [None, server.officer, bidder, "junk", "a.b", server.token("o", "observer", auction)]
    routes = [
        ("POST", "/api/v1/auctions"),
        ("GET", "/api/v1/auctions"),
        ("GET", f"/api/v1/auctions/{auction}"),
        ("GET", f"/api/v1/auctions/{auction}/me"),
        ("GET", f"/api/v1/auctions/{auction}/events"),
        ("POST", f"/api/v1/auctions/{auction}/bidders"),
        ("POST", f"/api/v1/auctions/{auction}/bids"),
        ("POST", f"/api/v1/auctions/{auction}/proxy"),
        ("POST", f"/api/v1/auctions/{auction}/accept"),
        ("POST", f"/api/v1/auctions/{auction}/withdraw"),
        ("POST", f"/api/v1/auctions/{auction}/pass"),
        ("POST", f"/api/v1/auctions/{auction}/disqualify"),
        ("POST", f"/api/v1/auctions/{auction}/cancel"),
        ("POST", "/api/v1/tokens"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
    ]
    junk_values: list[Any] = [
        None, True, 0, -1, 2**64, 1e308, "", "x" * 300, "\u0000", "\ud800", "1e999",
        "-0", "0.000000001", "99999999999999999999", [], {}, [1], {"a": {"b": {}}},
        "EUR", "english", "officer", "../../etc", "%00", "<script>",
    ]  # fmt: skip
    fields = [
        "amount", "currency", "limit", "expected", "party", "bidder", "note", "role",
        "auction", "ttl_s", "id", "rules", "coefficient", "cost", "initial_bid", "name",
    ]  # fmt: skip
    raw_bodies = [
        b"", b"{", b"}", b"null", b"[]", b'"x"', b"1", b"\xff\xfe", b"{\"a\":" * 5000,
        b'{"amount": "1", "currency": "EUR"}' * 2, b"\x00" * 10, "{\"é\": 1}".encode("utf-16"),
    ]  # fmt: skip

    def junk_rules() -> Any:
        rules = english(start_in=rng.choice([-10, 0, 1, 1e9]))
        for _ in range(rng.randint(1, 3)):
            key = rng.choice([*rules, "format", "step", "soft_close", "pricing", "side"])
            rules[key] = rng.choice([*junk_values, {"amount": "x"}, {"window_us": -1}])
        return rules

    sent: list[tuple[str, str, bytes]] = []
    for _ in range(250):
        method, path = rng.choice(routes)
        if rng.random() < 0.15:
            method = rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
        if rng.random() < 0.15:
            path += rng.choice(["/", "//", "/x", "?after=-5", "?after=1e3", "/%2e%2e", "%ff"])
        if rng.random() < 0.3:
            body = rng.choice(raw_bodies)
        else:
            tree: dict[str, Any] = {}
            for _ in range(rng.randint(0, 4)):
                tree[rng.choice(fields)] = rng.choice(junk_values)
            if path.endswith("/auctions") and rng.random() < 0.7:
                tree["rules"] = junk_rules()
            body = json.dumps(tree).encode()
        content_type = rng.choice(["application/json", "application/json", "text/plain", None])
        reply = await server.request(
            method, path, body=body, token=rng.choice(tokens), content_type=content_type
        )
        sent.append((method, path, body[:80]))
        assert reply.status < 500, (method, path, body[:200], reply.body)
        if reply.status >= 400 and method != "HEAD":
            assert reply.headers["content-type"].startswith("application/problem+json")

    # The HTTP layer's own refusals are problems too, never a 500.
    for data in [
        b"POST /api/v1/auctions HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2"
        b"\r\nConnection: close\r\n\r\n{}",
        b"GARBAGE\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\nConnection: close\r\n\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]:
        reply = await server.raw(data)
        assert 400 <= reply.status < 500, (data[:60], reply.status, reply.body)
        assert reply.code is not None

    # The server survived all of it.
    assert (await bid(server, auction, bidder, "100.00")).status < 500
    assert (await server.get("/readyz")).status == 200
