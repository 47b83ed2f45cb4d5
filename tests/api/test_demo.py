"""``gavel serve --demo`` (what ``make run`` starts): the printed credentials really work."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

import api.demo
from api.demo import demo_links, opponent_seed, welcome_text
from api.storage.postgres import dsn_with_database
from bidders_sim.opponents import opponent_value
from engine.money import format_minor
from loadtests.server_process import ServerProcess
from tests.api.conftest import _create_database, _drop_databases


def _post(url: str, token: str, body: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_demo_prints_a_bidder_token_and_a_command_that_places_a_bid(
    pg_server_dsn: str, tmp_path: Path
) -> None:
    name = _create_database(pg_server_dsn)
    process = ServerProcess(
        tmp_path,
        database_url=dsn_with_database(pg_server_dsn, name),
        args=("--demo",),
        env={"GAVEL_LOG_LEVEL": "INFO"},  # the start-up lines, to see the welcome after them
    )
    try:
        process.start()
        text = process.log()
        auction = re.search(r"reverse auction '(demo-\d+)'", text)
        acme = re.search(r"Bidder 'acme' token:\n\s+(\S+)", text)
        assert auction is not None and acme is not None, text
        url = f"{process.url}/api/v1/auctions/{auction[1]}/bids"
        assert f"curl -s -X POST {url}" in text
        # The links come last, after every start-up line; none needs more than a browser:
        # two suppliers' one-time links to the supplier's page, the officer's console and
        # the auditor's desk, the landing page, the docs.
        ending = text.rstrip().splitlines()
        assert ending[-7] == f"Gavel is running at {process.url}", text
        assert ending[-4].split()[-1] == f"{process.url}/app/#/officer", text
        assert ending[-3].split()[-1] == f"{process.url}/app/#/audit", text
        assert ending[-2].split() == ["Landing", "page:", f"{process.url}/"], text
        assert ending[-1].split() == ["API", "docs:", f"{process.url}/api/v1/docs"], text
        invites = re.findall(r"Bid as '(\w+)' \(one-time link, own window\):\s+(\S+)", text)
        assert [party for party, _ in invites] == ["acme", "globex"], text
        for party, link in invites:
            assert link.startswith(f"{process.url}/app/#invite=")
            code = link.partition("#invite=")[2]
            status, redeemed = _post(f"{process.url}/api/v1/invitations/redeem", "", {"code": code})
            assert status == 200 and redeemed["party"] == party, redeemed
            assert redeemed["auction_id"] == auction[1]
            status, again = _post(f"{process.url}/api/v1/invitations/redeem", "", {"code": code})
            assert (status, again["code"]) == (410, "invitation_used")
        assert "ws://" not in text and "Watch it live" not in text
        assert text.index('"msg": "ready"') < text.index("Demo: reverse auction")
        # The demo auction opens two seconds after start-up.
        deadline = time.monotonic() + 15
        while True:
            status, body = _post(url, acme[1], {"amount": "99000.00", "currency": "EUR"})
            if body.get("code") != "auction_not_started" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 201, body
        event = body["event"]
        assert isinstance(event, dict)
        # 99,000.00 EUR = 9,900,000 cents; the bidder sees itself by label, marked as "you"
        assert (event["price"], event["bidder"], event["you"]) == (9_900_000, "Bidder 1", True)
    finally:
        process.stop()
        _drop_databases(pg_server_dsn, {name})


def test_the_welcome_ends_with_the_links_to_open() -> None:
    text = welcome_text(
        "demo-1", "http://127.0.0.1:8000", "OFF", {"acme": "A", "globex": "G"}, {"acme": "C1"}
    )
    ending = text.splitlines()[-6:]
    assert text.endswith("\n") and ending[0] == "Gavel is running at http://127.0.0.1:8000"
    assert [line.split(":  ")[-1].strip() for line in ending[1:]] == [
        "http://127.0.0.1:8000/app/#invite=C1",
        "http://127.0.0.1:8000/app/#/officer",
        "http://127.0.0.1:8000/app/#/audit",
        "http://127.0.0.1:8000/",
        "http://127.0.0.1:8000/api/v1/docs",
    ]
    # One column of URLs, each after its label.
    assert len({line.index("http") for line in ending[1:]}) == 1
    assert ending[1].startswith("  Bid as 'acme' (one-time link, own window):")
    assert "Officer token:\n  OFF" in text and "Bidder 'globex' token:\n  G" in text
    # The command to paste uses the first bidder's token, and every link is a page.
    assert "Place a bid as acme:" in text and "Bearer A'" in text
    assert all(url.startswith("http://") for _, url in demo_links("http://h:1"))


async def test_the_demos_opponent_answers_a_bid_and_never_goes_below_its_cost(
    pg_server_dsn: str, tmp_path: Path
) -> None:
    """initech, a simulated supplier (bidders_sim, found through its entry point), answers
    acme's bid over its own websocket with a better one after a short pause, never below
    its cost (drawn from the auction id's seed), and stops with the server."""
    name = _create_database(pg_server_dsn)
    process = ServerProcess(
        tmp_path,
        database_url=dsn_with_database(pg_server_dsn, name),
        args=("--demo",),
        env={"GAVEL_LOG_LEVEL": "INFO"},
    )
    try:
        process.start()
        text = process.log()
        auction = re.search(r"reverse auction '(demo-\d+)'", text)
        acme = re.search(r"Bidder 'acme' token:\n\s+(\S+)", text)
        assert auction is not None and acme is not None, text
        assert "initech (Bidder 3) bids back" in text, text
        cost = opponent_value(random.Random(opponent_seed(auction[1])), 10_000_000, "EUR")
        assert 7_500_000 <= cost <= 8_800_000
        bids, answers = await _bid_against_the_opponent(process, auction[1], acme[1], cost)
        theirs = [price for who, price in bids if who == "Bidder 3"]
        assert theirs and min(theirs) >= cost, (theirs, cost)
        assert bids[-1] == ("Bidder 1", cost - 10_000), bids
        assert [answer["type"] for answer in answers] == ["ack", "ack"], answers
        assert process.stop() == 0
        assert "Traceback" not in process.log() and "opponent" not in process.log()
    finally:
        process.stop()
        _drop_databases(pg_server_dsn, {name})


async def _bid_against_the_opponent(
    process: ServerProcess, auction_id: str, token: str, cost: int
) -> tuple[list[tuple[str, int]], list[dict[str, Any]]]:
    """As acme: bid 99000.00 once bidding opens, see initech answer with a better bid,
    then bid 100.00 under initech's cost and see no answer for 4.5 s (its pause is at
    most 4 s). The bids seen (label, price) and acme's answers (after the opening's
    ``auction_not_started``)."""
    bids: list[tuple[str, int]] = []
    answers: list[dict[str, Any]] = []
    async with connect(
        f"{process.ws_url}/ws/v1/auctions/{auction_id}",
        subprotocols=[Subprotocol("gavel.v1")],
        additional_headers={"Authorization": f"Bearer {token}"},
    ) as ws:
        await ws.send(json.dumps({"type": "subscribe", "since": 0}))

        async def until(done: Callable[[], bool], seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while not done():
                frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
                if frame["type"] == "event" and frame["event"]["type"] == "BidAccepted":
                    bids.append((frame["event"]["bidder"], frame["event"]["price"]))
                elif frame["type"] in ("ack", "reject"):
                    answers.append(frame)

        async def bid(amount: int) -> dict[str, Any]:
            request_id = f"r{len(answers)}"
            price = format_minor(amount, "EUR")
            frame = {"type": "bid", "request_id": request_id, "amount": price, "currency": "EUR"}
            await ws.send(json.dumps(frame))
            await until(lambda: bool(answers) and answers[-1]["request_id"] == request_id, 10)
            return answers[-1]

        # The demo auction opens two seconds after start-up.
        deadline = time.monotonic() + 15
        while (await bid(9_900_000)).get("code") == "auction_not_started":
            assert time.monotonic() < deadline, answers
            answers.pop()
            await asyncio.sleep(0.3)
        # initech answers with a better offer after its pause (at most 4 s).
        await until(lambda: any(who == "Bidder 3" for who, _ in bids), 10)
        assert [price for who, price in bids if who == "Bidder 3"][-1] <= 9_850_000, bids
        # acme goes under initech's cost: initech has no answer left.
        await bid(cost - 10_000)
        with contextlib.suppress(TimeoutError):
            await until(lambda: False, 4.5)
    return bids, answers


def test_the_welcome_says_who_bids_back_or_that_no_one_does() -> None:
    tokens = {"acme": "A", "globex": "G", "initech": "I"}
    told = welcome_text("demo-1", "http://h:1", "OFF", tokens, None, ("initech", "Bidder 3"))
    assert "initech (Bidder 3) bids back" in told
    alone = welcome_text("demo-1", "http://h:1", "OFF", tokens)
    assert "No simulated opponent bids (bidders_sim is not installed)" in alone
    assert "bids back" not in alone
    # Either way the links stay last.
    assert told.splitlines()[-1] == alone.splitlines()[-1]
    assert told.splitlines()[-1].split() == ["API", "docs:", "http://h:1/api/v1/docs"]


def test_the_opponents_come_from_an_entry_point_or_not_at_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bidders_sim.opponents import run_opponents

    assert api.demo.find_opponents() is run_opponents  # pyproject's gavel.demo:opponents
    monkeypatch.setattr(api.demo, "entry_points", lambda group: [])
    assert api.demo.find_opponents() is None
    broken = EntryPoint("opponents", "bidders_sim.no_such_module:run", api.demo.OPPONENTS_GROUP)
    monkeypatch.setattr(api.demo, "entry_points", lambda group: [broken])
    assert api.demo.find_opponents() is None
    # The same auction, the same opponents' seed.
    assert api.demo.opponent_seed("demo-1") == api.demo.opponent_seed("demo-1")
