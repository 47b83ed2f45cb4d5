"""``gavel sim``'s orchestration: provision a plan on a server, run its bidders over real
websockets, read back what the server recorded.

:func:`simulate` takes a :class:`~bidders_sim.plan.Plan` and a running server (its URL
and an officer's token). As the officer, over HTTP, it creates each auction (``POST
/api/v1/auctions``, rules shifted to start a moment after provisioning ends) and
registers its bidders (``POST /api/v1/auctions/{id}/bidders``, which answers each
bidder's token); then it runs every bidder (:func:`bidders_sim.runner.run_bidder`) in
one event loop until every auction has ended, and reads each auction's result as the
officer (``GET /api/v1/auctions/{id}``: winners by party). :func:`auction_events` reads
an auction's events for ``--plot``.

The HTTP calls are the standard library's, in a worker thread; a 429 is retried after
its ``Retry-After``. Any other refusal raises :class:`SimError` with the server's
problem. Call order: ``await simulate(plan, url, token, listener=...)`` →
:class:`SimResult` (``bidders_sim.summary`` sums it up).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bidders_sim.plan import AuctionPlan, BidderPlan, Plan, strategy_for
from bidders_sim.runner import BidderOutcome, run_bidder
from contracts.rules_json import rules_to_json
from engine.money import format_minor

__all__ = ["AuctionRecord", "Officer", "SimError", "SimResult", "auction_events", "simulate"]

_SECOND = 1_000_000

#: Seconds after the latest possible end of every auction before the bidders give up.
_GRACE_S = 20.0


class SimError(RuntimeError):
    """The server refused what the simulation asked of it (the message says what)."""


@dataclass(frozen=True, slots=True)
class AuctionRecord:
    """One simulated auction as the server recorded it, and its bidders' outcomes."""

    plan: AuctionPlan
    auction_id: str
    #: ``GET /api/v1/auctions/{id}``'s ``result`` as the officer sees it (party ids), or
    #: ``None`` if the auction had not ended when it was read.
    result: dict[str, Any] | None
    bidders: tuple[BidderOutcome, ...]


@dataclass(frozen=True, slots=True)
class SimResult:
    """A whole run: the plan, each auction's record, and the wall time in seconds."""

    plan: Plan
    auctions: tuple[AuctionRecord, ...]
    wall_time_s: float


class Officer:
    """HTTP as an officer of one server: JSON in, JSON out (blocking; see :meth:`call`)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The JSON answer of ``method path``; a 429 is retried after its Retry-After (at
        most 20 times), any other error status raises :class:`SimError`."""
        data = None if body is None else json.dumps(body).encode()
        for _ in range(20):
            request = urllib.request.Request(
                self.url + path,
                data=data,
                method=method,
                headers={"Authorization": f"Bearer {self.token}"}
                | ({"Content-Type": "application/json"} if data is not None else {}),
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return json.loads(answer.read())
            except urllib.error.HTTPError as error:
                text = error.read().decode(errors="replace")
                if error.code == 429:
                    time.sleep(float(error.headers.get("Retry-After") or 1))
                    continue
                raise SimError(f"{method} {path}: {error.code} {text}") from None
            except urllib.error.URLError as error:
                raise SimError(f"{method} {path}: {error.reason}") from None
        raise SimError(f"{method} {path}: still rate-limited after 20 tries")

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """:meth:`request` in a worker thread."""
        return await asyncio.to_thread(self.request, method, path, body)


def _ws_url(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url.removeprefix("https://").rstrip("/")
    return "ws://" + url.removeprefix("http://").rstrip("/")


#: Auctions provisioned at once (each one's calls in order, so its labels follow the plan).
_PROVISIONING = 8


def _lead_us(plan: Plan) -> int:
    """How long after now the auctions start: time to provision them all (2 s plus
    100 ms per HTTP call on each of :data:`_PROVISIONING` lanes), so every bidder is
    registered before bidding opens (a multi-round auction takes none after)."""
    calls = sum(1 + len(auction.bidders) for auction in plan.auctions)
    lanes = min(_PROVISIONING, len(plan.auctions))
    return 2 * _SECOND + calls * 100_000 // lanes


async def _provision(
    officer: Officer, plan: Plan, auction: AuctionPlan, auction_id: str, origin: int
) -> dict[str, str]:
    """Create ``auction`` as ``auction_id`` starting at ``origin`` and register its
    bidders in the plan's order; their tokens by party."""
    rules = rules_to_json(auction.rules_at(origin))
    await officer.call("POST", "/api/v1/auctions", {"id": auction_id, "rules": rules})
    tokens = {}
    for bidder in auction.bidders:
        body: dict[str, Any] = {"party": bidder.party}
        if bidder.initial_bid is not None:
            body["initial_bid"] = format_minor(bidder.initial_bid, plan.currency)
        answer = await officer.call("POST", f"/api/v1/auctions/{auction_id}/bidders", body)
        tokens[bidder.party] = answer["token"]
    return tokens


async def simulate(
    plan: Plan,
    url: str,
    officer_token: str,
    *,
    listener: Callable[[str], None] | None = None,
    tag: str | None = None,
) -> SimResult:
    """Run ``plan`` on the server at ``url`` (``http://host:port``); see the module
    docstring. ``listener`` hears ``"sent"``, ``"ack"``, ``"reject"`` from every bidder
    and ``"ended"`` once per auction that ends (when its first bidder sees the end);
    ``tag`` (default: the time) makes this run's auction ids unique:
    ``sim-<seed>-<tag>-<index>``. The server's clock is taken
    to be this machine's (the auctions' times are set from ``time.time()``)."""
    began = time.monotonic()
    officer = Officer(url, officer_token)
    tag = tag or f"{int(time.time() * 1000) % 10**10}"
    origin = int(time.time() * _SECOND) + _lead_us(plan)
    notify = listener or (lambda _kind: None)
    lanes = asyncio.Semaphore(_PROVISIONING)

    async def provision(auction: AuctionPlan) -> tuple[AuctionPlan, str, dict[str, str]]:
        auction_id = f"sim-{plan.seed}-{tag}-{auction.index + 1}"
        async with lanes:
            return auction, auction_id, await _provision(officer, plan, auction, auction_id, origin)

    provisioned = await asyncio.gather(*(provision(auction) for auction in plan.auctions))
    if time.time() * _SECOND > origin:
        raise SimError("provisioning took longer than the auctions' lead; try fewer bidders")
    latest = max(auction.latest_end() for auction in plan.auctions)
    wait_s = (origin + latest) / _SECOND - time.time() + _GRACE_S
    deadline = time.monotonic() + wait_s
    ws_url = _ws_url(url)

    async def one_auction(
        auction: AuctionPlan, auction_id: str, tokens: dict[str, str]
    ) -> AuctionRecord:
        told: list[bool] = []

        async def one_bidder(bidder: BidderPlan) -> BidderOutcome:
            outcome = await run_bidder(
                ws_url,
                auction_id,
                tokens[bidder.party],
                strategy_for(auction, bidder),
                party=bidder.party,
                listener=notify,
                deadline=deadline,
                reconnects=10,
            )
            if outcome.ended is not None and not told:
                told.append(True)
                notify("ended")  # as soon as the first of its bidders has seen the end
            return outcome

        outcomes = await asyncio.gather(*(one_bidder(bidder) for bidder in auction.bidders))
        state = await officer.call("GET", f"/api/v1/auctions/{auction_id}")
        result = state.get("result")
        if result is not None and not told:
            notify("ended")
        return AuctionRecord(auction, auction_id, result, tuple(outcomes))

    records = await asyncio.gather(*(one_auction(*each) for each in provisioned))
    return SimResult(plan, tuple(records), time.monotonic() - began)


async def auction_events(url: str, officer_token: str, auction_id: str) -> list[dict[str, Any]]:
    """Every event of ``auction_id`` as the officer sees it (canonical data, party ids),
    read a page at a time from ``GET /api/v1/auctions/{id}/events``."""
    officer = Officer(url, officer_token)
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await officer.call("GET", f"/api/v1/auctions/{auction_id}/events?after={after}")
        batch = page["events"]
        if not batch:
            return events
        events.extend(item["event"] for item in batch)
        after = batch[-1]["seq"]
