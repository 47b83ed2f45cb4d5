"""Storms of websockets leave nothing behind (issue 12, item 10), on a real server.

Each storm opens ``SOCKETS`` authenticated websockets (bidders and watchers, each token
fresh), waits for every ``welcome``, and closes them all. What a storm could leave is
counted on ``/metrics``, not read off the resident set (noisy, and the allocator keeps
pages for reuse: see ``gavel bench sockets`` in docs/benchmarks.md):

- the per-socket registries: the hub's subscribers (``gavel_sockets_connected``),
  Sanic's websocket handlers (``gavel_sockets_open``), the rate limiters' buckets
  (``gavel_rate_limit_buckets``);
- everything else at once: the Python objects the collector tracks
  (``gavel_debug_python_objects``, the server runs with ``GAVEL_DEBUG_MEMORY=on``).
  A socket kept alive anywhere (a registry, a map of sockets by token, a task, a
  reference cycle no collection frees) keeps about 60 objects.

Before the fix, the objects of every closed socket stayed (reference cycles that only a
full collection frees, which the server's collector thresholds all but ruled out):
``GAVEL_RECLAIM=off`` shows it (the control, run beside the check), and the check would
fail so.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from api.http.reclaim import MIN_CLOSED
from tests.api.live.test_ws import english

if TYPE_CHECKING:
    from tests.api.conftest import Live

SOCKETS = 200
STORMS = 3
#: A socket kept alive keeps about 60 objects; less than one per socket may stay.
ALLOWED_OBJECTS = SOCKETS // 2

#: Tracked objects per open idle socket, its handshake's garbage included until a young
#: collection frees it (so the count varies downwards only): 132-184 here after issue 16
#: (4 tasks per socket), 220 and more before it (8 tasks). See docs/benchmarks.md.
MAX_OBJECTS_PER_OPEN_SOCKET = 200

assert SOCKETS >= MIN_CLOSED  # so every storm is reclaimed on its own


def figures(text: str) -> dict[str, float]:
    """``/metrics`` as ``{name: value}`` (comments left out)."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def storm(server: Live, auction: str, parties: list[str]) -> dict[str, float]:
    """Open ``SOCKETS`` sockets (one in four a bidder's), each welcomed; the figures
    while they are all open; then close them all."""
    gate = asyncio.Semaphore(50)

    async def one(i: int) -> Any:
        if i % 4 == 0:
            token = server.token(parties[i % len(parties)], "bidder", auction)
        else:
            token = server.token(f"watcher-{i}", "observer", auction)
        async with gate:
            ws = await server.connect(auction, token)
            while json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] != "welcome":
                pass
            return ws

    sockets = await asyncio.gather(*(one(i) for i in range(SOCKETS)))
    try:
        return figures(await server.metrics())
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))


async def until(
    server: Live, done: Callable[[dict[str, float]], bool], timeout_s: float = 90.0
) -> dict[str, float]:
    """Poll ``/metrics`` until ``done`` holds; its figures then."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = figures(await server.metrics())
        if done(now):
            return now
        assert time.monotonic() < deadline, {k: v for k, v in now.items() if "sockets" in k}
        await asyncio.sleep(0.5)


def all_gone(now: dict[str, float]) -> bool:
    return now["gavel_sockets_open"] == 0 and now["gavel_sockets_connected"] == 0


def reclaimed(now: dict[str, float]) -> bool:
    return all_gone(now) and now["gavel_sockets_unreclaimed"] == 0


async def test_storms_leave_nothing_and_without_the_reclaim_every_storm_stays(
    start_server: Callable[..., Live],
) -> None:
    """The fix and its control, each on its own server, side by side: both are mostly
    waiting (for the reclaimer's hold, for Sanic's close timeout), so together they take
    the time of the longer one instead of the sum."""
    fixed = start_server(GAVEL_DEBUG_MEMORY="on")
    control = start_server(GAVEL_DEBUG_MEMORY="on", GAVEL_RECLAIM="off")
    await asyncio.gather(
        storms_of_sockets_leave_no_objects_and_no_registrations(fixed),
        without_the_reclaim_every_storm_stays(control),
    )


async def storms_of_sockets_leave_no_objects_and_no_registrations(server: Live) -> None:
    """The server as it is: nothing of a storm stays once it is reclaimed."""
    auction = await server.create(english(start_in=0.2, duration=3600))
    parties = [f"p{i}" for i in range(5)]
    for party in parties:
        await server.register(auction, party)
    # A first storm creates what lives on (the channel, caches, the heartbeat task).
    await storm(server, auction, parties)
    baseline = await until(server, reclaimed)
    baseline_objects = baseline["gavel_debug_python_objects"]

    for _ in range(STORMS):
        during = await storm(server, auction, parties)
        assert during["gavel_sockets_connected"] == SOCKETS
        assert during["gavel_sockets_open"] == SOCKETS
        # Issue 16: an open idle socket's tracked objects (see the constant).
        per_socket = (during["gavel_debug_python_objects"] - baseline_objects) / SOCKETS
        assert per_socket < MAX_OBJECTS_PER_OPEN_SOCKET, per_socket
    after = await until(server, reclaimed)

    # A limiter drops its idle buckets only when next asked, so the last storm's are
    # still there (one object each): counted on their own below.
    buckets = after["gavel_rate_limit_buckets"] - baseline["gavel_rate_limit_buckets"]
    grown = after["gavel_debug_python_objects"] - baseline["gavel_debug_python_objects"] - buckets
    assert grown < ALLOWED_OBJECTS, f"{grown} objects stayed after {STORMS * SOCKETS} sockets"
    assert after["gavel_sockets_opened_total"] - baseline["gavel_sockets_opened_total"] == (
        STORMS * SOCKETS
    )
    # Storms closer together than the hold share a collection.
    assert after["gavel_gc_reclaims_total"] > baseline["gavel_gc_reclaims_total"]
    # One more handshake, past the buckets' idle time (1 s at the tests' rates), drops
    # every storm's buckets (one per token): what stays is the few addresses' and the
    # late token's. (The last storm's are still there now, most of them: a storm slower
    # than the idle time, on a busy machine, drops its own first ones as it goes.)
    assert after["gavel_rate_limit_buckets"] > 5
    await asyncio.sleep(1.5)
    await (await server.connect(auction, server.token("late", "observer", auction))).close()
    final = await until(server, all_gone)
    assert final["gavel_rate_limit_buckets"] <= 5


async def without_the_reclaim_every_storm_stays(server: Live) -> None:
    """The control (``GAVEL_RECLAIM=off``): what the fix guards against, as the server was
    before it."""
    auction = await server.create(english(start_in=0.2, duration=3600))
    parties = ["p0"]
    await server.register(auction, "p0")
    await storm(server, auction, parties)
    first = await until(server, all_gone)
    await storm(server, auction, parties)
    second = await until(server, all_gone)
    # Sanic holds a closed socket's objects for its close timeout; after it they are
    # garbage that only a full collection frees, and none comes.
    await asyncio.sleep(12)
    after = figures(await server.metrics())
    grown = after["gavel_debug_python_objects"] - first["gavel_debug_python_objects"]
    assert grown > 20 * SOCKETS, grown
    assert second["gavel_gc_reclaims_total"] == after["gavel_gc_reclaims_total"] == 0
