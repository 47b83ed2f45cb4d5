"""A read-only edge: holds watchers' websockets and fans out committed events, off the core.

An edge (``gavel edge``: its Sanic app and process are :mod:`api.http.edge`) serves
``/ws/v1/auctions/<id>`` with the core's route (:func:`api.live.route.live_blueprint`,
over :class:`Edge` as its :class:`~api.live.source.LiveSource`) and protocol: the same
handshake rate limit, checks and close codes, the same ``welcome``, history, live
``event`` frames, heartbeats and replays, rendered from the same committed events by the
same views, so an edge's frames are the core's. Commands are refused with a ``reject`` of
code ``read_only`` (:class:`EdgeService` is the sessions' source): bidders bid on the core.

Where the events come from:

* **PostgreSQL** (the core's database, read only): an auction is primed from its log on
  the first subscribe, and ``since`` resumes older than the channel's memory read it;
* **the core's feed** (:mod:`api.live.feed`, one websocket, reconnected with backoff): every
  commit of every auction, published to the auction's channel if some socket of this
  edge ever subscribed to it (other auctions are ignored).

Gapless: a channel folds only ``seq == head + 1`` (duplicates are dropped by the fold).
A fed commit that starts beyond ``head + 1`` (missed while the feed was down, or
committed between a priming read and the feed) starts a catch-up from PostgreSQL for
that auction; fed commits of that auction arriving meanwhile are held and published
after it, in order. After every (re)connection of the feed, every known auction catches
up once, so commits made while it was down arrive even if the auction commits nothing
more. Catch-ups run per auction, so one never holds up the feed of another.

Tokens: the edge verifies the core's tokens with the core's public key, fetched once at
start-up from ``GET {core}/api/v1/tenders/server-key`` (the core's Ed25519 key signs its
tokens and receipts alike); the edge never holds the private key. Revocations are heard
as on the core (:func:`api.access.revocations.keep_current`: PostgreSQL notifications on a
listener that reconnects after a restart of PostgreSQL and then reads the revoked tokens
again) and close the token's sockets (4401).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from websockets.asyncio.client import connect

from api.access import auth
from api.access import rules as access
from api.access.revocations import Revocations, keep_current
from api.auctions.runner import CommandFactory, server_time_us
from api.live.hub import Hub
from api.live.source import SessionSource
from api.live.ws import CLOSE_WAIT_S, ReadOnly, close_going_away
from api.settings import Settings
from api.storage import PostgresEventStore, create_pool
from api.storage.listener import HeldListener
from api.storage.ports import EventStore
from api.storage.tokens import PostgresTokenStore
from engine import Event
from engine.codec import decode_event

__all__ = ["Edge", "EdgeService", "fetch_public_key", "parse_feed_frame"]

log = logging.getLogger("gavel.edge")

#: Seconds between feed reconnection attempts: doubling from the first to the last.
BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 2.0


class EdgeService:
    """The edge's :class:`~api.live.source.SessionSource`: channels primed and caught up
    from the core's log (``store``, read only) and fed by the core's feed; ``submit``
    refuses."""

    def __init__(self, store: EventStore, hub: Hub) -> None:
        self.store = store
        self.hub = hub
        self.clock: Callable[[], int] = server_time_us
        self.closing = False
        #: Auctions being caught up from the log: fed events that arrived meanwhile.
        self._held: dict[str, list[Event]] = {}
        #: Checkpoints fed while their auction is caught up, pushed after its events.
        self._held_checkpoints: dict[str, list[dict[str, Any]]] = {}
        self._syncs: dict[str, asyncio.Task[None]] = {}
        #: Catch-ups run (a figure for tests and logs).
        self.catch_ups = 0
        #: When each auction's channel was last asked for, or found without a socket
        #: (monotonic seconds): what :meth:`sweep` compares with.
        self._seen: dict[str, float] = {}
        #: Channels dropped from memory by :meth:`sweep`.
        self.evicted = 0

    async def prepare(self, auction_id: str) -> bool:
        """Prime ``auction_id``'s channel from the log if needed; ``False`` for an auction
        that has no events. Raises what reading the log raised."""
        self._seen[auction_id] = time.monotonic()
        channel = self.hub.channels.get(auction_id)
        if channel is None or channel.head == 0 or auction_id in self._syncs:
            self.hub.channel(auction_id)
            try:
                await self._sync(auction_id)
            finally:
                channel = self.hub.channels.get(auction_id)
                if channel is not None and channel.head == 0 and not channel.subscribers:
                    del self.hub.channels[auction_id]
            if channel is None or channel.head == 0:
                return False
        return True

    async def catch_up(self, auction_id: str) -> None:
        """Bring ``auction_id``'s channel up to the log now (a client resumes from a seq
        this edge has not been fed yet: the log, not the feed, says what exists)."""
        await self._sync(auction_id)

    async def history(self, auction_id: str, after: int, limit: int | None = None) -> list[Event]:
        """Committed events of ``auction_id`` with ``seq > after``, in order (the log; at
        most ``limit``)."""
        rows = await self.store.read(auction_id, after, limit)
        return [decode_event(row.payload) for row in rows]

    async def submit(self, auction_id: str, make: CommandFactory) -> list[Event]:
        """Refuse: an edge takes no commands (the session answers ``read_only``)."""
        raise ReadOnly("this is a read-only edge: send commands to the core")

    def sweep(self, now: float, idle_s: float) -> int:
        """Drop the channels not seen in use (a socket, or a catch-up running) by a
        sweep or a subscribe for ``idle_s`` seconds, so memory follows the auctions
        watched now, not every auction ever watched; the next subscriber primes it again
        from the log. Returns how many were dropped. O(channels)."""
        dropped = 0
        for auction_id, channel in list(self.hub.channels.items()):
            if channel.subscribers or auction_id in self._syncs:
                self._seen[auction_id] = now
                continue
            if now - self._seen.setdefault(auction_id, now) >= idle_s:
                del self.hub.channels[auction_id]
                self._seen.pop(auction_id, None)
                dropped += 1
        self.evicted += dropped
        return dropped

    # ------------------------------------------------------------------ the feed

    def fed(self, auction_id: str, events: list[Event]) -> None:
        """Publish a commit from the feed: at once when it follows the channel's head,
        else after a catch-up from the log. Auctions nobody subscribed to are ignored.
        Never awaits."""
        channel = self.hub.channels.get(auction_id)
        if channel is None or not events:
            return
        held = self._held.get(auction_id)
        if held is not None:
            held.extend(events)
        elif events[0].seq <= channel.head + 1:
            channel.publish(events)
        else:
            self._held[auction_id] = list(events)
            self._start_sync(auction_id)

    def checkpoint(self, auction_id: str, data: dict[str, Any]) -> None:
        """Push a checkpoint the core issued to this edge's sockets of ``auction_id``,
        as the core pushes it to its own (:mod:`api.audit.trail`); while the auction is being
        caught up, after the events it covers."""
        if auction_id in self._held:
            self._held_checkpoints.setdefault(auction_id, []).append(data)
            return
        channel = self.hub.channels.get(auction_id)
        if channel is not None:
            channel.checkpoint(
                str(data["note"]), int(data["size"]), str(data["root"]), self.clock()
            )

    def resync_all(self) -> None:
        """Catch every known auction up from the log (after the feed reconnected)."""
        for auction_id in list(self.hub.channels):
            if auction_id not in self._syncs:
                self._held.setdefault(auction_id, [])
                self._start_sync(auction_id)

    def _start_sync(self, auction_id: str) -> asyncio.Task[None]:
        task = self._syncs.get(auction_id)
        if task is None:
            self._held.setdefault(auction_id, [])
            task = self._syncs[auction_id] = asyncio.create_task(self._catch_up(auction_id))
            task.add_done_callback(_retrieved)
        return task

    async def _sync(self, auction_id: str) -> None:
        await asyncio.shield(self._start_sync(auction_id))

    async def _catch_up(self, auction_id: str) -> None:
        self.catch_ups += 1
        try:
            while True:
                channel = self.hub.channel(auction_id)
                events = await self.history(auction_id, channel.head)
                channel = self.hub.channel(auction_id)
                channel.publish(events)
                held = self._held.get(auction_id, [])
                self._held[auction_id] = []
                pending = [event for event in held if event.seq > channel.head]
                if pending and pending[0].seq > channel.head + 1:
                    # Still a gap: committed after our read, fed before it ended.
                    self._held[auction_id] = pending
                    continue
                channel.publish(pending)
                return
        except Exception:
            # The subscriber waiting on this catch-up (if any) hears it (its socket is
            # closed with "try again later"); the next subscribe or feed frame retries.
            log.exception("catching up from the log failed", extra={"auction": auction_id})
            raise
        finally:
            # No await since the last read of the held events: nothing is lost here.
            self._held.pop(auction_id, None)
            self._syncs.pop(auction_id, None)
            for data in self._held_checkpoints.pop(auction_id, []):
                self.checkpoint(auction_id, data)

    async def close(self) -> None:
        """Stop: wait for running catch-ups to end."""
        self.closing = True
        for task in list(self._syncs.values()):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def _retrieved(task: asyncio.Task[None]) -> None:
    # A catch-up started by the feed has no waiter: its error is logged, not re-raised.
    if not task.cancelled():
        task.exception()


def parse_feed_frame(text: str) -> tuple[str, list[Event], dict[str, Any] | None]:
    """The auction id, events and checkpoint (``None`` for a commit) of one frame of
    :mod:`api.live.feed`. O(size of the frame)."""
    lines = text.split("\n")
    header = json.loads(lines[0])
    auction_id = header["auction"]
    if not isinstance(auction_id, str):
        raise ValueError("the feed frame names no auction")
    checkpoint = header.get("checkpoint")
    return auction_id, [decode_event(line.encode()) for line in lines[1:]], checkpoint


def fetch_public_key(core_url: str, timeout_s: float = 5.0) -> Any:
    """The core's token-signing public key (``GET /api/v1/tenders/server-key``)."""
    with urllib.request.urlopen(
        core_url.rstrip("/") + "/api/v1/tenders/server-key", timeout=timeout_s
    ) as answer:
        pem = json.loads(answer.read())["pem"]
    return auth.load_public_key(pem.encode())


def _feed_url(core_url: str) -> str:
    base = core_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + "/ws/v1/feed"
    return "ws://" + base.removeprefix("http://") + "/ws/v1/feed"


class Edge:
    """Everything the edge's routes share, and their :class:`~api.live.source.LiveSource`:
    the core's key, the revocations, the sockets, and :class:`EdgeService` once started.

    Call order: ``Edge(...)``, :meth:`start` (before serving), :meth:`stop`.
    """

    def __init__(self, settings: Settings, core_url: str, token: str) -> None:
        self.settings = settings
        self.core_url = core_url
        self.token = token
        self.hub = Hub()
        #: The core's token key, fetched by :meth:`start`.
        self.public_key: Ed25519PublicKey | Any = None
        self.pool: Any = None
        self.service: EdgeService | None = None
        self.sockets: set[Any] = set()
        self.revoked = Revocations()
        self.listener: HeldListener | None = None
        self.feed_task: asyncio.Task[None] | None = None
        self.sweeper: asyncio.Task[None] | None = None
        #: Set once the feed is connected (``/readyz`` answers 200 from then on).
        self.feed_up = asyncio.Event()
        self.feed_connections = 0
        self.closing = False
        self._stop_task: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Key, pool, revocations, then the feed; returns once the feed is connected."""
        if self.settings.database_url is None:
            raise RuntimeError("an edge needs the core's database: --database-url")
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + 60
        while True:
            try:
                self.public_key = await loop.run_in_executor(None, fetch_public_key, self.core_url)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        self.pool = await create_pool(self.settings.database_url, min_size=1, max_size=5)
        # Listening first, then loading the list (the listener's first on_connect).
        self.listener = keep_current(
            self.revoked,
            PostgresTokenStore(self.pool),
            self.settings.database_url,
            name="edge revocations",
        )
        await self.listener.start()
        self.service = EdgeService(PostgresEventStore(self.pool), self.hub)
        self.feed_task = asyncio.create_task(self._run_feed(), name="gavel-edge-feed")
        self.sweeper = asyncio.create_task(self._sweep_forever(), name="gavel-edge-sweeper")
        await asyncio.wait_for(self.feed_up.wait(), 60)
        gc.freeze()

    async def _sweep_forever(self) -> None:
        idle_s = self.settings.runner_idle_s
        while not self.closing and self.service is not None:
            await asyncio.sleep(max(1.0, idle_s / 4))
            self.service.sweep(time.monotonic(), idle_s)

    async def _run_feed(self) -> None:
        assert self.service is not None
        service = self.service
        headers = {"Authorization": f"Bearer {self.token}"}
        backoff = BACKOFF_FIRST_S
        while not self.closing:
            try:
                async with connect(
                    _feed_url(self.core_url),
                    additional_headers=headers,
                    open_timeout=10,
                    max_size=None,
                    ping_interval=20,
                ) as ws:
                    self.feed_connections += 1
                    backoff = BACKOFF_FIRST_S
                    service.resync_all()
                    self.feed_up.set()
                    async for message in ws:
                        auction_id, events, checkpoint = parse_feed_frame(str(message))
                        if checkpoint is not None:
                            service.checkpoint(auction_id, checkpoint)
                        else:
                            service.fed(auction_id, events)
                    log.warning("the feed closed", extra={"code": ws.close_code})
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("the feed failed: %s", error)
            if self.closing:
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def stop(self) -> None:
        """Close sockets (1001), the feed, the catch-ups and the pool; once (later
        calls wait for the first)."""
        if self._stop_task is None:
            self._stop_task = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stop_task)

    async def _stop(self) -> None:
        self.closing = True
        await close_going_away(self.sockets, time.monotonic() + CLOSE_WAIT_S)
        for task in (self.feed_task, self.sweeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self.service is not None:
            await self.service.close()
        if self.listener is not None:
            await self.listener.stop()
        if self.pool is not None:
            await self.pool.close()

    # ------------------------------------------------------------ as a LiveSource

    @property
    def access_rules(self) -> Mapping[str, access.Rule]:
        """The edge's rules (:data:`api.access.rules.EDGE_ROUTES`)."""
        return access.EDGE_ROUTES

    def serving(self) -> SessionSource | None:
        """The :class:`EdgeService` once started, ``None`` before or once stopping."""
        return None if self.closing else self.service

    def on_result(self, accepted: bool, reason: str | None) -> None:
        """Nothing: an edge takes no bids."""

    def on_slow(self) -> None:
        """Nothing: an edge counts no metrics."""
