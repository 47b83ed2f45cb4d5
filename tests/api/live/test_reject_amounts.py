"""Issue 14: every refusal that names an amount names it in major units with its currency
(``"at least 1150.00 EUR"``), over the websocket (``reject``) and over HTTP (the RFC 9457
problem) alike, and carries the same amount for machines in ``bound``: ``kind``,
``amount`` (major units, a plain decimal string), ``amount_minor`` (integer minor
units) and ``currency``. A refusal naming no amount has ``bound: null`` on the socket
and no ``bound`` member in the problem.

One real server and PostgreSQL for the module; each case refuses the same amount once
on a socket and once over HTTP (a refusal changes nothing, so both see the same state).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from jsonschema import Draft202012Validator
from websockets.asyncio.client import ClientConnection

from api.http.operations import problem_schemas
from contracts import messages as m

if TYPE_CHECKING:
    from tests.api.conftest import Live

S = 1_000_000
_IDS = itertools.count(1)


@pytest.fixture(scope="module")
def live(start_server: Callable[..., Live]) -> Live:
    return start_server()


def _now_us() -> int:
    return time.time_ns() // 1000


def _rules(fmt: str, currency: str = "EUR", **fields: Any) -> dict[str, Any]:
    starts = _now_us() + S // 5
    rules: dict[str, Any] = {"format": fmt, "currency": currency, "starts_at": starts}
    if fmt not in ("dutch", "multiround"):
        rules["ends_at"] = starts + 120 * S
    return {**rules, **fields}


async def _socket(live: Live, auction: str, token: str) -> ClientConnection:
    ws = await live.connect(auction, token)
    while json.loads(await ws.recv())["type"] != "welcome":
        pass
    return ws


async def _answer(ws: ClientConnection, kind: str, **fields: Any) -> dict[str, Any]:
    """Send a client message; its ack or reject (every other frame skipped)."""
    request_id = f"q-{next(_IDS)}"
    await ws.send(json.dumps({"type": kind, "request_id": request_id, **fields}))
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame.get("request_id") == request_id:
            m.from_json(json.dumps(frame), m.SERVER_MESSAGES)  # a frame of the contract
            return frame


_WORDS = {"min": "at least", "max": "at most", "price": "the price is"}


def _bound(kind: str, amount: str, minor: int, currency: str) -> dict[str, Any]:
    return {"kind": kind, "amount": amount, "amount_minor": minor, "currency": currency}


async def _refused_alike(
    live: Live,
    auction: str,
    token: str,
    ws: ClientConnection,
    message: tuple[str, dict[str, Any]],
    path: str,
    expected: tuple[str, str, dict[str, Any] | None],
) -> None:
    """``message`` on the socket and its body on ``path`` over HTTP are refused with the
    same code, words and bound."""
    code, detail, bound = expected
    kind, fields = message
    reject = await _answer(ws, kind, **fields)
    assert (reject["type"], reject["code"], reject["detail"]) == ("reject", code, detail), reject
    assert reject["bound"] == bound, reject
    reply = await live.post(f"/api/v1/auctions/{auction}/{path}", fields, token=token)
    assert reply.status in (409, 422), reply.body
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert (problem["code"], problem["detail"]) == (code, detail), problem
    assert problem.get("bound", None) == bound, problem
    Draft202012Validator(problem_schemas()["Problem"]).validate(problem)  # as documented
    if bound is not None:  # the words and the field agree
        assert f"{bound['amount']} {bound['currency']}" in detail
        assert detail.startswith(
            {"min": "at least", "max": "at most", "price": "the price is"}[bound["kind"]]
        )


async def test_an_english_auctions_refusals_name_their_bound_in_major_units(live: Live) -> None:
    rules = _rules(
        "english", start_price="1150.00", step={"amount": "10.00"}, max_amount="50000.00"
    )
    auction = await live.create(rules)
    ann = await live.register(auction, "ann")
    bob = await live.register(auction, "bob")
    await live.wait_phase(auction, "running")
    ws = await _socket(live, auction, ann)

    def bid(amount: str, currency: str = "EUR") -> tuple[str, dict[str, Any]]:
        return "bid", {"amount": amount, "currency": currency}

    below = ("below_start_price", "at least 1150.00 EUR", _bound("min", "1150.00", 115000, "EUR"))
    await _refused_alike(live, auction, ann, ws, bid("1000.00"), "bids", below)
    too_large = (
        "amount_too_large",
        "at most 50000.00 EUR",
        _bound("max", "50000.00", 5_000_000, "EUR"),
    )
    await _refused_alike(live, auction, ann, ws, bid("60000.00"), "bids", too_large)
    # No amount named: no bound.
    wrong = ("wrong_currency", "this auction is in EUR", None)
    await _refused_alike(live, auction, ann, ws, bid("2000.00", "USD"), "bids", wrong)

    kind, fields = bid("1150.00")
    assert (await _answer(ws, kind, **fields))["type"] == "ack"
    step = (
        "insufficient_improvement",
        "at least 1160.00 EUR",
        _bound("min", "1160.00", 116000, "EUR"),
    )
    bob_ws = await _socket(live, auction, bob)
    await _refused_alike(live, auction, bob, bob_ws, bid("1155.00"), "bids", step)
    # A proxy that cannot lead says by how much it would; the leader's cannot fall below its bid.
    lead = (
        "proxy_limit_too_low",
        "at least 1160.00 EUR to lead",
        _bound("min", "1160.00", 116000, "EUR"),
    )
    proxy = ("proxy", {"limit": "1159.99", "currency": "EUR"})
    await _refused_alike(live, auction, bob, bob_ws, proxy, "proxy", lead)
    own = (
        "proxy_limit_too_low",
        "at least 1150.00 EUR (your bid)",
        _bound("min", "1150.00", 115000, "EUR"),
    )
    low = ("proxy", {"limit": "1100.00", "currency": "EUR"})
    await _refused_alike(live, auction, ann, ws, low, "proxy", own)
    for each in (ws, bob_ws):
        await each.close()


async def test_reverse_sealed_and_yen_refusals_name_their_bound(live: Live) -> None:
    reverse = await live.create(_rules("reverse", start_price="1000.00", step={"amount": "5.00"}))
    sealed = await live.create(_rules("sealed", start_price="250.000", currency="KWD"))
    yen = await live.create(_rules("english", "JPY", start_price="5000", step={"amount": "100"}))
    tokens = {auction: await live.register(auction, "ann") for auction in (reverse, sealed, yen)}
    for auction in tokens:
        await live.wait_phase(auction, "running")
    cases = [
        (
            reverse,
            {"amount": "1200.00", "currency": "EUR"},
            ("above_start_price", "at most 1000.00 EUR", _bound("max", "1000.00", 100000, "EUR")),
        ),
        (
            sealed,
            {"amount": "249.999", "currency": "KWD"},
            ("below_start_price", "at least 250.000 KWD", _bound("min", "250.000", 250000, "KWD")),
        ),
        (
            yen,
            {"amount": "4999", "currency": "JPY"},
            ("below_start_price", "at least 5000 JPY", _bound("min", "5000", 5000, "JPY")),
        ),
    ]
    for auction, fields, expected in cases:
        ws = await _socket(live, auction, tokens[auction])
        await _refused_alike(live, auction, tokens[auction], ws, ("bid", fields), "bids", expected)
        await ws.close()


async def test_a_stale_dutch_price_names_the_clocks_price(live: Live) -> None:
    rules = _rules(
        "dutch", start_price="1000.00", step="10.00", interval_us=60 * S, limit_price="500.00"
    )
    auction = await live.create(rules)
    ann = await live.register(auction, "ann")
    await live.wait_phase(auction, "running")
    ws = await _socket(live, auction, ann)
    stale = ("stale_price", "the price is 1000.00 EUR", _bound("price", "1000.00", 100000, "EUR"))
    accept = ("accept", {"expected": "990.00", "currency": "EUR"})
    await _refused_alike(live, auction, ann, ws, accept, "accept", stale)
    await ws.close()


async def test_an_initial_offer_over_the_ceiling_names_it_in_the_problem(live: Live) -> None:
    rules = _rules(
        "multiround",
        start_price="1000.00",
        step={"amount": "10.00"},
        turn_us=30 * S,
        rounds=1,
    )
    rules["starts_at"] += 60 * S  # bidders join before the start
    auction = await live.create(rules)
    reply = await live.post(
        f"/api/v1/auctions/{auction}/bidders",
        {"party": "ann", "initial_bid": "1200.00"},
        token=live.officer,
    )
    assert reply.status == 422, reply.body
    problem = reply.json()
    assert (problem["code"], problem["detail"]) == ("above_start_price", "at most 1000.00 EUR")
    assert problem["bound"] == _bound("max", "1000.00", 100000, "EUR")
    Draft202012Validator(problem_schemas()["Problem"]).validate(problem)
