"""The supplier's sealing page, served by the live server, in a real headless Chromium.

The bidder opens ``/seal/?tender=…#token=…``; the page loads the tender (opening key,
lot, deadline) over the API, seals the typed offer with WebCrypto, uploads the
ciphertext and shows the signed receipt. Officers then open with their shares in Python
over the API, and the opened offer is what was typed: the browser encrypts and Python
decrypts at the opening (the reverse direction is in ``test_seal_browser.py``).

A MEAT tender's financial envelope asks for a value per declared feature (the tender's
name as the label, its bounds and weight below), read and refused as the supplier's
application reads them (``/app/tender/features.js``, in its words); typed right, they are
sealed in the offer's ``features`` and the opened offer carries exactly them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from playwright.async_api import async_playwright

from api.http.pages import SEAL_CSP
from contracts import sealing
from contracts.receipts import SignedReceipt, verify_receipt
from tests.api.http.test_supplier_tender_meat import FEATURES, ON_TIME, WARRANTY, meat_tender
from tests.api.http.test_tenders import T, new_tender, now_us, server_public
from tests.browser import CHROMIUM, CHROMIUM_ARGS, watch_errors

if TYPE_CHECKING:
    from tests.api.conftest import Live


async def test_a_bidder_seals_and_submits_in_the_served_page_and_officers_open_it(
    server: Live,
) -> None:
    tender = await new_tender(server, close_in=8, threshold=2)
    token = tender.bidder("ann")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            # Any CSP violation or script error; failed loads are checked by URL below
            # (the browser asks for /favicon.ico on its own: the 404 it gets is fine).
            errors = watch_errors(page)
            response = await page.goto(
                f"http://127.0.0.1:{server.port}/seal?tender={tender.id}#token={token}"
            )
            assert response is not None and response.status == 200
            assert response.url.endswith(f"/seal/?tender={tender.id}")  # redirected
            assert response.headers["content-security-policy"] == SEAL_CSP
            assert response.headers["content-type"].startswith("text/html")
            await page.wait_for_selector("#status[data-loaded]")
            # The token is read from the fragment, then dropped from the address bar.
            assert "#token" not in page.url
            assert await page.input_value("#tender-key") == tender.public_key.hex()
            assert await page.input_value("#bidder") == "ann"
            assert await page.input_value("#lot") == "L1"
            assert await page.input_value("#deadline") == str(tender.deadline)
            await page.fill("#amount", "1234.56")  # major units, as on the wire
            await page.click("#submit")
            await page.wait_for_selector("#status[data-receipt-seq], #status.error")
            status = await page.text_content("#status")
            assert await page.get_attribute("#status", "class") != "error", status
            signed_json = json.loads(await page.text_content("#receipt") or "")
            commitment = await page.get_attribute("#status", "data-commitment")
            assert errors == []
        finally:
            await browser.close()
    receipt = verify_receipt(
        SignedReceipt.from_json({n: signed_json[n] for n in ("receipt", "signature")}),
        await server_public(server),
    )
    assert (receipt.tender_id, receipt.lot_id, receipt.bidder_id) == (tender.id, "L1", "ann")
    assert receipt.commitment == commitment
    assert (await tender.submit("bob", tender.seal("bob", 200_000))).status == 201
    await tender.wait_deadline()
    await tender.open_with("o2", "o3")
    offers = {o["bidder"]: o for o in (await tender.offers(tender.officer["o1"]))["offers"]}
    assert offers["ann"]["type"] == "EnvelopeOpened" and offers["ann"]["price"] == 123_456
    assert offers["ann"]["commitment"] == receipt.commitment
    assert offers["bob"]["price"] == 200_000
    log = await tender.events()
    [ann] = [e for e in log if e["type"] == "EnvelopeReceived" and e["bidder"] == "ann"]
    assert ann["size"] in sealing.ENVELOPE_SIZES and ann["commitment"] == commitment


async def test_the_page_and_its_modules_are_served_with_the_policy(server: Live) -> None:
    for path, media in (
        ("/seal/", "text/html"),
        ("/seal/seal.js", "text/javascript"),
        ("/seal/seal-page.js", "text/javascript"),
        ("/seal/tender-seal.css", "text/css"),
    ):
        reply = await server.get(path)
        assert reply.status == 200, (path, reply.body)
        assert reply.headers["content-type"].startswith(media)
        assert reply.headers["content-security-policy"] == SEAL_CSP
        assert reply.headers["x-content-type-options"] == "nosniff"
    page = (await server.get("/seal/")).body.decode()
    assert "<script>" not in page and 'src="seal-page.js"' in page
    assert (await server.get("/seal/../app.py")).status == 404
    missing = await server.get("/seal/nope.js")
    assert missing.status == 404 and missing.code == "not_found"
    moved = await server.get("/seal?tender=t-1")
    assert moved.status == 308 and moved.headers["location"] == "/seal/?tender=t-1"
    assert (await server.get(f"{T}/server-key")).status == 200


async def test_a_meat_offer_sealed_on_the_page_opens_with_the_typed_values(server: Live) -> None:
    tender = await meat_tender(server, 120)
    token = tender.bidder("ann")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            errors = watch_errors(page)
            sent: list[str] = []
            page.on(
                "request",
                lambda request: (
                    sent.append(request.url)
                    if request.method == "POST" and "/envelopes" in request.url
                    else None
                ),
            )
            await page.goto(
                f"http://127.0.0.1:{server.port}/seal/?tender={tender.id}#token={token}"
            )
            await page.wait_for_selector("#status[data-loaded]")
            # One labelled field per declared feature, in the tender's order, with its bounds.
            assert await page.is_visible("#features")
            assert await page.inner_text("#features legend") == "Quality criteria"
            rows = page.locator("#features .feature-row")
            assert await rows.count() == len(FEATURES)
            warranty = page.get_by_label(WARRANTY, exact=True)
            on_time = page.get_by_label(ON_TIME, exact=True)
            hint = await page.inner_text(f"[data-feature='{WARRANTY}'] .hint")
            assert hint == "A number from 0 to 5. Weight: 0.1.", hint

            # Refused values: said beside their fields in the application's words, the
            # first one focused, nothing sealed or sent.
            await page.fill("#amount", "1100.00")
            await warranty.fill("7")
            await on_time.fill("0,75")
            await page.click("#submit")
            await page.wait_for_selector("#status.error")
            above = await page.inner_text(f"[data-feature='{WARRANTY}'] .feature-error")
            assert "above the highest the tender counts (5)" in above, above
            assert "plain number such as 2.5" in await page.inner_text(
                f"[data-feature='{ON_TIME}'] .feature-error"
            )
            assert await warranty.get_attribute("aria-invalid") == "true"
            assert await page.evaluate("document.activeElement.id") == "feature-0"
            assert "Nothing was sealed or sent" in (await page.text_content("#status") or "")
            assert sent == [] and await page.text_content("#receipt") == ""

            await warranty.fill("3")
            await on_time.fill("0.75")
            await page.click("#submit")
            await page.wait_for_selector("#status[data-receipt-seq], #status.error")
            status = await page.text_content("#status")
            assert await page.get_attribute("#status", "class") != "error", status
            assert await page.locator(".feature-error").count() == 0
            assert await warranty.get_attribute("aria-invalid") == "false"
            assert len(sent) == 1
            assert errors == []
        finally:
            await browser.close()

    # The committee opens the lot (its deadline brought forward, two officers' shares).
    moved = now_us() + 1_000_000
    change = await server.post(
        f"{T}/{tender.id}/lots/L1/schedule",
        {"deadline": moved, "opening_at": moved},
        token=tender.officer["o2"],
    )
    assert change.status == 200, change.body
    tender.deadline = moved
    await tender.wait_deadline()
    opened = await tender.open_with("o1", "o2")
    assert opened.json()["opened"] is True, opened.body
    [offer] = [
        e for e in await tender.events() if e["type"] in ("EnvelopeOpened", "EnvelopeInvalid")
    ]
    assert offer["type"] == "EnvelopeOpened", offer
    assert (offer["bidder"], offer["price"]) == ("ann", 110_000)
    assert sorted((f["name"], f["value"]) for f in offer["features"]) == sorted(
        [(WARRANTY, "3"), (ON_TIME, "0.75")]
    )
