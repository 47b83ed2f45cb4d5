"""One procurement from the officer's form to the auditor's replay, every step in a real
headless Chromium against the live server on real PostgreSQL (issue 15's first test).

The officer creates a reverse auction with a soft close from the form (times typed in the
officer's own zone, to the second), invites two suppliers from its page; both join through
their links in browsers of their own and bid; the officer's live tab names them, and the
officer disqualifies one with a reason. When the auction has ended, an auditor finds it at
the desk, replays it from the first event to the last, and the replay's final ranking is
the result the server reports, which the disqualified supplier is not in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser

from tests.api.conftest import Live
from tests.api.http.test_audit_desk import search, shown_ranking
from tests.api.http.test_officer_watch import invite, sign_in, text
from tests.api.http.test_supplier_page import bid, live, open_link
from tests.browser import watch_errors

ZONE = "Asia/Baku"
S = 1_000_000
in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server(GAVEL_HEARTBEAT_S="1")


def local(moment: datetime) -> str:
    """A datetime-local value for ``moment`` in :data:`ZONE`, to the second."""
    return moment.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M:%S")


@in_module_loop
async def test_form_invitations_bids_disqualification_and_the_auditors_replay(
    server: Live, browser: Browser
) -> None:
    # The officer's form: a reverse auction opening in 6 s and ending 28 s from now, with a
    # soft close (the last 6 s extend by 6 s). Measured at a load average of 12: published
    # within 2 s, both bids and the disqualification 8 s after the start; the rest of the
    # time is waiting for the end (was 8 s and 40 s: 12 s more of it).
    officer = await sign_in(browser, server, "#/officer/new/auction")
    errors = watch_errors(officer)
    await officer.wait_for_selector("#create-root[data-ready='yes']")
    now = datetime.now(ZoneInfo(ZONE)).replace(microsecond=0)
    starts, ends = now + timedelta(seconds=6), now + timedelta(seconds=28)
    await officer.select_option("#f-format", "reverse")
    await officer.fill("#f-start_price", "1000")
    await officer.fill("#f-step_amount", "10")
    await officer.fill("#f-starts_at", local(starts))
    await officer.fill("#f-ends_at", local(ends))
    if not await officer.is_checked("#f-soft_close"):
        await officer.check("#f-soft_close")
    await officer.fill("#f-window", "0.1")
    await officer.fill("#f-extension", "0.1")
    await officer.click("#create-review")
    await officer.wait_for_selector("#create-root[data-stage='review']")
    await officer.click("#create-publish")
    await officer.wait_for_function("() => location.hash.startsWith('#/officer/auction/')")
    auction = str(await officer.evaluate("location.hash")).rsplit("/", 1)[1]
    rules = (await server.state(auction))["rules"]
    assert rules["format"] == "reverse" and rules["start_price"] == "1000.00"
    assert (rules["starts_at"], rules["ends_at"]) == (
        int(starts.timestamp()) * S,
        int(ends.timestamp()) * S,
    )
    assert rules["soft_close"]["window_us"] == 6 * S

    # Its page: two suppliers invited; both join through their links and bid.
    await officer.wait_for_selector("#officer-auction[data-ready='yes']")
    await officer.click("#tab-suppliers")
    await officer.wait_for_selector("#invitations[data-ready='yes']")
    links = {party: await invite(officer, party) for party in ("ann", "bob")}
    await server.wait_phase(auction, "running", timeout=20)
    _, ann = await open_link(browser, links["ann"])
    _, bob = await open_link(browser, links["bob"])
    for page in (ann, bob):
        await live(page)
    await bid(ann, "990")
    await bid(bob, "980")
    await bid(ann, "970")
    await bid(bob, "960")

    # The officer's live tab names both; bob is disqualified with a reason.
    await officer.click("#tab-live")
    await officer.wait_for_selector("#watch[data-ready='yes']")
    bids = "#watch-events tr[data-type='BidAccepted']"
    await officer.wait_for_function("s => document.querySelectorAll(s).length === 4", arg=bids)
    standing = await text(officer, "#watch-standing")
    assert "ann (Bidder 1)" in standing and "bob (Bidder 2)" in standing, standing
    await officer.click("#watch-bidders .disqualify[data-party='bob']")
    await officer.fill("#disqualify-reason", "Offer from an excluded company")
    await officer.click("#disqualify-next")
    await officer.click("#disqualify-confirm")
    await officer.wait_for_selector("#watch-events tr[data-type='BidderDisqualified']")
    await server.wait_phase(auction, "ended", timeout=60)
    result = (await server.state(auction))["result"]
    assert [line["bidder"] for line in result["ranking"]] == ["ann"]
    assert result["ranking"][0]["price"] == 97_000
    assert errors == []

    # The auditor: found at the desk, replayed from the start, ending in the result.
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id=ZONE
    )
    desk = await context.new_page()
    desk_errors = watch_errors(desk)
    await desk.goto(f"http://127.0.0.1:{server.port}/app/#/audit")
    await desk.fill("#staff-token", server.token("dora", "auditor"))
    await desk.click("#staff-sign-in")
    assert auction in await search(desk, q=auction)
    await desk.evaluate("id => { location.hash = '#/audit/auction/' + id; }", auction)
    last = len(await server.events(auction))
    await desk.wait_for_selector(f"#replay-status[data-status='ended'][data-held='{last}']")
    expected = [("Bidder 1", "97000")]
    assert await shown_ranking(desk, "#result-ranking") == expected
    # From the first event, at the fastest speed, to the last.
    await desk.eval_on_selector(
        "#replay-timeline",
        """el => { el.value = '0'; el.dispatchEvent(new Event('change', { bubbles: true })); }""",
    )
    await desk.wait_for_selector("#replay-status[data-held='0']")
    speeds = await desk.eval_on_selector_all("#replay-speed option", "os => os.map(o => o.value)")
    await desk.select_option("#replay-speed", speeds[-1])
    await desk.click("#replay-play")
    await desk.wait_for_selector(
        f"#replay-status[data-status='ended'][data-held='{last}']", timeout=30_000
    )
    assert await shown_ranking(desk, "#state-ranking") == expected
    assert await desk.get_attribute("#ranking-check", "data-agrees") == "yes"
    events = await desk.inner_text("#replay-events")
    assert "disqualified" in events.lower()
    assert desk_errors == []
