"""The supplier's page (``/app/``: api/static/app/app.js) in real headless Chromium against
the live server on real PostgreSQL.

An officer creates an English and a reverse auction over HTTP, registers two bidders and
invites them; each bidder opens its invitation link in a browser of its own and they bid
against each other: each sees the other's offer and its own new rank within a second, a
losing late bid is refused in words with the bid that would have been accepted, a bid far
from the best asks first. The link works once; sign-out revokes the token. The network
goes away for a few seconds and comes back: the page reconnects by itself and has every
event once, in order. axe-core (vendored) finds nothing serious or critical, and the page
is photographed at 390 and 1280 px into ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, WebSocketRoute

from api.http.pages import SEAL_CSP
from api.http.vendor_assets import vendored_files
from engine.formats.base import StepRule
from engine.rules import Step
from tests.api.conftest import Live
from tests.browser import axe_serious, watch_errors

S = 1_000_000
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
#: Within this long of one bidder's confirmation the other's page shows it (ms).
ONE_SECOND = 1000


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    # Heartbeats every second: the page tells a silent connection from a live one soon.
    return start_server(GAVEL_HEARTBEAT_S="1")


#: The module's tests run in one event loop, the one its browser lives in.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


def rules(fmt: str, duration_s: int = 900, **extra: Any) -> dict[str, Any]:
    starts = time.time_ns() // 1000 + S // 2
    start_price = "100.00" if fmt == "english" else "1000.00"
    return {
        "format": fmt,
        "currency": "AZN",
        "starts_at": starts,
        "ends_at": starts + duration_s * S,
        "start_price": start_price,
        "step": {"amount": "10.00"},
        **extra,
    }


async def auction_with_links(
    server: Live, fmt: str, spec: dict[str, Any] | None = None, **options: Any
) -> tuple[str, dict[str, str]]:
    auction = await server.create(spec if spec is not None else rules(fmt, **options))
    links = {}
    for party in ("ann", "bob"):
        await server.register(auction, party)
        reply = await server.post(
            f"/api/v1/auctions/{auction}/invitations", {"party": party}, token=server.officer
        )
        assert reply.status == 201, reply.body
        links[party] = f"http://127.0.0.1:{server.port}{reply.json()['link']}"
    await server.wait_phase(auction, "running")
    return auction, links


async def open_link(browser: Browser, link: str, width: int = 1280) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(
        viewport={"width": width, "height": 900}, locale="en-GB", timezone_id="Asia/Baku"
    )
    page = await context.new_page()
    response = await page.goto(link)
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == SEAL_CSP
    await page.wait_for_selector("#app[data-ready='yes']")
    return context, page


async def live(page: Page) -> None:
    await page.wait_for_selector("#app[data-page='live'] #connection[data-state='live']")
    await page.wait_for_selector("#place:not([disabled])")


async def bid(page: Page, amount: str | None = None) -> None:
    """Place a bid (the pre-filled one unless ``amount``) and wait for its answer."""
    before = await page.locator("#activity tr[data-status]").count()
    if amount is not None:
        await page.fill("#amount", amount)
    await page.press("#amount", "Enter")
    row = page.locator("#activity tbody tr").first
    await page.wait_for_function(
        "n => document.querySelectorAll('#activity tbody tr').length > n", arg=before
    )
    await page.wait_for_function(
        "() => document.querySelector('#activity tbody tr').dataset.status !== 'sending'"
    )
    assert await row.count() == 1


async def text(page: Page, selector: str) -> str:
    return " ".join((await page.locator(selector).inner_text()).split())


async def shows(page: Page, selector: str, expected: str, timeout: int = ONE_SECOND) -> None:
    """``selector``'s text holds ``expected`` within ``timeout`` ms."""
    await page.wait_for_function(
        """([s, e]) => (document.querySelector(s)?.innerText ?? '')
            .replace(/\\s+/g, ' ').includes(e)""",
        arg=[selector, expected],
        timeout=timeout,
    )


def nbsp(value: str) -> str:
    return value.replace("\u00a0", " ")


async def shoot(page: Page, name: str) -> None:
    """Screenshots at 390 and 1280 px, light and dark; nothing scrolls sideways (at 320
    px neither); axe finds nothing serious in the dark theme either."""
    ARTIFACTS.mkdir(exist_ok=True)
    shown = await page.evaluate("() => document.body.innerText")
    for raw in ("{", "}", "undefined", "NaN", "null", "[object", "Bidder", "ws-", "r-"):
        if raw == "Bidder" and await page.evaluate("document.documentElement.lang") == "en":
            continue  # English labels others "Bidder 2"
        assert raw not in shown, (raw, shown)
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        for width, height in ((320, 640), (390, 844), (1280, 900)):
            await page.set_viewport_size({"width": width, "height": height})
            await page.wait_for_timeout(150)
            overflow = await page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                wide = await page.evaluate(
                    """() => [...document.querySelectorAll('body *')]
                        .filter(e => e.getBoundingClientRect().right
                                     > document.documentElement.clientWidth + 0.5)
                        .slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className)"""
                )
                raise AssertionError(f"{name} scrolls sideways at {width} px: {wide}")
            if width != 320:
                path = ARTIFACTS / f"supplier-{name}-{scheme}-{width}.png"
                await page.screenshot(path=str(path), full_page=True)
        if scheme == "dark":
            assert await axe_serious(page) == []
    await page.emulate_media(color_scheme="light")


# ------------------------------------------------------------------------- the tests


@in_module_loop
@pytest.mark.parametrize("fmt", ["english", "reverse"])
async def test_two_suppliers_bid_against_each_other(
    server: Live, browser: Browser, fmt: str
) -> None:
    auction, links = await auction_with_links(server, fmt)
    english = fmt == "english"
    ann_context, ann = await open_link(browser, links["ann"])
    ann_errors = watch_errors(ann)
    bob_context, bob = await open_link(browser, links["bob"])
    bob_errors = watch_errors(bob)
    for page in (ann, bob):
        await live(page)
        # The code left the address bar; the token is in this tab's session only.
        assert page.url.endswith(f"/app/#/auction/{auction}") and "invite" not in page.url
        session = json.loads(await page.evaluate("sessionStorage.getItem('gavel.session')"))
        assert session["auction"] == auction
        assert await page.evaluate("localStorage.getItem('gavel.session')") is None
    assert auction not in await text(ann, "header")  # identifiers: in the details
    assert await text(ann, "#format") == ("English auction" if english else "Reverse auction")
    assert await text(ann, "#best") == "None yet"

    # The least valid bid is pre-filled: the start price.
    first = "100.00" if english else "1,000.00"
    assert await ann.input_value("#amount") == first
    await bid(ann)
    assert await ann.get_attribute("#activity tbody tr", "data-status") == "confirmed"
    assert await text(ann, "#last-answer") == "Confirmed"
    await shows(bob, "#best", f"AZN {first}")
    await shows(bob, "#ranking", "Bidder 1")
    # Bob's pre-filled bid beats it by a step.
    second = "110.00" if english else "990.00"
    assert await bob.input_value("#amount") == second
    await shows(bob, "#bound", ("Lowest" if english else "Highest") + f" valid bid: AZN {second}")
    await bid(bob)
    await shows(bob, "#rank", "1 of 2")
    # My history names the event each confirmed bid made and where it put me then.
    await shows(ann, "#activity tbody tr:first-child .after", "rank 1 of 1 after it")
    await shows(bob, "#activity tbody tr:first-child .after", "rank 1 of 2 after it")
    ann_seq = int(await ann.get_attribute("#activity tbody tr:first-child .after", "data-seq") or 0)
    bob_seq = int(await bob.get_attribute("#activity tbody tr:first-child .after", "data-seq") or 0)
    assert 0 < ann_seq < bob_seq
    assert await text(bob, "#activity tbody tr:first-child .after") == (
        f"Event {bob_seq}: rank 1 of 2 after it"
    )
    await shows(ann, "#best", f"AZN {second}")
    await shows(ann, "#rank", "2 of 2")
    await shows(ann, "#mine", f"AZN {first}")
    assert await text(ann, "#ranking tbody tr:first-child") == f"1 Bidder 2 AZN {second}"

    # A late bid that no longer beats the best is refused in words.
    late = "105.00" if english else "995.00"
    await bid(ann, late)
    row = ann.locator("#activity tbody tr").first
    assert await row.get_attribute("data-status") == "refused"
    bound = "AZN 120.00 or more" if english else "AZN 980.00 or less"
    reason = (
        f"Refused: The bid does not improve enough on the best offer. {bound} would be accepted."
    )
    assert nbsp(await text(ann, "#last-answer")) == reason
    assert nbsp(await text(ann, "#activity tbody tr:first-child td:last-child")) == reason

    # A bid far from the best asks first; cancelling sends nothing.
    await ann.fill("#amount", "500.00")
    await ann.press("#amount", "Enter")
    await ann.wait_for_selector("#far-confirm")
    assert "% away from the best offer" in await text(ann, "#far-confirm")
    # The guard holds the focus: Escape leaves it, back to the amount.
    await ann.wait_for_function("() => document.activeElement.id === 'far-no'")
    await ann.keyboard.press("Escape")
    await ann.wait_for_selector("#far-confirm", state="detached")
    await ann.wait_for_function("() => document.activeElement.id === 'amount'")
    assert await ann.locator("#activity tbody tr").count() == 2
    # Asked again, Cancel by a click sends nothing either.
    await ann.press("#amount", "Enter")
    await ann.click("#far-no")
    assert await ann.locator("#activity tbody tr").count() == 2
    # Confirmed, it is placed.
    await ann.press("#amount", "Enter")
    await ann.click("#far-yes")
    await ann.wait_for_selector("#activity tbody tr:first-child[data-status='confirmed']")
    assert await ann.locator("#activity tbody tr").count() == 3
    await shows(bob, "#best", "AZN 500.00")
    await shows(bob, "#rank", "2 of 2")
    await shows(ann, "#rank", "1 of 2")

    # Typing that cannot be read is said beside the field, never sent.
    await ann.fill("#amount", "12,34,5")
    await ann.press("#amount", "Enter")
    assert await text(ann, "#amount-error") != ""
    assert await ann.locator("#activity tbody tr").count() == 3

    # Azerbaijani at the switch.
    await ann.click(".lang button[lang='az']")
    await ann.wait_for_function("() => document.documentElement.lang === 'az'")
    az = json.loads((ROOT / "api/static/app/i18n/az.json").read_text())
    await shows(ann, "#ranking-title", az["ui.ranking"])
    assert await text(ann, "#sign-out") == az["ui.sign_out"]
    assert await text(ann, "#amount-error") == az["money.grouping"]
    await shoot(ann, f"{fmt}-az")
    await ann.click(".lang button[lang='en']")
    await ann.wait_for_function("() => document.documentElement.lang === 'en'")

    assert await axe_serious(ann) == []
    await shoot(ann, fmt)
    assert ann_errors == [] and bob_errors == []
    await ann_context.close()
    await bob_context.close()


@in_module_loop
async def test_the_network_goes_away_and_comes_back(server: Live, browser: Browser) -> None:
    auction, links = await auction_with_links(server, "english")
    ann_context, ann = await open_link(browser, links["ann"])
    _, bob = await open_link(browser, links["bob"])
    await live(ann)
    await live(bob)
    await bid(ann)
    await ann_context.set_offline(True)
    await ann.wait_for_selector("#connection[data-state='offline']", timeout=5000)
    await shows(ann, ".banner", "You are offline")
    await ann.set_viewport_size({"width": 390, "height": 844})
    await ann.screenshot(path=str(ARTIFACTS / "supplier-offline-390.png"))
    assert await ann.is_disabled("#place")
    assert await text(ann, "#clock") not in ("", "0:00")  # still counting down
    # Bob bids three times while Ann is away.
    for _ in range(3):
        await bid(bob)
    await ann.wait_for_timeout(2500)
    await ann_context.set_offline(False)
    await ann.wait_for_selector("#connection[data-state='live']", timeout=10_000)
    await shows(ann, "#best", "AZN 130.00", timeout=5000)
    log = await server.events(auction)
    root = ann.locator("#app")
    assert await root.get_attribute("data-last-seq") == str(len(log))
    assert await root.get_attribute("data-received") == str(len(log))
    assert await root.get_attribute("data-duplicates") == "0"
    assert await root.get_attribute("data-gaps") == "0"
    await shows(ann, "#rank", "2 of 2")
    # After the reconnect Ann bids again, answered as before.
    await bid(ann)
    assert await ann.get_attribute("#activity tbody tr", "data-status") == "confirmed"


@in_module_loop
async def test_the_link_works_once_and_sign_out_revokes(server: Live, browser: Browser) -> None:
    auction, links = await auction_with_links(server, "english")
    _, ann = await open_link(browser, links["ann"])
    await live(ann)
    session = json.loads(await ann.evaluate("sessionStorage.getItem('gavel.session')"))
    # The same link in another browser: used.
    _, again = await open_link(browser, links["ann"])
    assert await again.get_attribute("#app", "data-page") == "problem"
    assert await text(again, "#notice-text") == (
        "This invitation link has already been used. Ask the organiser for a new one."
    )
    assert "invite" not in again.url
    await again.screenshot(path=str(ARTIFACTS / "supplier-used-1280.png"))
    assert await axe_serious(again) == []
    # An unknown code, and no code at all.
    _, unknown = await open_link(browser, links["ann"][:-4] + "AAAA")
    assert "not valid" in await text(unknown, "#notice-text")
    _, bare = await open_link(browser, f"http://127.0.0.1:{server.port}/app/")
    assert await bare.get_attribute("#app", "data-page") == "signed_out"
    # A reload keeps the session (this tab's), and follows the auction from seq 0.
    await ann.reload()
    await ann.wait_for_selector("#app[data-ready='yes']")
    await live(ann)
    assert await ann.get_attribute("#app", "data-duplicates") == "0"
    # Bob's token revoked by the officer: his page says so and takes no bid.
    _, bob = await open_link(browser, links["bob"])
    await live(bob)
    bob_session = json.loads(await bob.evaluate("sessionStorage.getItem('gavel.session')"))
    revoked = await server.post(
        f"/api/v1/tokens/{bob_session['jti']}/revoke", {}, token=server.officer
    )
    assert revoked.status == 200, revoked.body
    await shows(bob, ".banner", "Your sign-in is no longer valid.", timeout=5000)
    assert await bob.is_disabled("#place")
    assert await text(bob, "#connection") == "Offline"
    # Sign out: the token is revoked and forgotten.
    await ann.click("#sign-out")
    await ann.wait_for_selector("#app[data-page='signed_out']")
    assert await ann.evaluate("sessionStorage.getItem('gavel.session')") is None
    me = await server.get(f"/api/v1/auctions/{auction}/me", token=session["token"])
    assert (me.status, me.code) == (401, "token_revoked")


@in_module_loop
async def test_a_request_whose_answer_is_lost_is_not_confirmed_and_never_resent(
    server: Live,
    browser: Browser,
) -> None:
    """Ann's websocket runs through the test (Playwright's route_web_socket): her first
    bid reaches the server but the connection drops before its event and answer come
    back; her second never reaches it. Both read 'not confirmed' and neither is sent
    again; after the page reconnects by itself, the first is found in the log."""
    auction, links = await auction_with_links(server, "english")
    sent: list[dict[str, Any]] = []
    mode = {"bid": "pass"}  # what the next bid meets: pass, cut (after sending), drop

    async def route(ws: WebSocketRoute) -> None:
        upstream = ws.connect_to_server()
        state = {"cut": False}

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "bid":
                sent.append(frame)
                how, mode["bid"] = mode["bid"], "pass"
                if how == "drop":
                    state["cut"] = True
                    asyncio.get_running_loop().create_task(ws.close(code=1011))
                    return
                if how == "cut":
                    state["cut"] = True
                    upstream.send(message)
                    asyncio.get_running_loop().create_task(ws.close(code=1011))
                    return
            upstream.send(message)

        def from_server(message: str | bytes) -> None:
            if not state["cut"]:
                ws.send(message)

        ws.on_message(from_page)
        upstream.on_message(from_server)

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    ann = await context.new_page()
    await ann.route_web_socket(re.compile(r"/ws/v1/auctions/"), route)
    await ann.goto(links["ann"])
    await live(ann)
    mode["bid"] = "cut"
    await ann.press("#amount", "Enter")
    await ann.wait_for_selector("#activity tr[data-status='not_confirmed']")
    assert nbsp(await text(ann, "#last-answer")) == (
        "Not confirmed – check the ranking before bidding again."
    )
    # The page reconnects by itself and finds the bid in the log.
    await ann.wait_for_selector("#activity tr[data-status='found']", timeout=5000)
    await live(ann)
    await shows(ann, "#mine", "AZN 100.00")
    mode["bid"] = "drop"
    await ann.press("#amount", "Enter")
    await ann.wait_for_selector("#activity tr[data-status='not_confirmed']")
    await live(ann)
    await ann.wait_for_timeout(1500)
    statuses = await ann.eval_on_selector_all(
        "#activity tbody tr", "rows => rows.map(r => r.dataset.status)"
    )
    assert statuses == ["not_confirmed", "found"]
    assert [f["amount"] for f in sent] == ["100.00", "110.00"]  # each sent once
    log = [e["event"] for e in await server.events(auction)]
    bids = [e for e in log if e["type"] == "BidAccepted"]
    assert [b["price"] for b in bids] == [10_000]
    root = ann.locator("#app")
    assert await root.get_attribute("data-duplicates") == "0"
    assert await root.get_attribute("data-gaps") == "0"


STEPS: list[dict[str, Any]] = [
    {"amount": 1000, "percent": None},
    {"amount": 1, "percent": None},
    {"amount": None, "percent": "2.5"},
    {"amount": None, "percent": "0.01"},
    {"amount": None, "percent": "33.333"},
]


@in_module_loop
async def test_the_least_valid_bid_is_the_engines(server: Live, browser: Browser) -> None:
    """rules.js against engine.formats.base.StepRule and open_cry's bounds, over many
    prices and steps (fixed and percentages), both formats and both improvements."""
    cases: list[dict[str, Any]] = []
    expected: list[str | None] = []
    prices = [1, 7, 99, 100, 12_345, 999_999, 10_000_000, 123_456_789_012]
    for step in STEPS:
        rule = StepRule(
            Step(
                amount=step["amount"] or 0,
                percent=None if step["percent"] is None else Decimal(step["percent"]),
            )
        )
        for best in [None, *prices]:
            start = 200_000_000_000
            base = {
                "start_price": start,
                "max_amount": 10**15,
                "step": step,
                "scoring": "none",
            }
            cases.append({"rules": base, "format": "english", "best": best, "mine": None})
            expected.append(str(start if best is None else best + rule.of_price(best)))
            for improvement in ("beat_best", "beat_own"):
                cases.append(
                    {
                        "rules": {**base, "improvement": improvement},
                        "format": "reverse",
                        "best": best,
                        "mine": best,
                    }
                )
                ceiling = start if best is None else min(start, best - rule.of(best))
                expected.append(str(ceiling) if ceiling > 0 else None)
    page = await browser.new_page()
    await page.goto(f"http://127.0.0.1:{server.port}/app/")
    await page.wait_for_selector("#app[data-ready='yes']")
    got = await page.evaluate(
        """async (cases) => {
            const { nextValidBid } = await import('/app/rules.js');
            return cases.map((c) => {
              const next = nextValidBid(c.rules, c.format, c.best, c.mine);
              return next === null ? null : String(next);
            });
        }""",
        cases,
    )
    assert got == expected


@in_module_loop
async def test_the_soft_close_shows_and_says_the_extension(server: Live, browser: Browser) -> None:
    minute = 60 * S
    auction, links = await auction_with_links(
        server,
        "english",
        duration_s=20,
        soft_close={"window_us": minute, "extension_us": 2 * minute},
    )
    _, ann = await open_link(browser, links["ann"])
    errors = watch_errors(ann)
    await live(ann)
    # Inside the window from the start: the clock is amber and says why.
    assert "soft" in (await ann.get_attribute("#clock", "class") or "")
    await shows(ann, ".status", "Final minutes: a bid now extends the auction.")
    await bid(ann)
    await shows(ann, ".status", "Extended by 2:00 at ")
    clock = await text(ann, "#clock")
    minutes, seconds = clock.split(":")
    assert 120 < int(minutes) * 60 + int(seconds) <= 140, clock
    await ann.click("#details summary")
    await shows(ann, "#details", "A bid in the last 1:00 extends the end by 2:00.")
    await shoot(ann, "soft-close")
    assert errors == []


def test_every_key_the_page_names_is_in_both_catalogs() -> None:
    """Each t('key') of the page's modules (app.js and the ones beside it), and each key
    it builds (connection states, phases, formats, the refusal's direction), is in
    en.json and az.json."""
    app = ROOT / "api/static/app"
    source = "\n".join(path.read_text() for path in sorted(app.rglob("*.js")))
    named = set(re.findall(r"\bt\('([a-z]+\.[a-z0-9_]+)'", source))
    built = {
        *(f"connection.{s}" for s in ("connecting", "live", "reconnecting", "offline")),
        *(f"phase.{p}" for p in ("new", "scheduled", "running", "paused", "ended")),
        "format.english",
        "format.reverse",
        "request.would_accept_up",
        "request.would_accept_down",
        "code.invitation_used",
        "code.invitation_expired",
        "code.invitation_unknown",
        "close.4401",
    }
    assert len(named) > 40
    for lang in ("en", "az"):
        catalog = json.loads((ROOT / f"api/static/app/i18n/{lang}.json").read_text())
        assert sorted((named | built) - set(catalog)) == [], lang


@in_module_loop
async def test_the_result_when_an_english_auction_ends(server: Live, browser: Browser) -> None:
    """A short English auction ends while both pages are open: each shows the engine's
    result (the officer's GET state) in its own words: the winner ("you" for bob, by label
    for ann), the price paid, the final ranking and its own position; the countdown reads
    "Ended" and the bid controls are gone."""
    auction, links = await auction_with_links(server, "english", duration_s=10)
    _, ann = await open_link(browser, links["ann"])
    _, bob = await open_link(browser, links["bob"], width=390)
    ann_errors, bob_errors = watch_errors(ann), watch_errors(bob)
    for page in (ann, bob):
        await live(page)
    await bid(ann)  # 100.00
    await shows(bob, "#best", "AZN 100.00")
    await bid(bob)  # 110.00
    await shows(ann, "#best", "AZN 110.00")
    for page in (ann, bob):
        await page.wait_for_selector("#result", timeout=15_000)
    ended = (await server.state(auction))["result"]
    assert ended["outcome"] == "awarded"
    assert ended["winners"] == ["bob"]
    assert ended["price"] == 11000
    assert [(r["rank"], r["bidder"], r["price"]) for r in ended["ranking"]] == [
        (1, "bob", 11000),
        (2, "ann", 10000),
    ]
    for page in (ann, bob):
        assert await page.get_attribute("#result", "data-outcome") == "awarded"
        assert await page.get_attribute("#result", "data-price") == "11000"
        assert re.fullmatch(
            r"Ended at [0-9]{1,2}:[0-9]{2}( [AP]M)? \(.+\)", await text(page, "#clock")
        )
        assert await text(page, "#price-paid") == "AZN 110.00"
        for control in ("#bid-form", "#amount", "#place"):
            assert await page.locator(control).count() == 0
    assert await text(bob, "#outcome") == "You won at AZN 110.00."
    assert await text(bob, "#winner") == "You"
    assert await text(bob, "#my-position") == "1 of 2"
    assert await text(bob, "#ranking tbody tr:first-child") == "1 You AZN 110.00"
    assert await text(ann, "#outcome") == "Bidder 2 won at AZN 110.00."
    assert await text(ann, "#winner") == "Bidder 2"
    assert await text(ann, "#my-position") == "2 of 2"
    assert await text(ann, "#ranking tbody tr:first-child") == "1 Bidder 2 AZN 110.00"
    assert await text(ann, "#ranking tbody tr:nth-child(2)") == "2 You AZN 100.00"
    assert await ann.get_attribute("#result", "data-won") == "no"
    assert await bob.get_attribute("#result", "data-won") == "yes"
    await shoot(ann, "result-lost")
    await shoot(bob, "result-won")
    assert ann_errors == [] and bob_errors == []


@in_module_loop
async def test_dutch_accept_at_the_shown_price_wins(server: Live, browser: Browser) -> None:
    """A Dutch clock falls by 10.00 every 2 s from 100.00, in step with the server's clock.
    Bob's page is held back (the test keeps its PriceChanged events): his Accept sends the
    price he sees, the server has moved on and refuses it, and the page says why in words.
    Ann accepts the price her page shows and wins at it; both pages show the engine's
    result."""
    starts = time.time_ns() // 1000 + S // 2
    spec = {
        "format": "dutch",
        "currency": "AZN",
        "starts_at": starts,
        "start_price": "100.00",
        "step": "10.00",
        "interval_us": 2 * S,
        "limit_price": "10.00",
    }
    auction, links = await auction_with_links(server, "dutch", spec)
    hold = {"on": False}
    held: list[str | bytes] = []
    sockets: list[WebSocketRoute] = []

    async def route(ws: WebSocketRoute) -> None:
        upstream = ws.connect_to_server()
        sockets.append(ws)

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "event" and (hold["on"] or held):
                held.append(message)
                return
            ws.send(message)

        ws.on_message(lambda message: upstream.send(message))
        upstream.on_message(from_server)

    _, ann = await open_link(browser, links["ann"])
    bob_context = await browser.new_context(
        viewport={"width": 390, "height": 844}, locale="en-GB", timezone_id="Asia/Baku"
    )
    bob = await bob_context.new_page()
    await bob.route_web_socket(re.compile(r"/ws/v1/auctions/"), route)
    ann_errors, bob_errors = watch_errors(ann), watch_errors(bob)
    await bob.goto(links["bob"])
    for page in (ann, bob):
        await page.wait_for_selector("#connection[data-state='live']")
        await page.wait_for_selector("#accept:not([disabled])")
    assert await text(ann, "#format") == "Dutch auction"
    # The page's price moves with the server's clock and is the server's (read just
    # after a change, with a whole interval to spare).
    shown = int(await ann.get_attribute("#dutch-price", "data-price") or "0")
    await ann.wait_for_function(
        "p => document.querySelector('#dutch-price').dataset.price !== p",
        arg=str(shown),
        timeout=4000,
    )
    moved = int(await ann.get_attribute("#dutch-price", "data-price") or "0")
    assert moved == shown - 1000
    assert moved == (await server.state(auction))["price"]
    assert await text(ann, "#accept") == f"Accept AZN {moved // 100}.00"
    await shows(ann, "#dutch-next", f"Falls to AZN {moved // 100 - 10}.00 in 0:0")
    await ann.click("#details summary")
    await shows(ann, "#details", "The price moves by AZN 10.00 every 0:02.")
    await shows(ann, "#details", "The price falls no lower than AZN 10.00.")
    await shoot(ann, "dutch")

    # Bob's page is held at a price the server has left behind: refused, in words.
    hold["on"] = True
    stale = await bob.get_attribute("#dutch-price", "data-price")
    while (await server.state(auction))["price"] == int(stale or "0"):
        await asyncio.sleep(0.1)
    await bob.click("#accept")
    await shows(
        bob,
        "#last-answer",
        "Refused: The price changed before your acceptance arrived.",
        timeout=3000,
    )
    assert await bob.get_attribute("#activity tbody tr:first-child", "data-status") == ("refused")
    await shoot(bob, "dutch-stale")
    hold["on"] = False
    for message in held:  # then every held event, in order
        sockets[-1].send(message)
    held.clear()

    # Ann accepts right after a change: the price her page shows is the one paid.
    now = await ann.get_attribute("#dutch-price", "data-price")
    await ann.wait_for_function(
        "p => document.querySelector('#dutch-price').dataset.price !== p",
        arg=now,
        timeout=4000,
    )
    offered = await ann.get_attribute("#accept", "data-price")
    await ann.click("#accept")
    for page in (ann, bob):
        await page.wait_for_selector("#result", timeout=5000)
    ended = (await server.state(auction))["result"]
    assert ended["outcome"] == "awarded"
    assert ended["winners"] == ["ann"]
    assert str(ended["price"]) == offered
    paid = f"AZN {int(offered or '0') // 100}.00"
    assert await text(ann, "#outcome") == f"You won at {paid}."
    assert await text(bob, "#outcome") == f"Bidder 1 won at {paid}."
    for page in (ann, bob):
        assert await text(page, "#price-paid") == paid
        assert await page.locator("#accept").count() == 0
    await shoot(ann, "dutch-won")
    await shoot(bob, "dutch-lost")
    assert ann_errors == [] and bob_errors == []


@in_module_loop
async def test_sealed_second_price_bids_stay_sealed_and_the_runner_up_sets_the_price(
    server: Live,
    browser: Browser,
) -> None:
    """A sealed second-price sale: ann places then replaces her bid; bob places one,
    withdraws it and places another. Before the close neither page shows anything of the
    other's bid; after it both show the engine's result: ann wins and pays bob's bid."""
    starts = time.time_ns() // 1000 + S // 2
    spec = {
        "format": "sealed",
        "currency": "AZN",
        "starts_at": starts,
        "ends_at": starts + 14 * S,
        "pricing": "second_price",
        "start_price": "50.00",
    }
    auction, links = await auction_with_links(server, "sealed", spec)
    _, ann = await open_link(browser, links["ann"])
    _, bob = await open_link(browser, links["bob"], width=390)
    ann_errors, bob_errors = watch_errors(ann), watch_errors(bob)
    for page in (ann, bob):
        await live(page)
        assert await text(page, "#format") == "Sealed-bid auction"
        assert await text(page, "#place") == "Place sealed bid"
        assert await page.locator("#withdraw").count() == 0
        assert await page.input_value("#amount") == ""  # nothing to pre-fill
    await bid(ann, "120.00")
    await shows(ann, "#mine", "AZN 120.00")
    assert await text(ann, "#place") == "Replace my sealed bid"
    await bid(ann, "150.00")
    await shows(ann, "#mine", "AZN 150.00")
    await bid(bob, "90.00")
    await shows(bob, "#mine", "AZN 90.00")
    await bob.click("#withdraw")
    await shows(bob, "#mine", "None yet")
    assert await bob.get_attribute("#activity tbody tr:first-child", "data-status") in (
        "sending",
        "confirmed",
    )
    await bob.wait_for_selector("#activity tbody tr:first-child[data-status='confirmed']")
    assert await bob.locator("#withdraw").count() == 0
    await bid(bob, "130.00")
    await shows(bob, "#mine", "AZN 130.00")
    # Sealed: nothing of the other's bid on either page before the close.
    await ann.wait_for_timeout(300)
    for page, other in ((ann, ("130.00", "90.00")), (bob, ("150.00", "120.00"))):
        shown = await page.evaluate("() => document.body.innerText")
        assert all(amount not in shown for amount in other), shown
        assert await text(page, "#ranking") == "Sealed until the close."
    await ann.click("#details summary")
    await shows(ann, "#details", "Second price: the winner pays the second-best bid")
    await shows(ann, "#details", "You may replace or withdraw your bid until the close.")
    await shoot(ann, "sealed")
    for page in (ann, bob):
        await page.wait_for_selector("#result", timeout=20_000)
    ended = (await server.state(auction))["result"]
    assert ended["outcome"] == "awarded"
    assert ended["winners"] == ["ann"]
    assert ended["price"] == 13000  # the runner-up's bid
    assert [(r["bidder"], r["price"]) for r in ended["ranking"]] == [
        ("ann", 15000),
        ("bob", 13000),
    ]
    for page in (ann, bob):
        assert await text(page, "#price-paid") == "AZN 130.00"
        assert await page.locator("#place").count() == 0
        assert await page.locator("#withdraw").count() == 0
    assert await text(ann, "#outcome") == "You won at AZN 130.00."
    assert await text(ann, "#my-position") == "1 of 2"
    assert await text(bob, "#outcome") == "Bidder 1 won at AZN 130.00."
    assert await text(bob, "#my-position") == "2 of 2"
    assert await text(bob, "#ranking tbody tr:first-child") == "1 Bidder 1 AZN 150.00"
    assert await text(bob, "#ranking tbody tr:nth-child(2)") == "2 You AZN 130.00"
    await shoot(ann, "sealed-won")
    await shoot(bob, "sealed-lost")
    assert ann_errors == [] and bob_errors == []


@in_module_loop
async def test_reverse_dutch_rises_to_its_ceiling_and_ends_without_award(
    server: Live, browser: Browser
) -> None:
    """A reverse Dutch clock (a procurement) rises by 10.00 every 2 s from 10.00 up to its
    ceiling of 30.00; no one accepts, so it ends with no award, as the engine says, and the
    page says so: no winner, no price, not ranked. (Two rises, so that a page opened late
    on a busy machine still sees one coming: the check waits for the one to 30.00.)"""
    starts = time.time_ns() // 1000 + S // 2
    spec = {
        "format": "dutch",
        "side": "procurement",
        "currency": "AZN",
        "starts_at": starts,
        "start_price": "10.00",
        "step": "10.00",
        "interval_us": 2 * S,
        "limit_price": "30.00",
    }
    auction, links = await auction_with_links(server, "dutch", spec)
    _, ann = await open_link(browser, links["ann"])
    errors = watch_errors(ann)
    await ann.wait_for_selector("#accept:not([disabled])")
    await shows(ann, "#dutch-next", "Rises to AZN 30.00 in 0:0", timeout=4000)
    await shows(ann, "#dutch-price", "AZN 30.00", timeout=4000)
    await shows(ann, "#dutch-next", "Last price: the auction ends without an award in 0:0")
    await ann.click("#details summary")
    await shows(ann, "#details", "The price rises no higher than AZN 30.00.")
    await ann.wait_for_selector("#result", timeout=5000)
    ended = (await server.state(auction))["result"]
    assert ended["outcome"] == "limit_reached" and ended["winners"] == []
    assert await ann.get_attribute("#result", "data-outcome") == "limit_reached"
    assert await text(ann, "#outcome") == (
        "No one accepted a price within the limit: nothing was awarded."
    )
    assert await text(ann, "#winner") == "None"
    assert await text(ann, "#price-paid") == "None"
    assert await text(ann, "#my-position") == "Not ranked"
    assert await ann.locator("#accept").count() == 0
    await shoot(ann, "dutch-no-award")
    assert errors == []


async def focused(page: Page) -> str:
    """The focused element's id, after checking that the focus shows: it matches
    :focus-visible and has an outline at least 2 px wide (app.css)."""
    found: dict[str, Any] = await page.evaluate(
        """() => {
            const e = document.activeElement;
            const style = getComputedStyle(e);
            return {id: e.id || e.tagName, visible: e.matches(':focus-visible'),
                    outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
        }"""
    )
    assert found["visible"] and found["outline"] != "none" and found["width"] >= 2, found
    return str(found["id"])


async def tab_to(page: Page, target: str, key: str = "Tab", most: int = 25) -> None:
    """Press ``key`` until the element ``#target`` has the focus, each stop visible."""
    for _ in range(most):
        await page.keyboard.press(key)
        if await focused(page) == target:
            return
    raise AssertionError(f"{key} never reached #{target}")


async def contrast(page: Page) -> None:
    """axe-core's color-contrast rule passes on the page as it is, in the light and the
    dark theme, and did check it (it found text to check)."""
    if not await page.evaluate("typeof axe !== 'undefined'"):
        [axe] = [p for p in vendored_files() if p.endswith("/axe.min.js")]
        await page.add_script_tag(url=f"/vendor/{axe}")
    for dark in (False, True):
        await page.emulate_media(color_scheme="dark" if dark else "light")
        found: dict[str, Any] = await page.evaluate(
            """async () => {
                const r = await axe.run(document, {runOnly: ['color-contrast']});
                return {violations: r.violations.flatMap(v => v.nodes.map(n => n.target)),
                        passes: r.passes.flatMap(v => v.nodes).length};
            }"""
        )
        assert found["violations"] == [], (dark, found)
        assert found["passes"] > 10, (dark, found)
    await page.emulate_media(color_scheme="light")


@in_module_loop
async def test_the_whole_bidding_flow_works_with_the_keyboard_alone(
    server: Live, browser: Browser
) -> None:
    """Open the link, Tab to the amount, type, Enter; a far bid's confirmation answered by
    keys (Escape cancels, Enter on Confirm places); sign out by keys. Every stop of the
    focus shows. The colour contrast passes axe in light and dark, the guard open too."""
    auction, links = await auction_with_links(server, "english")
    _, ann = await open_link(browser, links["ann"])
    errors = watch_errors(ann)
    await live(ann)
    # Without ?perf in the address the page keeps no timings (test_supplier_load.py).
    assert await ann.evaluate("typeof window.__gavelPerf") == "undefined"
    await tab_to(ann, "amount")
    await ann.keyboard.press("ControlOrMeta+a")
    await ann.keyboard.type("120.00")
    await ann.keyboard.press("Enter")
    await ann.wait_for_selector("#activity tbody tr:first-child[data-status='confirmed']")
    await shows(ann, "#mine", "AZN 120.00")
    assert await focused(ann) == "amount"  # ready for the next bid

    # Far from the best: the guard takes the focus; Escape cancels, nothing sent.
    await ann.keyboard.press("ControlOrMeta+a")
    await ann.keyboard.type("900.00")
    await ann.keyboard.press("Enter")
    await ann.wait_for_selector("#far-confirm")
    await ann.wait_for_function("() => document.activeElement.id === 'far-no'")
    assert await focused(ann) == "far-no"
    await contrast(ann)
    await ann.keyboard.press("Escape")
    await ann.wait_for_selector("#far-confirm", state="detached")
    assert await focused(ann) == "amount"
    assert await ann.locator("#activity tbody tr").count() == 1
    # Asked again: Shift+Tab to Confirm, Enter places it.
    await ann.keyboard.press("Enter")
    await ann.wait_for_function("() => document.activeElement.id === 'far-no'")
    await tab_to(ann, "far-yes", "Shift+Tab", most=1)
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((390, 844), (1280, 900)):  # the focus ring on Confirm
        await ann.set_viewport_size({"width": width, "height": height})
        path = ARTIFACTS / f"supplier-keyboard-confirm-{width}.png"
        await ann.screenshot(path=str(path), full_page=True)
    assert await focused(ann) == "far-yes"
    await ann.keyboard.press("Enter")
    await ann.wait_for_selector("#activity tbody tr:first-child[data-status='confirmed']")
    assert await ann.locator("#activity tbody tr").count() == 2
    await shows(ann, "#mine", "AZN 900.00")
    bids = [e["event"] for e in await server.events(auction) if e["event"]["type"] == "BidAccepted"]
    assert [b["price"] for b in bids] == [12_000, 90_000]
    await contrast(ann)

    # Sign out by keys: back up the page to the button, Enter.
    await tab_to(ann, "sign-out", "Shift+Tab")
    await ann.keyboard.press("Enter")
    await ann.wait_for_selector("#app[data-page='signed_out']")
    assert await ann.evaluate("sessionStorage.getItem('gavel.session')") is None
    assert errors == []


@in_module_loop
async def test_a_browser_clock_five_minutes_fast_changes_nothing(
    server: Live, browser: Browser
) -> None:
    """The browser's wall clock runs five minutes fast (Playwright's clock): the countdown
    follows the server's time (frames' server_time) and matches the auction's end within
    a second and a half, and a bid placed when the page shows 0:01 is accepted and ranked."""
    spec = rules("english", duration_s=7)
    auction, links = await auction_with_links(server, "english", spec)
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="Asia/Baku"
    )
    ann = await context.new_page()
    await ann.clock.install(time=time.time() + 300)
    errors = watch_errors(ann)
    await ann.goto(links["ann"])
    await live(ann)
    skew = await ann.evaluate("Date.now()") / 1000 - time.time()
    assert 295 < skew < 305, skew  # the browser's clock is wrong indeed

    # The countdown against the auction's end on the server's (this machine's) clock.
    for _ in range(3):
        before = time.time_ns() // 1000
        shown = await text(ann, "#clock")
        after = time.time_ns() // 1000
        minutes, seconds = shown.split(":")
        left = int(minutes) * 60 + int(seconds)  # rounded up to the second
        # Within a second, plus half a second for a frame that reached the page late on a
        # loaded machine (the page's estimate of the server's clock rests on its frames).
        assert (
            (spec["ends_at"] - after) / S - 1.5 <= left <= (spec["ends_at"] - before) / S + 1.5
        ), (shown, (spec["ends_at"] - before) / S)
        await ann.wait_for_timeout(400)

    # At 0:01 on screen, a bid goes in time.
    await ann.wait_for_function(
        "() => document.querySelector('#clock').innerText.trim() === '0:01'", timeout=10_000
    )
    left_us = spec["ends_at"] - time.time_ns() // 1000
    assert 0 < left_us <= S + 300_000, left_us  # within the last second (a render lags)
    await ann.press("#amount", "Enter")
    await ann.wait_for_selector(
        "#activity tbody tr:first-child[data-status='confirmed']", timeout=3000
    )
    await shows(ann, "#ranking", "You")
    await ann.wait_for_selector("#result", timeout=5000)
    ended = (await server.state(auction))["result"]
    assert ended["winners"] == ["ann"] and ended["price"] == 10_000
    assert await text(ann, "#outcome") == "You won at AZN 100.00."
    assert errors == []
