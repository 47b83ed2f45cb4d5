"""Memory and load limits of the live service, over HTTP against real servers.

* Runners of ended auctions that sit idle leave memory (``GAVEL_RUNNER_IDLE_S``); a later
  read or command loads the auction from its log again.
* Load shedding: a command for an auction whose queue is full
  (``GAVEL_RUNNER_QUEUE``), or any command while the group-commit writer holds too many
  uncommitted events (``GAVEL_WRITER_BACKLOG``), is refused at once with 503
  ``overloaded`` and ``Retry-After``. To fill them deterministically the test holds an
  ``EXCLUSIVE`` lock on ``events`` from its own connection: the writer's COPY waits on
  it, so its runner's batch stays in hand and later commands pile up behind it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from tests.api.conftest import Live, Reply
from tests.api.http.test_app import english

BID = {"currency": "EUR"}


async def polled(check: Any, what: str, timeout: float = 15.0) -> Any:
    """Poll ``check()`` until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.02)


def loaded(metrics: str, auction: str) -> bool:
    """Whether ``/metrics`` lists a runner for ``auction``."""
    return f'gavel_auction_queue_depth{{auction="{auction}"}}' in metrics


def gauge(metrics: str, name: str) -> float:
    """The value of an unlabelled metric."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split(" ")[1])
    raise AssertionError(f"no {name} in /metrics")


def queue_depth(metrics: str, auction: str) -> int:
    for line in metrics.splitlines():
        if line.startswith(f'gavel_auction_queue_depth{{auction="{auction}"}}'):
            return int(line.rsplit(" ", 1)[1])
    return -1


async def test_idle_ended_auctions_leave_memory_and_come_back(start_server: Any) -> None:
    live: Live = start_server(GAVEL_RUNNER_IDLE_S="0.2")
    auction = await live.create(english(start_in=0.2, duration=0.4))
    running = await live.create(english(start_in=0.2, duration=600))
    bidder = await live.register(auction, "acme")
    await live.wait_phase(auction, "running")
    bid = await live.post(f"/api/v1/auctions/{auction}/bids", {"amount": "100.00", **BID}, bidder)
    assert bid.status == 201, bid.body
    await live.wait_phase(auction, "ended")
    log = await live.events(auction)

    async def evicted() -> bool:
        metrics = await live.metrics()
        return not loaded(metrics, auction) and loaded(metrics, running)

    await polled(evicted, "the ended auction's runner was dropped")
    assert gauge(await live.metrics(), "gavel_runners_evicted_total") >= 1

    # Reads load it again from the log, unchanged.
    state = await live.state(auction)
    assert state["phase"] == "ended" and state["seq"] == log[-1]["seq"]
    assert loaded(await live.metrics(), auction)
    assert await live.events(auction) == log
    # So does a command: the stream continues where it was.
    await polled(evicted, "dropped again")
    late = await live.post(f"/api/v1/auctions/{auction}/bids", {"amount": "101.00", **BID}, bidder)
    assert late.status == 409 and late.code == "auction_closed"
    assert late.json()["seq"] == log[-1]["seq"] + 1
    me = await live.get(f"/api/v1/auctions/{auction}/me", bidder)
    assert me.status == 200, me.body


def shed(reply: Reply) -> None:
    assert reply.status == 503, reply.body
    assert reply.code == "overloaded"
    assert reply.headers["retry-after"] == "1"


async def test_full_queues_and_a_writer_backlog_are_refused_with_503(start_server: Any) -> None:
    live: Live = start_server(GAVEL_RUNNER_QUEUE="2", GAVEL_WRITER_BACKLOG="3")
    # Bidders are registered before the auctions start, so that the starts (five
    # appends at once) never meet a registration in the writer's backlog.
    auctions = [await live.create(english(start_in=3, duration=600)) for _ in range(5)]
    a, b, c, d, e = auctions
    tokens = {
        (auction, party): await live.register(auction, party)
        for auction in auctions
        for party in ("p1", "p2", "p3", "p4")
    }
    for auction in auctions:
        await live.wait_phase(auction, "running")

    def bid(auction: str, party: str, amount: str) -> Any:
        return live.post(
            f"/api/v1/auctions/{auction}/bids", {"amount": amount, **BID}, tokens[auction, party]
        )

    async def depth(auction: str, wanted: int) -> None:
        async def reached() -> bool:
            return queue_depth(await live.metrics(), auction) == wanted

        await polled(reached, f"{wanted} commands queued for {auction}")

    assert gauge(await live.metrics(), "gavel_writer_pending_events") == 0

    blocker = await asyncpg.connect(live.process.database_url)
    held = blocker.transaction()
    await held.start()
    waiting: list[asyncio.Task[Reply]] = []
    try:
        await blocker.execute("LOCK TABLE events IN EXCLUSIVE MODE")

        async def writer_blocked() -> bool:
            count: int = await blocker.fetchval(
                "SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted"
            )
            return count > 0

        # A's runner takes bid 1 and waits in the writer's COPY; 2 and 3 fill its queue.
        waiting.append(asyncio.create_task(bid(a, "p1", "100.00")))
        await polled(writer_blocked, "the writer waits on the lock")
        waiting.append(asyncio.create_task(bid(a, "p2", "101.00")))
        await depth(a, 1)  # in this order: 102.00 first would make 101.00 too low
        waiting.append(asyncio.create_task(bid(a, "p3", "102.00")))
        await depth(a, 2)
        full = await bid(a, "p4", "103.00")
        shed(full)
        assert "too many commands" in full.json()["detail"]

        # B, C and D each hand one append to the writer: three events wait behind the
        # stuck batch, the backlog limit. From then on every command is refused,
        # whatever its auction.
        for auction in (b, c, d):
            waiting.append(asyncio.create_task(bid(auction, "p1", "100.00")))

        async def backlog() -> bool:
            return gauge(await live.metrics(), "gavel_writer_pending_events") == 3

        await polled(backlog, "three events wait for the writer")
        for refused in [
            await bid(e, "p1", "100.00"),
            await bid(b, "p3", "102.00"),
            await live.post("/api/v1/auctions", {"rules": english(duration=60)}, live.officer),
        ]:
            shed(refused)
            assert "backlog" in refused.json()["detail"]
        assert not any(task.done() for task in waiting)
    finally:
        await held.rollback()
        await blocker.close()

    # Released: everything that was taken in is committed and acknowledged.
    answers = await asyncio.gather(*waiting)
    assert [reply.status for reply in answers] == [201] * len(answers), [
        reply.body for reply in answers
    ]
    accepted = [e for e in await live.events(a) if e["event"]["type"] == "BidAccepted"]
    assert [e["event"]["price"] for e in accepted] == [10000, 10100, 10200]
    fresh = await bid(e, "p2", "150.00")
    assert fresh.status == 201, fresh.body
