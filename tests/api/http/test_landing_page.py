"""The landing page (``GET /``, :mod:`api.http.landing`), served by the live server, in a
real headless Chromium (Debian's, driven by Playwright as the other browser tests are).

The page lists a running and an upcoming auction from ``GET /api/v1/public/auctions``
(format, phase, times in the visitor's zone, a countdown), shows nothing secret (no bid,
reserve or bidder), says what the server is and how each audience gets in, has no
console error under its policy (:data:`api.http.pages.SEAL_CSP`: no inline script),
gives axe-core nothing serious or critical, does not scroll sideways at 390 px, and
speaks Azerbaijani after the switch. Screenshots (390 and 1280 px wide, light and dark,
English and Azerbaijani) go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route, async_playwright

from api.access import rules
from api.http.app_assets import app_files
from api.http.landing import LANDING_ROOT, landing_blueprint
from api.http.pages import SEAL_CSP
from tests.browser import CHROMIUM, CHROMIUM_ARGS, watch_errors

if TYPE_CHECKING:
    from tests.api.conftest import Live

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
CATALOG = ROOT / "api" / "static" / "app" / "i18n"
#: The two widths every page is looked at: a phone and a laptop.
SIZES = {390: 844, 1280: 900}
S = 1_000_000


def catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((CATALOG / f"{lang}.json").read_text("utf-8"))
    return data


def now_us() -> int:
    return time.time_ns() // 1000


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def auctions(server: Live) -> dict[str, str]:
    """A running English auction with a bid, an upcoming reverse one, a running sealed
    one with a sealed bid; their ids by role."""
    starts = now_us() + int(0.3 * S)
    live = await server.create(
        {
            "format": "english",
            "currency": "EUR",
            "starts_at": starts,
            "ends_at": starts + 3600 * S,
            "start_price": "100.00",
            "reserve_price": "777.77",
            "step": {"amount": "1.00"},
        },
        "office-chairs-2027",
    )
    later = now_us() + 2 * 86400 * S
    upcoming = await server.create(
        {
            "format": "reverse",
            "currency": "AZN",
            "starts_at": later,
            "ends_at": later + 1800 * S,
            "start_price": "98500.00",
            "step": {"percent": "1"},
        },
        "road-salt-lot-3",
    )
    sealed = await server.create(
        {
            "format": "sealed",
            "currency": "EUR",
            "starts_at": starts,
            "ends_at": starts + 7200 * S,
            "start_price": "10.00",
        },
        "printer-paper-q1",
    )
    bidder = await server.register(live, "acme-secret-party")
    sealer = await server.register(sealed, "sealer-secret-party")
    for auction in (live, sealed):
        await server.wait_phase(auction, "running")
    for auction, token, amount in ((live, bidder, "123.45"), (sealed, sealer, "67.89")):
        reply = await server.post(
            f"/api/v1/auctions/{auction}/bids", {"amount": amount, "currency": "EUR"}, token
        )
        assert reply.status == 201, reply.body
    return {"live": live, "upcoming": upcoming, "sealed": sealed}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def open_landing(
    browser: Browser,
    server: Live,
    width: int,
    scheme: str = "light",
    **context: Any,
) -> tuple[Page, list[str]]:
    """The landing page at ``width`` in ``scheme``, its list rendered; its error list."""
    ctx = await browser.new_context(
        viewport={"width": width, "height": SIZES.get(width, 900)},
        color_scheme=scheme,  # type: ignore[arg-type]
        **context,
    )
    page = await ctx.new_page()
    errors = watch_errors(page)
    response = await page.goto(f"http://127.0.0.1:{server.port}/")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == SEAL_CSP
    assert response.headers["content-type"].startswith("text/html")
    await page.wait_for_selector("#main[data-state=ready]", timeout=15_000)
    return page, errors


async def assert_no_sideways_scroll(page: Page) -> None:
    wide = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"the page scrolls sideways by {wide} px"


def assert_nothing_secret(text: str) -> None:
    for secret in ("123.45", "123,45", "67.89", "67,89", "777", "secret-party", "Bidder"):
        assert secret not in text, secret


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_the_page_lists_a_running_and_an_upcoming_auction_and_nothing_secret(
    server: Live, browser: Browser, auctions: dict[str, str], scheme: str
) -> None:
    en = catalog("en")
    ARTIFACTS.mkdir(exist_ok=True)
    for width in SIZES:
        page, errors = await open_landing(browser, server, width, scheme)
        assert await page.inner_text("h1") == en["landing.title"]
        cards = page.locator("li.auction")
        shown = await cards.evaluate_all("cards => cards.map(c => c.dataset.auction)")
        # Newest first.
        assert shown == [auctions["sealed"], auctions["upcoming"], auctions["live"]]
        live = page.locator(f"li[data-auction='{auctions['live']}']")
        text = await live.inner_text()
        assert en["format.english"] in text and en["phase.running"] in text
        assert en["ui.ends_in"] in text and en["landing.ends"] in text
        assert re.search(
            r"\b\d{1,2}:\d{2}(:\d{2})?\b", await live.locator(".countdown").inner_text()
        )
        upcoming = page.locator(f"li[data-auction='{auctions['upcoming']}']")
        text = await upcoming.inner_text()
        assert en["format.reverse"] in text and en["phase.scheduled"] in text
        assert en["ui.starts_in"] in text and "AZN" in text
        # Two days away: the countdown counts hours.
        assert re.fullmatch(r"4[78]:\d{2}:\d{2}", await upcoming.locator(".countdown").inner_text())
        sealed = await page.locator(f"li[data-auction='{auctions['sealed']}']").inner_text()
        assert en["format.sealed"] in sealed and en["ui.ends_in"] in sealed
        body = await page.inner_text("body")
        assert_nothing_secret(body)
        for key in ("landing.suppliers", "landing.officers", "landing.auditors"):
            assert en[key] in body
        codes = await page.eval_on_selector_all("main code", "cs => cs.map(c => c.textContent)")
        assert codes == ["gavel", "gavel audit verify"]
        links = await page.eval_on_selector_all("a", "as => as.map(a => a.getAttribute('href'))")
        assert "/api/v1/docs" in links and "/api/v1/docs#op-audit_auction_export" in links
        # The officer's console and the auditor's desk, one click from the front page.
        assert "/app/#/officer" in links and "/app/#/audit" in links
        await assert_no_sideways_scroll(page)
        await page.screenshot(path=ARTIFACTS / f"landing-{width}-{scheme}.png", full_page=True)
        assert errors == []
        await page.context.close()


async def test_times_are_in_the_visitors_zone(
    server: Live, browser: Browser, auctions: dict[str, str]
) -> None:
    page, errors = await open_landing(
        browser, server, 1280, timezone_id="Asia/Baku", locale="en-GB"
    )
    assert "Asia/Baku (GMT+04:00)" in await page.inner_text("#zone")
    starts = page.locator(f"li[data-auction='{auctions['upcoming']}'] time").first
    assert await starts.get_attribute("title") == "Asia/Baku (GMT+04:00)"
    us = (await server.state(auctions["upcoming"]))["rules"]["starts_at"]
    baku = datetime.fromtimestamp(us // S, ZoneInfo("Asia/Baku"))
    assert await starts.inner_text() == baku.strftime("%d/%m/%Y, %H:%M")
    assert errors == []
    await page.context.close()


async def test_the_switch_shows_azerbaijani(
    server: Live, browser: Browser, auctions: dict[str, str]
) -> None:
    az = catalog("az")
    for width in SIZES:
        page, errors = await open_landing(browser, server, width)
        await page.click("button[data-lang=az]")
        await page.wait_for_selector("html[lang=az]", state="attached")
        assert await page.inner_text("h1") == az["landing.title"]
        assert await page.get_attribute("button[data-lang=az]", "aria-pressed") == "true"
        assert await page.get_attribute("button[data-lang=en]", "aria-pressed") == "false"
        live = await page.locator(f"li[data-auction='{auctions['live']}']").inner_text()
        assert az["format.english"] in live and az["phase.running"] in live
        body = await page.inner_text("body")
        assert az["landing.suppliers_text"] in body and az["landing.auctions"] in body
        assert_nothing_secret(body)
        await assert_no_sideways_scroll(page)
        await page.screenshot(path=ARTIFACTS / f"landing-{width}-az.png", full_page=True)
        # The choice is kept: a reload is still in Azerbaijani.
        await page.reload()
        await page.wait_for_selector("#main[data-state=ready]")
        assert await page.inner_text("h1") == az["landing.title"]
        assert errors == []
        await page.context.close()


async def test_an_azerbaijani_browser_gets_azerbaijani(
    server: Live, browser: Browser, auctions: dict[str, str]
) -> None:
    page, errors = await open_landing(browser, server, 390, locale="az-AZ")
    assert await page.inner_text("h1") == catalog("az")["landing.title"]
    assert errors == []
    await page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_axe_finds_nothing_serious_or_critical(
    server: Live, browser: Browser, auctions: dict[str, str], scheme: str
) -> None:
    """axe-core (vendored, served under /vendor/) over the rendered page. The page's
    policy is bypassed for this test alone, so that axe can be injected."""
    from tests.api.http.test_vendor_browser import vendored

    for width in SIZES:
        page, _ = await open_landing(browser, server, width, scheme, bypass_csp=True)
        await page.add_script_tag(url=vendored("/axe.min.js"))
        found: list[dict[str, Any]] = await page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']}))
                .violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))"""
        )
        serious = [v for v in found if v["impact"] in ("serious", "critical")]
        assert serious == [], json.dumps(serious, indent=1)
        await page.context.close()


async def test_the_keyboard_reaches_the_switch_and_the_links(
    server: Live, browser: Browser, auctions: dict[str, str]
) -> None:
    page, errors = await open_landing(browser, server, 1280)
    reached: list[str] = []
    for _ in range(12):
        await page.keyboard.press("Tab")
        reached.append(
            await page.evaluate(
                "(e => e.dataset.lang || e.getAttribute('href') || '')(document.activeElement)"
            )
        )
    assert "az" in reached and "/api/v1/docs" in reached
    # Enter on the focused AZ button switches.
    await page.focus("button[data-lang=az]")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("html[lang=az]", state="attached")
    assert errors == []
    await page.context.close()


def fulfil_with(body: dict[str, Any]) -> Callable[[Route], Awaitable[None]]:
    """A route handler answering 200 with ``body``."""

    async def fulfil(route: Route) -> None:
        await route.fulfill(status=200, json=body)

    return fulfil


async def test_an_empty_list_and_a_capped_one_are_said(
    server: Live, browser: Browser, auctions: dict[str, str]
) -> None:
    en = catalog("en")
    served = json.loads((await server.get("/api/v1/public/auctions")).body)
    for name, answer, status in (
        ("empty", {**served, "auctions": [], "more": False}, en["landing.none"]),
        ("capped", {**served, "more": True}, en["landing.more"].replace("{count}", "3")),
    ):
        ctx = await browser.new_context(viewport={"width": 390, "height": 844})
        page = await ctx.new_page()
        errors = watch_errors(page)

        await page.route("**/api/v1/public/auctions", fulfil_with(answer))
        await page.goto(f"http://127.0.0.1:{server.port}/")
        await page.wait_for_selector("#main[data-state=ready]", timeout=15_000)
        assert await page.inner_text("#list-status") == status
        assert await page.locator("li.auction").count() == len(answer["auctions"])
        await page.screenshot(path=ARTIFACTS / f"landing-390-{name}.png", full_page=True)
        assert errors == []
        await ctx.close()


async def test_a_list_that_cannot_be_loaded_is_said(
    server: Live, browser: Browser, auctions: dict[str, str]
) -> None:
    ctx = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await ctx.new_page()

    async def refuse(route: Route) -> None:
        await route.abort()

    await page.route("**/api/v1/public/auctions", refuse)
    await page.goto(f"http://127.0.0.1:{server.port}/")
    await page.wait_for_selector("#main[data-state=error]", timeout=15_000)
    assert await page.inner_text("#list-status") == catalog("en")["landing.unavailable"]
    assert await page.locator("li.auction").count() == 0
    await ctx.close()


def test_the_blueprint_holds_two_routes_open_to_anyone() -> None:
    routes = {r.name.rpartition(".")[2]: r.uri for r in landing_blueprint()._future_routes}
    assert routes == {"landing_page": "/", "landing_asset": "/landing/<path:path>"}
    assert all(rules.rule_for(name) is rules.PUBLIC for name in routes)
    assert set(app_files(LANDING_ROOT)) == {
        "index.html",
        "landing.js",
        "landing.css",
        "favicon.svg",
    }


async def test_the_other_routes_are_untouched(server: Live) -> None:
    assert (await server.get("/healthz")).status == 200
    assert (await server.get("/api/v1/docs")).status == 200
    for path in ("/landing/nope.js", "/nope", "/landing/../app/i18n.js"):
        reply = await server.get(path)
        assert reply.status == 404 and reply.code == "not_found" and reply.json()["detail"]
    page = await server.get("/")
    assert b"<script>" not in page.body and b"style=" not in page.body
    for name in ("landing.js", "landing.css"):
        reply = await server.get(f"/landing/{name}")
        assert reply.status == 200 and reply.headers["content-security-policy"] == SEAL_CSP


async def test_an_auction_that_starts_turns_live_without_a_reload(
    server: Live, browser: Browser, auctions: dict[str, str]
) -> None:
    """Its start passes on the page's clock: the page asks again and shows it live."""
    starts = now_us() + 3 * S
    soon = await server.create(
        {
            "format": "english",
            "currency": "EUR",
            "starts_at": starts,
            "ends_at": starts + 600 * S,
            "start_price": "1.00",
            "step": {"amount": "1.00"},
        },
        "starts-soon",
    )
    page, errors = await open_landing(browser, server, 390)
    card = f"li[data-auction='{soon}']"
    assert await page.get_attribute(card, "data-phase") == "scheduled"
    await page.wait_for_selector(f"{card}[data-phase=running]", timeout=15_000)
    text = await page.locator(card).inner_text()
    assert catalog("en")["ui.ends_in"] in text and catalog("en")["phase.running"] in text
    assert errors == []
    await page.context.close()
