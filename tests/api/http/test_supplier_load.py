"""The supplier's page under load, in real headless Chromium against the live server on
real PostgreSQL.

Two bidders (Python websocket clients, as a supplier's program would connect) bid 50
times a second for about ten seconds in one English auction while a third supplier's page
(/app/?perf, api/static/app/live.js) watches. Every event reaches the page once, in
order; a burst of events costs a render per animation frame, not one per event; the page
answers clicks meanwhile. The test prints, for the 50-a-second part, the time from an
event frame's arrival at the page to the DOM showing it (performance.now() at both, kept
by the page under ?perf) and how responsive the page stayed; docs/benchmarks.md records
those figures and the command (``pytest -s``). Speeds are printed, not asserted: the
machine is shared.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.api.conftest import Live
from tests.api.http.test_supplier_page import live, open_link, shows
from tests.browser import watch_errors

S = 1_000_000
#: Bids a second, and for how long (s), in the steady part.
RATE = 50
SECONDS = 10
#: Bids sent back to back in the burst part.
BURST = 60

in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server(GAVEL_HEARTBEAT_S="1")


@pytest.fixture(scope="module")
def browser(chromium: Browser) -> Browser:
    """The module's Chromium (conftest.py), kept across tests: no context closed between."""
    return chromium


class Bidder:
    """A bidder's websocket: bids sent, their answers collected as they come."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.get_running_loop().create_task(self.read())

    async def read(self) -> None:
        async for message in self.ws:
            frame = json.loads(message)
            waiting = self.answers.get(frame.get("request_id", ""))
            if waiting is not None and frame["type"] in ("ack", "reject", "outcome_unknown"):
                waiting.set_result(frame)

    async def send(self, amount: str) -> asyncio.Future[dict[str, Any]]:
        request_id = uuid.uuid4().hex
        self.answers[request_id] = asyncio.get_running_loop().create_future()
        await self.ws.send(
            json.dumps(
                {"type": "bid", "request_id": request_id, "amount": amount, "currency": "AZN"}
            )
        )
        return self.answers[request_id]

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


def amount(n: int) -> str:
    """The n-th bid: 100.00, 101.00, ... (each beats the one before by the step)."""
    return f"{100 + n}.00"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


PERF = "() => ({events: window.__gavelPerf.events, renders: window.__gavelPerf.renders})"

# Clicks handled (input delay: handler start minus the event's time stamp) and answered
# (the next animation frame after the handler), and long tasks, from now on.
WATCH = """() => {
  window.__clicks = [];
  document.addEventListener('click', (e) => {
    const start = performance.now();
    requestAnimationFrame(() => window.__clicks.push(
      {delay: start - e.timeStamp, frame: performance.now() - e.timeStamp}));
  }, true);
  window.__long = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__long.push(entry.duration);
  }).observe({type: 'longtask'});
}"""


async def perf(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = await page.evaluate(PERF)
    return found


@in_module_loop
async def test_fifty_bids_a_second_keep_the_page_responsive(server: Live, browser: Browser) -> None:
    starts = time.time_ns() // 1000 + S // 2
    auction = await server.create(
        {
            "format": "english",
            "currency": "AZN",
            "starts_at": starts,
            "ends_at": starts + 600 * S,
            "start_price": "100.00",
            "step": {"amount": "1.00"},
        }
    )
    tokens = {party: await server.register(auction, party) for party in ("ann", "bob")}
    await server.register(auction, "carol")
    reply = await server.post(
        f"/api/v1/auctions/{auction}/invitations", {"party": "carol"}, token=server.officer
    )
    assert reply.status == 201, reply.body
    link = f"http://127.0.0.1:{server.port}{reply.json()['link']}".replace("/app/#", "/app/?perf#")
    await server.wait_phase(auction, "running")
    ann, bob = [Bidder(await server.connect(auction, tokens[p])) for p in ("ann", "bob")]

    context, page = await open_link(browser, link)
    try:
        errors = watch_errors(page)
        await live(page)
        await page.wait_for_function("() => window.__gavelPerf?.events.length > 0")
        await page.evaluate(WATCH)
        n = 0

        # A burst: ann's bids back to back on one socket (in order, each beats the last):
        # the page folds each event and renders once per animation frame.
        before = await perf(page)
        answers = [await ann.send(amount(n + i)) for i in range(BURST)]
        n += BURST
        for answer in answers:
            assert (await asyncio.wait_for(answer, 10))["type"] == "ack"
        await shows(page, "#best", f"AZN {amount(n - 1)}", timeout=5000)
        after = await perf(page)
        burst_events = len(after["events"]) - len(before["events"])
        burst_renders = after["renders"] - before["renders"]
        assert burst_events == BURST
        assert burst_renders < BURST / 2, (burst_renders, BURST)

        # Steady: ann and bob in turn, RATE bids a second (the next one waits for the
        # answer to the last, so that every bid beats the best and is accepted), while
        # the test clicks the rules' summary twice a second.
        steady_from = after["events"][-1]["seq"]

        async def clicks() -> None:
            for _ in range(SECONDS * 2):
                await page.click("#details summary")
                await asyncio.sleep(0.5)

        clicking = asyncio.get_running_loop().create_task(clicks())
        began = time.monotonic()
        for i in range(RATE * SECONDS):
            wait = began + i / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            answer = await (ann if i % 2 else bob).send(amount(n))
            n += 1
            assert (await asyncio.wait_for(answer, 10))["type"] == "ack"
        took = time.monotonic() - began
        await clicking
        await shows(page, "#best", f"AZN {amount(n - 1)}", timeout=5000)
        await page.wait_for_function(
            "s => window.__gavelPerf.events.every(e => e.shown !== null)"
            " && window.__gavelPerf.events.at(-1).seq >= s",
            arg=steady_from + RATE * SECONDS,
        )

        # Every event once, in order, none missed.
        log = await server.events(auction)
        shown = await perf(page)
        seqs = [e["seq"] for e in shown["events"]]
        assert seqs == list(range(1, len(log) + 1)), (seqs[:5], len(log))
        bids = [e["event"] for e in log if e["event"]["type"] == "BidAccepted"]
        assert len(bids) == n
        assert await page.get_attribute("#app", "data-duplicates") in ("0", None)
        assert await page.get_attribute("#app", "data-gaps") in ("0", None)

        steady = [e for e in shown["events"] if e["seq"] > steady_from]
        latency = [e["shown"] - e["arrived"] for e in steady]
        watched = await page.evaluate("() => ({clicks: window.__clicks, long: window.__long})")
        delays = [c["delay"] for c in watched["clicks"]]
        answered = [c["frame"] for c in watched["clicks"]]
        assert len(watched["clicks"]) == SECONDS * 2  # every click was handled
        renders = shown["renders"] - after["renders"]
        print(
            f"\nsupplier page under load: {len(steady)} events in {took:.1f} s "
            f"({len(steady) / took:.1f}/s), {renders} renders; "
            f"arrival->DOM ms p50 {statistics.median(latency):.1f} "
            f"p99 {percentile(latency, 99):.1f} max {max(latency):.1f}; "
            f"click delay ms p50 {statistics.median(delays):.1f} max {max(delays):.1f}, "
            f"click->next frame ms max {max(answered):.1f}; "
            f"long tasks {len(watched['long'])} (longest "
            f"{max(watched['long'], default=0):.0f} ms); "
            f"burst {BURST} events, {burst_renders} renders"
        )
        # Responsive meanwhile: every click was handled (above) and the page never froze:
        # no click waited half a second, no task took a second. (Figures, not limits:
        # on a quiet machine clicks wait a few ms; docs/benchmarks.md has them. On a
        # machine shared with other work the browser waits for a core, which long tasks
        # count too, so tighter bounds here would measure the neighbours.)
        assert max(delays) < 500, delays
        assert max(watched["long"], default=0) < 1000, watched["long"]
        assert errors == []
    finally:
        await context.close()
        for bidder in (ann, bob):
            await bidder.close()
