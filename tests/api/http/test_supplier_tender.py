"""A sealed tender's supplier in the web application (``/app/``: api/static/app/tender/),
in real headless Chromium against the live server on real PostgreSQL.

An officer creates a tender with two lots (one closes at once) and invites a supplier over
HTTP (``POST /api/v1/tenders/{t}/invitations``). The supplier opens the invitation link:
the tender's lots come from the server, the closed lot says so up front (no form), the
open one counts down on the server's clock. The supplier types a price in major units,
attaches a document, and the page seals the offer in the browser and uploads ciphertext
only; the signed receipt is shown in words, verified in the page, and downloaded, and the
downloaded file verifies in Python too. The offer is replaced and then withdrawn, each
with its own verified receipt. The committee's key (rebuilt offline from two officers'
shares) opens what the server stored to exactly what was typed, while neither the
request bodies nor the database hold the plaintext. A deadline moved under an open page
is said in words and sealing again succeeds; a receipt altered on the way is never shown
as received. The link works once: used again, it says so in words. axe-core finds
nothing serious; screenshots at 390 and 1280 px go to ``test-artifacts/`` and nothing
scrolls sideways at 390 px.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import asyncpg  # type: ignore[import-untyped]
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    FilePayload,
    Page,
    Route,
)

from api.http.pages import SEAL_CSP
from contracts import custody, sealing
from contracts.receipts import SignedReceipt, verify_receipt
from tests.api.conftest import Live
from tests.api.http.test_tenders import KEYS, OFFICERS, T, Tendering, now_us, server_public
from tests.browser import axe_serious, watch_errors

S = 1_000_000
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
APP = ROOT / "api/static/app"
#: What the supplier attaches: it must never be readable on the server before the opening.
SECRET_DOC = b"SECRET-METHOD-STATEMENT-4b1d"
#: Whether the app routes #/tender/<id> sessions to tender/view.js itself; if not yet,
#: the test mounts the view the way the app will (same module, same signature).
ROUTED = "tender/view.js" in (APP / "app.js").read_text()

in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server()


async def tender_with_lots(
    server: Live, *lots: tuple[str, str, float], criterion: str = "price"
) -> Tendering:
    """A published tender in EUR, committee o1-o3 (2 to open), one lot per (id, title,
    seconds to its deadline), awarded by ``criterion``; the Tendering's deadline is the
    first lot's."""
    tender_id = f"t-{uuid.uuid4().hex[:10]}"
    now = now_us()
    deadlines = {lot: now + int(close_in * S) for lot, _, close_in in lots}
    at = {lot: {"deadline": when, "opening_at": when} for lot, when in deadlines.items()}
    o1 = server.token("o1", "officer")
    reply = await server.post(
        T,
        {
            "id": tender_id,
            "title": "Road repairs 2027",
            "currency": "EUR",
            "officers": [
                {"id": name, "public_key": KEYS[name].encryption_public.hex()} for name in OFFICERS
            ],
            "threshold": 2,
            "lots": [{"id": lot, "title": title, **at[lot]} for lot, title, _ in lots],
            "publication": "committee",
            "follow_up": "award",
            "criterion": criterion,
        },
        token=o1,
    )
    assert reply.status == 201, reply.body
    reply = await server.post(f"{T}/{tender_id}/ceremony", {}, token=o1)
    assert reply.status == 201, reply.body
    first = deadlines[lots[0][0]]
    return Tendering(server, tender_id, first, bytes.fromhex(reply.json()["opening_public_key"]))


async def invitation_link(server: Live, tender: Tendering, party: str) -> str:
    reply = await server.post(
        f"{T}/{tender.id}/invitations", {"party": party}, token=tender.officer["o1"]
    )
    assert reply.status == 201, reply.body
    assert reply.json()["kind"] == "tender"
    return f"http://127.0.0.1:{server.port}{reply.json()['link']}"


_MOUNT = """async ({ code }) => {
  const answer = await fetch('/api/v1/invitations/redeem', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code }),
  });
  const body = await answer.json();
  if (!answer.ok) return body.code;
  const session = { kind: body.kind, id: body.tender_id, token: body.token, jti: body.jti,
                    party: body.party, expires_at: body.expires_at };
  const { html, render } = await import('/vendor/htm@3.1.1/htm-preact.mjs');
  const i18n = await import('/app/i18n.js');
  await i18n.init();
  const { TenderView } = await import('/app/tender/view.js');
  const root = document.getElementById('app');
  render(null, root);
  root.replaceChildren();
  render(html`<${TenderView} session=${session} onSignOut=${() => {}} />`, root);
  return 'mounted';
}"""


async def open_link(
    browser: Browser, link: str, width: int = 1280
) -> tuple[BrowserContext, Page, list[str]]:
    """The supplier opens its invitation link in a context of its own; the tender view
    shows (through the app's route, or mounted as the app mounts it until it routes)."""
    context = await browser.new_context(
        viewport={"width": width, "height": 900},
        locale="en-GB",
        timezone_id="Asia/Baku",
        accept_downloads=True,
    )
    page = await context.new_page()
    errors = watch_errors(page)
    if ROUTED:
        response = await page.goto(link)
    else:
        code = link.split("#invite=")[1]
        response = await page.goto(link.split("#")[0])
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == SEAL_CSP
    await page.wait_for_selector("#app[data-ready='yes']")
    if not ROUTED:
        assert await page.evaluate(_MOUNT, {"code": code}) == "mounted"
    return context, page, errors


async def ready(page: Page) -> None:
    await page.wait_for_selector("#tender-view[data-status='ready']")


async def text(page: Page, selector: str) -> str:
    return " ".join((await page.locator(selector).first.inner_text()).split())


async def shoot(
    page: Page, name: str, schemes: tuple[Literal["light", "dark"], ...] = ("light", "dark")
) -> None:
    """Screenshots at 390 and 1280 px (in each of ``schemes``): nothing scrolls sideways at
    390, no raw value is shown, axe finds nothing serious."""
    ARTIFACTS.mkdir(exist_ok=True)
    shown = await page.evaluate("() => document.body.innerText")
    for raw in ("{", "}", "undefined", "NaN", "null", "[object", "tender.", "µs"):
        assert raw not in shown, (raw, shown)
    for scheme in schemes:
        await page.emulate_media(color_scheme=scheme)
        for width, height in ((390, 844), (1280, 900)):
            await page.set_viewport_size({"width": width, "height": height})
            await page.wait_for_timeout(100)
            wide = await page.evaluate("() => document.scrollingElement.scrollWidth")
            assert wide <= width, (name, scheme, width, wide)
            await page.screenshot(
                path=str(ARTIFACTS / f"tender-{name}-{width}-{scheme}.png"), full_page=True
            )
        assert await axe_serious(page) == [], scheme
    await page.emulate_media(color_scheme="light")


async def stored_envelopes(server: Live, tender: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(server.process.database_url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT seq, bidder_id, commitment, ciphertext FROM tender_envelopes"
            " WHERE tender_id = $1 ORDER BY seq",
            tender,
        )
        return rows
    finally:
        await conn.close()


async def opening_key(tender: Tendering) -> bytearray:
    """The committee's opening key rebuilt offline from o2's and o3's shares (what the
    opening does on the server once the deadline has passed)."""
    shares = [await tender.share_of(officer) for officer in ("o2", "o3")]
    return custody.combine(shares, 2, tender.public_key)


async def seal_in_page(page: Page, lot: str, price: str | None) -> dict[str, str]:
    """Type ``price`` in ``lot``'s form, seal and submit; the receipt's data once shown."""
    form = page.locator(f"[data-lot='{lot}'] form.offer")
    before = (
        await page.locator(f"[data-lot='{lot}'] .receipt").get_attribute("data-seq")
        if (await page.locator(f"[data-lot='{lot}'] .receipt").count())
        else None
    )
    if price is not None:
        await form.locator("input.price").fill(price)
    await form.locator("button.seal").click()
    await page.wait_for_function(
        """([lot, before]) => {
            const r = document.querySelector(`[data-lot='${lot}'] .receipt[data-verified]`);
            return r && r.dataset.seq !== before
              && (r.dataset.verified === 'yes' || r.dataset.verified === 'no');
        }""",
        arg=[lot, before or ""],
    )
    receipt = page.locator(f"[data-lot='{lot}'] .receipt")
    assert await receipt.get_attribute("data-verified") == "yes", await receipt.inner_text()
    return {
        "seq": await receipt.get_attribute("data-seq") or "",
        "commitment": await receipt.get_attribute("data-commitment") or "",
        "action": await receipt.get_attribute("data-action") or "",
    }


@in_module_loop
async def test_a_supplier_seals_replaces_and_withdraws_an_offer(
    server: Live, browser: Browser
) -> None:
    tender = await tender_with_lots(server, ("L1", "North", 120), ("L2", "South", 1.0))
    link = await invitation_link(server, tender, "ann")
    await asyncio.sleep(max(0.0, (tender.deadline - 119 * S - now_us()) / S) + 0.05)  # L2 closed
    _, page, errors = await open_link(browser, link)
    sent: list[bytes] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.post_data_buffer or b"")
            if request.method == "POST" and "/envelopes" in request.url
            else None
        ),
    )
    await ready(page)
    assert await text(page, "#tender-title") == "Road repairs 2027"

    # The closed lot says so up front: no form, no countdown.
    south = page.locator("[data-lot='L2']")
    assert await south.get_attribute("data-phase") == "closed"
    assert "closed" in await text(page, "[data-lot='L2'] .closed-note")
    assert await south.locator("form").count() == 0
    assert await south.locator("[role='timer']").count() == 0
    # The open one: its deadline in local time (Baku) and a countdown near two minutes.
    north = page.locator("[data-lot='L1']")
    assert await north.get_attribute("data-phase") == "open"
    assert "Asia/Baku" in await text(page, "[data-lot='L1'] .deadline")
    countdown = await text(page, "[data-lot='L1'] [role='timer']")
    assert re.fullmatch(r"1:5\d|2:00", countdown), countdown
    assert await north.locator("input.cost").count() == 0  # a price tender asks no cost

    # A price the page cannot read is said in words, and nothing is sent.
    await north.locator("input.price").fill("12,5,0")
    await north.locator("button.seal").click()
    await page.wait_for_function(
        "() => document.querySelector(\"[data-lot='L1'] .field-error\").textContent.trim()"
    )
    assert sent == []

    # Seal and submit: a price in major units and a document.
    await north.locator("input.documents").set_input_files(
        files=[FilePayload(name="method.txt", mimeType="text/plain", buffer=SECRET_DOC)]
    )
    first = await seal_in_page(page, "L1", "1,234.50")
    assert first["action"] == "submitted"
    words = await text(page, "[data-lot='L1'] .receipt")
    assert f"Receipt number {first['seq']}" in words and ", Asia/Baku (GMT+04:00)" in words
    assert "checked in your browser" in words
    assert "Your sealed price: EUR 1,234.50" in words and "method.txt" in words
    assert first["commitment"] not in words  # behind "Details"

    # The receipt to keep: a file that verifies in Python against the server's key.
    async with page.expect_download() as info:
        await north.locator("a.download").click()
    download = await info.value
    assert download.suggested_filename == f"receipt-{tender.id}-L1-{first['seq']}.json"
    kept = json.loads(Path(await download.path()).read_text())
    receipt = verify_receipt(SignedReceipt.from_json(kept), await server_public(server))
    assert (receipt.tender_id, receipt.lot_id, receipt.bidder_id, receipt.kind) == (
        tender.id,
        "L1",
        "ann",
        "financial",
    )
    assert receipt.commitment == first["commitment"] and str(receipt.seq) == first["seq"]
    assert receipt.received_at_us < tender.deadline
    await shoot(page, "submitted")
    # In Azerbaijani, every word of the view changes with the switch.
    await page.click(".lang button[lang='az']")
    await page.wait_for_function(
        "() => document.querySelector(\"[data-lot='L2'] .closed-note\").textContent"
        ".includes('bağlanıb')"
    )
    assert "Qəbz nömrəsi" in await text(page, "[data-lot='L1'] .receipt")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(ARTIFACTS / "tender-submitted-az-390.png"), full_page=True)
    await page.click(".lang button[lang='en']")

    # Replace before the deadline: seal again; the receipt says it replaces the first.
    await north.locator("button.replace").click()
    second = await seal_in_page(page, "L1", "1,200")
    assert second["seq"] != first["seq"] and second["commitment"] != first["commitment"]
    assert "replaces your earlier offer" in await text(page, "[data-lot='L1'] .receipt")

    # What the server stored is ciphertext: the committee's key opens it to what was typed.
    rows = await stored_envelopes(server, tender.id)
    assert [row["commitment"] for row in rows] == [first["commitment"], second["commitment"]]
    key = await opening_key(tender)
    try:
        for row, (amount, documents) in zip(
            rows, ((123_450, {"method.txt": SECRET_DOC}), (120_000, {})), strict=True
        ):
            stored = bytes(row["ciphertext"])
            assert len(stored) in sealing.ENVELOPE_SIZES and SECRET_DOC not in stored
            bound = sealing.envelope_info(tender.id, "L1", "financial", "ann", tender.deadline)
            offer = sealing.open_offer(key, bound, stored, row["commitment"])
            assert (offer.amount_minor, offer.currency, dict(offer.documents)) == (
                amount,
                "EUR",
                documents,
            )
    finally:
        custody.wipe(key)
    assert len(sent) == 2 and all(SECRET_DOC not in body for body in sent)
    assert all(b"123450" not in body and b"1,234.50" not in body for body in sent)

    # Withdraw (a second click confirms): a verified receipt of the withdrawal.
    await north.locator("button.withdraw").click()
    await north.locator("button.withdraw-yes").click()
    await page.wait_for_selector("[data-lot='L1'] .receipt[data-action='withdrawn']")
    gone = page.locator("[data-lot='L1'] .receipt")
    assert await gone.get_attribute("data-verified") == "yes"
    assert await gone.get_attribute("data-commitment") == second["commitment"]
    assert "withdrawal" in await text(page, "[data-lot='L1'] .receipt")
    assert await north.locator("button.withdraw").count() == 0
    assert await north.locator("form.offer").count() == 1  # may submit anew before the deadline
    log = await tender.events()
    [withdrawn] = [e for e in log if e["type"] == "EnvelopeWithdrawn"]
    assert (withdrawn["bidder"], withdrawn["commitment"]) == ("ann", second["commitment"])
    await shoot(page, "withdrawn", ("light",))
    assert errors == []


@in_module_loop
async def test_a_life_cycle_cost_tender_asks_for_the_cost_and_seals_it_in_major_units(
    server: Live, browser: Browser
) -> None:
    """Where the tender ranks by price + life-cycle cost, the form asks for the cost too;
    one it cannot read is refused naming the cost; both are sealed as typed (``amount``
    and ``cost`` in major units, the wire's one name and unit for it); once opened, the
    page shows the offer's score, price + cost."""
    tender = await tender_with_lots(server, ("L1", "North", 120), criterion="life_cycle_cost")
    link = await invitation_link(server, tender, "cat")
    context, page, errors = await open_link(browser, link, width=390)
    await ready(page)
    form = page.locator("[data-lot='L1'] form.offer")
    await form.locator("input.price").fill("1000.00")
    await form.locator("input.cost").fill("a lot")
    await form.locator("button.seal").click()
    await page.wait_for_function(
        "() => document.querySelector(\"[data-lot='L1'] .field-error\").textContent"
        ".startsWith('Life-cycle cost: ')"
    )
    assert await page.locator("[data-lot='L1'] .receipt").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "tender-lcc-form-390.png"), full_page=True)
    await form.locator("input.cost").fill("250.5")
    await seal_in_page(page, "L1", "1,000.00")
    assert "Your sealed life-cycle cost: EUR 250.50" in await text(page, "[data-lot='L1'] .receipt")
    await page.screenshot(path=str(ARTIFACTS / "tender-lcc-sealed-390.png"), full_page=True)
    (row,) = await stored_envelopes(server, tender.id)
    key = await opening_key(tender)
    try:
        bound = sealing.envelope_info(tender.id, "L1", "financial", "cat", tender.deadline)
        offer = sealing.open_offer(key, bound, bytes(row["ciphertext"]), row["commitment"])
    finally:
        custody.wipe(key)
    assert (offer.amount_minor, offer.cost_minor, offer.currency) == (100_000, 25_050, "EUR")
    # Once the committee has opened the lot, the page shows the offer's score: price + cost.
    moved = now_us() + S // 2
    change = await server.post(
        f"{T}/{tender.id}/lots/L1/schedule",
        {"deadline": moved, "opening_at": moved},
        token=tender.officer["o2"],
    )
    assert change.status == 200, change.body
    tender.deadline = moved
    await tender.wait_deadline()
    assert (await tender.open_with("o1", "o2")).json()["opened"] is True
    await page.reload()
    await page.locator("[data-lot='L1'] .opened[data-opened='yes']").wait_for()
    words = await text(page, "[data-lot='L1'] .opened")
    assert "Price: EUR 1,000.00 Life-cycle cost: EUR 250.50 Score: EUR 1,250.50" in words, words
    assert await axe_serious(page) == []
    assert errors == []
    await context.close()


@in_module_loop
async def test_the_page_finds_its_receipts_again_and_a_used_link_says_so(
    server: Live, browser: Browser
) -> None:
    tender = await tender_with_lots(server, ("L1", "North", 60))
    link = await invitation_link(server, tender, "bob")
    # bob's offer went in before (say, from another device): the view finds it in the log.
    assert (await tender.submit("bob", tender.seal("bob", 50_000))).status == 201
    _, page, errors = await open_link(browser, link, width=390)
    await ready(page)
    receipt = page.locator("[data-lot='L1'] .receipt")
    await receipt.wait_for()
    assert await receipt.get_attribute("data-verified") == "yes"
    assert await receipt.get_attribute("data-action") == "submitted"
    assert await page.locator("[data-lot='L1'] form.offer").count() == 0  # replace or withdraw
    assert await page.locator("[data-lot='L1'] button.replace").count() == 1
    wide = await page.evaluate("() => document.scrollingElement.scrollWidth")
    assert wide <= 390, wide

    # The officers move the deadline while the page is open: the offer sealed under the
    # old one is refused in words, the page reloads the lot, and sealing again succeeds.
    moved = tender.deadline + 30 * S
    change = await server.post(
        f"{T}/{tender.id}/lots/L1/schedule",
        {"deadline": moved, "opening_at": moved},
        token=tender.officer["o2"],
    )
    assert change.status == 200, change.body
    before = await text(page, "[data-lot='L1'] .deadline")
    await page.click("[data-lot='L1'] button.replace")
    form = page.locator("[data-lot='L1'] form.offer")
    await form.locator("input.price").fill("480")
    await form.locator("button.seal").click()
    await page.wait_for_function(
        "() => (document.querySelector(\"[data-lot='L1'] .field-error\")?.textContent ?? '')"
        ".includes('deadline of this lot has changed')"
    )
    await page.wait_for_function(
        "before => document.querySelector(\"[data-lot='L1'] .deadline\").textContent !== before",
        arg=before,
    )
    replaced = await seal_in_page(page, "L1", None)  # the price is still typed in
    assert replaced["action"] == "submitted"
    log = await tender.events()
    [latest] = [
        e for e in log if e["type"] == "EnvelopeReceived" and e["seq"] == int(replaced["seq"])
    ]
    assert latest["bidder"] == "bob" and latest["replaced"] is not None
    # 409/422 answers of the refusal are expected; nothing else failed.
    assert [e for e in errors if "/envelopes/" not in e] == []

    # The same link again, in another browser: used, said in words.
    context = await browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    again = await context.new_page()
    await again.goto(link)
    await again.wait_for_selector("#app[data-ready='yes']")
    notice = await text(again, "#notice-text")
    assert "already been used" in notice, notice
    await again.screenshot(path=str(ARTIFACTS / "tender-used-link-390.png"), full_page=True)


def test_every_tender_key_is_in_both_catalogs_and_used() -> None:
    """Each 'tender.*' key the view's modules name (through t(), or as a problem's or a
    receipt check's key handed to t() later) is in en.json and az.json, and each tender.*
    key of the catalogs is named somewhere: no text without words, no stale words."""
    source = "\n".join(path.read_text() for path in sorted((APP / "tender").glob("*.js")))
    named = set(re.findall(r"'(tender\.[a-z0-9_]+)'", source))
    assert len(named) > 50
    catalogs = {lang: json.loads((APP / f"i18n/{lang}.json").read_text()) for lang in ("en", "az")}
    for lang, catalog in catalogs.items():
        ours = {key for key in catalog if key.startswith("tender.")}
        assert sorted(named - ours) == [], lang
        assert sorted(ours - named) == [], lang
    same = [key for key in named if catalogs["en"][key] == catalogs["az"][key]]
    assert sorted(same) == ["tender.lot"]  # "Lot" in both (an untitled one: "Adsız lot")


@in_module_loop
async def test_a_receipt_that_does_not_verify_is_never_shown_as_received(
    server: Live, browser: Browser
) -> None:
    """The page checks the signature itself: a receipt altered on the way (one microsecond
    earlier) is said not to be valid, and nothing claims the offer is in."""
    tender = await tender_with_lots(server, ("L1", "North", 60))
    link = await invitation_link(server, tender, "carol")
    _, page, _ = await open_link(browser, link, width=390)
    await ready(page)

    async def tamper(route: Route) -> None:
        answer = await route.fetch()
        body = await answer.json()
        body["receipt"]["received_at_us"] -= 1
        await route.fulfill(response=answer, json=body)

    await page.route(re.compile(r".*/lots/L1/envelopes/financial\?deadline=\d+$"), tamper)
    form = page.locator("[data-lot='L1'] form.offer")
    await form.locator("input.price").fill("99.99")
    await form.locator("button.seal").click()
    shown = page.locator("[data-lot='L1'] .receipt[data-verified='no']")
    await shown.wait_for()
    words = " ".join((await shown.inner_text()).split())
    assert "signature is not valid" in words and "contact the organiser" in words
    assert await page.locator("[data-lot='L1'] .receipt[data-verified='yes']").count() == 0
    assert "Your offer is in" not in await page.evaluate("() => document.body.innerText")
