"""The supplier's page (``/app/``) in the formats beyond a plain open auction, in real
headless Chromium against the live server on real PostgreSQL, each driven end to end
through its controls and checked against the engine (the server's state and events):

- multi-round (the Prozorro model): both pages joined before the start (the others'
  tender-stage offers were hidden then); the round, the turn order and whose turn it is
  on the server's clock; in turn a bid (private until the turn ends: the other page does
  not show it) and a pass; my place before and after my turn; a bid that reaches the
  server after its turn ended is refused in words; the result is the engine's;
- MEAT (a scored reverse auction): my price and my score side by side, the ranking by
  score (a higher price leads), the price I would need to lead, reckoned as the engine
  does; bid at that price, I lead;
- proxy bidding (English): a limit set, shown only to me, the engine's bids for it shown
  as such, a limit too low refused in words, the limit raised.

One server and one Chromium for the module; axe-core on the new panels; screenshots at
390 and 1280 px in ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute

from tests.api.conftest import Live
from tests.api.http.test_supplier_page import (
    ARTIFACTS,
    ROOT,
    S,
    axe_serious,
    bid,
    live,
    nbsp,
    open_link,
    rules,
    shoot,
    shows,
    text,
)
from tests.browser import watch_errors

#: The module's tests share one event loop, the one its Chromium lives in.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server(GAVEL_HEARTBEAT_S="1")


@pytest.fixture(scope="module")
def browser(chromium: Browser) -> Browser:
    """The module's Chromium (conftest.py), kept across tests: no context closed between."""
    return chromium


async def invite(
    server: Live, spec: dict[str, Any], bidders: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, str]]:
    """An auction of ``spec`` with ``bidders`` (party -> registration extras), each
    invited; their one-time links."""
    auction = await server.create(spec)
    links = {}
    for party, extra in bidders.items():
        await server.register(auction, party, **extra)
        reply = await server.post(
            f"/api/v1/auctions/{auction}/invitations", {"party": party}, token=server.officer
        )
        assert reply.status == 201, reply.body
        links[party] = f"http://127.0.0.1:{server.port}{reply.json()['link']}"
    return auction, links


async def connected(page: Page) -> None:
    await page.wait_for_selector("#app[data-page='live'] #connection[data-state='live']")


async def photograph(page: Page, name: str) -> None:
    """Two quick screenshots (390 and 1280 px), for a moment that does not wait."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((390, 844), (1280, 900)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.screenshot(path=str(ARTIFACTS / f"supplier-{name}-{width}.png"), full_page=True)


# ------------------------------------------------------------------------ multi-round


async def test_multiround_bid_and_pass_in_turn(server: Live, browser: Browser) -> None:
    turn_s = 6
    # Time for both pages to open before the start (on a loaded machine, seconds).
    starts = time.time_ns() // 1000 + 7 * S
    spec = {
        "format": "multiround",
        "currency": "AZN",
        "starts_at": starts,
        "turn_us": turn_s * S,
        "pause_us": 2 * S,
        "rounds": 2,
        "step": {"amount": "10.00"},
    }
    # Ann's tender offer is the better one: Bob bids first in every round.
    auction, links = await invite(
        server, spec, {"ann": {"initial_bid": "1000.00"}, "bob": {"initial_bid": "1100.00"}}
    )
    held: dict[str, Any] = {"hold": False, "release": asyncio.Event(), "sent": []}

    async def route(ws: WebSocketRoute) -> None:
        # Bob's socket runs through the test: a bid may be held back (a slow network).
        upstream = ws.connect_to_server()

        async def later(message: str | bytes) -> None:
            await held["release"].wait()
            upstream.send(message)

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "bid" and held["hold"]:
                held["sent"].append(frame)
                asyncio.get_running_loop().create_task(later(message))
                return
            upstream.send(message)

        ws.on_message(from_page)
        upstream.on_message(lambda message: ws.send(message))

    async def open_bob() -> Page:
        context = await browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="Asia/Baku"
        )
        page = await context.new_page()
        await page.route_web_socket(re.compile(r"/ws/v1/auctions/"), route)
        await page.goto(links["bob"])
        return page

    # Both at once: the sooner they are open, the sooner the auction may start.
    (_, ann), bob = await asyncio.gather(open_link(browser, links["ann"]), open_bob())
    bob_context = bob.context
    ann_errors, bob_errors = watch_errors(ann), watch_errors(bob)
    try:
        for page in (ann, bob):
            await connected(page)
        assert await text(ann, "#format") == "Multi-round auction", await text(ann, "body")
        # The rules in words: rounds, the turn and the pause, and the order of the turns.
        await ann.click("#details summary")
        await shows(ann, "#details", "2 rounds; each bidder has one turn of 0:06 per round")
        await shows(ann, "#details", "the leader bids last")
        await ann.click("#details summary")
        if await ann.get_attribute("#app", "data-phase") == "scheduled":
            # (On a loaded machine the pages may open after the start.)
            await shows(ann, "#round", "2 rounds")
            assert await ann.is_disabled("#place")

        # Round 1: Bob's turn, on the server's clock; Ann waits.
        await shows(bob, "#whose-turn", "Your turn: bid or pass.", timeout=8000)
        await shows(ann, "#whose-turn", "Bidder 2 is bidding.")
        for page in (ann, bob):
            await shows(page, "#round", "Round 1 of 2")
        assert await text(bob, "#turn-order") == "You bidding now Bidder 1 waiting"
        assert await text(ann, "#turn-order") == "Bidder 2 bidding now You waiting"
        assert await text(bob, ".status h2") == "Your turn ends in"
        clock = await text(bob, "#clock")
        assert re.fullmatch(r"0:0[0-6]", clock), clock  # turn_us, counted down
        # The others' tender offers, hidden before the start, were read once it opened.
        await shows(ann, "#ranking", "Bidder 2 AZN 1,100.00")
        await shows(bob, "#place-before", "2 of 2")
        assert await bob.input_value("#amount") == "1,090.00"  # my offer minus a step
        await bob.fill("#amount", "950.00")
        await bob.press("#amount", "Enter")
        await shows(bob, "#turn-bid", "Your bid this turn: AZN 950.00.")
        await shows(bob, "#last-answer", "Confirmed")
        # Private until the turn ends: Ann's page has nothing of it.
        assert "950" not in await ann.inner_text("body")
        await bob.click("#pass")
        await shows(bob, "#place-after", "1 of 2")
        await shows(bob, "#last-turn", "Round 1: you passed, your offer is AZN 950.00.")
        await shows(ann, "#ranking tbody tr:first-child", "1 Bidder 2 AZN 950.00")

        # Ann's turn: she is second now, bids below Bob and passes.
        await shows(ann, "#whose-turn", "Your turn: bid or pass.")
        assert "my-turn" in (await ann.get_attribute("#multiround", "class") or "")
        await shows(ann, "#place-before", "2 of 2")
        assert await text(ann, "#turn-order") == "Bidder 2 done You bidding now"
        await bid(ann, "940.00")
        await shows(ann, "#turn-bid", "AZN 940.00")
        await ann.click("#pass")
        await shows(ann, "#place-after", "1 of 2")
        await shows(bob, "#ranking tbody tr:first-child", "1 Bidder 1 AZN 940.00")
        await shows(bob, "#mine", "AZN 950.00")
        await shows(bob, "#rank", "2 of 2")

        # The pause, then round 2: Bob's turn again. His bid is held back on the way
        # until his turn has ended: the server refuses it, and his page says why.
        await shows(ann, "#whose-turn", "Pause between rounds.", timeout=3000)
        await shows(bob, "#whose-turn", "Your turn: bid or pass.", timeout=3000)
        await shows(bob, "#round", "Round 2 of 2")
        # A new turn starts clean: round 1's "Confirmed" is not shown as this turn's.
        assert await text(bob, "#last-answer") == ""
        assert await axe_serious(bob) == []
        await photograph(bob, "multiround-my-turn")
        held["hold"] = True
        await bob.fill("#amount", "930.00")
        await bob.press("#amount", "Enter")
        await shoot(ann, "multiround-waiting")
        await shows(ann, "#whose-turn", "Your turn: bid or pass.", timeout=turn_s * 1000)
        held["release"].set()
        await shows(bob, "#last-answer", "Refused: It is not your turn.")
        assert [f["amount"] for f in held["sent"]] == ["930.00"]
        await ann.click("#pass")

        # The end: the engine's result, as the server tells it.
        for page in (ann, bob):
            await page.wait_for_selector("#result", timeout=5000)
        ended = (await server.state(auction))["result"]
        assert ended["outcome"] == "awarded"
        assert (ended["winners"], ended["price"]) == (["ann"], 94000)
        assert [(r["bidder"], r["price"]) for r in ended["ranking"]] == [
            ("ann", 94000),
            ("bob", 95000),
        ]
        assert await text(ann, "#outcome") == "You won at AZN 940.00."
        assert await text(bob, "#winner") == "Bidder 1"
        events = [e["event"] for e in await server.events(auction)]
        turns = [
            (e["round"], e["bidder"], e["price"], e["passed"])
            for e in events
            if e["type"] == "TurnEnded"
        ]
        assert turns == [
            (1, "bob", 95000, True),
            (1, "ann", 94000, True),
            (2, "bob", 95000, False),
            (2, "ann", 94000, True),
        ]
        rejected = [e for e in events if e["type"] == "CommandRejected"]
        assert [e["reason"] for e in rejected] == ["out_of_turn"]
        assert ann_errors == [] and bob_errors == []
    finally:
        await ann.context.close()
        await bob_context.close()


# ------------------------------------------------------------------------------- MEAT


async def test_a_meat_reverse_auction_ranks_by_score(server: Live, browser: Browser) -> None:
    spec = rules("reverse", duration_s=120, scoring="meat", improvement="beat_own")
    auction, links = await invite(
        server, spec, {"ann": {"coefficient": "0.10"}, "bob": {"coefficient": "0"}}
    )
    await server.wait_phase(auction, "running")
    _, ann = await open_link(browser, links["ann"])
    _, bob = await open_link(browser, links["bob"])
    ann_errors, bob_errors = watch_errors(ann), watch_errors(bob)
    try:
        for page in (ann, bob):
            await live(page)
        await shows(ann, "#score-rule", "Score = price ÷ (1 + 0.10)")
        assert await text(ann, "#price-to-lead") == "AZN 1,000.00"  # the start price
        await bid(ann, "1000.00")  # score 1000 / 1.1 = 909.09...
        await shows(ann, "#score-mine", "Mine AZN 1,000.00 ≈ AZN 909.09")
        await shows(ann, "#price-to-lead", "You lead")
        # Bob bids a lower price with a worse score: Ann still leads.
        await bid(bob, "950.00")
        await shows(bob, "#score-mine", "Mine AZN 950.00 AZN 950.00")
        await shows(bob, "#score-leader", "Leader AZN 1,000.00 ≈ AZN 909.09")
        # The ranking is by score, and says so: each offer's score under its price.
        assert await text(bob, "#ranking thead") == "Rank Bidder Offer and score"
        first = "1 Bidder 1 AZN 1,000.00 score ≈ AZN 909.09"
        assert await text(bob, "#ranking tbody tr:first-child") == first
        second = "2 You AZN 950.00 score AZN 950.00"
        assert await text(bob, "#ranking tbody tr:nth-child(2)") == second
        assert await text(bob, "#rank") == "2 of 2"
        state = await server.state(auction)
        assert [(r["bidder"], r["price"]) for r in state["ranking"]] == [
            ("ann", 100000),
            ("bob", 95000),
        ]
        # To lead, Bob must beat Ann's score by a step: 90909.09... - 1000 minor units.
        await shows(bob, "#price-to-lead", "AZN 899.09")
        assert await bob.get_attribute("#price-to-lead", "data-minor") == "89909"
        await shoot(bob, "meat")
        await bid(bob, "899.09")
        await shows(bob, "#price-to-lead", "You lead")
        await shows(ann, "#ranking tbody tr:first-child", "1 Bidder 2 AZN 899.09")
        await shows(ann, "#rank", "2 of 2")
        state = await server.state(auction)
        assert [(r["bidder"], r["score"]) for r in state["ranking"]] == [
            ("bob", "89909/1"),
            ("ann", "1000000/11"),
        ]
        # Ann's price to lead: (89909 - 1000) x 1.1 = 97799.9, down to a minor unit.
        await shows(ann, "#price-to-lead", "AZN 977.99")
        await bid(ann, "977.99")
        await shows(ann, "#price-to-lead", "You lead")
        state = await server.state(auction)
        assert [r["bidder"] for r in state["ranking"]] == ["ann", "bob"]
        await shows(bob, "#score-leader", "Leader AZN 977.99 ≈ AZN 889.08")
        assert ann_errors == [] and bob_errors == []
    finally:
        await ann.context.close()
        await bob.context.close()


# ------------------------------------------------------------------------------ proxy


async def set_limit(page: Page, amount: str) -> None:
    before = await page.locator("#activity tbody tr").count()
    await page.fill("#proxy-limit", amount)
    await page.press("#proxy-limit", "Enter")
    await page.wait_for_function(
        "n => document.querySelectorAll('#activity tbody tr').length > n", arg=before
    )
    await page.wait_for_function(
        "() => document.querySelector('#activity tbody tr').dataset.status !== 'sending'"
    )


async def test_proxy_set_raised_and_bidding_for_me(server: Live, browser: Browser) -> None:
    auction, links = await invite(server, rules("english", duration_s=120), {"ann": {}, "bob": {}})
    await server.wait_phase(auction, "running")
    _, ann = await open_link(browser, links["ann"])
    _, bob = await open_link(browser, links["bob"])
    ann_errors, bob_errors = watch_errors(ann), watch_errors(bob)
    try:
        for page in (ann, bob):
            await live(page)
        assert await text(ann, "#proxy-limit-now") == "No automatic limit set."
        await set_limit(ann, "150.00")
        await shows(ann, "#proxy-limit-now", "Your maximum: AZN 150.00")
        await shows(ann, "#proxy-answer", "Confirmed")
        assert await text(ann, "#activity tbody tr:first-child td:nth-child(2)") == (
            "Limit AZN 150.00"
        )
        # The engine opened for Ann at the start price, as her proxy.
        await shows(ann, "#proxy-bids", "AZN 100.00, bid automatically")
        await shows(bob, "#best", "AZN 100.00")
        # Bob outbids: Ann's proxy answers by a step at once.
        await bid(bob, "110.00")
        await shows(bob, "#best", "AZN 120.00")
        await shows(ann, "#proxy-bids li:first-child", "AZN 120.00, bid automatically")
        await shows(ann, "#rank", "1 of 2")
        # Only Ann sees her limit.
        assert "150" not in await bob.inner_text("body")
        assert await text(bob, "#proxy-limit-now") == "No automatic limit set."
        # A limit that cannot beat the best is refused in words.
        await set_limit(bob, "115.00")
        assert nbsp(await text(bob, "#proxy-answer")) == (
            "Refused: The automatic limit does not beat the current best offer. "
            "AZN 130.00 or more would be accepted."
        )
        # Ann raises her limit; Bob bids up to the old one and her proxy answers.
        assert await text(ann, "#proxy-set") == "Raise limit"
        await set_limit(ann, "200.00")
        await shows(ann, "#proxy-limit-now", "Your maximum: AZN 200.00")
        await bid(bob, "140.00")
        await shows(bob, "#best", "AZN 150.00")
        await shows(ann, "#proxy-bids li:first-child", "AZN 150.00, bid automatically")
        events = [e["event"] for e in await server.events(auction)]
        # Limits are secret until the close, officers' view too: Ann's own view has hers.
        assert [e["type"] for e in events].count("Redacted") == 2
        assert [e["reason"] for e in events if e["type"] == "CommandRejected"] == [
            "proxy_limit_too_low"
        ]
        session = json.loads(await ann.evaluate("sessionStorage.getItem('gavel.session')"))
        me = await server.get(f"/api/v1/auctions/{auction}/me", token=session["token"])
        assert (me.status, me.json()["proxy_limit"], me.json()["price"]) == (200, 20000, 15000)
        bids = [(e["bidder"], e["price"], e["proxy"]) for e in events if e["type"] == "BidAccepted"]
        assert bids == [
            ("ann", 10000, True),
            ("bob", 11000, False),
            ("ann", 12000, True),
            ("bob", 14000, False),
            ("ann", 15000, True),
        ]
        shown = await ann.eval_on_selector_all(
            "#proxy-bids li", "items => items.map(i => i.dataset.price)"
        )
        assert shown == ["15000", "12000", "10000"]
        await shoot(ann, "proxy")
        # In Azerbaijani, from the catalog.
        az = json.loads((ROOT / "api/static/app/i18n/az.json").read_text("utf-8"))
        await ann.click(".lang button[lang='az']")
        await ann.wait_for_function("() => document.documentElement.lang === 'az'")
        await shows(ann, "#proxy-title", az["proxy.title"])
        assert await text(ann, "#proxy-set") == az["proxy.raise"]
        await photograph(ann, "proxy-az")
        assert ann_errors == [] and bob_errors == []
    finally:
        await ann.context.close()
        await bob.context.close()
