"""The supplier's sealing page, served by the live server, in a real headless Chromium.

The bidder opens ``/seal/?tender=…#token=…``; the page loads the tender (opening key,
lot, deadline) over the API, seals the typed offer with WebCrypto, uploads the
ciphertext and shows the signed receipt. Officers then open with their shares in Python
over the API, and the opened offer is what was typed: the browser encrypts and Python
decrypts at the opening (the reverse direction is in ``test_seal_browser.py``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from playwright.async_api import async_playwright

from api.http.pages import SEAL_CSP
from contracts import sealing
from contracts.receipts import SignedReceipt, verify_receipt
from tests.api.http.test_tenders import T, new_tender, server_public
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
