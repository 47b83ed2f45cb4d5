"""The auditor's desk (``/app/#/audit``: api/static/app/staff/audit/) in real headless
Chromium against the live server on real PostgreSQL.

Two auctions finish over HTTP: a reverse auction with soft close in which two bidders bid,
the second inside the window (the end moves once), and an English one with a single
bidder. An auditor signs in with an auditor's token, finds the first by its id and by its
format and the day it ended (in the browser's zone), and opens it: the replay over the
websocket opens on the final state, whose ranking is the result the server reports; play
runs, pause stops, a seek to the middle shows the state folded from exactly those events,
a seek to the end shows the result's ranking again; the chart lists the extension band.
The single-bidder auction's red flag shows the events behind it (highlighted, focused) and
the page says flags are prompts for review, not findings. axe-core finds nothing serious
or critical; both pages are photographed at 390 and 1280 px (``look``). The replay's pure
helpers (chart points and bands, the date bounds of the search) are checked on hand-made
events in the page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from tests.api.conftest import Live
from tests.api.http.test_tenders import T, new_tender
from tests.browser import look, watch_errors

S = 1_000_000
ZONE = "Asia/Baku"
in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server()


def _rules(fmt: str, duration_s: float, **extra: Any) -> dict[str, Any]:
    starts = time.time_ns() // 1000 + S // 2
    return {
        "format": fmt,
        "currency": "AZN",
        "starts_at": starts,
        "ends_at": starts + int(duration_s * S),
        "start_price": "100.00" if fmt == "english" else "1000.00",
        "step": {"amount": "10.00"},
        **extra,
    }


async def _bid(server: Live, auction: str, token: str, amount: str) -> None:
    reply = await server.post(
        f"/api/v1/auctions/{auction}/bids", {"amount": amount, "currency": "AZN"}, token
    )
    assert reply.status in (200, 201), reply.body


async def _soft_close(server: Live) -> str:
    """Reverse, soft close (2 s window, 1 s extension): one bid early, one in the window."""
    rules = _rules("reverse", 4, soft_close={"window_us": 2 * S, "extension_us": S})
    auction = await server.create(rules)
    ann = await server.register(auction, "ann")
    bob = await server.register(auction, "bob")
    await server.wait_phase(auction, "running")
    await _bid(server, auction, ann, "900.00")
    while True:  # into the window, on the server's clock
        state = await server.state(auction)
        if state["server_time"] >= state["ends_at"] - S * 16 // 10:
            break
        await asyncio.sleep(0.05)
    await _bid(server, auction, bob, "890.00")
    await server.wait_phase(auction, "ended", timeout=15)
    return auction


async def _single(server: Live) -> str:
    auction = await server.create(_rules("english", 1.2))
    solo = await server.register(auction, "solo")
    await server.wait_phase(auction, "running")
    await _bid(server, auction, solo, "100.00")
    await server.wait_phase(auction, "ended", timeout=15)
    return auction


async def _tender(server: Live) -> str:
    """A sealed tender (threshold 1): ann 12.00 and bob 11.00, opened, awarded to bob."""
    tender = await new_tender(server, threshold=1)
    for bidder, price in (("ann", 12_00), ("bob", 11_00)):
        assert (await tender.submit(bidder, tender.seal(bidder, price))).status == 201
    await tender.wait_deadline()
    await tender.open_with("o1")
    reply = await server.post(f"{T}/{tender.id}/lots/L1/award", {}, token=tender.officer["o1"])
    assert reply.status == 200, reply.body
    return tender.id


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def finished(server: Live) -> dict[str, str]:
    soft, single, tender = await asyncio.gather(
        _soft_close(server), _single(server), _tender(server)
    )
    return {"soft": soft, "single": single, "tender": tender}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(chromium: Browser, server: Live, finished: dict[str, str]) -> AsyncIterator[Page]:
    """The auditor, signed in at the desk (one page for the module's scenes)."""
    context = await chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id=ZONE
    )
    page = await context.new_page()
    page.errors = watch_errors(page)  # type: ignore[attr-defined]
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/audit")
    await page.fill("#staff-token", server.token("dora", "auditor"))
    await page.click("#staff-sign-in")
    await page.wait_for_selector("main.audit-search[data-ready='yes']")
    yield page
    await context.close()


async def rows(page: Page) -> list[str]:
    await page.wait_for_selector("main.audit-search[data-ready='yes']")
    ids: list[str] = await page.eval_on_selector_all(
        "#audit-results tbody tr", "trs => trs.map(tr => tr.dataset.id)"
    )
    return ids


async def search(page: Page, **fields: str) -> list[str]:
    """Fill every field of the form (the ones not given empty), search, and wait for the
    answer to that very search (the page counts its answers in data-searches)."""
    await page.wait_for_selector("main.audit-search[data-ready='yes']")
    for name in ("q", "buyer", "from", "to"):
        await page.fill(f"#search-{name}", fields.get(name, ""))
    await page.select_option("#search-format", fields.get("format", ""))
    before = await page.get_attribute("main.audit-search", "data-searches")
    await page.click("#search-go")
    await page.wait_for_function(
        "n => document.querySelector('main.audit-search').dataset.searches > n",
        arg=int(before or 0),
    )
    return await rows(page)


async def labels(server: Live, auction: str) -> dict[str, str]:
    return {
        e["event"]["bidder"]: e["event"]["label"]
        for e in await server.events(auction)
        if e["event"]["type"] == "BidderRegistered"
    }


async def shown_ranking(page: Page, table: str) -> list[tuple[str, str]]:
    found: list[list[str]] = await page.eval_on_selector_all(
        f"{table} tbody tr", "trs => trs.map(tr => [tr.dataset.bidder, tr.dataset.price])"
    )
    return [(bidder, price) for bidder, price in found]


async def seek(page: Page, held: int) -> None:
    await page.eval_on_selector(
        "#replay-timeline",
        """(el, k) => { el.value = String(k);
                        el.dispatchEvent(new Event('change', { bubbles: true })); }""",
        held,
    )


@in_module_loop
async def test_the_auditor_finds_finished_auctions(
    desk: Page, server: Live, finished: dict[str, str]
) -> None:
    page = desk
    listed = await rows(page)
    assert finished["soft"] in listed and finished["single"] in listed
    # By id (any part of it, any case).
    assert await search(page, q=finished["soft"][2:].upper()) == [finished["soft"]]
    # By format and the day it ended, in the browser's zone.
    today = datetime.now(ZoneInfo(ZONE)).date()
    found = await search(page, format="reverse", **{"from": today.isoformat(), "to": str(today)})
    assert finished["soft"] in found and finished["single"] not in found
    assert await search(page, format="reverse", **{"from": str(today + timedelta(days=1))}) == []
    assert "Nothing finished" in await page.inner_text("#search-status")
    found = await search(page, q=finished["soft"])
    row = page.locator(f"#audit-results tr[data-id='{finished['soft']}']")
    assert "Reverse auction" in await row.inner_text()
    assert "AZN" in await row.locator("td.amount").inner_text()
    assert await row.locator("td.amount").evaluate("td => getComputedStyle(td).textAlign") == (
        "right"
    )
    header = page.locator("#audit-results thead th").first
    assert await header.evaluate("th => getComputedStyle(th).position") == "sticky"
    await look(page, "audit-search", raw=("audit.", "replay.", "flags."))
    assert page.errors == []  # type: ignore[attr-defined]


@in_module_loop
async def test_the_replay_plays_pauses_seeks_and_ends_in_the_result(
    desk: Page, server: Live, finished: dict[str, str]
) -> None:
    page = desk
    auction = finished["soft"]
    events = [e["event"] for e in await server.events(auction)]
    last = len(events)
    assert any(e["type"] == "EndExtended" for e in events)
    names = await labels(server, auction)
    result = (await server.state(auction))["result"]
    expected = [(names[line["bidder"]], str(line["price"])) for line in result["ranking"]]
    assert [p for _, p in expected] == ["89000", "90000"]

    await search(page, q=auction)
    await page.click(f"#audit-results tr[data-id='{auction}'] a.row-link")
    await page.wait_for_selector("main.audit-replay[data-ready='yes']")
    await page.wait_for_selector(f"#replay-status[data-status='ended'][data-held='{last}']")
    # The final state, folded from the replayed log, is the result the server reports.
    assert await shown_ranking(page, "#state-ranking") == expected
    assert await shown_ranking(page, "#result-ranking") == expected
    assert await page.get_attribute("#ranking-check", "data-agrees") == "yes"
    assert await page.get_attribute("#state-best", "data-price") == "89000"
    # The chart: both bidders' lines, the soft-close extension as a band.
    await page.wait_for_selector("#replay-chart[data-lines='2']")
    assert await page.locator("#chart-marks li[data-kind='extension']").count() == sum(
        e["type"] == "EndExtended" for e in events
    )
    assert "Soft-close extension" in await page.inner_text("#chart-marks")
    await look(page, "audit-replay", raw=("audit.", "replay.", "flags."))

    # Play from the start, then pause part-way.
    await page.click("#replay-play")
    await page.wait_for_selector("#replay-status[data-status='playing']")
    await page.click("#replay-play")
    await page.wait_for_selector("#replay-status[data-status='paused']")
    held = int(await page.get_attribute("#replay-status", "data-held") or "-1")
    assert 0 <= held < last
    assert await page.locator("#replay-events tbody tr").count() == held

    # Seek to the middle: the state of exactly those events.
    middle = next(i for i, e in enumerate(events, 1) if e["type"] == "BidAccepted")
    await seek(page, middle)
    await page.wait_for_selector(f"#replay-status[data-status='paused'][data-held='{middle}']")
    assert await page.locator("#replay-events tbody tr").count() == middle
    assert await page.get_attribute("#state-best", "data-price") == "90000"
    assert await shown_ranking(page, "#state-ranking") == [(names["ann"], "90000")]
    assert await page.get_attribute("#state-phase", "data-phase") == "running"
    assert await page.get_attribute("#ranking-check", "data-agrees") == "pending"

    # Seek to the end: the result's ranking again.
    await seek(page, last)
    await page.wait_for_selector(f"#replay-status[data-status='ended'][data-held='{last}']")
    assert await shown_ranking(page, "#state-ranking") == expected
    assert await page.get_attribute("#ranking-check", "data-agrees") == "yes"
    assert page.errors == []  # type: ignore[attr-defined]


@in_module_loop
async def test_a_single_bidder_flag_shows_its_events(
    desk: Page, server: Live, finished: dict[str, str]
) -> None:
    page = desk
    auction = finished["single"]
    reply = await server.get(f"/api/v1/audit/auctions/{auction}/flags", server.officer)
    flags = reply.json()["flags"]
    [single] = [flag for flag in flags if flag["code"] == "single_bidder"]
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/audit/auction/{auction}")
    await page.wait_for_selector("main.audit-replay[data-ready='yes']")
    await page.wait_for_selector("#replay-status[data-status='ended']")
    note = await page.inner_text("#flags-note")
    assert "prompts for review, not findings" in note
    flag = page.locator("#flags li[data-code='single_bidder']")
    assert await page.locator("#flags li.flag").count() == len(flags)
    assert "Only one bidder made offers" in await flag.inner_text()
    assert "Bidder 1" in await flag.inner_text() and "solo" not in await flag.inner_text()
    # From the start of the log: showing the flag's events replays up to them.
    await seek(page, 0)
    await page.wait_for_selector("#replay-status[data-status='paused'][data-held='0']")
    await flag.locator("button.show-events").click()
    seqs = single["seqs"]
    await page.wait_for_function(
        "n => document.querySelectorAll('#replay-events tr.flagged').length === n", arg=len(seqs)
    )
    marked = await page.eval_on_selector_all(
        "#replay-events tr.flagged", "trs => trs.map(tr => Number(tr.dataset.seq))"
    )
    assert marked == seqs
    assert await page.evaluate("document.activeElement.id") == f"ev-{seqs[0]}"
    assert await flag.get_attribute("class") == "flag shown"
    assert page.errors == []  # type: ignore[attr-defined]


@in_module_loop
async def test_a_finished_tender_its_log_and_outcome_per_lot(
    desk: Page, server: Live, finished: dict[str, str]
) -> None:
    page = desk
    tender = finished["tender"]
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/audit")
    assert await search(page, format="tender") == [tender]
    row = page.locator(f"#audit-results tr[data-id='{tender}']")
    assert "Road repairs" in await row.inner_text() and "o1" in await row.inner_text()
    assert "EUR" in await row.locator("td.amount").inner_text()
    await row.locator("a.row-link").click()
    await page.wait_for_selector("main.audit-tender[data-ready='yes']")
    reply = await server.get(f"{T}/{tender}/events", server.token("o1", "officer"))
    log = reply.json()["events"]
    assert await page.locator("#tender-events tbody tr").count() == len(log)
    lot = await page.inner_text("#tender-lots li[data-lot='L1']")
    assert "Awarded to Supplier" in lot and "EUR" in lot and "11.00" in lot
    assert "bob" not in lot  # parties by label; their ids are behind Details
    # Its red flags, when the server has the route (shown only when it answers 200).
    flagged = await server.get(
        f"/api/v1/audit/tenders/{tender}/flags", server.token("dora", "auditor")
    )
    if flagged.status != 200:
        assert await page.locator("#flags").count() == 0
    else:
        flags = flagged.json()["flags"]
        assert await page.locator("#flags li.flag").count() == len(flags)
        if flags:
            await page.locator("#flag-0 button.show-events").click()
            await page.wait_for_selector("#tender-events tr.flagged")
            marked = await page.eval_on_selector_all(
                "#tender-events tr.flagged", "trs => trs.map(tr => Number(tr.dataset.seq))"
            )
            assert marked == flags[0]["seqs"]
    await look(page, "audit-tender", raw=("audit.", "replay.", "flags."))
    assert page.errors == []  # type: ignore[attr-defined]


@in_module_loop
async def test_the_pure_helpers_on_hand_made_events(desk: Page) -> None:
    found = await desk.evaluate(
        """async () => {
          const { chartOf } = await import('/app/staff/audit/replay.js');
          const { dayBound } = await import('/app/staff/audit/search.js');
          const ev = (seq, at, type, rest = {}) => ({ seq, at, type, ...rest });
          const open = chartOf([
            ev(1, 0, 'AuctionCreated', { rules: { type: 'ReverseRules', ends_at: 100 } }),
            ev(2, 1, 'BidderRegistered', { bidder: 'p1', label: 'Bidder 1' }),
            ev(3, 1, 'BidderRegistered', { bidder: 'p2', label: 'Bidder 2' }),
            ev(4, 5, 'AuctionStarted', { ends_at: 100 }),
            ev(5, 10, 'BidAccepted', { bidder: 'p1', price: 900 }),
            ev(6, 95, 'BidAccepted', { bidder: 'p2', price: 890 }),
            ev(7, 95, 'EndExtended', { ends_at: 160 }),
            ev(8, 150, 'BidderDisqualified', { bidder: 'p1' }),
          ], (kind) => kind);
          const multi = chartOf([
            ev(1, 0, 'AuctionCreated', { rules: { type: 'MultiRoundRules' } }),
            ev(2, 1, 'BidderRegistered', { bidder: 'p1', label: 'Bidder 1', initial_bid: 500 }),
            ev(3, 10, 'RoundStarted', { round: 1, order: ['Bidder 1'] }),
            ev(4, 10, 'TurnStarted', { bidder: 'p1', ends_at: 20 }),
            ev(5, 12, 'BidAccepted', { bidder: 'p1', price: 480 }),
            ev(6, 15, 'TurnEnded', { bidder: 'p1', round: 1, price: 480 }),
            ev(7, 15, 'RoundEnded', { round: 1 }),
          ], (kind) => kind);
          const from = dayBound('2026-03-01');
          const to = dayBound('2026-03-01', true);
          return {
            points: open.points, marks: open.marks, multi: multi.points,
            multiMarks: multi.marks.map((m) => [m.kind, m.from_us, m.to_us]),
            day: [new Date(from / 1000).toISOString(), to - from], bad: dayBound('3/1/2026'),
          };
        }"""
    )
    assert found["points"] == [
        {"t_us": 10, "label": "Bidder 1", "amount_minor": 900},
        {"t_us": 95, "label": "Bidder 2", "amount_minor": 890},
        {"t_us": 150, "label": "Bidder 1", "amount_minor": None},
    ]
    assert [(m["kind"], m["from_us"], m["to_us"]) for m in found["marks"]] == [
        ("extension", 100, 160)
    ]
    # A multi-round bid counts once its turn ends; the registration's offer counts at once.
    assert [(p["t_us"], p["amount_minor"]) for p in found["multi"]] == [(1, 500), (15, 480)]
    assert found["multiMarks"] == [["turn", 10, 15], ["round", 10, 15]]
    # The browser's zone (Asia/Baku, UTC+4): the day starts at 20:00 UTC the day before.
    assert found["day"] == ["2026-02-28T20:00:00.000Z", 24 * 3600 * S - 1]
    assert found["bad"] is None
