"""The staff's sign-in and frame (``/app/#/officer``, ``/app/#/audit``: api/static/app/staff/)
in real headless Chromium against the live server.

An officer pastes the token ``gavel officer add`` printed and is in: the header names the
role and the person, the token is only in the tab's sessionStorage, signing out revokes it
(the server refuses it after). What is not a staff member's token is refused in words before
any page shows: garbage, a supplier's token, an expired one, a revoked one. An auditor opens
the audit area and is told the officer's area is not theirs; an unknown page says so.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from playwright.async_api import Browser, Page

from tests.api.conftest import Live
from tests.browser import look, watch_errors

in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server()


async def recorded(server: Live, party: str, role: str) -> str:
    """A token the server issued and recorded (as ``gavel officer add`` does): revocable."""
    reply = await server.post(
        "/api/v1/tokens", {"role": role, "party": party, "ttl_s": 7200}, token=server.officer
    )
    assert reply.status == 201, reply.body
    token: str = reply.json()["token"]
    return token


def expired_token(server: Live) -> str:
    """An officer's token whose ``exp`` has passed (the page refuses it before asking)."""
    claims_segment, signature = server.token("old", "officer", ttl_s=60).split(".")
    claims = json.loads(base64.urlsafe_b64decode(claims_segment + "=="))
    claims["exp"] = claims["iat"] - 1
    raw = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + signature


async def open_signin(browser: Browser, server: Live, route: str = "#/officer") -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = await context.new_page()
    page.errors = watch_errors(page)  # type: ignore[attr-defined]
    await page.goto(f"http://127.0.0.1:{server.port}/app/{route}")
    await page.wait_for_selector("#staff-token")
    return page


async def sign_in(page: Page, token: str) -> None:
    await page.fill("#staff-token", token)
    await page.click("#staff-sign-in")


@in_module_loop
async def test_an_officer_signs_in_with_a_pasted_token_and_out_again(
    server: Live, browser: Browser
) -> None:
    token = await recorded(server, "alice", "officer")
    # A route without a page: this test is about the frame, not any page in it.
    page = await open_signin(browser, server, "#/officer/no/such/page")
    assert await page.get_attribute("#app", "data-page") == "staff_signin"
    await look(page, "staff-signin", raw=("staff.",))
    await sign_in(page, token)
    await page.wait_for_selector("#app[data-page='staff']")
    who = await page.inner_text("#staff-who")
    assert "Officer" in who and "alice" in who
    assert token in (await page.evaluate("sessionStorage.getItem('gavel.staff')"))
    assert token not in page.url
    # The officer's navigation reaches the audit area too.
    assert await page.locator(".staff-nav a[href='#/audit']").count() == 1
    # Every section is in sight on a phone: the links wrap, nothing scrolls sideways.
    for width in (320, 390):
        await page.set_viewport_size({"width": width, "height": 700})
        rights = await page.eval_on_selector_all(
            ".staff-nav a", "links => links.map(a => a.getBoundingClientRect().right)"
        )
        assert len(rights) == 5 and max(rights) <= width, (width, rights)
        assert await page.eval_on_selector(".staff-nav", "n => n.scrollWidth <= n.clientWidth")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.wait_for_selector("#staff-not-found")
    await page.click("#staff-sign-out")
    await page.wait_for_selector("#staff-token")
    assert await page.evaluate("sessionStorage.getItem('gavel.staff')") is None
    reply = await server.get("/api/v1/auctions", token=token)
    assert reply.status == 401, reply.body
    assert page.errors == []  # type: ignore[attr-defined]


@in_module_loop
async def test_what_is_not_a_staff_token_is_refused_in_words(
    server: Live, browser: Browser
) -> None:
    page = await open_signin(browser, server)
    cases = {
        "not a token at all": "not a Gavel access token",
        server.token("ann", "bidder", "a-1"): "supplier's",
        expired_token(server): "expired",
    }
    revoked = await recorded(server, "gone", "officer")
    jti = json.loads(base64.urlsafe_b64decode(revoked.split(".")[0] + "=="))["jti"]
    assert (await server.post(f"/api/v1/tokens/{jti}/revoke", token=revoked)).status == 200
    cases[revoked] = "revoked"
    for token, words in cases.items():
        await sign_in(page, token)
        await page.wait_for_function(
            "words => document.getElementById('staff-problem')?.innerText.includes(words)",
            arg=words,
            timeout=5000,
        )
        assert await page.get_attribute("#staff-token", "aria-invalid") == "true"
        assert await page.get_attribute("#app", "data-page") == "staff_signin"
    # One the server never issued (signed by another key).
    forged = server.token("eve", "officer").split(".")[0] + "." + "A" * 86
    await sign_in(page, forged)
    await page.wait_for_function(
        "() => document.getElementById('staff-problem')?.innerText.includes('not issued')"
    )
    assert await page.evaluate("sessionStorage.getItem('gavel.staff')") is None


@in_module_loop
async def test_an_auditor_reads_the_audit_area_only(server: Live, browser: Browser) -> None:
    page = await open_signin(browser, server, "#/officer/new/auction")
    await sign_in(page, server.token("carol", "auditor"))
    await page.wait_for_selector("#staff-forbidden")
    assert "audit section" in await page.inner_text("#staff-forbidden")
    assert await page.locator(".staff-nav a").all_inner_texts() == ["Audit"]
    assert "Auditor" in await page.inner_text("#staff-who")
