"""The supplier's page checks its bids against the auction's signed record when it ends
(api/static/app/view/record.js over verify.js), in real headless Chromium against the live
server on real PostgreSQL.

One short English auction for the module: ann bids four times (bob outbids each, and
wins) and the auction ends while her page is open. The result view says "Your 4 bids are
in the signed record of this auction", keeps the ranking and her position, names the
winner by label, and offers the signed checkpoint as a JSON file that the Python verifier
accepts. Then, each time in a fresh tab of ann's session, the wire is broken with
Playwright's ``page.route``: one sibling hash of one bid's inclusion proof flipped, and
the page names that bid (amount and time) as not shown to be in the record; the
checkpoint's signature flipped, and the page says the record's signature does not
verify; an older genuine checkpoint, and the page says it does not cover the result (and
names the bid after it); the checkpoint refused (503), or the proofs unreachable, and the
page says it could not check (offline) and checks again on request; a 429 is asked
again; the events are read page by page. axe finds nothing serious; screenshots at 390
and 1280 px.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Route

from contracts.checkpoint import parse_and_verify, parse_verifier_key
from tests.api.conftest import Live
from tests.api.http.test_supplier_page import (
    axe_serious,
    nbsp,
    open_link,
    rules,
    shoot,
    shows,
    text,
)
from tests.api.http.test_verify_js import _bid as ws_bid
from tests.browser import watch_errors

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[3]
#: How long the module's auction runs: ann's four bids and bob's four, and her page's
#: opening, fit well within it.
DURATION_S = 5


def catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((ROOT / f"api/static/app/i18n/{lang}.json").read_text())
    return data


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server(GAVEL_HEARTBEAT_S="1")


@pytest.fixture(scope="module")
def browser(chromium: Browser) -> Browser:
    """The module's Chromium (conftest.py), kept across tests: no context closed between."""
    return chromium


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ended(server: Live, browser: Browser) -> AsyncIterator[dict[str, Any]]:
    """The module's auction, ended with ann's page open on it: ``auction``, ann's
    ``page`` and ``session`` (for more tabs), her bids (``seq``, ``price``, ``at``) and the
    events' seq of the end.

    The bids go over the websocket (ann's own token, the same party as her page's), at
    once when it runs: a slow page (a loaded machine) cannot then miss the close, and
    the page, open before the end, shows the result as it comes."""
    auction = await server.create(rules("english", duration_s=DURATION_S))
    ann_token = await server.register(auction, "ann")
    bob_token = await server.register(auction, "bob")
    reply = await server.post(
        f"/api/v1/auctions/{auction}/invitations", {"party": "ann"}, token=server.officer
    )
    assert reply.status == 201, reply.body
    await server.wait_phase(auction, "running")
    ann, bob = await server.connect(auction, ann_token), await server.connect(auction, bob_token)
    acks = []
    try:
        for step in range(4):
            acks.append((await ws_bid(ann, f"{100 + 20 * step}.00"))["seq"])
            await ws_bid(bob, f"{110 + 20 * step}.00")
    finally:
        await ann.close()
        await bob.close()
    context, page = await open_link(
        browser, f"http://127.0.0.1:{server.port}{reply.json()['link']}"
    )
    errors = watch_errors(page)
    await page.wait_for_selector("#result", timeout=(DURATION_S + 8) * 1000)
    events = await server.events(auction)
    assert events[-1]["event"]["type"] == "AuctionEnded"
    mine = [
        {"seq": e["seq"], "price": e["event"]["price"], "at": e["event"]["at"]}
        for e in events
        if e["event"]["type"] == "BidAccepted" and e["event"]["bidder"] == "ann"
    ]
    assert [b["price"] for b in mine] == [10000, 12000, 14000, 16000]
    assert [b["seq"] for b in mine] == acks
    session = await page.evaluate("sessionStorage.getItem('gavel.session')")
    yield {
        "auction": auction,
        "page": page,
        "errors": errors,
        "session": session,
        "bids": mine,
        "end": events[-1]["seq"],
    }
    await context.close()


async def another_tab(browser: Browser, server: Live, session: str) -> tuple[BrowserContext, Page]:
    """A new tab signed in with ann's session (the invitation link works once)."""
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="Asia/Baku"
    )
    await context.add_init_script(f"sessionStorage.setItem('gavel.session', {json.dumps(session)})")
    return context, await context.new_page()


async def open_tab(page: Page, server: Live, auction: str) -> None:
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/auction/{auction}")
    await page.wait_for_selector("#app[data-ready='yes'] #result")


async def rewrite(route: Route, change: Callable[[dict[str, Any]], None]) -> None:
    """Answer ``route`` with the server's JSON after ``change``."""
    reply = await route.fetch()
    body = await reply.json()
    change(body)
    await route.fulfill(response=reply, body=json.dumps(body))


def baku_time(at_us: int) -> str:
    return datetime.fromtimestamp(at_us / 1e6, ZoneInfo("Asia/Baku")).strftime("%H:%M:%S")


async def record_state(page: Page, *states: str) -> str:
    """The record panel's state once it is one of ``states``."""
    await page.wait_for_function(
        "(states) => states.includes(document.querySelector('#record')?.dataset.state)",
        arg=list(states),
        timeout=10_000,
    )
    return str(await page.get_attribute("#record", "data-state"))


# ------------------------------------------------------------------------- the tests


async def test_my_four_bids_are_in_the_signed_record(server: Live, ended: dict[str, Any]) -> None:
    page: Page = ended["page"]
    assert await record_state(page, "proven", "not_proven", "offline", "failed") == "proven"
    en = catalog("en")
    assert (
        await text(page, "#record-status")
        == "Your 4 bids are in the signed record of this auction."
    )
    assert await page.get_attribute("#record-status", "aria-live") == "polite"
    assert await page.locator("#record-missing, #record-retry").count() == 0
    # The result itself is kept: the winner by label, the ranking and my position.
    assert await text(page, "#winner") == "Bidder 2"
    assert await text(page, "#my-position") == "2 of 2"
    assert await text(page, "#ranking tbody tr:nth-child(2)") == "2 You AZN 160.00"

    # The details: the record's size and root, and each bid in it by amount and time.
    await page.click("#record-details summary")
    details = nbsp(await text(page, "#record-details"))
    first = ended["bids"][0]
    assert f"AZN 100.00 at {baku_time(first['at'])}: {en['verify.bid_in_record']}" in details
    assert details.count(en["verify.bid_in_record"]) == 4

    # The signed checkpoint, downloaded: the Python verifier takes it, and it covers the end.
    async with page.expect_download() as download_info:
        await page.click("#record-download")
    download = await download_info.value
    kept = json.loads(Path(await download.path()).read_text("utf-8"))
    key = (await server.get("/api/v1/audit/key")).json()["verifier_key"]
    assert kept["verifier_key"] == key and kept["auction"] == ended["auction"]
    name, public_key = parse_verifier_key(key)
    signed = parse_and_verify(kept["note"], name, public_key)
    assert signed.origin == f"gavel/auction/{ended['auction']}"
    assert signed.size == kept["size"] >= ended["end"]
    assert signed.root.hex() == kept["root"] in details

    # In Azerbaijani, the same in its own words.
    await page.click(".lang button[lang='az']")
    await page.wait_for_function("() => document.documentElement.lang === 'az'")
    az = catalog("az")
    await shows(page, "#record-status", az["verify.all_in_record"].replace("{count}", "4"))
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(
        path=str(ROOT / "test-artifacts/supplier-record-az-390.png"), full_page=True
    )
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.click(".lang button[lang='en']")
    await page.wait_for_function("() => document.documentElement.lang === 'en'")

    assert await axe_serious(page) == []
    await shoot(page, "record-proven")
    assert ended["errors"] == []


async def test_a_broken_proof_names_that_bid(
    server: Live, browser: Browser, ended: dict[str, Any]
) -> None:
    auction, broken = ended["auction"], ended["bids"][1]

    def flip_sibling(body: dict[str, Any]) -> None:
        sibling = bytearray(bytes.fromhex(body["proof"][0]))
        sibling[5] ^= 0x01
        body["proof"][0] = sibling.hex()

    async def flipped(route: Route) -> None:
        await rewrite(route, flip_sibling)

    context, page = await another_tab(browser, server, ended["session"])
    errors = watch_errors(page)
    try:
        await page.route(
            f"**/api/v1/auctions/{auction}/proofs/inclusion?seq={broken['seq']}&*", flipped
        )
        await open_tab(page, server, ended["auction"])
        assert await record_state(page, "proven", "not_proven", "offline", "failed") == "not_proven"
        assert await text(page, "#record-status") == (
            "1 of your 4 bids could not be shown to be in the signed record of this auction."
        )
        missing = page.locator("#record-missing li")
        assert await missing.count() == 1
        assert await missing.get_attribute("data-seq") == str(broken["seq"])
        assert nbsp(await text(page, "#record-missing li")) == (
            f"Your bid of AZN 120.00 at {baku_time(broken['at'])} is not shown to be in the "
            "signed record: its proof does not match the signed record."
        )
        assert await page.locator("#record-retry").count() == 0
        assert await axe_serious(page) == []
        for width, height in ((390, 844), (1280, 900)):
            await page.set_viewport_size({"width": width, "height": height})
            path = ROOT / f"test-artifacts/supplier-record-not-proven-{width}.png"
            await page.screenshot(path=str(path), full_page=True)
        assert errors == []
    finally:
        await context.close()


async def test_a_bad_checkpoint_signature_proves_nothing(
    server: Live, browser: Browser, ended: dict[str, Any]
) -> None:
    def bad_signature(body: dict[str, Any]) -> None:
        text_, _, line = body["note"].rstrip("\n").rpartition("\n")
        name, encoded = line.rsplit(" ", 1)
        data = bytearray(base64.b64decode(encoded))
        data[10] ^= 0x01
        body["note"] = f"{text_}\n{name} {base64.b64encode(bytes(data)).decode()}\n"

    async def broken(route: Route) -> None:
        await rewrite(route, bad_signature)

    context, page = await another_tab(browser, server, ended["session"])
    errors = watch_errors(page)
    try:
        await page.route(f"**/api/v1/auctions/{ended['auction']}/checkpoint", broken)
        await open_tab(page, server, ended["auction"])
        assert await record_state(page, "proven", "not_proven", "offline", "failed") == "not_proven"
        assert await text(page, "#record-status") == (
            "The record's signature does not verify, so none of your bids can be shown to be in it."
        )
        assert await page.locator("#record-missing, #record-retry, #record-details").count() == 0
        assert errors == []
    finally:
        await context.close()


async def test_a_record_made_before_the_end_does_not_cover_it(
    server: Live, browser: Browser, ended: dict[str, Any]
) -> None:
    # A genuine checkpoint signed by the server, of the log before ann's last bid.
    auction, last = ended["auction"], ended["bids"][-1]
    token = json.loads(ended["session"])["token"]
    reply = await server.get(
        f"/api/v1/auctions/{auction}/proofs/inclusion?seq=1&size={last['seq'] - 1}", token
    )
    assert reply.status == 200, reply.body
    note = reply.json()["checkpoint"]

    async def older(route: Route) -> None:
        await rewrite(route, lambda body: body.update(note=note, size=last["seq"] - 1))

    context, page = await another_tab(browser, server, ended["session"])
    errors = watch_errors(page)
    try:
        await page.route(f"**/api/v1/auctions/{auction}/checkpoint", older)
        await open_tab(page, server, auction)
        assert await record_state(page, "proven", "not_proven", "offline", "failed") == (
            "not_proven"
        )
        assert await text(page, "#record-status") == catalog("en")["record.before_end"]
        assert nbsp(await text(page, "#record-missing")) == (
            f"Your bid of AZN 160.00 at {baku_time(last['at'])} is not shown to be in the "
            "signed record: it came after the signed record was made."
        )
        assert errors == []
    finally:
        await context.close()


async def test_a_busy_server_is_asked_again(
    server: Live, browser: Browser, ended: dict[str, Any]
) -> None:
    """A 429 (the rate limit per token: many bids, many proofs) is not a missing proof:
    the page asks again after the server's Retry-After."""
    auction, first = ended["auction"], ended["bids"][0]
    busy: list[str] = []

    async def once_busy(route: Route) -> None:
        if busy:
            await route.continue_()
            return
        busy.append(route.request.url)
        await route.fulfill(
            status=429,
            headers={"Retry-After": "1", "Content-Type": "application/problem+json"},
            body=json.dumps({"type": "about:blank", "status": 429, "code": "rate_limited"}),
        )

    context, page = await another_tab(browser, server, ended["session"])
    errors = watch_errors(page)
    try:
        await page.route(
            f"**/api/v1/auctions/{auction}/proofs/inclusion?seq={first['seq']}&*", once_busy
        )
        await open_tab(page, server, auction)
        assert await record_state(page, "proven", "not_proven", "offline", "failed") == "proven"
        assert len(busy) == 1
        assert [e for e in errors if not e.startswith("429 ")] == []
    finally:
        await context.close()


async def test_the_events_are_read_page_by_page(
    server: Live, browser: Browser, ended: dict[str, Any]
) -> None:
    """The events route answers at most 1000 events a call: a full page is followed by
    the next (after its last seq) until a short one, and every bid is found."""
    auction, second = ended["auction"], ended["bids"][1]
    asked: list[str] = []

    async def paged(route: Route) -> None:
        after = int(route.request.url.rsplit("after=", 1)[1])
        asked.append(str(after))
        if after != 0:
            await route.continue_()
            return

        # The first page: the events up to ann's second bid, made 1000 long with copies
        # of the first (no bid, an earlier seq), as a full page would be.
        def first_page(body: dict[str, Any]) -> None:
            head = [e for e in body["events"] if e["seq"] <= second["seq"]]
            body["events"] = head[:1] * (1000 - len(head)) + head

        await rewrite(route, first_page)

    context, page = await another_tab(browser, server, ended["session"])
    errors = watch_errors(page)
    try:
        await page.route(f"**/api/v1/auctions/{auction}/events?after=*", paged)
        await open_tab(page, server, auction)
        assert await record_state(page, "proven", "not_proven", "offline", "failed") == "proven"
        assert await text(page, "#record-status") == (
            "Your 4 bids are in the signed record of this auction."
        )
        assert "0" in asked and str(second["seq"]) in asked
        assert errors == []
    finally:
        await context.close()


async def test_offline_it_says_so_and_checks_again(
    server: Live, browser: Browser, ended: dict[str, Any]
) -> None:
    context, page = await another_tab(browser, server, ended["session"])
    errors = watch_errors(page)
    try:
        # The server answers, but not with the checkpoint: it could not be fetched.
        checkpoint = f"**/api/v1/auctions/{ended['auction']}/checkpoint"
        await page.route(checkpoint, lambda route: route.fulfill(status=503, body="{}"))
        await open_tab(page, server, ended["auction"])
        assert await record_state(page, "proven", "not_proven", "offline", "failed") == "failed"
        assert await text(page, "#record-status") == catalog("en")["verify.unreachable"]
        await page.unroute(checkpoint)
        assert [e for e in errors if "/checkpoint" not in e] == []
        errors.clear()
        # No answer at all for the proofs: offline, and checked again on request.
        proofs = f"**/api/v1/auctions/{ended['auction']}/proofs/inclusion?*"
        await page.route(proofs, lambda route: route.abort("internetdisconnected"))
        await page.click("#record-retry")
        assert await record_state(page, "offline") == "offline"
        assert await text(page, "#record-status") == catalog("en")["record.offline"]
        await page.unroute(proofs)
        await page.click("#record-retry")
        assert await record_state(page, "proven") == "proven"
        assert await text(page, "#record-status") == (
            "Your 4 bids are in the signed record of this auction."
        )
        assert errors == []
    finally:
        await context.close()
