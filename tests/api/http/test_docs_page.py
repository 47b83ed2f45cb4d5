"""The API docs page (``GET /api/v1/docs``), served by the live server, in a real headless
Chromium (Debian's, driven by Playwright as the other browser tests are).

The page is a shell with no inline script or style (its policy is
:data:`api.http.openapi.DOCS_CSP`); ``/api/v1/docs/docs.js`` renders every operation of
the served OpenAPI document, whatever its request body is: JSON with a schema, JSON
without one, raw bytes (the sealed envelope's ``application/octet-stream`` upload). It
never stays on "Loading": a document that cannot be fetched is said so in the page.

Screenshots (390 and 1280 px wide, light and dark) go to ``test-artifacts/``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.async_api import Browser, Page, Route, async_playwright

from api.http.openapi import DOCS_CSP, DOCS_HTML
from tests.browser import CHROMIUM, CHROMIUM_ARGS, watch_errors

if TYPE_CHECKING:
    from tests.api.conftest import Live

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
#: The two widths every page is looked at: a phone and a laptop.
SIZES = {390: 844, 1280: 900}


def operation_ids(document: dict[str, Any]) -> set[str]:
    """Every operationId of ``document``."""
    return {op["operationId"] for item in document["paths"].values() for op in item.values()}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def open_docs(browser: Browser, server: Live, width: int, scheme: str) -> tuple[Page, list]:
    """The docs page at ``width`` in ``scheme``, rendered; its error list."""
    page = await browser.new_page(
        viewport={"width": width, "height": SIZES.get(width, 900)},
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    errors = watch_errors(page)
    response = await page.goto(f"http://127.0.0.1:{server.port}/api/v1/docs")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == DOCS_CSP
    await page.wait_for_selector("#ops[data-state]", timeout=15_000)
    return page, errors


async def assert_no_sideways_scroll(page: Page) -> None:
    wide = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"the page scrolls sideways by {wide} px"


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_the_docs_page_renders_every_operation_of_the_served_document(
    server: Live, browser: Browser, scheme: str
) -> None:
    document = json.loads((await server.get("/api/v1/openapi.json")).body)
    expected = operation_ids(document)
    ARTIFACTS.mkdir(exist_ok=True)
    for width in SIZES:
        page, errors = await open_docs(browser, server, width, scheme)
        assert await page.get_attribute("#ops", "data-state") == "ready"
        shown = await page.eval_on_selector_all(
            ".op", "ops => ops.map(op => op.dataset.operationId)"
        )
        assert sorted(shown) == sorted(expected)
        assert await page.get_attribute("#ops", "data-operations") == str(len(expected))
        assert "Loading" not in await page.inner_text("body")
        assert await page.inner_text("#status") == f"{len(expected)} operations"
        await assert_no_sideways_scroll(page)
        await page.screenshot(path=ARTIFACTS / f"docs-{width}-{scheme}.png")
        # The raw envelope upload: its body is said to be bytes, not JSON fields.
        upload = page.locator("#op-tender_upload")
        await upload.locator("summary").click()
        text = await upload.inner_text()
        assert "application/octet-stream" in text and "raw bytes" in text
        # A JSON body lists its fields, required ones said so, with the schema's example.
        bid = page.locator("#op-bidder_bids")
        await bid.locator("summary").click()
        text = await bid.inner_text()
        assert re.search(r"amount\s+string\s+required", text) and '"currency": "EUR"' in text
        assert "Bearer token" in text and "201" in text and "422" in text
        await assert_no_sideways_scroll(page)  # opened operations wrap too
        await bid.scroll_into_view_if_needed()
        await page.screenshot(path=ARTIFACTS / f"docs-{width}-{scheme}-bid.png")
        await upload.scroll_into_view_if_needed()
        await page.screenshot(path=ARTIFACTS / f"docs-{width}-{scheme}-upload.png")
        assert errors == []
        await page.close()


async def test_the_filter_narrows_the_operations_and_says_how_many(
    server: Live, browser: Browser
) -> None:
    page, errors = await open_docs(browser, server, 390, "light")
    total = int(await page.get_attribute("#ops", "data-operations") or 0)
    await page.fill("#filter", "envelope")
    visible = await page.eval_on_selector_all(
        ".op", "ops => ops.filter(op => !op.hidden).map(op => op.dataset.operationId)"
    )
    # The tenders' operations (the list of tenders among them: its summary names envelopes).
    assert visible and all("tender" in name for name in visible), visible
    status = await page.inner_text("#status")
    assert status == f"{len(visible)} of {total} operations match"
    # A section with nothing left is hidden with its heading.
    assert await page.locator("#auctions").is_hidden()
    await page.fill("#filter", "")
    assert await page.inner_text("#status") == f"{total} operations"
    assert errors == []


async def test_any_request_body_renders_and_a_missing_document_is_said(
    server: Live, browser: Browser
) -> None:
    """Bodies the served document does not have today (JSON without a schema, text, a
    body of no known media type, an operation without a summary) still render; and a
    document that cannot be fetched is an error in the page, not "Loading" for ever."""
    document = json.loads((await server.get("/api/v1/openapi.json")).body)
    odd = copy.deepcopy(document)
    odd["paths"]["/api/v1/odd"] = {
        "put": {"operationId": "odd_json", "requestBody": {"content": {"application/json": {}}}},
        "post": {
            "operationId": "odd_bytes",
            "summary": "Odd",
            "requestBody": {"content": {"text/csv": {}, "image/png": {"schema": {}}}},
            "responses": {},
        },
    }
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    errors = watch_errors(page)

    async def serve_odd(route: Route) -> None:
        await route.fulfill(json=odd)

    await page.route("**/api/v1/openapi.json", serve_odd)
    await page.goto(f"http://127.0.0.1:{server.port}/api/v1/docs")
    await page.wait_for_selector("#ops[data-state=ready]", timeout=15_000)
    assert await page.locator(".op").count() == len(operation_ids(document)) + 2
    await page.locator("#op-odd_bytes summary").click()
    text = await page.locator("#op-odd_bytes").inner_text()
    assert "text/csv" in text and "image/png" in text
    assert await page.locator("#op-odd_json .summary").inner_text() == "odd_json"
    assert errors == []

    failed = await browser.new_page()

    async def refuse(route: Route) -> None:
        await route.abort()

    await failed.route("**/api/v1/openapi.json", refuse)
    await failed.goto(f"http://127.0.0.1:{server.port}/api/v1/docs")
    await failed.wait_for_selector("#ops[data-state=failed]", timeout=15_000)
    alert = await failed.inner_text("[role=alert]")
    assert "could not be loaded" in alert and "/api/v1/openapi.json" in alert
    assert "Loading" not in await failed.inner_text("body")


async def test_the_page_and_its_files_are_served_with_the_policy(server: Live) -> None:
    page = await server.get("/api/v1/docs")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert page.body.decode() == DOCS_HTML
    # No inline script or style: every script has a src, no style element or attribute.
    html = page.body.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert "<style" not in html and "style=" not in html
    for path, media in (
        ("/api/v1/docs", "text/html"),
        ("/api/v1/docs/docs.js", "text/javascript"),
        ("/api/v1/docs/docs.css", "text/css"),
    ):
        reply = await server.get(path)
        assert reply.status == 200, (path, reply.body)
        assert reply.headers["content-type"].startswith(media)
        assert reply.headers["content-security-policy"] == DOCS_CSP
        assert reply.headers["x-content-type-options"] == "nosniff"
    for missing in ("/api/v1/docs/nope.js", "/api/v1/docs/seal.js", "/api/v1/docs/..%2Fapp.py"):
        reply = await server.get(missing)
        assert (reply.status, reply.code) == (404, "not_found"), missing


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_axe_finds_nothing_serious_or_critical_on_the_docs_page(
    server: Live, browser: Browser, scheme: str
) -> None:
    """axe-core (vendored, served under /vendor/) over the rendered page with two
    operations open. The page's policy is bypassed for this test alone, so that axe can
    be injected (the policy is the other tests' subject)."""
    from tests.api.http.test_vendor_browser import vendored

    context = await browser.new_context(
        bypass_csp=True, viewport={"width": 390, "height": 844}, color_scheme=scheme
    )
    page = await context.new_page()
    await page.goto(f"http://127.0.0.1:{server.port}/api/v1/docs")
    await page.wait_for_selector("#ops[data-state=ready]", timeout=15_000)
    for name in ("bidder_bids", "tender_upload"):
        await page.locator(f"#op-{name} summary").click()
    await page.add_script_tag(url=vendored("/axe.min.js"))
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']}))
            .violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                   nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))"""
    )
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious, indent=1)
    await context.close()


async def test_the_page_works_with_the_keyboard_and_links_open_one_operation(
    server: Live, browser: Browser
) -> None:
    page, errors = await open_docs(browser, server, 1280, "light")
    # Tab from the top reaches the filter; typing narrows; Tab reaches the first operation
    # left and Enter opens it.
    for _ in range(5):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "filter":
            break
    assert await page.evaluate("document.activeElement.id") == "filter"
    await page.keyboard.type("/bids")
    # The contents list only the sections left (Auctions): its link, then the operation.
    assert await page.locator("#toc li:not([hidden])").count() == 1
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.getAttribute('href')") == "#auctions"
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.parentElement.dataset.operationId")
    assert focused == "bidder_bids"
    await page.keyboard.press("Enter")
    assert await page.locator("#op-bidder_bids").get_attribute("open") is not None
    assert errors == []
    # A link to one operation, opened in a new tab, opens it.
    linked = await browser.new_page()
    await linked.goto(f"http://127.0.0.1:{server.port}/api/v1/docs#op-tender_upload")
    await linked.wait_for_selector("#ops[data-state=ready]")
    assert await linked.locator("#op-tender_upload").get_attribute("open") is not None
