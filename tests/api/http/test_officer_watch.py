"""The officer's home, an auction's suppliers and its live watch (``#/officer``,
``#/officer/auction/<id>``: api/static/app/staff/officer/) in real headless Chromium
against the live server on real PostgreSQL.

An officer signs in with a token, finds the reverse soft-close auction on the home page,
registers and invites two suppliers from the page, downloads the links as CSV; both
suppliers join through their links in browsers of their own and bid in the supplier's
page. The officer's live tab shows both identities, their offers, the event stream and
the chart; a disqualification asks for a reason and a second click, and is recorded as
the event the stream then shows; revoking a supplier's access refuses its token after,
signs its open page out and withdraws its link not used yet.
axe-core finds nothing serious or critical, and the pages are photographed at 390 and
1280 px (light and dark) into ``test-artifacts/``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.api.conftest import Live
from tests.api.http.test_supplier_page import bid, live, open_link
from tests.api.http.test_tenders import KEYS, OFFICERS, T
from tests.browser import look, watch_errors

S = 1_000_000

in_module_loop = pytest.mark.asyncio(loop_scope="module")
#: A catalog key shown instead of its words would start so.
KEYS_SHOWN = ("home.", "invite.", "watch.", "chart.")


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server(GAVEL_HEARTBEAT_S="1")


def reverse_soft_close() -> dict[str, Any]:
    starts = time.time_ns() // 1000 + 2 * S
    return {
        "format": "reverse",
        "currency": "AZN",
        "starts_at": starts,
        "ends_at": starts + 600 * S,
        "start_price": "1000.00",
        "step": {"amount": "10.00"},
        "soft_close": {"window_us": 60 * S, "extension_us": 120 * S},
    }


async def road_repairs(server: Live) -> str:
    """A tender of the module's officer (officer-1 on its committee), key ceremony pending."""
    tender = f"t-{uuid.uuid4().hex[:10]}"
    deadline = time.time_ns() // 1000 + 3600 * S
    officers = [{"id": name, "public_key": KEYS[name].encryption_public.hex()} for name in OFFICERS]
    reply = await server.post(
        T,
        {
            "id": tender,
            "title": "Road repairs",
            "currency": "AZN",
            "officers": [{"id": "officer-1", "public_key": officers[0]["public_key"]}]
            + officers[1:],
            "threshold": 2,
            "lots": [{"id": "L1", "title": "North", "deadline": deadline, "opening_at": deadline}],
        },
        token=server.officer,
    )
    assert reply.status == 201, reply.body
    return tender


async def sign_in(browser: Browser, server: Live, fragment: str) -> Page:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="Asia/Baku"
    )
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/officer")
    await page.fill("#staff-token", server.officer)
    await page.click("#staff-sign-in")
    await page.wait_for_selector("#app[data-page='staff']")
    if fragment:
        await page.evaluate("f => { location.hash = f; }", fragment)
    return page


async def text(page: Page, selector: str) -> str:
    return " ".join((await page.locator(selector).inner_text()).split())


async def invite(page: Page, party: str, lifetime_s: int | None = None) -> str:
    await page.fill("#invite-party", party)
    if lifetime_s is not None:
        await page.select_option("#invite-lifetime", str(lifetime_s))
    await page.click("#invite-submit")
    item = page.locator(f"#invite-links li[data-party='{party}'] code.link")
    await item.wait_for()
    return await item.inner_text()


@in_module_loop
async def test_officer_invites_watches_disqualifies_and_revokes(
    server: Live, browser: Browser
) -> None:
    auction = await server.create(reverse_soft_close())
    tender = await road_repairs(server)
    officer = await sign_in(browser, server, "")
    errors = watch_errors(officer)

    # Home: the auction, its format, state and times, linked; the ways to create.
    await officer.wait_for_selector("#officer-home[data-ready='yes']")
    row = officer.locator(f"#home-auctions tr[data-id='{auction}']")
    assert "Reverse auction" in await row.inner_text()
    assert await officer.get_attribute("#home-new-auction", "href") == "#/officer/new/auction"
    tender_row = officer.locator(f"#home-tenders tr[data-id='{tender}']")
    assert await tender_row.get_attribute("data-state") == "created"
    assert "Road repairs" in await tender_row.inner_text()
    assert "Awaiting key ceremony" in await tender_row.inner_text()
    assert await tender_row.locator("a").get_attribute("href") == f"#/officer/tender/{tender}"
    assert await officer.get_attribute("#home-keys", "href") == "#/officer/keys"
    await look(officer, "officer-home", KEYS_SHOWN)

    # The auction's page: suppliers registered and invited from the page.
    await row.locator("a").click()
    await officer.wait_for_selector("#officer-auction[data-ready='yes']")
    await officer.click("#tab-suppliers")
    await officer.wait_for_selector("#invitations[data-ready='yes']")
    await officer.click("#invite-submit")  # no identifier: said next to the field
    assert "Enter the supplier" in await text(officer, "#invite-party-error")
    assert await officer.input_value("#invite-lifetime") == str(7 * 86400)  # the default
    links = {"ann": await invite(officer, "ann", 3600), "bob": await invite(officer, "bob")}
    listed = (await server.get(f"/api/v1/auctions/{auction}/invitations", server.officer)).json()
    lifetimes = {i["party"]: i["expires_at"] - i["created_at"] for i in listed["invitations"]}
    assert lifetimes == {"ann": 3600 * S, "bob": 3600 * S}  # as chosen, kept for the next
    for link in links.values():
        assert link.startswith(f"http://127.0.0.1:{server.port}/app/#invite="), link
    await officer.click(".copy-link[data-party='ann']")
    assert await officer.evaluate("navigator.clipboard.readText()") == links["ann"]
    async with officer.expect_download() as download_info:
        await officer.click("#invite-download")
    download = await download_info.value
    rows = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text("utf-8"))))
    assert {r["party"]: r["link"] for r in rows} == links
    # The registration's own token was revoked at once: only the links sign in.
    assert len(await server.events(auction)) >= 3

    # Both join through their links and bid in the supplier's page.
    await server.wait_phase(auction, "running")
    ann_context, ann = await open_link(browser, links["ann"])
    bob_context, bob = await open_link(browser, links["bob"])
    for page in (ann, bob):
        await live(page)
    await bid(ann, "990")
    await bid(bob, "980")
    await bid(ann, "970")
    for party in ("ann", "bob"):
        await officer.wait_for_selector(
            f"#invite-table tr[data-party='{party}'][data-state='joined']", timeout=10_000
        )

    # The live tab: identities, offers, the stream, the chart.
    await officer.click("#tab-live")
    await officer.wait_for_selector("#watch[data-ready='yes']")
    bids = "#watch-events tr[data-type='BidAccepted']"
    await officer.wait_for_function("s => document.querySelectorAll(s).length === 3", arg=bids)
    standing = await text(officer, "#watch-standing")
    assert standing.index("ann (Bidder 1)") < standing.index("bob (Bidder 2)"), standing
    assert "970.00" in standing and "980.00" in standing
    newest = officer.locator("#watch-events tbody tr").first
    assert "Bid by ann (Bidder 1)" in await newest.inner_text()
    assert "970.00" in await newest.inner_text()
    assert await officer.get_attribute("#offers-chart", "data-lines") == "2"
    assert await officer.locator("#offers-chart canvas").count() >= 1
    legend = officer.locator("#offers-chart .chart-key[data-label='bob']")
    await legend.click()  # the legend filters
    assert await legend.get_attribute("aria-pressed") == "false"
    await legend.click()

    # Disqualify bob: a reason, then a second click; recorded as an event.
    await officer.click("#watch-bidders .disqualify[data-party='bob']")
    await officer.click("#disqualify-next")
    assert "Give a reason" in await text(officer, "#disqualify-problem")
    await officer.fill("#disqualify-reason", "Bid placed from a sanctioned account")
    await officer.click("#disqualify-next")
    await officer.wait_for_selector("#disqualify-confirm")
    assert not any(e["event"]["type"] == "BidderDisqualified" for e in await server.events(auction))
    await officer.click("#disqualify-confirm")
    await officer.wait_for_selector("#watch-events tr[data-type='BidderDisqualified']")
    recorded = await text(officer, "#watch-events tr[data-type='BidderDisqualified']")
    assert "bob (Bidder 2) disqualified: Bid placed from a sanctioned account" in recorded
    # The notice follows the POST's answer, which may come after the event's frame.
    await officer.wait_for_function(
        "() => document.getElementById('watch-recorded')?.innerText"
        ".includes('was disqualified (event')",
        timeout=10_000,
    )
    assert await officer.get_attribute("#watch-bidders tr[data-party='bob']", "data-out") == "yes"
    [event] = [
        e["event"]
        for e in await server.events(auction)
        if e["event"]["type"] == "BidderDisqualified"
    ]
    assert event["bidder"] == "bob" and event["note"] == "Bid placed from a sanctioned account"
    await look(officer, "officer-auction-live", KEYS_SHOWN)

    # Revoke ann's access: a second click; her token is refused after, her open page is
    # signed out at once, and the new link made for her meanwhile is withdrawn.
    ann_token = json.loads(await ann.evaluate("sessionStorage.getItem('gavel.session')"))
    token = ann_token.get("token") or ann_token["sessions"][0]["token"]
    assert (await server.get(f"/api/v1/auctions/{auction}/me", token)).status == 200
    await officer.click("#tab-suppliers")
    await officer.click(".new-link[data-party='ann']")
    await officer.wait_for_function(
        "() => document.querySelectorAll(\"#invite-links li[data-party='ann']\").length === 2"
    )
    unused = await officer.locator(
        "#invite-links li[data-party='ann'] code.link"
    ).first.inner_text()
    await officer.click("#invite-table .revoke[data-party='ann']")
    assert "Links not used yet (1) are withdrawn too" in await text(officer, ".revoke-open")
    await officer.click(".revoke-confirm[data-party='ann']")
    await officer.wait_for_selector("#invite-table tr[data-party='ann'][data-state='revoked']")
    said = await text(officer, "#invite-revoked")
    assert "Sessions ended: 1. Unused links withdrawn: 1." in said, said
    assert "Links withdrawn: 1" in await text(officer, "#invite-table tr[data-party='ann']")
    assert await officer.locator("#invite-links li[data-party='ann']").count() == 0  # gone
    refused = await server.get(f"/api/v1/auctions/{auction}/me", token)
    assert refused.status == 401 and refused.json()["code"] == "token_revoked"
    await ann.wait_for_function(
        "t => document.body.innerText.includes(t)", arg="Your sign-in is no longer valid"
    )
    code = unused.split("#invite=")[1]
    gone = await server.post("/api/v1/invitations/redeem", {"code": code})
    assert gone.status == 410 and gone.json()["code"] == "invitation_withdrawn"
    listed = (await server.get(f"/api/v1/auctions/{auction}/invitations", server.officer)).json()
    assert sorted(i["state"] for i in listed["invitations"] if i["party"] == "ann") == [
        "used",
        "withdrawn",
    ]
    # The supplier who opens the withdrawn link is told so, in words.
    late_context, late = await open_link(browser, unused)
    assert "withdrawn by the organiser" in await text(late, "#app")
    await late_context.close()
    await look(officer, "officer-auction-suppliers", KEYS_SHOWN)
    assert errors == []
    for context in (ann_context, bob_context):
        await context.close()


@in_module_loop
async def test_officer_cancels_an_auction_by_keyboard_with_a_reason(
    server: Live, browser: Browser
) -> None:
    spec = reverse_soft_close()
    spec["starts_at"] = time.time_ns() // 1000 + S // 5
    auction = await server.create(spec)
    await server.wait_phase(auction, "running")
    officer = await sign_in(browser, server, f"#/officer/auction/{auction}")
    errors = watch_errors(officer)
    await officer.wait_for_selector("#officer-auction[data-ready='yes']")
    await officer.wait_for_selector("#watch[data-ready='yes']")  # running: the live tab
    assert await officer.get_attribute("#tab-live", "aria-selected") == "true"

    # Keyboard only: the reason field takes the focus, Tab to the button, Enter; the
    # confirming button takes the focus, Enter.
    await officer.focus("#cancel-start")
    await officer.keyboard.press("Enter")
    await officer.wait_for_function("() => document.activeElement?.id === 'cancel-reason'")
    await officer.keyboard.type("The specification was withdrawn")
    await officer.keyboard.press("Tab")
    await officer.keyboard.press("Enter")
    await officer.wait_for_function("() => document.activeElement?.id === 'cancel-confirm'")
    assert "Cancel this auction for everyone?" in await text(officer, "#cancel-form")
    assert (await server.state(auction))["phase"] == "running"  # nothing sent yet
    await officer.keyboard.press("Enter")

    ended = officer.locator("#watch-events tr[data-type='AuctionEnded']")
    await ended.wait_for()
    words = "Auction ended: cancelled: The specification was withdrawn"
    assert words in await ended.inner_text()
    assert "was cancelled (event" in await text(officer, "#watch-recorded")
    await officer.wait_for_selector("#auction-phase.phase-ended")
    assert await officer.locator("#cancel-start").count() == 0  # no control once ended
    state = await server.state(auction)
    assert state["phase"] == "ended" and state["result"]["outcome"] == "cancelled"
    assert state["result"]["note"] == "The specification was withdrawn"
    # In Azerbaijani: every word from the catalog (no key shows), both tabs.
    await officer.click("header .lang button[lang='az']")
    await officer.wait_for_function("() => document.documentElement.lang === 'az'")
    for tab in ("#tab-live", "#tab-suppliers"):
        await officer.click(tab)
        shown = await officer.evaluate("() => document.body.innerText")
        assert not re.search(r"\b(home|invite|watch|chart|ui|phase|format)\.[a-z_]+", shown)
        assert "Hərrac bitdi: ləğv edildi" in shown or tab == "#tab-suppliers"
    assert errors == []


@in_module_loop
async def test_the_chart_data_steps_each_offer_on_and_marks_extensions_and_rounds(
    server: Live, browser: Browser
) -> None:
    """chart.js's legendOf and alignData, watch.js's chartOf, on hand-made input."""
    context = await browser.new_context(locale="en-GB", timezone_id="Asia/Baku")
    page = await context.new_page()
    await page.goto(f"http://127.0.0.1:{server.port}/app/i18n/en.json")  # the app's origin
    got = await page.evaluate(
        """async () => {
            await (await import('/app/i18n.js')).init({languages: ['en']});
            const chart = await import('/app/staff/chart.js');
            const watch = await import('/app/staff/officer/watch.js');
            const points = [
                {t_us: 3_000_000, label: 'bob', amount_minor: '98000'},
                {t_us: 1_000_000, label: 'ann', amount_minor: 99000},
                {t_us: 5_000_000, label: 'ann', amount_minor: 97000n},
                {t_us: 6_000_000, label: 'bob', amount_minor: null},
            ];
            const entries = chart.legendOf(['bob', {label: 'zed', text: 'Zed'}], points);
            const data = chart.alignData(points, entries, 9_000_000, [], 500_000);
            const events = [
                {event: {type: 'AuctionCreated', rules: {ends_at: 100}}},
                {event: {type: 'AuctionStarted', at: 10, ends_at: 200}},
                {event: {type: 'BidAccepted', at: 20, bidder: 'ann', price: 500}},
                {event: {type: 'EndExtended', at: 190, ends_at: 260}},
                {event: {type: 'RoundStarted', at: 300, round: 2}},
                {event: {type: 'BidderDisqualified', at: 310, bidder: 'ann', note: 'x'}},
                {event: {type: 'RoundEnded', at: 400, round: 2}},
            ];
            const marks = watch.chartOf(events, 'reverse');
            // Drawn: the winner's key says so, a press on a key hides its line.
            const {html, render} = await import('/vendor/htm@3.1.1/htm-preact.mjs');
            const root = document.createElement('div');
            root.style.width = '600px';
            document.body.append(root);
            render(html`<${chart.OffersChart} points=${points} labels=${['ann', 'bob']}
                winner="ann" currency="AZN" marks=${marks.marks} />`, root);
            await new Promise((done) => setTimeout(done, 100));
            const winner = root.querySelector('.chart-key.winner')?.textContent;
            const canvases = root.querySelectorAll('canvas').length;
            const bob = root.querySelector('.chart-key[data-label="bob"]');
            bob.click();
            await new Promise((done) => setTimeout(done, 50));
            const drawn = {winner, canvases, bobPressed: bob.getAttribute('aria-pressed'),
                           lines: root.querySelector('figure').dataset.lines,
                           caption: root.querySelector('figcaption').innerText,
                           label: root.querySelector('[role=img]').getAttribute('aria-label')};
            return {entries, data, marks, drawn};
        }"""
    )
    await context.close()
    assert got["entries"] == [
        {"label": "bob", "text": "bob"},
        {"label": "zed", "text": "Zed"},
        {"label": "ann", "text": "ann"},
    ]
    xs, bob, zed, ann = got["data"]
    assert xs == [0.5, 1, 3, 5, 6, 9]  # seconds: from, each point, until
    assert bob == [None, None, 98000, 98000, None, None]  # on until it ended
    assert zed == [None] * 6
    assert ann == [None, 99000, 99000, 97000, 97000, 97000]
    assert got["marks"]["points"] == [
        {"t_us": 20, "label": "ann", "amount_minor": 500},
        {"t_us": 310, "label": "ann", "amount_minor": None},
    ]
    drawn = got["drawn"]
    assert drawn["canvases"] >= 1 and drawn["lines"] == "2"
    # A space between the name and the badge in the markup itself, so the key reads (and
    # is named, for a screen reader) "ann Winner" before or without the stylesheet.
    assert drawn["winner"].split() == ["ann", "Winner"]
    assert drawn["bobPressed"] == "false"
    assert drawn["caption"] == "Offers over time"
    assert drawn["label"].startswith("Chart of offers over time, 2 bidders; ann (winner):")
    assert "AZN" in drawn["label"] and "Extended to 04:00:00" in drawn["label"]
    assert got["marks"]["marks"] == [
        {"kind": "extension", "from_us": 200, "to_us": 260, "text": "Extended to 04:00:00"},
        {"kind": "round", "from_us": 300, "to_us": 400, "text": "Round 2"},
    ]
