"""The public list of live and upcoming auctions (``GET /api/v1/public/auctions``,
:mod:`api.http.public`) against a running server on real PostgreSQL.

No token; newest first; only scheduled and running auctions (ended and cancelled ones are
not listed); each entry holds exactly :data:`api.http.public.FIELDS`, each equal to what an
observer's state says; and nothing secret appears anywhere in the answer: no sealed
amount, no multi-round offer, no reserve, no bidder's party or label.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import jsonschema

from api.access import rules
from api.http.public import FIELDS, LIST_LIMIT, public_blueprint, public_entry
from tests.api.conftest import Live, Reply
from tests.api.http.test_app import dutch, now_us
from tests.api.http.test_public_operations import answer_schema

S = 1_000_000
LIST = "/api/v1/public/auctions"


def test_the_blueprint_holds_one_route_open_to_anyone() -> None:
    routes = {r.name.rpartition(".")[2]: r.uri for r in public_blueprint(None)._future_routes}  # type: ignore[arg-type]
    assert routes == {"public_auctions": LIST}
    assert rules.rule_for("public_auctions") is rules.PUBLIC


def english(start_in: float = 0.3, duration: float = 600.0) -> dict[str, Any]:
    starts = now_us() + int(start_in * S)
    return {
        "format": "english",
        "currency": "EUR",
        "starts_at": starts,
        "ends_at": starts + int(duration * S),
        "start_price": "100.00",
        "reserve_price": "777.77",
        "step": {"amount": "1.00"},
    }


def reverse(start_in: float = 3600.0) -> dict[str, Any]:
    starts = now_us() + int(start_in * S)
    return {
        "format": "reverse",
        "currency": "AZN",
        "starts_at": starts,
        "ends_at": starts + 600 * S,
        "start_price": "1000.00",
        "step": {"percent": "1"},
    }


def sealed(start_in: float = 0.3) -> dict[str, Any]:
    starts = now_us() + int(start_in * S)
    return {
        "format": "sealed",
        "currency": "EUR",
        "starts_at": starts,
        "ends_at": starts + 600 * S,
        "start_price": "10.00",
        "reserve_price": "55.55",
    }


def multiround(start_in: float = 0.5) -> dict[str, Any]:
    return {
        "format": "multiround",
        "currency": "EUR",
        "starts_at": now_us() + int(start_in * S),
        "turn_us": 600 * S,
        "step": {"amount": "1.00"},
        "rounds": 2,
    }


def ident(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def listed(server: Live) -> dict[str, Any]:
    reply = await server.get(LIST)
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = reply.json()
    assert set(body) == {"server_time", "auctions", "more"}
    # What the OpenAPI document says is served (no field beside the documented ones).
    jsonschema.validate(body, answer_schema())
    for entry in body["auctions"]:
        assert tuple(entry) == FIELDS
    return body


async def bid(server: Live, auction: str, token: str, amount: str) -> Reply:
    return await server.post(
        f"/api/v1/auctions/{auction}/bids", {"amount": amount, "currency": "EUR"}, token
    )


async def test_live_and_upcoming_auctions_newest_first_and_never_a_secret(server: Live) -> None:
    live = await server.create(english(), ident("live"))
    upcoming = await server.create(reverse(), ident("soon"))
    sea = await server.create(sealed(), ident("sealed"))
    mul = await server.create(multiround(), ident("multi"))
    dut = await server.create(dutch(), ident("dutch"))
    gone = await server.create(english(), ident("cancel"))

    e1 = await server.register(live, "party-e1-secret")
    s1 = await server.register(sea, "party-s1-secret")
    await server.register(mul, "party-m1-secret", initial_bid="913.57")
    await server.register(mul, "party-m2-secret", initial_bid="824.68")
    d1 = await server.register(dut, "party-d1-secret")
    await server.register(upcoming, "party-r1-secret")
    for auction in (live, sea, dut, gone, mul):
        await server.wait_phase(auction, "running")
    assert (await bid(server, live, e1, "123.45")).status == 201
    assert (await bid(server, sea, s1, "67.89")).status == 201
    # Dutch: taken at once, so ended; cancelled: ended too. Neither is listed.
    taken = await server.post(
        f"/api/v1/auctions/{dut}/accept", {"expected": "1000.00", "currency": "EUR"}, d1
    )
    assert taken.status == 201
    cancelled = await server.post(f"/api/v1/auctions/{gone}/cancel", {"note": "x"}, server.officer)
    assert cancelled.status == 200

    body = await listed(server)
    ids = [entry["id"] for entry in body["auctions"]]
    # Newest first: the order of creation, reversed.
    assert ids == [mul, sea, upcoming, live], ids
    assert body["more"] is False
    entries = {entry["id"]: entry for entry in body["auctions"]}
    assert entries[live]["phase"] == "running" and entries[live]["format"] == "english"
    assert entries[upcoming]["phase"] == "scheduled" and entries[upcoming]["currency"] == "AZN"
    assert entries[upcoming]["next_deadline"] == entries[upcoming]["starts_at"]
    assert entries[sea]["ends_at"] == entries[sea]["next_deadline"] is not None
    assert entries[mul]["ends_at"] is None and entries[mul]["next_deadline"] is not None

    # Each entry is the observer's state, narrowed: no field of its own making.
    for auction, entry in entries.items():
        observer = server.token("press", "observer", auction)
        state = await server.state(auction, observer)
        expected = public_entry(state)
        assert {k: v for k, v in entry.items() if k != "next_deadline"} == {
            k: v for k, v in expected.items() if k != "next_deadline"
        }

    text = json.dumps(body)
    for secret in ("party-", "Bidder", "reserve", "price", "ranking", "bidders"):
        assert secret not in text, secret
    # No amount anywhere: the bids, offers and reserves in minor units (times aside,
    # every number of an entry is a time).
    numbers = [v for e in body["auctions"] for v in e.values() if isinstance(v, int)]
    assert not set(numbers) & {12345, 6789, 91357, 82468, 77777, 5555, 10000, 100000}
    assert server.officer not in text

    # No token needed, and one given changes nothing (it is not read).
    with_token = await server.get(LIST, token=server.officer)
    assert [e["id"] for e in with_token.json()["auctions"]] == ids


async def test_an_auction_that_ends_leaves_the_list(server: Live) -> None:
    short = await server.create(english(start_in=0.2, duration=1.0), ident("short"))
    await server.wait_phase(short, "running")
    assert short in [e["id"] for e in (await listed(server))["auctions"]]
    await server.wait_phase(short, "ended", timeout=10.0)
    assert short not in [e["id"] for e in (await listed(server))["auctions"]]


async def test_the_list_is_capped_and_says_so(server: Live) -> None:
    body = await listed(server)
    already = len(body["auctions"])
    for _ in range(LIST_LIMIT + 1 - already):
        await server.create(reverse())
    body = await listed(server)
    assert len(body["auctions"]) == LIST_LIMIT and body["more"] is True


async def test_bad_requests_are_problems_never_500(server: Live) -> None:
    reply = await server.request("POST", LIST, {})
    assert reply.status == 405 and reply.code == "method_not_allowed"
    reply = await server.get(LIST + "/nope")
    assert reply.status == 404 and reply.json()["detail"]


async def test_the_list_is_rate_limited_per_address(start_server: Callable[..., Live]) -> None:
    limited = start_server(GAVEL_RATE_PER_S="1", GAVEL_RATE_BURST="2")  # 4/s, burst 8
    replies = [await limited.get(LIST) for _ in range(12)]
    statuses = [reply.status for reply in replies]
    assert set(statuses) == {200, 429}, statuses
    refused = next(reply for reply in replies if reply.status == 429)
    assert refused.code == "rate_limited" and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["detail"]
