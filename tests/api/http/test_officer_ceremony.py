"""The officer's tender page and key ceremony (``/app/#/officer/tender/<id>``,
``#/officer/keys``: api/static/app/staff/officer/), in real headless Chromium against the
live server on real PostgreSQL.

Key ceremony: an officer makes a key pair in the page and saves the key file; Python reads
it (:meth:`contracts.custody.OfficerKeys.from_json`, and its ``to_json`` is the same text)
and the public key the page shows is the file's; no request the page sent carries the
private part. A key file made by the command line is read there too (its public key shown).

Opening ceremony, k = 2 of 3: o1's key comes from the key-ceremony page, o2's and o3's
from the CLI. Two suppliers seal their offers in their own browsers (the supplier's
tender view); after the deadline o1 and o2 open the tender page in two browser contexts,
each signed in with their own token. o1 hands in its share with the keyboard alone; both
pages show 1 of 2 (who handed in), live; o2 hands in; both pages show the opened offers
ranked with the sealed prices; o1 awards (a second, confirming key press), and the award is
in the tender as the server tells it. axe-core finds nothing serious; screenshots at 390
and 1280 px go to ``test-artifacts/officer-*``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, FileChooser, Page, Request
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from contracts import custody, sealing
from engine.tender_phases import LotPhase, TenderPhase
from engine.tender_records import Criterion, EnvelopeKind, FollowUp, Publication
from tests.api.conftest import Live
from tests.api.http.test_supplier_tender import (
    invitation_link,
    open_link,
    ready,
    seal_in_page,
)
from tests.api.http.test_tenders import T, Tendering, now_us
from tests.browser import ARTIFACTS, look, watch_errors

S = 1_000_000
ROOT = Path(__file__).resolve().parents[3]
#: Catalog key prefixes of these pages: never shown as they are.
RAW_KEYS = ("ceremony.", "keys.", "tenderofficer.")
#: The key file o1 made in the key-ceremony page (the first test), used by the second.
MADE: dict[str, custody.OfficerKeys] = {}

in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server()


async def signed_in(
    browser: Browser, server: Live, token: str, route: str, width: int = 1280
) -> tuple[BrowserContext, Page, list[str], list[Request]]:
    """A context of its own, signed in with ``token`` on ``route``, its page ready."""
    context = await browser.new_context(
        viewport={"width": width, "height": 900},
        locale="en-GB",
        timezone_id="Asia/Baku",
        accept_downloads=True,
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = await context.new_page()
    errors = watch_errors(page)
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    await page.goto(f"http://127.0.0.1:{server.port}/app/{route}")
    await page.fill("#staff-token", token)
    await page.click("#staff-sign-in")
    await page.wait_for_selector("#app[data-page='staff']")
    await page.wait_for_selector("main[data-ready='yes']")
    return context, page, errors, sent


async def words(page: Page, selector: str) -> str:
    return " ".join((await page.locator(selector).first.inner_text()).split())


async def shoot(page: Page, name: str) -> None:
    """:func:`tests.browser.look` under the officer's name: no raw value or catalog key
    shown, nothing scrolls sideways, axe finds nothing serious (light and dark);
    screenshots ``test-artifacts/officer-<name>-<scheme>-<width>.png``."""
    await look(page, f"officer-{name}", raw=RAW_KEYS)


def carried(requests: list[Request], secret: str) -> list[str]:
    """The URLs of requests whose address or body holds ``secret``."""
    found = []
    for request in requests:
        body = request.post_data_buffer or b""
        if secret in request.url or secret.encode() in body:
            found.append(request.url)
    return found


# ------------------------------------------------------------------ key ceremony


@in_module_loop
async def test_the_key_ceremony_makes_a_key_file_python_reads_and_sends_nothing(
    server: Live, browser: Browser
) -> None:
    _, page, errors, sent = await signed_in(
        browser, server, server.token("o1", "officer"), "#/officer/keys"
    )
    before = len(sent)
    await page.click("#keys-make")
    await page.wait_for_selector("#keys-made")
    async with page.expect_download() as info:
        await page.click("#keys-download")
    download = await info.value
    assert download.suggested_filename == "gavel-officer-key-o1.json"
    text = Path(await download.path()).read_text()
    keys = custody.OfficerKeys.from_json(text)
    assert keys.to_json() == text  # the CLI's own format, byte for byte
    shown = await page.input_value("#keys-public-key")
    assert shown == keys.encryption_public.hex()
    # Copy: to the clipboard where the browser allows it, else the key selected to copy.
    await page.click("#keys-copy")
    await page.wait_for_function("() => document.querySelector('#keys-copied').textContent.trim()")
    said = await words(page, "#keys-copied")
    if said == "Copied.":
        assert await page.evaluate("() => navigator.clipboard.readText()") == shown
    else:
        assert said.startswith("The key is selected"), said
        assert (
            await page.evaluate("() => getSelection().toString() || document.activeElement.value")
            == shown
        )
    assert "gavel-officer-keys/v1" in text and json.loads(text)["signing_public"]
    # Making the keys sent nothing at all; and nothing the page ever sent holds them.
    assert sent[before:] == []
    for secret in (keys.encryption_private.hex(), keys.signing_private.hex()):
        assert carried(sent, secret) == []
    await shoot(page, "keys-made")

    # A key file from the command line: its public key shown, the file never uploaded.
    cli = custody.generate_officer_keys()
    await page.set_input_files(
        "#keys-file",
        files=[
            {"name": "o1.json", "mimeType": "application/json", "buffer": cli.to_json().encode()}
        ],
    )
    await page.wait_for_selector("#keys-read-public-key")
    assert await page.input_value("#keys-read-public-key") == cli.encryption_public.hex()
    await page.set_input_files(
        "#keys-file",
        files=[{"name": "x.json", "mimeType": "application/json", "buffer": b"{}"}],
    )
    await page.wait_for_selector("#keys-read-error")
    assert "not an officer key file" in await words(page, "#keys-read-error")
    assert carried(sent, cli.encryption_private.hex()) == []
    assert [r.url for r in sent[before:] if "/vendor/axe" not in r.url] == []  # axe: the test's
    assert errors == []
    MADE["o1"] = keys


# ------------------------------------------------------------------ opening ceremony


async def committee_tender(
    server: Live,
    keys: dict[str, custody.OfficerKeys],
    close_in: float,
    threshold: int = 2,
    publish: bool = True,
    kinds: tuple[str, ...] = ("financial",),
    **more: Any,
) -> Tendering:
    """A published tender in EUR, committee o1-o3 with ``keys``, ``threshold`` to open, one
    lot whose deadline (and opening) is ``close_in`` seconds away, awarded by price unless
    ``more`` says otherwise; published (the server's key ceremony) unless ``publish`` is
    false (its public key then empty)."""
    tender_id = f"t-{uuid.uuid4().hex[:10]}"
    deadline = now_us() + int(close_in * S)
    o1 = server.token("o1", "officer")
    reply = await server.post(
        T,
        {
            "id": tender_id,
            "title": "School furniture 2027",
            "currency": "EUR",
            "officers": [
                {"id": name, "public_key": key.encryption_public.hex()}
                for name, key in keys.items()
            ],
            "threshold": threshold,
            "lots": [
                {
                    "id": "L1",
                    "title": "Desks",
                    "deadline": deadline,
                    "opening_at": deadline,
                    "kinds": list(kinds),
                }
            ],
            "publication": "committee",
            "follow_up": "award",
            **more,
        },
        token=o1,
    )
    assert reply.status == 201, reply.body
    if not publish:
        return Tendering(server, tender_id, deadline, b"")
    reply = await server.post(f"{T}/{tender_id}/ceremony", {}, token=o1)
    assert reply.status == 201, reply.body
    return Tendering(server, tender_id, deadline, bytes.fromhex(reply.json()["opening_public_key"]))


async def quorum(page: Page, count: int) -> None:
    await page.wait_for_selector(f"[data-lot='L1'] .quorum[data-count='{count}']")


async def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element ``selector`` names has the focus."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


async def choose_file_with_keyboard(page: Page, selector: str, tries: int = 3) -> FileChooser:
    """Tab to the file input ``selector`` and press Space: its file chooser. Again (from
    where the focus is) if no chooser came within 10 s: once in a loaded CI run the Space
    press opened none (the focus had moved, or the press came too early)."""
    for attempt in range(tries):
        if not await page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            await tab_to(page, selector)
        try:
            async with page.expect_file_chooser(timeout=10_000) as chooser:
                await page.keyboard.press("Space")
            return await chooser.value
        except PlaywrightTimeoutError:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


@in_module_loop
async def test_two_officers_open_the_tender_live_and_award_it(
    server: Live, browser: Browser
) -> None:
    keys = {
        "o1": MADE.get("o1") or custody.generate_officer_keys(),  # the key-ceremony page's
        "o2": custody.generate_officer_keys(),  # the command line's
        "o3": custody.generate_officer_keys(),
    }
    tender = await committee_tender(server, keys, close_in=120)

    # Two suppliers seal their offers in their own browsers.
    for party, price in (("ann", "1,234.50"), ("bob", "1,150")):
        link = await invitation_link(server, tender, party)
        context, supplier, errors = await open_link(browser, link)
        await ready(supplier)
        assert (await seal_in_page(supplier, "L1", price))["action"] == "submitted"
        assert errors == []
        await context.close()

    # o1 and o2 open the tender page, each with their own token, before the deadline.
    _, one, one_errors, one_sent = await signed_in(
        browser, server, tender.officer["o1"], f"#/officer/tender/{tender.id}"
    )
    _, two, two_errors, two_sent = await signed_in(
        browser, server, tender.officer["o2"], f"#/officer/tender/{tender.id}"
    )
    assert await words(one, "#tender-title") == "School furniture 2027"
    assert await one.get_attribute("[data-lot='L1']", "data-phase") == "open"
    assert "Asia/Baku" in await words(one, "[data-lot='L1'] .deadline")
    assert await words(one, "[data-lot='L1'] .envelopes") == "2"
    assert await one.locator("[data-lot='L1'] .hand-in").count() == 0  # sealed: nothing to do

    # The committee brings the deadline forward (the envelopes keep the deadline they were
    # sealed under); the pages follow it.
    # Two seconds ahead: the request must reach a loaded server before it (the server
    # refuses a deadline already past).
    soon = now_us() + 2 * S
    moved = await server.post(
        f"{T}/{tender.id}/lots/L1/schedule",
        {"deadline": soon, "opening_at": soon},
        token=tender.officer["o1"],
    )
    assert moved.status == 200, moved.body

    # Past the deadline both pages show the ceremony, nobody in yet.
    for page in (one, two):
        await page.wait_for_selector(
            "[data-lot='L1'][data-phase='closed'] .ceremony", timeout=20_000
        )
        await quorum(page, 0)
    assert "0 of 2 shares in" in await words(one, "[data-lot='L1'] .quorum-figure")

    # o1 hands in with the keyboard alone: Tab to the key file, choose it, Tab, Enter.
    await one.bring_to_front()  # the keyboard's page (two contexts are open)
    await one.evaluate("() => document.activeElement?.blur()")
    await one.wait_for_selector("[data-lot='L1'] .hand-in-button:not([disabled])")
    chooser = await choose_file_with_keyboard(one, "#key-file-L1")
    await chooser.set_files(
        files=[
            {
                "name": "o1.json",
                "mimeType": "application/json",
                "buffer": keys["o1"].to_json().encode(),
            }
        ]
    )
    await tab_to(one, "[data-lot='L1'] .hand-in-button")
    await one.keyboard.press("Enter")
    # The quorum fills in both pages, live: 1 of 2, o1 handed in.
    for page in (one, two):
        await quorum(page, 1)
        assert await page.get_attribute("[data-officer='o1']", "class") == "done"
        assert await page.get_attribute("[data-officer='o2']", "class") == "waiting"
    assert "1 of 2 shares in" in await words(two, "[data-lot='L1'] .quorum-figure")
    assert "Waiting for 1 more" in await words(one, "#mine-L1")
    await shoot(two, "tender-quorum")
    # An officer outside the committee sees the count, not who, and has nothing to hand in.
    outsider, other, other_errors, _ = await signed_in(
        browser, server, server.token("o9", "officer"), f"#/officer/tender/{tender.id}"
    )
    await quorum(other, 1)
    assert "Only the committee and auditors" in await words(other, "[data-lot='L1'] .quorum")
    assert await other.locator("[data-officer], [data-lot='L1'] .hand-in").count() == 0
    assert "not on this tender's committee" in await words(other, "[data-lot='L1'] .ceremony")
    assert other_errors == []
    await outsider.close()
    # In Azerbaijani, the ceremony's words change with the switch.
    await two.click(".lang button[lang='az']")
    await two.wait_for_function(
        "() => document.querySelector(\"[data-lot='L1'] .quorum-figure\").textContent"
        ".includes('paydan')"
    )
    assert "Payımı təqdim et" in await words(two, "[data-lot='L1'] .hand-in-button")
    await two.set_viewport_size({"width": 390, "height": 844})
    await two.screenshot(path=str(ARTIFACTS / "officer-tender-quorum-az-390.png"), full_page=True)
    await two.set_viewport_size({"width": 1280, "height": 900})
    await two.click(".lang button[lang='en']")
    await two.wait_for_function(
        "() => document.querySelector(\"[data-lot='L1'] .quorum-figure\").textContent"
        ".includes('shares in')"
    )

    # o2's second try with the wrong key file is refused in the page: nothing sent.
    posts = len([r for r in two_sent if r.method == "POST"])
    await two.set_input_files(
        "#key-file-L1",
        files=[
            {
                "name": "o3.json",
                "mimeType": "application/json",
                "buffer": keys["o3"].to_json().encode(),
            }
        ],
    )
    await two.click("[data-lot='L1'] .hand-in-button")
    await two.wait_for_selector("[data-lot='L1'] .field-error[data-reason='decrypt_failed']")
    assert "does not open with this key file" in await words(
        two, "[data-lot='L1'] .hand-in .field-error"
    )
    assert len([r for r in two_sent if r.method == "POST"]) == posts
    # With its own: the stage opens; both pages show the offers ranked, prices as sealed.
    await two.set_input_files(
        "#key-file-L1",
        files=[
            {
                "name": "o2.json",
                "mimeType": "application/json",
                "buffer": keys["o2"].to_json().encode(),
            }
        ],
    )
    await two.click("[data-lot='L1'] .hand-in-button")
    for page in (one, two):
        await page.wait_for_selector("[data-lot='L1'][data-phase='opened'] table.ranking")
        rows = page.locator("[data-lot='L1'] table.ranking tbody tr")
        assert [
            (
                await rows.nth(i).get_attribute("data-bidder"),
                await rows.nth(i).get_attribute("data-price"),
            )
            for i in range(await rows.count())
        ] == [("bob", "115000"), ("ann", "123450")]
    assert "EUR 1,150.00" in await words(one, "[data-lot='L1'] tr[data-bidder='bob']")
    assert "EUR 1,234.50" in await words(two, "[data-lot='L1'] tr[data-bidder='ann']")
    await shoot(one, "tender-opened")

    # By keyboard, opened for bob and cancelled: the reason field takes the focus, and
    # Cancel gives it back to bob's button.
    await two.bring_to_front()
    await two.focus("[data-lot='L1'] button.exclude[data-bidder='bob']")
    await two.keyboard.press("Enter")
    # The page moves the focus after it draws the form (an effect): wait for it.
    in_focus = "s => document.activeElement?.matches(s) ?? false"
    await two.wait_for_function(in_focus, arg="[data-lot='L1'] .exclude-note")
    await two.keyboard.press("Tab")
    await two.keyboard.press("Tab")
    assert await two.evaluate(in_focus, ".exclude-no")
    await two.keyboard.press("Enter")
    await two.wait_for_function(in_focus, arg="button.exclude[data-bidder='bob']")
    assert await two.locator("[data-lot='L1'] .exclude-form").count() == 0
    # o2 excludes ann: a reason is required, then a second click; the ranking follows.
    await two.click("[data-lot='L1'] button.exclude[data-bidder='ann']")
    await two.click("[data-lot='L1'] .exclude-yes")
    await two.wait_for_selector(
        "[data-lot='L1'] .exclude-form .field-error[data-reason='no_reason']"
    )
    await two.fill("[data-lot='L1'] .exclude-note", "Insurance certificate missing")
    await two.click("[data-lot='L1'] .exclude-yes")
    for page in (one, two):
        await page.wait_for_selector("[data-lot='L1'] .offers[data-ranked='1']")
        assert "excluded by the committee" in await words(page, "[data-lot='L1'] .unranked")
    [excluded] = [e for e in await tender.events() if e["type"] == "BidderExcluded"]
    assert (excluded["bidder"], excluded["by"], excluded["note"]) == (
        "ann",
        "o2",
        "Insurance certificate missing",
    )

    # o1 awards with the keyboard: the button, then the confirmation (focused), Enter;
    # first Cancel, which gives the focus back to the button.
    await one.bring_to_front()
    await one.focus("[data-lot='L1'] .award-start")
    focused = "c => document.activeElement?.classList.contains(c)"
    await one.keyboard.press("Enter")
    await one.wait_for_function(focused, arg="award-yes")
    await one.keyboard.press("Tab")
    assert await one.evaluate(focused, "award-no")
    await one.keyboard.press("Enter")
    await one.wait_for_function(focused, arg="award-start")
    await one.keyboard.press("Enter")
    await one.wait_for_function(focused, arg="award-yes")
    assert "bob" in await words(one, "[data-lot='L1'] .award-confirm")
    await one.keyboard.press("Enter")
    for page in (one, two):
        await page.wait_for_selector(
            "[data-lot='L1'][data-phase='decided'] .decision[data-winner='bob']"
        )
    await shoot(one, "tender-awarded")

    # The server's record: awarded to bob at his sealed price.
    offers = await tender.offers(tender.officer["o3"])
    assert offers["decision"]["type"] == "LotAwarded"
    assert (offers["decision"]["winner"], offers["decision"]["price"]) == ("bob", 115_000)
    # No request of either page carried a private key.
    for name, sent in (("o1", one_sent), ("o2", two_sent)):
        for secret in (keys[name].encryption_private.hex(), keys[name].signing_private.hex()):
            assert carried(sent, secret) == []
    assert one_errors == []
    # o2's refused attempt sent nothing, so no failed request either.
    assert two_errors == []


@in_module_loop
async def test_a_lot_is_handed_off_to_a_multi_round_auction_from_the_page(
    server: Live, browser: Browser
) -> None:
    keys = {name: custody.generate_officer_keys() for name in ("o1", "o2", "o3")}
    template = {"format": "multiround", "turn_us": 120 * S, "rounds": 2, "step": {"amount": "5.00"}}
    made = await committee_tender(
        server,
        keys,
        close_in=120,
        threshold=1,
        publish=False,
        kinds=("technical", "financial"),
        follow_up="auction",
        auction_rules=template,
    )
    _, page, errors, _ = await signed_in(
        browser, server, made.officer["o3"], f"#/officer/tender/{made.id}"
    )
    # Created, not published: the page publishes it (the server's key ceremony), after a
    # confirming press.
    assert await words(page, "[data-lot='L1'] .badge") == "Not published yet"
    assert await page.locator("[data-lot='L1'] [role='timer']").count() == 0
    await shoot(page, "tender-publish")
    await page.click("#publish .publish-start")
    await page.wait_for_function("() => document.activeElement?.classList.contains('publish-yes')")
    await page.keyboard.press("Enter")
    await page.wait_for_selector(".badge.tender-published")
    assert await page.locator("#publish").count() == 0
    view = (await server.get(f"{T}/{made.id}", made.officer["o1"])).json()
    assert view["phase"] == "published"
    tender = Tendering(server, made.id, made.deadline, bytes.fromhex(view["opening_public_key"]))
    # Sealed in Python here (the sealing in the browser is the test above's): a technical
    # envelope with a document, then the price; then the deadline is brought forward.
    for bidder, price in (("ann", 120_00), ("bob", 110_00)):
        info = sealing.envelope_info(tender.id, "L1", "technical", bidder, tender.deadline)
        offer = sealing.Offer(
            amount_minor=0, currency="EUR", documents={f"{bidder}-method.pdf": b"x" * 3000}
        )
        technical = sealing.seal(tender.public_key, info, sealing.encode_offer(offer))
        assert (await tender.submit(bidder, technical, "technical")).status == 201
        assert (await tender.submit(bidder, tender.seal(bidder, price))).status == 201
    # Two seconds ahead: the request must reach a loaded server before it (the server
    # refuses a deadline already past).
    soon = now_us() + 2 * S
    moved = await server.post(
        f"{T}/{tender.id}/lots/L1/schedule",
        {"deadline": soon, "opening_at": soon},
        token=tender.officer["o1"],
    )
    assert moved.status == 200, moved.body
    await page.wait_for_selector("[data-lot='L1'] .hand-in-button:not([disabled])", timeout=20_000)
    assert "a multi-round auction" in await words(page, ".tender-facts")
    await page.set_input_files(
        "#key-file-L1",
        files=[
            {
                "name": "o3.json",
                "mimeType": "application/json",
                "buffer": keys["o3"].to_json().encode(),
            }
        ],
    )
    await page.click("[data-lot='L1'] .hand-in-button")
    # The technical stage opens first: each bidder's documents, the prices still sealed,
    # and the ceremony starts again for the financial stage (0 of 1).
    await page.wait_for_selector("[data-lot='L1'] .documents li[data-bidder='bob']")
    assert "bob-method.pdf 3 KB" in await words(page, "[data-lot='L1'] li[data-bidder='bob']")
    assert await page.locator("[data-lot='L1'] table.ranking").count() == 0
    await quorum(page, 0)
    assert "financial offers" in await words(page, "[data-lot='L1'] .ceremony h3")
    await shoot(page, "tender-documents")
    await page.set_input_files(
        "#key-file-L1",
        files=[
            {
                "name": "o3.json",
                "mimeType": "application/json",
                "buffer": keys["o3"].to_json().encode(),
            }
        ],
    )
    await page.click("[data-lot='L1'] .hand-in-button")
    await page.wait_for_selector("[data-lot='L1'][data-phase='opened'] form.handoff")
    # The form starts from the tender's template: 2 minutes a turn, 2 rounds, a 5.00 step.
    assert await page.input_value("#handoff-turn-L1") == "2"
    assert await page.input_value("#handoff-rounds-L1") == "2"
    assert await page.input_value("#handoff-step-L1") == "5.00"
    assert await page.locator("[data-lot='L1'] .award-start").count() == 0
    await page.fill("#handoff-rounds-L1", "3")
    await page.click("[data-lot='L1'] .handoff-start")
    await page.wait_for_selector("[data-lot='L1'] .handoff-yes")
    await shoot(page, "tender-handoff")
    await page.click("[data-lot='L1'] .handoff-yes")
    link = page.locator("[data-lot='L1'] .decision[data-decision='handoff'] a")
    await link.wait_for()
    auction_id = f"{tender.id}-L1"
    assert await link.get_attribute("href") == f"#/officer/auction/{auction_id}"
    state = await server.state(auction_id)
    assert state["format"] == "multiround"
    assert {line["bidder"]: line["price"] for line in state["ranking"]} == {
        "bob": 110_00,
        "ann": 120_00,
    }
    offers = await tender.offers(tender.officer["o1"])
    assert offers["decision"]["type"] == "LotHandedOff"
    assert offers["decision"]["auction_id"] == auction_id
    # A MEAT score (an exact fraction of minor units) is shown rounded to the minor unit.
    rounded = await page.evaluate(
        """async () => {
          const { scoreMinor } = await import('/app/staff/officer/ceremony/offers.js');
          return [scoreMinor('1001/2'), scoreMinor('2000/3'), scoreMinor(115000)];
        }"""
    )
    assert rounded == ["501", "667", "115000"]
    assert errors == []


def test_every_officer_page_key_is_in_both_catalogs_and_used() -> None:
    """Each 'ceremony.', 'keys.' and 'tenderofficer.' key the pages name is in en.json and
    az.json, and each such key of the catalogs is named: literally, or as a family the
    page completes from a value the server sends (a phase, a criterion, a refusal)."""
    app = ROOT / "api/static/app"
    pages = app / "staff/officer"
    source = "\n".join(
        path.read_text()
        for path in (pages / "tender.js", pages / "ceremony.js", pages / "keys.js")
        + tuple(sorted((pages / "ceremony").glob("*.js")))
    )
    named = set(re.findall(r"'((?:ceremony|keys|tenderofficer)\.[a-z0-9_]+)'", source))
    families = {
        "ceremony.stage_": [kind.value for kind in EnvelopeKind],
        "ceremony.col_score_": [c.value for c in Criterion if c is not Criterion.PRICE],
        "tenderofficer.phase_": [*(phase.value for phase in LotPhase), "opening"],
        "tenderofficer.tender_": [phase.value for phase in TenderPhase],
        "tenderofficer.criterion_": [c.value for c in Criterion],
        "tenderofficer.follow_up_": [f.value for f in FollowUp],
        "tenderofficer.publication_": [p.value for p in Publication],
        # Refusals said by the page itself: custody's reasons and the page's own checks
        # (the server's codes fall back to the code.* sentences).
        "ceremony.error_": [
            "malformed", "bad_key", "decrypt_failed", "forged_share", "no_share",
            "no_file", "network", "failed", "no_reason",
            "bad_starts", "bad_turn", "bad_rounds", "bad_step",
        ],
    }  # fmt: skip
    for prefix, values in families.items():
        assert f"`{prefix}${{" in source or f"'{prefix}' +" in source, prefix
        named |= {prefix + value for value in values}
    catalogs = {lang: json.loads((app / f"i18n/{lang}.json").read_text()) for lang in ("en", "az")}
    for lang, catalog in catalogs.items():
        ours = {key for key in catalog if key.startswith(("ceremony.", "keys.", "tenderofficer."))}
        assert sorted(named - ours) == [], lang
        assert sorted(ours - named) == [], lang
