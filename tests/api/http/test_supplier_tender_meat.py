"""A MEAT tender's supplier in the web application (api/static/app/tender/), in real
headless Chromium against the live server on real PostgreSQL.

The tender declares two features (``[{name, weight, maximum}]``). The supplier's form asks
for one value per feature, labelled with the tender's own words and bounds; values the
engine would refuse (above the maximum, not a plain decimal, missing) are said in words
beside their fields and nothing is sealed or sent. Typed right, they are sealed inside the
offer's ``features``, listed on the receipt, and, once the committee (two of three officers'
shares, over HTTP) has opened the lot, the opened offer carries exactly the typed values;
the page then shows the supplier its opened offer with the score the engine gives it
(price / (1 + Σ weight × value), rounded and marked ≈ as docs/formats.md says). axe and
screenshots through tests.browser.look ("supplier-tender-meat", "-opened").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from playwright.async_api import Browser

from tests.api.conftest import Live
from tests.api.http.test_supplier_tender import (
    invitation_link,
    open_link,
    ready,
    seal_in_page,
    text,
)
from tests.api.http.test_tenders import KEYS, OFFICERS, T, Tendering, now_us
from tests.browser import look

S = 1_000_000
WARRANTY = "Warranty (years)"
ON_TIME = "Deliveries within 48 hours (share of orders)"
FEATURES = [
    {"name": WARRANTY, "weight": "0.1", "maximum": "5"},
    {"name": ON_TIME, "weight": "0.5", "maximum": "1"},
]

in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server()


async def meat_tender(server: Live, close_in: float) -> Tendering:
    """A published MEAT tender in EUR with :data:`FEATURES`, committee o1-o3 (2 to open),
    one lot L1 closing in ``close_in`` seconds."""
    tender_id = f"t-{uuid.uuid4().hex[:10]}"
    deadline = now_us() + int(close_in * S)
    o1 = server.token("o1", "officer")
    reply = await server.post(
        T,
        {
            "id": tender_id,
            "title": "Office chairs 2027",
            "currency": "EUR",
            "officers": [
                {"id": name, "public_key": KEYS[name].encryption_public.hex()} for name in OFFICERS
            ],
            "threshold": 2,
            "lots": [{"id": "L1", "title": "Chairs", "deadline": deadline, "opening_at": deadline}],
            "publication": "committee",
            "follow_up": "award",
            "criterion": "meat",
            "features": FEATURES,
        },
        token=o1,
    )
    assert reply.status == 201, reply.body
    reply = await server.post(f"{T}/{tender_id}/ceremony", {}, token=o1)
    assert reply.status == 201, reply.body
    return Tendering(server, tender_id, deadline, bytes.fromhex(reply.json()["opening_public_key"]))


@in_module_loop
async def test_a_supplier_states_the_features_and_the_opened_offer_carries_them(
    server: Live, browser: Browser
) -> None:
    tender = await meat_tender(server, 120)
    link = await invitation_link(server, tender, "ann")
    context, page, errors = await open_link(browser, link)
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.url)
            if request.method == "POST" and "/envelopes" in request.url
            else None
        ),
    )
    await ready(page)
    form = page.locator("[data-lot='L1'] form.offer")
    rows = form.locator("fieldset.features .feature-row")

    # One labelled field per declared feature, in the tender's order and words, with its
    # bounds; the label is the field's accessible name.
    assert await rows.count() == 2
    assert await page.get_by_label(WARRANTY, exact=True).count() == 1
    assert await page.get_by_label(ON_TIME, exact=True).count() == 1
    assert "from 0 to 5. Weight: 0.1" in await text(page, f"[data-feature='{WARRANTY}'] .hint")
    assert "from 0 to 1. Weight: 0.5" in await text(page, f"[data-feature='{ON_TIME}'] .hint")
    assert await form.locator("input.cost").count() == 0

    # Values the engine would refuse: each said beside its own field, nothing sealed.
    warranty = page.get_by_label(WARRANTY, exact=True)
    on_time = page.get_by_label(ON_TIME, exact=True)
    await form.locator("input.price").fill("1,100.00")
    await warranty.fill("7")
    await on_time.fill("three quarters")
    await form.locator("button.seal").click()
    await page.wait_for_selector(f"[data-feature='{ON_TIME}'] .feature-error")
    above = await text(page, f"[data-feature='{WARRANTY}'] .feature-error")
    assert "above the highest the tender counts (5)" in above, above
    assert "plain number such as 2.5" in await text(
        page, f"[data-feature='{ON_TIME}'] .feature-error"
    )
    assert await warranty.get_attribute("aria-invalid") == "true"
    assert await page.evaluate("() => document.activeElement.name") == "feature-0"
    assert "Nothing was sealed or sent" in await text(
        page, "[data-lot='L1'] form.offer > .field-error"
    )
    # A missing value is refused too (0 if the offer has none of it); a comma is not a
    # decimal point in English.
    await warranty.fill("")
    await on_time.fill("0,75")
    await form.locator("button.seal").click()
    await page.wait_for_function(
        f"""() => document.querySelector("[data-feature='{WARRANTY}'] .feature-error")
            ?.textContent.includes('0 if your offer has none')"""
    )
    assert "plain number" in await text(page, f"[data-feature='{ON_TIME}'] .feature-error")
    assert sent == [] and await page.locator("[data-lot='L1'] .receipt").count() == 0
    await look(page, "supplier-tender-meat", raw=("tender.",))

    # Typed right: sealed with the price, listed on the receipt.
    await warranty.fill("3")
    await on_time.fill("0.75")
    await seal_in_page(page, "L1", "1,100.00")
    assert await page.locator(".feature-error").count() == 0
    words = await text(page, "[data-lot='L1'] .receipt")
    assert f"{WARRANTY}: 3" in words and f"{ON_TIME}: 0.75" in words, words
    assert len(sent) == 1

    # The committee opens the lot (its deadline brought forward, two officers' shares).
    moved = now_us() + int(1.0 * S)
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
    log = await tender.events()
    [offer] = [e for e in log if e["type"] in ("EnvelopeOpened", "EnvelopeInvalid")]
    assert offer["type"] == "EnvelopeOpened", offer
    assert (offer["bidder"], offer["price"]) == ("ann", 110_000)
    assert [(f["name"], f["value"]) for f in offer["features"]] == [
        (ON_TIME, "0.75"),
        (WARRANTY, "3"),
    ]

    # The page shows the supplier its opened offer with the engine's score:
    # 1100.00 / (1 + 0.1 × 3 + 0.5 × 0.75) = 110000 / 1.675 minor units, ≈656.72.
    ranking = (await tender.offers(tender.officer["o1"]))["ranking"]
    assert [(r["bidder"], r["score"]) for r in ranking] == [("ann", "4400000/67")]
    await page.reload()
    await ready(page)
    shown = page.locator("[data-lot='L1'] .opened[data-opened='yes']")
    await shown.wait_for()
    words = await text(page, "[data-lot='L1'] .opened")
    assert "Price: EUR 1,100.00" in words, words
    assert f"{WARRANTY}: 3" in words and f"{ON_TIME}: 0.75" in words, words
    assert "Score: ≈EUR 656.72 The price divided by 1 + 0.675, rounded (≈)" in words, words
    await look(page, "supplier-tender-meat-opened", raw=("tender.",))
    # In Azerbaijani, values read with a decimal comma.
    await page.click(".lang button[lang='az']")
    await page.wait_for_function(
        "() => document.querySelector(\"[data-lot='L1'] .opened\").textContent.includes('Bal:')"
    )
    words = await text(page, "[data-lot='L1'] .opened")
    assert f"{ON_TIME} üzrə: 0,75" in words and "1 + 0,675" in words, words
    assert errors == []
    await context.close()
