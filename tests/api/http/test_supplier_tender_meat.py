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

The page's reading of a value and its score (tender/features.js) are checked against the
engine (``feature_value``, ``score_of``) over many random cases in the same browser.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import pytest
from playwright.async_api import Browser

from engine.scoring import Scoring, score_of
from engine.tender_records import feature_value
from tests.api.conftest import Live
from tests.api.http.test_supplier_tender import (
    invitation_link,
    open_link,
    ready,
    seal_in_page,
    text,
)
from tests.api.http.test_tenders import KEYS, OFFICERS, T, Tendering, now_us
from tests.browser import ARTIFACTS, look

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
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(
        path=str(ARTIFACTS / "supplier-tender-meat-sealed-390.png"), full_page=True
    )

    # The page's timers on a clock the test can move (the half-minute re-read below); the
    # session survives the reload, the receipt is found again in the log.
    await page.clock.install()
    await page.reload()
    await ready(page)
    await page.locator("[data-lot='L1'] .receipt[data-verified='yes']").wait_for()

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
    # The open page reads the lot again within half a minute and finds the opening.
    assert await page.locator("[data-lot='L1'] .opened").count() == 0
    await page.clock.run_for(31_000)
    shown = page.locator("[data-lot='L1'] .opened[data-opened='yes']")
    await shown.wait_for()
    # And a page loaded afterwards shows it at once.
    await page.reload()
    await ready(page)
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


def _typed(rng: random.Random) -> str:
    """What a person might type as a feature's value: mostly numbers, some mistakes."""
    shape = rng.random()
    if shape < 0.5:
        whole = str(rng.randint(0, 1200)) if rng.random() < 0.8 else "0" * rng.randint(1, 3)
        if rng.random() < 0.6:
            whole += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 8)))
        return whole
    if shape < 0.8:
        return "".join(rng.choice("0123456789.,-+e E") for _ in range(rng.randint(1, 8)))
    return rng.choice(["", ".5", "5.", "1..2", "1,000", "1 000", "١٢", "-0", "0", "9" * 41])


def _engine_score(price: int, features: list[dict[str, str]], stated: dict[str, str]) -> Fraction:
    """The engine's MEAT score (engine.tender.Tender.score) of ``price`` stating ``stated``."""
    weights = {f["name"]: Decimal(f["weight"]) for f in features}
    coefficient = Fraction(0)
    for name, value in stated.items():
        read = feature_value(value)
        if read is not None and name in weights:
            coefficient += Fraction(weights[name]) * Fraction(read)
    score = score_of(Scoring.MEAT, price, coefficient, 0)
    assert isinstance(score, Fraction)
    return score


@in_module_loop
async def test_the_page_reads_values_and_scores_as_the_engine_does(
    server: Live, browser: Browser
) -> None:
    """features.js against the engine over many random cases: a typed value is accepted
    exactly when ``feature_value`` reads it within the maximum (the declared bounds as the
    server writes them, str(Decimal), exponents included), and sealed as typed; the score
    of an opened offer is ``score_of``'s, rounded half up to a minor unit, ≈ when not whole."""
    rng = random.Random(15)
    maxima = ["5", "1", "0.5", "1000", "1E+3", "5E-7", "0.0001", "12.25", "999.999"]
    reads = [{"text": _typed(rng), "maximum": str(Decimal(rng.choice(maxima)))} for _ in range(400)]
    scores = []
    for _ in range(200):
        features = [
            {
                "name": f"f{i}",
                "weight": str(Decimal(rng.choice(maxima)) * rng.choice([1, 2, 3])),
                "maximum": "1000",
            }
            for i in range(rng.randint(1, 4))
        ]
        stated = {
            f"f{i}": rng.choice(["0", "1", "0.25", "3.125", "7", "0.001", "x", "1000"])
            for i in range(rng.randint(0, 5))
        }
        scores.append({"price": rng.randint(0, 10**12), "features": features, "stated": stated})
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"http://127.0.0.1:{server.port}/app/")
    got = await page.evaluate(
        """async ({ reads, scores }) => {
            const f = await import('/app/tender/features.js');
            return {
              reads: reads.map(({ text, maximum }) =>
                f.parseFeature(text, { name: 'x', weight: '1', maximum }, 'en-GB')),
              scores: scores.map(({ price, features, stated }) => f.meatScore(
                price, features,
                Object.entries(stated).map(([name, value]) => ({ name, value })))),
              az: ['0,75', '1.5', '12,250', '2,5,0', '1 000', '0,6'].map((text) =>
                f.parseFeature(text, { name: 'x', weight: '1', maximum: '12.25' }, 'az')),
            };
        }""",
        {"reads": reads, "scores": scores},
    )
    await context.close()
    # In Azerbaijani the decimal mark is a comma (a point is read too); no grouping.
    assert [a.get("value") or a["key"] for a in got["az"]] == [
        "0.75",
        "1.5",
        "12.250",
        "tender.feature_not_number",
        "tender.feature_not_number",
        "0.6",
    ]
    accepted = 0
    for case, answer in zip(reads, got["reads"], strict=True):
        text = case["text"].strip()
        value = feature_value(text)
        fits = value is not None and value <= Decimal(case["maximum"])
        assert answer["ok"] is fits, (case, answer)
        if fits:
            accepted += 1
            assert answer["value"] == text, (case, answer)
        else:
            assert answer["key"].startswith("tender.feature_"), (case, answer)
    assert 100 < accepted < 350  # both sides of the line are exercised
    for case, answer in zip(scores, got["scores"], strict=True):
        score = _engine_score(case["price"], case["features"], case["stated"])
        half_up = (2 * score.numerator + score.denominator) // (2 * score.denominator)
        assert (answer["minor"], answer["exact"]) == (str(half_up), score.denominator == 1), case
        coefficient = Fraction(case["price"]) / score - 1 if case["price"] else None
        if coefficient is not None:
            assert Fraction(Decimal(answer["coefficient"])) == coefficient, case
