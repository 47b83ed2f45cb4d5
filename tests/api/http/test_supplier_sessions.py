"""The supplier's page with several sessions in one tab, and the public view of an auction
(``/app/``: api/static/app/app.js routing, session.js, view/mine.js, view/public.js), in
real headless Chromium against the live server on real PostgreSQL.

Two invitation links opened one after the other in the same tab: "My auctions and
tenders" (``#/``) lists both with their state and next deadline in the reader's time zone,
each link opens its live view, back and forward follow, and signing out of one revokes its
token and leaves the other. An auction's and a tender's invitation in one tab: both
listed, the tender's link opens the tender's view (tender/view.js), and signing out
there leaves the auction. The public view (``#/public/<id>``, linked from the landing
page) needs no token: it shows the best offer moving as suppliers bid and no bid
controls; a sealed auction's public view shows nothing of the bids until the close, then
the result by label. axe-core finds nothing serious; screenshots at 390 and 1280 px go to
``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from tests.api.conftest import Live
from tests.api.http.test_supplier_tender import invitation_link, tender_with_lots
from tests.browser import axe_serious, look, watch_errors

S = 1_000_000
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
ZONE = "Asia/Baku"

#: The module's tests run in one event loop, the one its browser lives in.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server(GAVEL_HEARTBEAT_S="1")


def rules(
    fmt: str, start_in_s: float = 0.5, duration_s: float = 900, **extra: Any
) -> dict[str, Any]:
    starts = time.time_ns() // 1000 + int(start_in_s * S)
    spec: dict[str, Any] = {
        "format": fmt,
        "currency": "AZN",
        "starts_at": starts,
        "ends_at": starts + int(duration_s * S),
    }
    if fmt == "english":
        spec |= {"start_price": "100.00", "step": {"amount": "10.00"}}
    elif fmt == "reverse":
        spec |= {"start_price": "1000.00", "step": {"amount": "10.00"}}
    return spec | extra


async def invite(server: Live, auction: str, party: str) -> str:
    reply = await server.post(
        f"/api/v1/auctions/{auction}/invitations", {"party": party}, token=server.officer
    )
    assert reply.status == 201, reply.body
    return f"http://127.0.0.1:{server.port}{reply.json()['link']}"


async def new_page(browser: Browser, width: int = 1280) -> tuple[BrowserContext, Page, list[str]]:
    context = await browser.new_context(
        viewport={"width": width, "height": 900}, locale="en-GB", timezone_id=ZONE
    )
    page = await context.new_page()
    return context, page, watch_errors(page)


async def ready(page: Page, url: str) -> None:
    """Open ``url``; a link that changes only the fragment of the page shown is no new
    load (the page follows the fragment)."""
    response = await page.goto(url)
    assert response is None or response.status == 200
    await page.wait_for_selector("#app[data-ready='yes']")


async def text(page: Page, selector: str) -> str:
    return " ".join((await page.locator(selector).inner_text()).split())


async def shows(page: Page, selector: str, expected: str, timeout: int = 5000) -> None:
    await page.wait_for_function(
        """([s, e]) => (document.querySelector(s)?.innerText ?? '')
            .replace(/\\s+/g, ' ').includes(e)""",
        arg=[selector, expected],
        timeout=timeout,
    )


async def shoot(page: Page, name: str) -> None:
    """No raw data or catalog key shown, nothing scrolls sideways (320 to 1280 px), axe
    finds nothing serious (light and dark); screenshots at 390 and 1280 px."""
    await look(page, f"sessions-{name}", raw=("mine.", "public.", "nav."))


def local(us: int) -> str:
    """``us`` as the page shows it in Asia/Baku, hours and minutes."""
    return datetime.fromtimestamp(us / S, UTC).astimezone(ZoneInfo(ZONE)).strftime("%H:%M")


async def sessions(page: Page) -> list[dict[str, Any]]:
    stored = await page.evaluate("sessionStorage.getItem('gavel.sessions')")
    found: list[dict[str, Any]] = json.loads(stored or "[]")
    return found


# ------------------------------------------------------------------------- the tests


@in_module_loop
async def test_two_invitations_in_one_tab_are_listed_opened_and_signed_out_one_by_one(
    server: Live, browser: Browser
) -> None:
    running = await server.create(rules("english"))
    scheduled = await server.create(rules("reverse", start_in_s=3600))
    for auction in (running, scheduled):
        await server.register(auction, "ann")
    links = [await invite(server, running, "ann"), await invite(server, scheduled, "ann")]
    await server.wait_phase(running, "running")
    _, page, errors = await new_page(browser)

    # Each link, in the same tab, signs in and goes to its auction's route.
    for link, auction in zip(links, (running, scheduled), strict=True):
        await ready(page, link)
        route = f"/app/#/auction/{auction}"
        await page.wait_for_url(lambda url, route=route: url.endswith(route))  # type: ignore[misc]
        await page.wait_for_selector("#app[data-page='live'] #connection[data-state='live']")
    kept = await sessions(page)
    assert [(s["kind"], s["id"], s["party"]) for s in kept] == [
        ("auction", running, "ann"),
        ("auction", scheduled, "ann"),
    ]
    assert await page.evaluate("localStorage.getItem('gavel.sessions')") is None

    # The list: both, with state and next deadline in the reader's zone.
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/")
    await page.wait_for_selector("#app[data-page='mine'] #mine[data-ready='yes']")
    items = page.locator(".mine-item")
    assert await items.count() == 2
    states = {
        running: await server.state(running),
        scheduled: await server.state(scheduled),
    }
    for auction, phase, what, name in (
        (running, "Live", "Ends", "English auction"),
        (scheduled, "Scheduled", "Starts", "Reverse auction"),
    ):
        item = page.locator(f".mine-item[data-id='{auction}']")
        assert await item.get_attribute("data-state") == "ok"
        assert " ".join((await item.locator(".mine-state").inner_text()).split()) == phase
        assert " ".join((await item.locator("h2").inner_text()).split()) == name
        deadline = states[auction]["next_deadline"]
        when = item.locator("time")
        assert await when.get_attribute("datetime") == datetime.fromtimestamp(
            deadline // 1000 / 1000, UTC
        ).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert local(deadline) in await when.inner_text()
        assert what in await item.locator(".mine-deadline").inner_text()
    assert "Asia/Baku" in await text(page, "#mine-zone")
    await shoot(page, "list")

    # Each link opens its live view; back returns to the list.
    await page.click(f".mine-item[data-id='{running}'] h2 a")
    await page.wait_for_selector("#app[data-page='live'] #connection[data-state='live']")
    assert page.url.endswith(f"#/auction/{running}")
    await shows(page, "#format", "English auction")  # once the events are folded
    await page.wait_for_selector("#place")
    await page.go_back()
    await page.wait_for_selector("#app[data-page='mine'] .mine-item")
    await page.go_forward()
    await page.wait_for_selector("#app[data-page='live'] #format")
    await shows(page, "#format", "English auction")  # once the events are folded
    await page.go_back()
    await page.click(f".mine-item[data-id='{scheduled}'] a.button")
    await page.wait_for_selector("#app[data-page='live'] #connection[data-state='live']")
    assert await text(page, "#format") == "Reverse auction"
    for width in (390, 1280):  # the header's link to the list (the live view is not ours to axe)
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=str(ARTIFACTS / f"sessions-live-nav-{width}.png"))
    # The live view links back to the list.
    await page.click("#to-list")
    await page.wait_for_selector("#app[data-page='mine'] .mine-item")

    # Sign out of the running one, from the list: revoked and forgotten; the other stays.
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/")
    await page.wait_for_selector("#mine[data-ready='yes']")
    await page.click(f".mine-item[data-id='{running}'] .mine-sign-out")
    await page.wait_for_function("() => document.querySelectorAll('.mine-item').length === 1")
    assert await page.locator(f".mine-item[data-id='{scheduled}']").count() == 1
    me = await server.get(f"/api/v1/auctions/{running}/me", token=kept[0]["token"])
    assert (me.status, me.code) == (401, "token_revoked")
    me = await server.get(f"/api/v1/auctions/{scheduled}/me", token=kept[1]["token"])
    assert me.status == 200, me.body
    assert [s["id"] for s in await sessions(page)] == [scheduled]
    # The signed-out auction's route is its public view now (no token, no bid form).
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/auction/{running}")
    await page.wait_for_selector("#app[data-page='public'] #connection[data-state='live']")
    assert await page.locator("#place, #amount, #sign-out").count() == 0
    # Sign out of all: the signed-out notice.
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/")
    await page.wait_for_selector("#mine[data-ready='yes']")
    await page.click("#sign-out-all")
    await page.wait_for_selector("#app[data-page='signed_out']")
    assert await sessions(page) == []
    me = await server.get(f"/api/v1/auctions/{scheduled}/me", token=kept[1]["token"])
    assert (me.status, me.code) == (401, "token_revoked")
    assert errors == []


@in_module_loop
async def test_the_public_link_follows_the_best_offer_without_a_token_or_bid_controls(
    server: Live, browser: Browser
) -> None:
    auction = await server.create(rules("english"))
    ann = await server.register(auction, "ann-corp")
    bob = await server.register(auction, "bob-corp")
    await server.wait_phase(auction, "running")
    _, page, errors = await new_page(browser)
    # From the landing page's list: each auction links to its public view.
    response = await page.goto(f"http://127.0.0.1:{server.port}/")
    assert response is not None and response.status == 200
    await page.wait_for_selector("#main[data-state='ready']")
    link = page.locator(f"a[href='/app/#/public/{auction}']")
    await link.wait_for()
    await link.click()
    await page.wait_for_selector("#app[data-ready='yes']")
    await page.wait_for_selector("#app[data-page='public'] #connection[data-state='live']")
    assert page.url.endswith(f"/app/#/public/{auction}")
    assert await sessions(page) == []
    assert await text(page, "#best") == "None yet"
    assert await page.locator("#place, #amount, #sign-out, #mine, #rank, #activity").count() == 0
    assert await text(page, "#public-badge") == "Public view"
    for amount, token, shown in (("100.00", ann, "100.00"), ("110.00", bob, "110.00")):
        reply = await server.post(
            f"/api/v1/auctions/{auction}/bids", {"amount": amount, "currency": "AZN"}, token
        )
        assert reply.status == 201, reply.body
        await shows(page, "#best", shown, timeout=2000)
    assert await text(page, "#leader") == "Bidder 2"
    assert "corp" not in await page.evaluate("() => document.body.innerText")
    await shows(page, "#ranking", "Bidder 1")
    await shoot(page, "public")
    assert errors == []


@in_module_loop
async def test_a_sealed_auctions_public_view_hides_the_bids_until_the_end(
    server: Live, browser: Browser
) -> None:
    auction = await server.create(rules("sealed", start_in_s=2, duration_s=5, reserve_price="5.00"))
    one = await server.register(auction, "sealer-one")
    two = await server.register(auction, "sealer-two")
    _, page, errors = await new_page(browser, width=390)
    await ready(page, f"http://127.0.0.1:{server.port}/app/#/public/{auction}")
    await page.wait_for_selector("#app[data-page='public'] #connection[data-state='live']")
    await server.wait_phase(auction, "running")
    seqs = []
    for amount, token in (("70.00", one), ("60.00", two)):
        reply = await server.post(
            f"/api/v1/auctions/{auction}/bids", {"amount": amount, "currency": "AZN"}, token
        )
        assert reply.status == 201, reply.body
        seqs.append(reply.json()["seq"])
    await page.wait_for_function(
        "n => Number(document.querySelector('#app').dataset.lastSeq) >= n", arg=seqs[-1]
    )
    shown = await page.evaluate("() => document.body.innerText")
    assert "70.00" not in shown and "60.00" not in shown
    assert await page.locator("#public-sealed").count() == 1
    assert await page.locator("#sealed-hidden").count() == 1
    await page.wait_for_selector("#result", timeout=15_000)
    assert await text(page, "#winner") == "Bidder 1"
    assert "70.00" in await text(page, "#price-paid")
    assert await page.locator("#my-position, #place").count() == 0
    await shows(page, "#ranking", "60.00")
    assert "sealer" not in await page.evaluate("() => document.body.innerText")
    await shoot(page, "public-sealed-ended")
    assert errors == []


@in_module_loop
async def test_an_auction_and_a_tender_in_one_tab(server: Live, browser: Browser) -> None:
    auction = await server.create(rules("english"))
    await server.register(auction, "ann")
    auction_link = await invite(server, auction, "ann")
    tender = await tender_with_lots(server, ("lot-1", "Asphalt", 3600))
    tender_link = await invitation_link(server, tender, "ann")
    _, page, errors = await new_page(browser)
    await ready(page, auction_link)
    await page.wait_for_selector("#app[data-page='live'] #connection[data-state='live']")
    await ready(page, tender_link)
    await page.wait_for_url(lambda url: url.endswith(f"/app/#/tender/{tender.id}"))
    await page.wait_for_selector("#app[data-page='tender'] #tender-view[data-status='ready']")
    assert [(s["kind"], s["id"]) for s in await sessions(page)] == [
        ("auction", auction),
        ("tender", tender.id),
    ]
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/")
    await page.wait_for_selector("#mine[data-ready='yes']")
    item = page.locator(f".mine-item[data-kind='tender'][data-id='{tender.id}']")
    assert await item.get_attribute("data-state") == "ok"
    assert " ".join((await item.locator("h2").inner_text()).split()) == "Road repairs 2027"
    assert await text(page, f".mine-item[data-id='{tender.id}'] .mine-state") == "Taking bids"
    assert "Submit by" in await item.locator(".mine-deadline").inner_text()
    assert local(tender.deadline) in await item.locator("time").inner_text()
    # The tender's link opens its view; signing out there leaves the auction.
    await item.locator("h2 a").click()
    await page.wait_for_selector("#tender-view[data-status='ready']")
    await page.click("#sign-out")
    await page.wait_for_selector("#app[data-page='mine'] #mine[data-ready='yes']")
    assert [(s["kind"], s["id"]) for s in await sessions(page)] == [("auction", auction)]
    assert await page.locator(".mine-item").count() == 1
    assert errors == []


@in_module_loop
async def test_an_old_single_session_is_migrated_and_both_redeem_answers_are_read(
    server: Live, browser: Browser
) -> None:
    """A tab left by the one-session page (``gavel.session``: {token, jti, auction, ...})
    opens that auction's live view and joins the list; a redeem answer names an auction
    (``auction_id``, with or without ``kind``) or a tender (``tender_id``, kind ``tender``)."""
    auction = await server.create(rules("english"))
    token = await server.register(auction, "ann")
    old = {"token": token, "jti": "j-old", "auction": auction, "party": "ann", "expires_at": 1}
    context, page, errors = await new_page(browser)
    await context.add_init_script(
        f"if (!sessionStorage.getItem('gavel.sessions')) "
        f"sessionStorage.setItem('gavel.session', {json.dumps(json.dumps(old))})"
    )
    await ready(page, f"http://127.0.0.1:{server.port}/app/")
    await page.wait_for_selector("#app[data-page='live'] #connection[data-state='live']")
    assert page.url.endswith(f"/app/#/auction/{auction}")
    [kept] = await sessions(page)
    assert (kept["kind"], kept["id"], kept["token"], kept["jti"]) == (
        "auction",
        auction,
        token,
        "j-old",
    )
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/")
    await page.wait_for_selector("#mine[data-ready='yes'] .mine-item[data-state='ok']")
    read = await page.evaluate(
        """async () => {
            const { sessionFromAnswer } = await import('/app/session.js');
            const base = { token: 't', jti: 'j', party: 'p', expires_at: 5 };
            return [
                sessionFromAnswer({ ...base, auction_id: 'a-1' }),
                sessionFromAnswer({ ...base, auction_id: 'a-1', kind: 'auction' }),
                sessionFromAnswer({ ...base, tender_id: 't-1', kind: 'tender' }),
                sessionFromAnswer({ ...base, kind: 'tender' }),
                sessionFromAnswer({ ...base, auction_id: 'a-1', kind: 'lottery' }),
            ];
        }"""
    )
    base = {"token": "t", "jti": "j", "party": "p", "expires_at": 5}
    assert read == [
        {"kind": "auction", "id": "a-1", **base},
        {"kind": "auction", "id": "a-1", **base},
        {"kind": "tender", "id": "t-1", **base},
        None,
        None,
    ]
    assert errors == []


@in_module_loop
async def test_an_expired_invitation_link_says_so_in_words(server: Live, browser: Browser) -> None:
    """An invitation past its expiry opens a page that says so (410 invitation_expired
    from the redeem, in the catalog's words), keeps no session and drops the code from
    the address."""
    auction = await server.create(rules("english"))
    await server.register(auction, "late")
    reply = await server.post(
        f"/api/v1/auctions/{auction}/invitations",
        {"party": "late", "expires_in_s": 1},
        token=server.officer,
    )
    assert reply.status == 201, reply.body
    issued = reply.json()
    await asyncio.sleep(max(0.0, (issued["expires_at"] - time.time_ns() // 1000) / S) + 0.1)
    _, page, errors = await new_page(browser, width=390)
    await ready(page, f"http://127.0.0.1:{server.port}{issued['link']}")
    assert await page.get_attribute("#app", "data-page") == "problem"
    await shows(page, "#notice-text", "expired")
    assert "invite" not in page.url
    assert await sessions(page) == []
    assert await axe_serious(page) == []
    await shoot(page, "sessions-expired-link")
    # The browser logs the redeem's 410 itself; nothing else went wrong.
    assert [e for e in errors if not e.startswith("410 ")] == []
    assert len(errors) == 1 and errors[0].endswith("/api/v1/invitations/redeem"), errors
