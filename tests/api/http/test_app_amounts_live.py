"""Issue 14 on the live page, real server and Chromium: a supplier reading Azerbaijani
sees amounts the Azerbaijani way (``1 100,00 AZN``), types the pre-filled bid as shown,
and a refused bid names the bound the server sent (``reject.bound``) in those words;
screenshots at 390 and 1280 px, light and dark, axe finds nothing serious.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.api.conftest import Live
from tests.api.http.test_supplier_page import (
    auction_with_links,
    bid,
    live,
    nbsp,
    open_link,
    rules,
    shoot,
    shows,
    text,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server(GAVEL_HEARTBEAT_S="1")


@pytest.fixture(scope="module")
def browser(chromium: Browser) -> Browser:
    """The module's Chromium (conftest.py), kept across tests: no context closed between."""
    return chromium


def catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((ROOT / f"api/static/app/i18n/{lang}.json").read_text())
    return data


async def open_in_azerbaijani(browser: Browser, link: str) -> Page:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="az-AZ", timezone_id="Asia/Baku"
    )
    page = await context.new_page()
    await page.goto(link)
    await page.wait_for_selector("#app[data-ready='yes']")
    assert await page.evaluate("document.documentElement.lang") == "az"
    return page


async def test_azerbaijani_amounts_and_the_servers_bound_on_the_live_page(
    server: Live, browser: Browser
) -> None:
    spec = rules("english", start_price="1000.00", step={"amount": "100.00"})
    _, links = await auction_with_links(server, "english", spec)
    ann = await open_in_azerbaijani(browser, links["ann"])
    _, bob = await open_link(browser, links["bob"])
    for page in (ann, bob):
        await live(page)
    # The least valid bid is pre-filled as amounts are shown, and it is accepted.
    assert nbsp(await ann.input_value("#amount")) == "1 000,00"
    await bid(ann)
    assert await ann.get_attribute("#activity tbody tr", "data-status") == "confirmed"
    await shows(bob, "#best", "AZN 1,000.00")
    await bid(bob)  # 1100.00
    await shows(ann, "#best", "1 100,00 AZN")  # shows() reads no-break spaces as spaces
    # A bid that does not beat the best by a step: refused, the server's bound in words.
    await bid(ann, "1150")
    assert await ann.get_attribute("#activity tbody tr", "data-status") == "refused"
    az = catalog("az")
    expected = (
        az["request.refused"].replace("{reason}", az["code.insufficient_improvement"])
        + " "
        + az["request.would_accept_up"].replace("{amount}", "1 200,00 AZN")
    )
    assert nbsp(await text(ann, "#last-answer")) == expected
    await shoot(ann, "az-amounts")
    for page in (ann, bob):
        await page.context.close()
