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
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request

from contracts import custody
from tests.api.conftest import Live
from tests.api.http.test_supplier_tender import (
    axe_serious,
    invitation_link,
    open_link,
    ready,
    seal_in_page,
)
from tests.api.http.test_tenders import T, Tendering, now_us
from tests.browser import watch_errors

S = 1_000_000
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
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
    """Screenshots at 390 and 1280 px, light and dark: nothing scrolls sideways, no raw
    value shows, axe finds nothing serious."""
    ARTIFACTS.mkdir(exist_ok=True)
    shown = await page.evaluate("() => document.body.innerText")
    for raw in ("{", "}", "undefined", "NaN", "null", "[object", "ceremony.", "keys."):
        assert raw not in shown, (raw, shown)
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        for width, height in ((390, 844), (1280, 900)):
            await page.set_viewport_size({"width": width, "height": height})
            await page.wait_for_timeout(50)
            wide = await page.evaluate("() => document.scrollingElement.scrollWidth")
            assert wide <= width, (name, scheme, width, wide)
            suffix = "" if scheme == "light" else "-dark"
            await page.screenshot(
                path=str(ARTIFACTS / f"officer-{name}-{width}{suffix}.png"), full_page=True
            )
        assert await axe_serious(page) == [], (name, scheme)
    await page.emulate_media(color_scheme="light")
    await page.set_viewport_size({"width": 1280, "height": 900})


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
        files=[{"name": "o1.json", "mimeType": "application/json", "buffer": cli.to_json().encode()}],
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
